"""The index folder of a sound library: what was embedded, with which model, and the search structure.

    IDX/items.jsonl      one line per segment: id, path (relative to the library root), size,
                         mtime_ns, start, end (seconds)
    IDX/embeddings.npy   the segment vectors, row i = item i (kept so that re-indexing, merging and
                         "more like this" never need the audio again)
    IDX/vectors.faiss    the FAISS search structure over those rows (+ ids.json)
    IDX/model.json       fingerprint of the model that made the vectors; searching with another is an error
    IDX/index.json       library root, counts, backend
    IDX/pending/         batches embedded since the last commit (a killed run resumes from them)

A commit stages every new file in IDX/.commit/, writes a journal naming them, then moves them into
place; a run killed anywhere in between is rolled forward the next time the folder is opened, so the
files always describe one consistent state.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audioret.retrieval.vectors import IDS_FILE, VECTORS_FILE, Index
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError
from audioret.utils.io import atomic_write

ITEMS_FILE, EMBEDDINGS_FILE, MODEL_FILE, LIBRARY_FILE = "items.jsonl", "embeddings.npy", "model.json", "index.json"
PENDING_DIR, STAGING_DIR, JOURNAL_FILE = "pending", ".commit", "commit.json"
COMMITTED_FILES = (ITEMS_FILE, EMBEDDINGS_FILE, VECTORS_FILE, IDS_FILE, LIBRARY_FILE)


@dataclass(frozen=True)
class Item:
    """One searchable segment: a whole short file, or a window of a long one."""

    id: int
    path: str  # relative to the library root, '/'-separated
    size: int
    mtime_ns: int
    start: float
    end: float


@dataclass(frozen=True)
class Hit:
    item: Item
    score: float
    root: Path

    @property
    def path(self) -> Path:
        return self.root / self.item.path

    def to_json(self, absolute: bool = True) -> dict[str, Any]:
        return {"id": self.item.id, "path": str(self.path) if absolute else self.item.path,
                "score": round(float(self.score), 6), "start": self.item.start, "end": self.item.end}


class IndexStore:
    """Reads and writes an index folder; `Library` is the read-only search view of a committed one."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.roll_forward()

    # --- model and library identity ----------------------------------------------------------------
    def model_info(self) -> dict[str, Any] | None:
        path = self.folder / MODEL_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def claim(self, model_info: dict[str, Any], root: Path) -> None:
        """Bind the folder to a model and a library root, or check that it already is."""
        existing = self.model_info()
        if existing is not None and existing["fingerprint"] != model_info["fingerprint"]:
            raise AudioretError(
                f"{self.folder} was built with model {existing.get('source')} (fingerprint "
                f"{existing['fingerprint']}), not {model_info.get('source')} ({model_info['fingerprint']}); "
                "index into a new --out folder, or pass the same --model")
        library = self.library_info()
        if library is not None and Path(library["root"]) != root:
            raise AudioretError(f"{self.folder} indexes {library['root']}, not {root}; use a new --out folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        if existing is None:
            with atomic_write(self.folder / MODEL_FILE) as handle:
                json.dump(model_info, handle, indent=2)

    def library_info(self) -> dict[str, Any] | None:
        path = self.folder / LIBRARY_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    # --- committed state --------------------------------------------------------------------------
    def committed(self) -> tuple[list[Item], np.ndarray]:
        """Items and their vectors (memory-mapped); empty when nothing was committed yet."""
        items_path = self.folder / ITEMS_FILE
        if not items_path.is_file():
            return [], np.zeros((0, 0), np.float32)
        items = read_items(items_path)
        vectors = np.load(self.folder / EMBEDDINGS_FILE, mmap_mode="r")
        if len(vectors) != len(items):
            raise AudioretError(f"{self.folder}: {len(items)} items but {len(vectors)} vectors; "
                                "the folder was edited by hand; index into a new --out folder")
        return items, vectors

    # --- pending batches --------------------------------------------------------------------------
    def add_pending(self, items: Sequence[Item], vectors: np.ndarray) -> Path:
        """Persist one embedded batch (atomically) so that a killed run does not redo it."""
        pending = self.folder / PENDING_DIR
        pending.mkdir(parents=True, exist_ok=True)
        path = pending / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"  # names sort by age
        rows = json.dumps([asdict(item) for item in items])
        with atomic_write(path, "wb") as handle:
            np.savez(handle, vectors=np.asarray(vectors, np.float32), items=np.array(rows))
        return path

    def pending(self) -> list[tuple[list[Item], np.ndarray]]:
        """Every complete pending batch, oldest first (a file changed twice keeps its newest vectors)."""
        folder = self.folder / PENDING_DIR
        parts = sorted(folder.glob("*.npz")) if folder.is_dir() else []
        batches = []
        for part in parts:
            with np.load(part) as data:
                items = [Item(**row) for row in json.loads(str(data["items"]))]
                batches.append((items, data["vectors"]))
        return batches

    # --- commit -----------------------------------------------------------------------------------
    def commit(self, items: Sequence[Item], vectors: np.ndarray, root: Path, backend: str = "auto") -> None:
        """Replace the committed state with `items`/`vectors` and drop the pending batches."""
        staging = self.folder / STAGING_DIR
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        vectors = np.asarray(vectors, np.float32).reshape(len(items), self._dim())
        index = Index.build(vectors, [item.id for item in items], backend)
        index.save(staging)
        write_items(staging / ITEMS_FILE, items)
        np.save(staging / EMBEDDINGS_FILE, vectors)
        with atomic_write(staging / LIBRARY_FILE) as handle:
            json.dump({"root": str(root), "items": len(items), "files": len({i.path for i in items}),
                       "backend": index.backend}, handle, indent=2)
        parts = sorted(p.name for p in (self.folder / PENDING_DIR).glob("*.npz")) if (
            self.folder / PENDING_DIR).is_dir() else []
        with atomic_write(self.folder / JOURNAL_FILE) as handle:
            json.dump({"files": list(COMMITTED_FILES), "pending": parts}, handle)
        self.roll_forward()

    def roll_forward(self) -> None:
        """Finish a commit whose journal was written; discard one whose journal was not."""
        journal = self.folder / JOURNAL_FILE
        staging = self.folder / STAGING_DIR
        if journal.is_file():
            plan = json.loads(journal.read_text())
            for name in plan["files"]:
                if (staging / name).exists():
                    os.replace(staging / name, self.folder / name)
            for name in plan["pending"]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.folder / PENDING_DIR / name)
            journal.unlink()
        shutil.rmtree(staging, ignore_errors=True)

    def _dim(self) -> int:
        info = self.model_info()
        if info is None:
            raise AudioretError(f"{self.folder} has no {MODEL_FILE}; claim() it for a model before committing")
        return int(info["embed_dim"])


class Library:
    """A committed index folder, ready to search.

    Example:
        >>> library = Library.open("my-index")
        >>> hits = library.search(model.encode_text(["glass breaking"]), k=5)[0]
        >>> [(str(h.path), h.item.start, h.score) for h in hits]
    """

    def __init__(self, folder: Path, items: list[Item], vectors: np.ndarray, index: Index,
                 model_info: dict[str, Any], root: Path):
        self.folder, self.items, self.vectors, self.index = folder, items, vectors, index
        self.model_info, self.root = model_info, root
        self._rows_by_path: dict[str, list[int]] = {}
        for item in items:
            self._rows_by_path.setdefault(item.path, []).append(item.id)

    @classmethod
    def open(cls, folder: str | Path) -> Library:
        folder = Path(folder)
        store = IndexStore(folder)
        info, library = store.model_info(), store.library_info()
        if info is None or library is None:
            raise MissingFileError(folder / LIBRARY_FILE, "index",
                                   "create it with `audioret index AUDIO_DIR --out INDEX_DIR`")
        items, vectors = store.committed()
        return cls(folder, items, vectors, Index.load(folder), info, Path(library["root"]))

    @property
    def n_files(self) -> int:
        return len(self._rows_by_path)

    def check_model(self, fingerprint: str, source: str) -> None:
        if fingerprint != self.model_info["fingerprint"]:
            raise AudioretError(
                f"{self.folder} was built with model {self.model_info.get('source')} (fingerprint "
                f"{self.model_info['fingerprint']}); {source} is a different model ({fingerprint}). Search with "
                "the model that built the index, or re-index with this one into a new folder")

    def file_vector(self, path: str) -> np.ndarray | None:
        """The unit vector of an indexed file (mean of its segments), or None if it is not indexed."""
        rows = self._rows_by_path.get(path)
        if not rows:
            return None
        mean = np.asarray(self.vectors[rows], np.float32).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def relative(self, path: str | Path) -> str | None:
        """`path` as the index names it, if it lies under the library root."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def search(self, queries: np.ndarray, k: int = 10, per_file: bool = True,
               exclude: Sequence[str | None] | None = None) -> list[list[Hit]]:
        """The k best segments per query row; with `per_file`, only the best segment of each file.

        `exclude[i]` (a relative path) is left out of query i's results ("more like this").
        """
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        results = []
        for row, query in enumerate(queries):
            skip = exclude[row] if exclude is not None else None
            results.append(self._search_one(query, k, per_file, skip))
        return results

    def _search_one(self, query: np.ndarray, k: int, per_file: bool, skip: str | None) -> list[Hit]:
        fetch = k
        while True:
            scores, ids = self.index.search(query[None], min(fetch + (1 if skip else 0), len(self.items)) or 1)
            hits, seen = [], set()
            for score, item_id in zip(scores[0], ids[0], strict=False):
                item = self.items[item_id]
                if item.path == skip or (per_file and item.path in seen):
                    continue
                seen.add(item.path)
                hits.append(Hit(item, float(score), self.root))
            # Segments of one file can crowd the top; widen the search until k distinct files appear.
            if len(hits) >= k or fetch >= len(self.items):
                return hits[:k]
            fetch *= 4


def read_items(path: Path) -> list[Item]:
    items = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            try:
                items.append(Item(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as err:
                raise DataFormatError(path, f"not an index item ({err})", line_no) from None
            if items[-1].id != len(items) - 1:
                raise DataFormatError(path, f"item id {items[-1].id} out of order", line_no)
    return items


def write_items(path: Path, items: Sequence[Item]) -> None:
    with atomic_write(path) as handle:
        for item in items:
            handle.write(json.dumps(asdict(item)) + "\n")
