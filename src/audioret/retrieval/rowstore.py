"""`RowStore`: the full-width vectors of an IVF index, in immutable segment files.

The IVF index scans narrow projections of the vectors (see `vectors.py`); the candidates it finds are
re-scored against these rows, which are also what `Index.rows` reads back. Two storages (ROW_STORAGES):

- float16 (the default): half the disk of float32; a unit vector's inner products change by at most
  about 2**-11 (its rounding is relative 2**-11 per coordinate).
- int8: a quarter of float32. Each run of INT8_GROUP coordinates shares one float32 scale (its largest
  magnitude / 127) and stores round(x / scale): every coordinate is off by at most scale / 2. Groups
  keep a block of small coordinates (the default model's class part) from being rounded on the scale
  of a block of large ones. Measured by bench/search.py: see the README's search table.

A segment is written once and never changed: adding rows appends a new segment, removing rows marks
them dead, so a commit of a few changed files writes a few rows, not the whole library. Logical row r
(what the index calls row r) is the r-th live row in segment order. When dead rows pass
COMPACT_DEAD_FRACTION of what the segments hold, or there are more than MAX_SEGMENTS segments, the
next `compact_if_due` writes the live rows into one new segment (their stored form copied, not
re-rounded).

Segment files are named `rows-<random>.npy`, so a name never comes back with other contents; a folder's
record (`describe()`, kept in ids.json) gives the storage and lists the segments with their sha256 and
the dead rows. A float16 segment is a [m, dim] float16 matrix; an int8 segment is m records of
("scale", float32 [groups]) and ("code", int8 [dim]).
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
ROW_STORAGES = ("float16", "int8")
DEFAULT_ROW_STORAGE = "float16"
INT8_GROUP = 128  # coordinates per int8 scale: 4 bytes of scale per 128 of codes (3%)


def is_segment_name(name: str) -> bool:
    return name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX) and "/" not in name


def check_row_storage(storage: str) -> str:
    if storage not in ROW_STORAGES:
        raise AudioretError(f"unknown row storage {storage!r}; choose one of {', '.join(ROW_STORAGES)}")
    return storage


def stored_dtype(storage: str, dim: int) -> np.dtype:
    """The dtype of a segment's array: float16 rows are [m, dim] of it, int8 rows [m] records of it."""
    if check_row_storage(storage) == "float16":
        return np.dtype(np.float16)
    return np.dtype([("scale", "<f4", (-(-dim // INT8_GROUP),)), ("code", "i1", (dim,))])


def encode_rows(vectors: np.ndarray, storage: str) -> np.ndarray:
    """float32 rows [m, dim] in their stored form."""
    if check_row_storage(storage) == "float16":
        return np.ascontiguousarray(vectors, np.float16)
    vectors = np.asarray(vectors, np.float32)
    out = np.empty(len(vectors), stored_dtype(storage, vectors.shape[1]))
    for group, start in enumerate(range(0, vectors.shape[1], INT8_GROUP)):
        block = vectors[:, start : start + INT8_GROUP]
        scale = np.abs(block).max(axis=1, initial=0.0) / np.float32(127)
        out["scale"][:, group] = scale
        # |block| <= 127 scale keeps the codes within -127..127, except where the scale is subnormal and
        # too coarse to divide by (a group below ~1e-36): the clip keeps those from wrapping around
        codes = np.rint(block / np.where(scale > 0, scale, 1)[:, None])
        out["code"][:, start : start + INT8_GROUP] = np.clip(codes, -127, 127)
    return out


def decode_rows(stored: np.ndarray, storage: str, out: np.ndarray) -> None:
    """Stored rows back into `out` [m, dim] (float32 or float16)."""
    if storage == "float16":
        out[...] = stored
        return
    codes, scales = stored["code"], stored["scale"]
    for group, start in enumerate(range(0, out.shape[1], INT8_GROUP)):
        np.multiply(codes[:, start : start + INT8_GROUP], scales[:, group : group + 1],
                    out=out[:, start : start + INT8_GROUP], casting="unsafe")


@dataclass
class Segment:
    name: str
    rows: np.ndarray  # the stored form (see stored_dtype), in memory or memory-mapped from its file
    sha256: str | None = None  # of its file, once written


class RowStore:
    """Rows of one width in segments of one storage; logical rows are the live ones in order."""

    def __init__(self, dim: int, segments: Sequence[Segment] = (), dead: Sequence[int] | np.ndarray = (),
                 storage: str = DEFAULT_ROW_STORAGE):
        self.dim = int(dim)
        self.storage = check_row_storage(storage)
        self.dtype = stored_dtype(storage, self.dim)
        self.segments = list(segments)
        for segment in self.segments:
            if segment.rows.dtype != self.dtype or segment.rows.shape[1:] != self._row_shape:
                raise AudioretError(f"segment {segment.name} holds {segment.rows.dtype} {segment.rows.shape}, "
                                    f"not {storage} rows of width {self.dim}")
        self.dead = np.unique(np.asarray(dead, np.int64))
        self._index_rows()

    @property
    def _row_shape(self) -> tuple[int, ...]:
        return (self.dim,) if self.storage == "float16" else ()

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

    def _stored(self, physical: np.ndarray) -> np.ndarray:
        """The stored form of the physical rows `physical`, in that order."""
        out = np.empty((len(physical), *self._row_shape), self.dtype)
        owner = np.searchsorted(self._starts, physical, side="right") - 1
        for segment in np.unique(owner):
            pick = owner == segment
            out[pick] = self.segments[segment].rows[physical[pick] - self._starts[segment]]
        return out

    def gather(self, rows: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """The rows at logical positions `rows` (int array, any order), as `dtype` [len(rows), dim]."""
        stored = self._stored(self._live[np.asarray(rows, np.int64)])
        out = np.empty((len(stored), self.dim), dtype)
        decode_rows(stored, self.storage, out)
        return out

    def gather_all(self, dtype: type = np.float32) -> np.ndarray:
        out = np.empty((len(self), self.dim), dtype)
        for start in range(0, len(self), GATHER_CHUNK):
            stop = min(start + GATHER_CHUNK, len(self))
            out[start:stop] = self.gather(np.arange(start, stop), dtype)
        return out

    def append(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self.segments.append(Segment(_new_name(), encode_rows(vectors, self.storage)))
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
        live = self._stored(self._live)
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
        return {"dim": self.dim, "storage": self.storage, "dead": self.dead.tolist(),
                "segments": [{"name": s.name, "rows": len(s.rows), "sha256": s.sha256} for s in self.segments]}

    @classmethod
    def from_record(cls, record: dict[str, Any], open_rows) -> RowStore:
        """The store a `describe()` record names; `open_rows(name, sha256, dtype)` maps one segment's file
        (an array of `dtype`, see `stored_dtype`), checking it against the digest recorded for it where the
        caller wants that. Records written before int8 storage existed name none: theirs is float16."""
        try:
            storage = check_row_storage(record.get("storage", "float16"))
            dtype = stored_dtype(storage, int(record["dim"]))
            segments = []
            for entry in record["segments"]:
                if not is_segment_name(entry["name"]):
                    raise AudioretError(f"{entry['name']!r} is not a segment file name")
                rows = open_rows(entry["name"], entry.get("sha256"), dtype)
                if len(rows) != int(entry["rows"]):
                    raise AudioretError(f"{entry['name']} holds {len(rows)} rows, the record says {entry['rows']}")
                segments.append(Segment(entry["name"], rows, entry.get("sha256")))
            return cls(int(record["dim"]), segments, record["dead"], storage)
        except (KeyError, TypeError, ValueError) as err:
            raise AudioretError(f"not a row store record ({type(err).__name__}: {err})") from None


def load_segment(path: Path, dtype: Any = np.float16) -> np.ndarray:
    """A segment file of `dtype` (see `stored_dtype`), memory-mapped read-only."""
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise AudioretError(f"cannot read {path}: {str(err).splitlines()[0]}") from None
    dtype = np.dtype(dtype)
    if rows.ndim != (1 if dtype.names else 2) or rows.dtype != dtype:
        raise AudioretError(f"{path}: expected rows of {dtype}, found {rows.dtype} {rows.shape}")
    return rows


def _new_name() -> str:
    return f"{SEGMENT_PREFIX}{uuid.uuid4().hex[:16]}{SEGMENT_SUFFIX}"
