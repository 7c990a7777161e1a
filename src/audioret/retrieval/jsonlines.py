"""The records of a JSON-lines file, read when asked for: what lets a reader open a big index folder quickly.

A search needs the items of its ten results, not a million `Item` objects: parsing every line of
items.jsonl and files.jsonl took 17 of the 19 s that opening a 1M-segment folder did. `JsonLines` finds the
line boundaries (one numpy pass over the bytes) and parses a line when it is first indexed; iterating, or
indexing many lines, parses the whole file at once (one `json.loads` of the lines joined as an array, about
half the time of one call per line) and keeps the records.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np

from audioret.utils.errors import DataFormatError

T = TypeVar("T")

# Lines parsed one by one before the rest are parsed together: a search with filters may widen until it
# has looked at most of the items, and one pass over all of them is cheaper than that many single reads.
ONE_BY_ONE_FRACTION = 16


class JsonLines(Sequence[T], Generic[T]):
    """The records of JSON-lines `data` (one object per line), each made by `make(fields, line_no)`.

    `make` raises `DataFormatError` for a line that is not a valid record (it is told the line number,
    counted from 1); a line that is not JSON is named the same way. Thread-safe: the records parsed all at
    once are parsed by one thread while the others wait.
    """

    def __init__(self, data: bytes, path: Path, make: Callable[[dict[str, Any], int], T]):
        self._data, self.path, self._make = data, path, make
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
        if data and not data.endswith(b"\n"):
            ends = np.append(ends, len(data))
        self._ends = ends
        self._starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else ends
        self._records: list[T] | None = None
        self._one_by_one = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index):
        if self._records is not None or isinstance(index, slice):
            return self.records()[index]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        self._one_by_one += 1
        if self._one_by_one > max(1024, len(self) // ONE_BY_ONE_FRACTION):
            return self.records()[position]
        return self._parse_line(self._line(position), position + 1)

    def __iter__(self) -> Iterator[T]:
        return iter(self.records())

    def records(self) -> list[T]:
        """Every record, parsed once (the first bad line is named)."""
        if self._records is None:
            with self._lock:
                if self._records is None:
                    self._records = self._parse_all()
                    self._data = b""  # the records replace the bytes
        return self._records

    def _parse_all(self) -> list[T]:
        if not len(self):
            return []
        try:  # newlines become commas: one C pass, where joining the line slices took 2 s at a million lines
            rows = json.loads(b"[" + self._data[: self._ends[-1]].replace(b"\n", b",") + b"]")
        except (UnicodeDecodeError, ValueError):
            rows = None  # some line is wrong: read them one by one to say which
        if rows is None or len(rows) != len(self) or not all(isinstance(row, dict) for row in rows):
            return [self._parse_line(self._line(position), position + 1) for position in range(len(self))]
        return [self._make(row, line_no) for line_no, row in enumerate(rows, 1)]

    def _line(self, position: int) -> bytes:
        return self._data[self._starts[position]:self._ends[position]]

    def _parse_line(self, line: bytes, line_no: int) -> T:
        try:
            fields = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise DataFormatError(self.path, f"not a JSON object ({str(err).splitlines()[0]})", line_no) from None
        if not isinstance(fields, dict):
            raise DataFormatError(self.path, "not a JSON object", line_no)
        return self._make(fields, line_no)


def record_builder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    """`cls(**fields)` for a frozen dataclass (without slots), in a third of the time when `fields` holds
    exactly its fields: the parsed dict becomes the record's attribute dict, where a frozen dataclass's
    `__init__` would set each field through `object.__setattr__` (1.2 s per million items). Other dicts
    go through `cls(**fields)`, which fills defaults or raises TypeError naming the bad field."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__slots__") or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a dataclass without slots or __post_init__")
    names = frozenset(field.name for field in dataclasses.fields(cls))
    blank, assign = object.__new__, object.__setattr__

    def build(fields: dict[str, Any]) -> T:
        if fields.keys() != names:
            return cls(**fields)
        record = blank(cls)
        assign(record, "__dict__", fields)
        return record

    return build
