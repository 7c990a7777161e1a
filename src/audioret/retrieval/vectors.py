"""`Index`: nearest neighbours by inner product over unit vectors (cosine similarity), on FAISS.

Up to `EXACT_LIMIT` vectors a flat index searches exactly; a query against 100k 1024-d vectors
costs a few milliseconds on one core. Above that the default is an inverted file (IVF) that scans
narrow projections and re-scores exactly:
- every vector is projected onto the IVF_SCAN_DIM directions that carry most of the library's
  energy (the top eigenvectors of the uncentred second moment of a sample: inner products, not
  distances from a mean, are what must survive), and the projections are filed into k-means cells;
- a query scans `nprobe` cells at that width (24x fewer multiply-adds than at 1,545), keeps the best
  max(RERANK_MIN, RERANK_PER_RESULT x k) candidates and re-scores them against the full-width rows,
  kept in a `RowStore` (rowstore.py) as float16 (scores exact up to float16 rounding) or, with
  `row_storage="int8"`, as 8-bit codes with a scale per 128 coordinates (half the disk again).
HNSW is available for those who prefer a graph.

Each vector is stored once: in the flat or HNSW structure (float32), or in the IVF's row store
(float16 or int8; the IVF lists hold the projections). `rows()` reads them back. An index remembers
its `row_storage` whatever its backend, so a flat index that grows into an IVF keeps the choice.

A trained index changes in place: `add` appends rows (IVF files them into the cells trained
before, the row store appends a segment), `remove` drops rows and renumbers the rest; neither
retrains. `needs_rebuild()` says when the index has outgrown its training (RETRAIN_GROWTH), the
size calls for another backend, or another row storage is asked for.

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

from audioret.retrieval.rowstore import DEFAULT_ROW_STORAGE, RowStore, check_row_storage, load_segment
from audioret.utils.errors import AudioretError, MissingFileError
from audioret.utils.io import atomic_path, atomic_write

EXACT_LIMIT = 100_000
BACKENDS = ("auto", "flat", "ivf", "hnsw")
VECTORS_FILE, IDS_FILE = "vectors.faiss", "ids.json"
# IVF, measured by bench/search.py on 1M realistic 1,545-d vectors, 2 cores: 4 sqrt(n) cells (4,000),
# 64-d scans of 1/16 of them and 50 re-scored candidates find 0.991 of the true top 10 in 1.81 ms a
# query (1/32 of the cells: 0.962 in 1.17 ms; int8 rows: 0.974 in 1.79 ms); building took 25 s. In a
# sweep on the same data 128-d scans and 100 or 200 candidates found no more. k-means runs on 40 points
# per cell (FAISS warns below 39) for 10 iterations.
IVF_CELLS_PER_SQRT_N = 4
IVF_TRAIN_POINTS_PER_CELL = 40
IVF_KMEANS_ITERATIONS = 10
IVF_PROBE_FRACTION = 1 / 16
IVF_SCAN_DIM = 64
IVF_PROJECTION_SAMPLE = 100_000  # rows whose second moment gives the scan directions
RERANK_MIN, RERANK_PER_RESULT = 50, 5
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

    def __init__(self, faiss_index: faiss.Index, ids: Sequence[Any], backend: str, trained_on: int | None = None,
                 store: RowStore | None = None, row_storage: str | None = None):
        if faiss_index.ntotal != len(ids) or (store is not None and len(store) != len(ids)):
            held = f"{faiss_index.ntotal} vectors" + ("" if store is None else f" ({len(store)} stored rows)")
            raise AudioretError(f"index holds {held} but {len(ids)} ids")
        self.faiss_index = faiss_index
        self.ids = list(ids)
        self.backend = backend
        self.trained_on = len(self.ids) if trained_on is None else int(trained_on)  # size when (re)built
        # IVF: the full-width rows. None for flat and HNSW (their structure holds the rows), and for an IVF
        # index of audioret <= 0.1 (full-width lists, no re-scoring): searchable, rebuilt by the next commit.
        self.store = store
        self._noted_row_storage = check_row_storage(row_storage or DEFAULT_ROW_STORAGE)  # see row_storage
        self._has_row_map = False  # an IVF of the older kind: whether FAISS's row -> list map is current

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return self.faiss_index.d

    @property
    def row_storage(self) -> str:
        """How an IVF's rows are stored: its store's; for flat and HNSW, what an IVF built from them would use."""
        return self.store.storage if self.store is not None else self._noted_row_storage

    @row_storage.setter
    def row_storage(self, storage: str) -> None:
        if self.store is not None and storage != self.store.storage:
            raise AudioretError(f"the index keeps {self.store.storage} rows; build it again to store {storage}")
        self._noted_row_storage = check_row_storage(storage)

    @property
    def ivf(self) -> faiss.IndexIVF | None:
        """The inverted file inside an IVF index (behind its projection), else None."""
        return faiss.extract_index_ivf(self.faiss_index) if self.backend == "ivf" else None

    @classmethod
    def build(cls, vectors: np.ndarray, ids: Sequence[Any] | None = None, backend: str = "auto",
              seed: int = 0, row_storage: str = DEFAULT_ROW_STORAGE) -> Index:
        """Index `vectors` [n, d] (rows should be L2-normalised for cosine scores) under `ids`
        (default 0..n-1). `backend`: auto, flat (exact), ivf or hnsw; `row_storage`: how an IVF index
        keeps the rows it re-scores against, float16 or int8 (see rowstore.py)."""
        vectors = _as_matrix(vectors, "vectors")
        ids = list(range(len(vectors))) if ids is None else list(ids)
        if len(ids) != len(vectors):
            raise AudioretError(f"{len(vectors)} vectors but {len(ids)} ids")
        backend = choose_backend(len(vectors), backend)
        check_row_storage(row_storage)
        dim = vectors.shape[1]
        store = None
        if backend == "flat" or len(vectors) == 0:
            index = faiss.IndexFlatIP(dim)
            backend = "flat"
        elif backend == "ivf":
            index = _train_ivf(vectors, seed)
            store = RowStore(dim, storage=row_storage)
        else:
            index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        built = cls(index, [], backend, store=store, row_storage=row_storage)
        built.add(vectors, ids)
        built.trained_on = len(ids)
        return built

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
        elif self.store is not None:
            scores, rows = self._rescored_search(queries, k)
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

    def _rescored_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """IVF: candidates from the projected cells, re-scored against the full rows; missing ones are -1."""
        fetch = min(len(self), max(RERANK_MIN, RERANK_PER_RESULT * k))
        all_scores, all_rows = [], []
        for start in range(0, len(queries), EXACT_QUERY_CHUNK):
            block = queries[start : start + EXACT_QUERY_CHUNK]
            _, candidates = self.faiss_index.search(block, fetch)
            found = candidates >= 0
            full = self.store.gather(candidates[found])
            scores = np.full(candidates.shape, -np.inf, np.float32)
            scores[found] = np.einsum("ij,ij->i", full, np.repeat(block, found.sum(axis=1), axis=0))
            order = np.lexsort((candidates, -scores), axis=1)[:, :k]
            top_scores = np.take_along_axis(scores, order, axis=1)
            top = np.where(np.isfinite(top_scores), np.take_along_axis(candidates, order, axis=1), -1)
            all_scores.append(top_scores)
            all_rows.append(top)
        return np.concatenate(all_scores), np.concatenate(all_rows)

    # --- the stored vectors ------------------------------------------------------------------------
    def rows(self, positions: Sequence[int] | np.ndarray | slice) -> np.ndarray:
        """The stored vectors at `positions` (row numbers, in `ids` order), float32 [m, dim]."""
        if isinstance(positions, slice):
            if self.store is not None and positions == slice(None):
                return self.store.gather_all()
            positions = range(*positions.indices(len(self)))
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self)):
            raise IndexError(f"rows {positions.min()}..{positions.max()} outside 0..{len(self) - 1}")
        if self.store is not None:
            return self.store.gather(positions)
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
            if self.store is not None:
                self.store.append(vectors)
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
            if self.store is not None:
                self.store.remove(doomed)
        keep = np.ones(len(self.ids), bool)
        keep[doomed] = False
        self.ids = [value for value, kept in zip(self.ids, keep, strict=True) if kept]

    def _renumber_ivf_rows(self, removed: np.ndarray) -> None:
        """IVF entries carry their row number; after `removed` rows are gone, row r becomes r minus the
        number of removed rows below it (the row store and flat storage compact in the same order)."""
        lists = self.ivf.invlists
        for cell in range(self.ivf.nlist):
            size = lists.list_size(cell)
            if size:
                rows = faiss.rev_swig_ptr(lists.get_ids(cell), size)
                rows -= np.searchsorted(removed, rows)

    def needs_rebuild(self, backend: str = "auto", row_storage: str | None = None) -> bool:
        """Whether the next commit should train afresh: the size now calls for another backend, another
        `row_storage` is asked for (None: keep this one), an IVF index holds more than RETRAIN_GROWTH times
        what it was trained on, or it is of the older kind."""
        if choose_backend(len(self), backend) != self.backend:
            return True
        if row_storage is not None and check_row_storage(row_storage) != self.row_storage and self.store is not None:
            return True  # (flat and HNSW hold float32 rows: they only take note, see `row_storage`)
        return self.backend == "ivf" and (self.store is None or len(self) > RETRAIN_GROWTH * max(self.trained_on, 1))

    @property
    def search_effort(self) -> int | None:
        """IVF: nprobe; HNSW: efSearch; None for exact search."""
        if self.backend == "ivf":
            return int(self.ivf.nprobe)
        if self.backend == "hnsw":
            return int(self.faiss_index.hnsw.efSearch)
        return None

    def set_search_effort(self, value: int) -> None:
        """IVF: cells scanned per query (nprobe); HNSW: candidate list size (efSearch)."""
        if self.backend == "ivf":
            self.ivf.nprobe = value
        elif self.backend == "hnsw":
            self.faiss_index.hnsw.efSearch = value

    def save(self, folder: str | Path, reuse: str | Path | None = None) -> Path:
        """Write `vectors.faiss`, `ids.json` and any row segment not yet in `folder` or `reuse` (the folder a
        commit stages beside) into `folder`, each atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / VECTORS_FILE) as tmp:
            faiss.write_index(self.faiss_index, str(tmp))
        meta = {"backend": self.backend, "trained_on": self.trained_on, "row_storage": self.row_storage,
                "ids": self.ids}
        if self.store is not None:
            self.store.save(folder, None if reuse is None else Path(reuse))
            meta["rows"] = self.store.describe()
        with atomic_write(folder / IDS_FILE) as handle:
            handle.write(json.dumps(meta))  # json.dump encodes in Python: 1 s for a million ids, dumps in C
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
        return cls.from_parts(index, json.loads((folder / IDS_FILE).read_text()),
                              lambda name, _sha256, dtype: load_segment(folder / name, dtype))

    @classmethod
    def from_parts(cls, structure: faiss.Index, meta: dict[str, Any], open_rows) -> Index:
        """The index an ids.json record describes over its FAISS `structure`; `open_rows(name, sha256, dtype)`
        maps one row segment (see `RowStore.from_record`)."""
        store = RowStore.from_record(meta["rows"], open_rows) if meta.get("rows") is not None else None
        return cls(structure, meta["ids"], meta["backend"], meta.get("trained_on"), store, meta.get("row_storage"))


def _train_ivf(vectors: np.ndarray, seed: int) -> faiss.Index:
    """An empty, trained IVF over the scan projection of `vectors`: cells from k-means on a sample."""
    n, dim = vectors.shape
    rng = np.random.default_rng(seed)
    cells = max(1, min(int(IVF_CELLS_PER_SQRT_N * math.sqrt(n)), n // IVF_TRAIN_POINTS_PER_CELL))
    projection = _scan_projection(vectors[np.sort(rng.choice(n, min(n, IVF_PROJECTION_SAMPLE), replace=False))])
    width = projection.d_out
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(width), width, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.cp.niter = IVF_KMEANS_ITERATIONS
    sample = vectors[np.sort(rng.choice(n, size=min(n, cells * IVF_TRAIN_POINTS_PER_CELL), replace=False))]
    index.train(projection.apply(sample))
    index.nprobe = max(1, math.ceil(cells * IVF_PROBE_FRACTION))
    return faiss.IndexPreTransform(projection, index)  # the Python wrapper keeps both parts alive


def _scan_projection(sample: np.ndarray) -> faiss.LinearTransform:
    """x -> V^T x, V the IVF_SCAN_DIM top eigenvectors of the sample's uncentred second moment: inner
    products of projected vectors approximate those of the originals (exactly, at full width)."""
    dim = sample.shape[1]
    width = min(IVF_SCAN_DIM, dim)
    moment = np.zeros((dim, dim), np.float64)
    for start in range(0, len(sample), 16_384):
        block = sample[start : start + 16_384].astype(np.float64)
        moment += block.T @ block
    _, vectors = np.linalg.eigh(moment)  # ascending eigenvalues
    top = np.ascontiguousarray(vectors[:, ::-1][:, :width].T, dtype=np.float32)  # [width, dim], row-major
    transform = faiss.LinearTransform(dim, width, False)
    faiss.copy_array_to_vector(top.ravel(), transform.A)
    transform.is_trained = True
    return transform


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
