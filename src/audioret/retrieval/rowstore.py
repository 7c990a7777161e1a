"""`RowStore`: the full-width vectors of an IVF index, as float16 in immutable segment files.

The IVF index scans narrow projections of the vectors (see `vectors.py`); the candidates it finds are
re-scored exactly against these rows, which are also what `Index.rows` reads back. float16 halves the
disk of float32 and changes a unit vector's inner products by at most about 2**-11 (its rounding is
relative 2**-11 per coordinate).

A segment is written once and never changed: adding rows appends a new segment, removing rows marks
them dead, so a commit of a few changed files writes a few rows, not the whole library. Logical row r
(what the index calls row r) is the r-th live row in segment order. When dead rows pass
COMPACT_DEAD_FRACTION of what the segments hold, or there are more than MAX_SEGMENTS segments, the
next `compact_if_due` writes the live rows into one new segment.

Segment files are named `rows-<random>.npy`, so a name never comes back with other contents; a folder's
record (`describe()`, kept in ids.json) lists them with their sha256 and the dead rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audioret.utils.errors import AudioretError
from audioret.utils.io import atomic_path, file_sha256

SEGMENT_PREFIX, SEGMENT_SUFFIX = "rows-", ".npy"
COMPACT_DEAD_FRACTION = 0.25
MAX_SEGMENTS = 32
GATHER_CHUNK = 65_536  # rows copied at a time when a whole store is read back (float32: 400 MB at 1,545-d)


def is_segment_name(name: str) -> bool:
    return name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX) and "/" not in name


@dataclass
class Segment:
    name: str
    rows: np.ndarray  # float16 [m, dim], in memory or memory-mapped from its file
    sha256: str | None = None  # of its file, once written


class RowStore:
    """Rows of one width in float16 segments; logical rows are the live ones in order."""

    def __init__(self, dim: int, segments: Sequence[Segment] = (), dead: Sequence[int] | np.ndarray = ()):
        self.dim = int(dim)
        self.segments = list(segments)
        for segment in self.segments:
            if segment.rows.ndim != 2 or segment.rows.shape[1] != self.dim or segment.rows.dtype != np.float16:
                raise AudioretError(f"segment {segment.name} holds {segment.rows.dtype} {segment.rows.shape}, "
                                    f"not float16 rows of width {self.dim}")
        self.dead = np.unique(np.asarray(dead, np.int64))
        self._index_rows()

    def _index_rows(self) -> None:
        sizes = [len(segment.rows) for segment in self.segments]
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        physical = int(self._starts[-1])
        if len(self.dead) and (self.dead[0] < 0 or self.dead[-1] >= physical):
            raise AudioretError(f"dead rows {self.dead[0]}..{self.dead[-1]} outside the {physical} stored rows")
        alive = np.ones(physical, bool)
        alive[self.dead] = False
        self._live = np.flatnonzero(alive)  # logical row -> physical row

    def __len__(self) -> int:
        return len(self._live)

    def gather(self, rows: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """The rows at logical positions `rows` (int array, any order), as `dtype` [len(rows), dim]."""
        physical = self._live[np.asarray(rows, np.int64)]
        out = np.empty((len(physical), self.dim), dtype)
        owner = np.searchsorted(self._starts, physical, side="right") - 1
        for segment in np.unique(owner):
            pick = owner == segment
            out[pick] = self.segments[segment].rows[physical[pick] - self._starts[segment]]
        return out

    def gather_all(self, dtype: type = np.float32) -> np.ndarray:
        out = np.empty((len(self), self.dim), dtype)
        for start in range(0, len(self), GATHER_CHUNK):
            stop = min(start + GATHER_CHUNK, len(self))
            out[start:stop] = self.gather(np.arange(start, stop), dtype)
        return out

    def append(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self.segments.append(Segment(_new_name(), np.ascontiguousarray(vectors, np.float16)))
            self._index_rows()

    def remove(self, rows: np.ndarray) -> None:
        """Mark the logical `rows` (sorted, unique) dead; the rows after them move up."""
        self.dead = np.union1d(self.dead, self._live[rows])
        self._index_rows()

    def compact_if_due(self) -> bool:
        """Rewrite the live rows as one segment when dead rows or segments have piled up."""
        physical = int(self._starts[-1])
        if len(self.dead) <= COMPACT_DEAD_FRACTION * physical and len(self.segments) <= MAX_SEGMENTS:
            return False
        live = self.gather_all(np.float16)
        self.segments, self.dead = ([Segment(_new_name(), live)] if len(live) else []), np.zeros(0, np.int64)
        self._index_rows()
        return True

    # --- files ------------------------------------------------------------------------------------
    def save(self, folder: Path, reuse: Path | None = None) -> None:
        """Write into `folder` each segment whose file is neither there nor in `reuse` (the committed folder
        a commit stages beside), each atomically, recording its sha256."""
        for segment in self.segments:
            if (folder / segment.name).is_file() or (reuse is not None and (reuse / segment.name).is_file()):
                continue
            with atomic_path(folder / segment.name) as tmp, open(tmp, "wb") as handle:
                np.save(handle, segment.rows, allow_pickle=False)  # a path would get ".npy" appended
            segment.sha256 = file_sha256(folder / segment.name)

    def describe(self) -> dict[str, Any]:
        """What a folder records about the store (ids.json): segments in order, with sizes and digests."""
        return {"dim": self.dim, "dead": self.dead.tolist(),
                "segments": [{"name": s.name, "rows": len(s.rows), "sha256": s.sha256} for s in self.segments]}

    @classmethod
    def from_record(cls, record: dict[str, Any], open_rows) -> RowStore:
        """The store a `describe()` record names; `open_rows(name, sha256)` maps one segment's file (float16),
        checking it against the digest recorded for it where the caller wants that."""
        try:
            segments = []
            for entry in record["segments"]:
                if not is_segment_name(entry["name"]):
                    raise AudioretError(f"{entry['name']!r} is not a segment file name")
                rows = open_rows(entry["name"], entry.get("sha256"))
                if len(rows) != int(entry["rows"]):
                    raise AudioretError(f"{entry['name']} holds {len(rows)} rows, the record says {entry['rows']}")
                segments.append(Segment(entry["name"], rows, entry.get("sha256")))
            return cls(int(record["dim"]), segments, record["dead"])
        except (KeyError, TypeError, ValueError) as err:
            raise AudioretError(f"not a row store record ({type(err).__name__}: {err})") from None


def load_segment(path: Path) -> np.ndarray:
    """A segment file, memory-mapped read-only."""
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise AudioretError(f"cannot read {path}: {str(err).splitlines()[0]}") from None
    if rows.ndim != 2 or rows.dtype != np.float16:
        raise AudioretError(f"{path}: expected float16 rows, found {rows.dtype} {rows.shape}")
    return rows


def _new_name() -> str:
    return f"{SEGMENT_PREFIX}{uuid.uuid4().hex[:16]}{SEGMENT_SUFFIX}"
