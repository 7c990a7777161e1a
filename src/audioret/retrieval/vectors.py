"""`Index`: nearest neighbours by inner product over unit vectors (cosine similarity), on FAISS.

Up to `EXACT_LIMIT` vectors a flat index searches exactly; a query against 100k 1024-d vectors
costs a few milliseconds on one core. Above that the default is an inverted file (IVF): k-means
cells, of which `nprobe` are scanned per query. HNSW is available for those who prefer a graph.

Example:
    >>> index = Index.build(vectors, ids=["a.wav", "b.wav", ...])
    >>> scores, ids = index.search(queries, k=10)
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
# below 39) for 10 iterations, which keeps building a million 1024-d vectors to about a minute on
# two cores. Scanning 1/32 of the cells finds >90% of the true top 10 on clustered data (tests);
# bench/search.py measures the trade-off on uniform random vectors, the worst case.
IVF_CELLS_PER_SQRT_N = 2
IVF_TRAIN_POINTS_PER_CELL = 40
IVF_KMEANS_ITERATIONS = 10
IVF_PROBE_FRACTION = 1 / 32
EXACT_QUERY_CHUNK = 256  # queries scored per matrix product: 256 x 100k floats = 100 MB
HNSW_NEIGHBOURS, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 256


def choose_backend(n_vectors: int, backend: str = "auto") -> str:
    """`auto` resolves to exact search up to EXACT_LIMIT vectors, IVF above."""
    if backend not in BACKENDS:
        raise AudioretError(f"unknown index backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "flat" if n_vectors <= EXACT_LIMIT else "ivf"
    return backend


class Index:
    """Vectors with one id each; `search` returns the k best ids per query by inner product."""

    def __init__(self, faiss_index: faiss.Index, ids: Sequence[Any], backend: str):
        if faiss_index.ntotal != len(ids):
            raise AudioretError(f"index holds {faiss_index.ntotal} vectors but {len(ids)} ids")
        self.faiss_index = faiss_index
        self.ids = list(ids)
        self.backend = backend

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
        stored = faiss.rev_swig_ptr(self.faiss_index.get_xb(), len(self) * self.dim).reshape(len(self), self.dim)
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
            json.dump({"backend": self.backend, "ids": self.ids}, handle)
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
        return cls(index, meta["ids"], meta["backend"])


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
