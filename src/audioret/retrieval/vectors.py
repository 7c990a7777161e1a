"""`Index`: nearest neighbours by inner product over unit vectors (cosine similarity), on FAISS.

Up to `EXACT_LIMIT` vectors a flat index searches exactly; a query against 100k 1024-d vectors
costs a few milliseconds on one core. Above that the default is an inverted file (IVF): k-means
cells, of which `nprobe` are scanned per query. HNSW is available for those who prefer a graph.

The FAISS structure is the only copy of the vectors: `rows()` reads them back (flat and HNSW from
their storage, IVF through a row -> list map built when first needed).

A trained index changes in place: `add` appends rows (IVF files them into the cells trained
before), `remove` drops rows and renumbers the rest; neither retrains. `needs_rebuild()` says when
the index has outgrown its training (RETRAIN_GROWTH) or the size calls for another backend.

Example:
    >>> index = Index.build(vectors, ids=["a.wav", "b.wav", ...])
    >>> scores, ids = index.search(queries, k=10)
    >>> index.add(more_vectors, ["c.wav", ...]); index.remove(["a.wav"])
    >>> index.save("my-index"); same = Index.load("my-index")
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from audioret.utils.errors import AudioretError, MissingFileError
from audioret.utils.io import atomic_path, atomic_write

EXACT_LIMIT = 100_000
BACKENDS = ("auto", "flat", "ivf", "hnsw")
VECTORS_FILE, IDS_FILE = "vectors.faiss", "ids.json"
# IVF: 2 sqrt(n) cells (2,000 for a million vectors), k-means on 40 points per cell (FAISS warns
# below 39) for 10 iterations: a million 1,545-d vectors took 373 s to build on two busy cores, most of
# it k-means and filing every vector into its cell (updates avoid both: `add`). Scanning 1/32 of the
# cells finds >90% of the true top 10 on clustered data (tests); bench/search.py measures the
# trade-off on realistic vectors (recall@10 0.91 at 1M) and on uniform ones.
IVF_CELLS_PER_SQRT_N = 2
IVF_TRAIN_POINTS_PER_CELL = 40
IVF_KMEANS_ITERATIONS = 10
IVF_PROBE_FRACTION = 1 / 32
EXACT_QUERY_CHUNK = 256  # queries scored per matrix product: 256 x 100k floats = 100 MB
HNSW_NEIGHBOURS, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 256
# An IVF index keeps the cells it was trained with while it grows; past twice its training size the
# cells hold on average twice the vectors they were sized for (scans slow down, recall holds), so the
# next commit retrains. Measured by bench/update.py.
RETRAIN_GROWTH = 2.0


def choose_backend(n_vectors: int, backend: str = "auto") -> str:
    """`auto` resolves to exact search up to EXACT_LIMIT vectors, IVF above."""
    if backend not in BACKENDS:
        raise AudioretError(f"unknown index backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "flat" if n_vectors <= EXACT_LIMIT else "ivf"
    return backend


class Index:
    """Vectors with one id each; `search` returns the k best ids per query by inner product."""

    def __init__(self, faiss_index: faiss.Index, ids: Sequence[Any], backend: str, trained_on: int | None = None):
        if faiss_index.ntotal != len(ids):
            raise AudioretError(f"index holds {faiss_index.ntotal} vectors but {len(ids)} ids")
        self.faiss_index = faiss_index
        self.ids = list(ids)
        self.backend = backend
        self.trained_on = len(self.ids) if trained_on is None else int(trained_on)  # size when (re)built
        self._has_row_map = False  # IVF: whether FAISS's row -> (list, offset) map is current

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return self.faiss_index.d

    @classmethod
    def build(cls, vectors: np.ndarray, ids: Sequence[Any] | None = None, backend: str = "auto",
              seed: int = 0) -> Index:
        """Index `vectors` [n, d] (rows should be L2-normalised for cosine scores) under `ids`
        (default 0..n-1). `backend`: auto, flat (exact), ivf or hnsw."""
        vectors = _as_matrix(vectors, "vectors")
        ids = list(range(len(vectors))) if ids is None else list(ids)
        if len(ids) != len(vectors):
            raise AudioretError(f"{len(vectors)} vectors but {len(ids)} ids")
        backend = choose_backend(len(vectors), backend)
        dim = vectors.shape[1]
        if backend == "flat" or len(vectors) == 0:
            index = faiss.IndexFlatIP(dim)
            backend = "flat"
        elif backend == "ivf":
            index = _train_ivf(vectors, seed)
        else:
            index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        if backend == "ivf":
            index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        else:
            index.add(vectors)
        return cls(index, ids, backend)

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[list[Any]]]:
        """The k best matches of each query row.

        Returns:
            (scores, ids): scores [n_queries, k'] (descending) and the matching ids, k' = min(k, len).
        """
        queries = _as_matrix(queries, "queries")
        if queries.shape[1] != self.dim:
            raise AudioretError(f"queries have {queries.shape[1]} dimensions, the index {self.dim}")
        if k < 1:
            raise AudioretError(f"k must be at least 1, got {k}")
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), [[] for _ in queries]
        if self.backend == "flat":
            scores, rows = self._exact_search(queries, k)
        else:
            scores, rows = self.faiss_index.search(queries, k)
        # An approximate index may find fewer than k neighbours; FAISS pads those with row -1.
        ids = [[self.ids[r] for r in row if r >= 0] for row in rows]
        return scores, ids

    def _exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k with one BLAS product over the flat index's own storage (no copy).

        FAISS's flat search scans one query on one thread; a matrix product uses every core and
        measured 2.5x faster per single query at 100k x 1024 on two cores (bench/search.py).
        Equal scores inside the top k keep row order.
        """
        stored = self._flat_storage()
        all_scores, all_rows = [], []
        for start in range(0, len(queries), EXACT_QUERY_CHUNK):
            scores = queries[start : start + EXACT_QUERY_CHUNK] @ stored.T
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < len(self) else np.tile(
                np.arange(len(self)), (len(scores), 1))
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.lexsort((top, -top_scores), axis=1)
            all_rows.append(np.take_along_axis(top, order, axis=1))
            all_scores.append(np.take_along_axis(top_scores, order, axis=1))
        return np.concatenate(all_scores), np.concatenate(all_rows)

    # --- the stored vectors ------------------------------------------------------------------------
    def rows(self, positions: Sequence[int] | np.ndarray | slice) -> np.ndarray:
        """The stored vectors at `positions` (row numbers, in `ids` order), float32 [m, dim]."""
        if isinstance(positions, slice):
            positions = range(*positions.indices(len(self)))
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self)):
            raise IndexError(f"rows {positions.min()}..{positions.max()} outside 0..{len(self) - 1}")
        flat = self._flat_storage()
        if flat is not None:
            return flat[positions]
        if not self._has_row_map:
            self.faiss_index.make_direct_map()
            self._has_row_map = True
        if not len(positions):
            return np.zeros((0, self.dim), np.float32)
        return self.faiss_index.reconstruct_batch(positions)

    def _flat_storage(self) -> np.ndarray | None:
        """A read-only view of the rows where FAISS keeps them contiguous (flat, HNSW); None for IVF."""
        if self.backend == "ivf":
            return None
        store = self.faiss_index if self.backend == "flat" else faiss.downcast_index(self.faiss_index.storage)
        if len(self) == 0:
            return np.zeros((0, self.dim), np.float32)
        view = faiss.rev_swig_ptr(store.get_xb(), len(self) * self.dim).reshape(len(self), self.dim)
        view.flags.writeable = False
        return view

    # --- changes without retraining ----------------------------------------------------------------
    def add(self, vectors: np.ndarray, ids: Sequence[Any]) -> None:
        """Append rows under `ids`; an IVF index files them into its trained cells."""
        vectors = _as_matrix(vectors, "vectors")
        ids = list(ids)
        if len(ids) != len(vectors):
            raise AudioretError(f"{len(vectors)} vectors but {len(ids)} ids")
        if len(vectors) and vectors.shape[1] != self.dim:
            raise AudioretError(f"vectors have {vectors.shape[1]} dimensions, the index {self.dim}")
        if self.backend == "ivf":
            self.faiss_index.add_with_ids(vectors, np.arange(len(self), len(self) + len(vectors), dtype=np.int64))
            self._has_row_map = False
        else:
            self.faiss_index.add(vectors)
        self.ids.extend(ids)

    def remove(self, ids: Sequence[Any]) -> None:
        """Drop the rows of `ids`; the remaining rows keep their order (and are numbered 0..n-1 again).

        Raises:
            AudioretError: an id is not in the index, or the backend is HNSW (a graph cannot drop
                nodes in FAISS: rebuild it).
        """
        position = {value: row for row, value in enumerate(self.ids)}
        missing = [value for value in ids if value not in position]
        if missing:
            raise AudioretError(f"{len(missing)} ids are not in the index (first: {missing[0]!r})")
        self.remove_rows([position[value] for value in ids])

    def remove_rows(self, rows: Sequence[int] | np.ndarray) -> None:
        """`remove` by row number (for callers whose ids are the rows, like an index folder's)."""
        doomed = np.unique(np.asarray(rows, dtype=np.int64))
        if not len(doomed):
            return
        if doomed[0] < 0 or doomed[-1] >= len(self):
            raise AudioretError(f"rows {doomed[0]}..{doomed[-1]} outside 0..{len(self) - 1}")
        if self.backend == "hnsw":
            raise AudioretError("an HNSW index cannot remove vectors; build it again without them")
        self.faiss_index.remove_ids(faiss.IDSelectorBatch(doomed))
        if self.backend == "ivf":
            self._has_row_map = False
            self._renumber_ivf_rows(doomed)
        keep = np.ones(len(self.ids), bool)
        keep[doomed] = False
        self.ids = [value for value, kept in zip(self.ids, keep, strict=True) if kept]

    def _renumber_ivf_rows(self, removed: np.ndarray) -> None:
        """IVF entries carry their row number; after `removed` rows are gone, row r becomes r minus the
        number of removed rows below it (flat storage compacts itself in the same order)."""
        lists = self.faiss_index.invlists
        for cell in range(self.faiss_index.nlist):
            size = lists.list_size(cell)
            if size:
                rows = faiss.rev_swig_ptr(lists.get_ids(cell), size)
                rows -= np.searchsorted(removed, rows)

    def needs_rebuild(self, backend: str = "auto") -> bool:
        """Whether the next commit should train afresh: the size now calls for another backend, or an IVF
        index holds more than RETRAIN_GROWTH times what it was trained on."""
        if choose_backend(len(self), backend) != self.backend:
            return True
        return self.backend == "ivf" and len(self) > RETRAIN_GROWTH * max(self.trained_on, 1)

    @property
    def search_effort(self) -> int | None:
        """IVF: nprobe; HNSW: efSearch; None for exact search."""
        if self.backend == "ivf":
            return int(self.faiss_index.nprobe)
        if self.backend == "hnsw":
            return int(self.faiss_index.hnsw.efSearch)
        return None

    def set_search_effort(self, value: int) -> None:
        """IVF: cells scanned per query (nprobe); HNSW: candidate list size (efSearch)."""
        if self.backend == "ivf":
            self.faiss_index.nprobe = value
        elif self.backend == "hnsw":
            self.faiss_index.hnsw.efSearch = value

    def save(self, folder: str | Path) -> Path:
        """Write `vectors.faiss` and `ids.json` into `folder`, each atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / VECTORS_FILE) as tmp:
            faiss.write_index(self.faiss_index, str(tmp))
        with atomic_write(folder / IDS_FILE) as handle:
            json.dump({"backend": self.backend, "trained_on": self.trained_on, "ids": self.ids}, handle)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Index:
        folder = Path(folder)
        for name in (VECTORS_FILE, IDS_FILE):
            if not (folder / name).is_file():
                raise MissingFileError(folder / name, "index file", "build the index first")
        try:
            index = faiss.read_index(str(folder / VECTORS_FILE))
        except RuntimeError as err:
            raise AudioretError(f"cannot read {folder / VECTORS_FILE}: {str(err).splitlines()[0]}") from None
        meta = json.loads((folder / IDS_FILE).read_text())
        return cls(index, meta["ids"], meta["backend"], meta.get("trained_on"))


def _train_ivf(vectors: np.ndarray, seed: int) -> faiss.Index:
    n, dim = vectors.shape
    cells = max(1, min(int(IVF_CELLS_PER_SQRT_N * math.sqrt(n)), n // IVF_TRAIN_POINTS_PER_CELL))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, size=min(n, cells * IVF_TRAIN_POINTS_PER_CELL), replace=False)
    index.cp.seed = seed
    index.cp.niter = IVF_KMEANS_ITERATIONS
    index.train(vectors[np.sort(sample)])
    index.nprobe = max(1, math.ceil(cells * IVF_PROBE_FRACTION))
    return index


def _as_matrix(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise AudioretError(f"{what} must be a 2-D array [n, dim], got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AudioretError(f"{what} contain NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


class RowView:
    """The stored vectors of an `Index` as a read-only array-like: `view[3:7]`, `view[[1, 5]]`, `len(view)`.

    Rows are read from the FAISS structure on access, so holding a view costs no memory.
    """

    def __init__(self, index: Index):
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.index), self.index.dim

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self.index.rows([int(key)])[0]
        return self.index.rows(key)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = self.index.rows(slice(None))
        return rows if dtype is None else rows.astype(dtype)
