"""What a search page shows about an indexed file before anyone listens: its format and a waveform thumbnail.

    IDX/files.jsonl   one line per indexed file, in the order of items.jsonl: path, size, mtime_ns,
                      duration (s), sample_rate, channels, format and subtype (libsndfile's names)
    IDX/peaks.npy     int8 [files, PEAKS_PER_FILE, 2]: the lowest and highest sample (of any channel) in
                      each of PEAKS_PER_FILE equal stretches of the file, x 127

Both are written by the indexer with each commit and covered by index.json's checksums. A folder
indexed before they existed is still served: `FileTable.from_items` gives durations from the segment
times and no waveforms (the next `audioret index` run adds them).
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from audioret.retrieval.jsonlines import JsonLines, record_builder
from audioret.utils.audio import audio_info
from audioret.utils.errors import AudioDecodeError, AudioretError, DataFormatError
from audioret.utils.io import atomic_write

FILES_FILE, PEAKS_FILE = "files.jsonl", "peaks.npy"
PEAKS_PER_FILE = 100
PEAK_SCALE = 127
BLOCK_FRAMES = 1 << 16  # frames read at a time: a 30-minute recording is summarised in bounded memory


@dataclass(frozen=True)
class FileInfo:
    """One indexed file as a listing shows it; the format fields are None for an older index folder."""

    path: str
    size: int
    mtime_ns: int
    duration: float
    sample_rate: int | None = None
    channels: int | None = None
    format: str | None = None  # "WAV", "FLAC", "OGG", "MP3", ...
    subtype: str | None = None  # "PCM_16", "FLOAT", "VORBIS", ...

    @property
    def folder(self) -> str:
        """The folder of the file relative to the library root ('' for the root itself)."""
        return self.path.rpartition("/")[0]


def describe_file(path: Path, relative: str, size: int, mtime_ns: int) -> tuple[FileInfo, np.ndarray]:
    """The file's header facts and its int8 peaks, read block by block (never the whole file at once).

    Raises:
        AudioDecodeError: the file cannot be decoded.
    """
    info = audio_info(path)
    peaks = quantise_peaks(waveform_peaks(path))
    duration = round(info.frames / info.samplerate, 3)
    return FileInfo(relative, size, mtime_ns, duration, int(info.samplerate), int(info.channels),
                    info.format, info.subtype), peaks


def waveform_peaks(path: Path, n: int = PEAKS_PER_FILE) -> np.ndarray:
    """float32 [n, 2]: min and max sample over all channels of each stretch; frame t of F frames lies in
    stretch t * n // F. Stretches without a frame (a file shorter than n frames) are 0."""
    low = np.full(n, np.inf, np.float32)
    high = np.full(n, -np.inf, np.float32)
    try:
        with sf.SoundFile(os.fsencode(path)) as sound:
            frames = max(1, sound.frames)
            position = 0
            for block in sound.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                _fold_block(block, position, frames, low, high)
                position += len(block)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(path, str(err).strip() or type(err).__name__) from None
    empty = ~np.isfinite(low)
    low[empty], high[empty] = 0.0, 0.0
    return np.stack([low, high], axis=1)


def _fold_block(block: np.ndarray, position: int, frames: int, low: np.ndarray, high: np.ndarray) -> None:
    """Merge one block's extremes into the stretches it overlaps (frames past the header's count, which
    an mp3 header may underestimate, go to the last stretch)."""
    n = len(low)
    stretch = np.minimum((np.arange(position, position + len(block), dtype=np.int64) * n) // frames, n - 1)
    starts = np.flatnonzero(np.r_[True, stretch[1:] != stretch[:-1]])
    which = stretch[starts]
    low[which] = np.minimum(low[which], np.minimum.reduceat(block.min(axis=1), starts))
    high[which] = np.maximum(high[which], np.maximum.reduceat(block.max(axis=1), starts))


def quantise_peaks(peaks: np.ndarray) -> np.ndarray:
    return np.round(np.clip(peaks, -1.0, 1.0) * PEAK_SCALE).astype(np.int8)


class FileTable:
    """The `FileInfo` of every indexed file and, where the index folder has them, their peaks.

    `rows` may be a `JsonLines` read from files.jsonl: the path -> row map that `info` needs is made on
    first use, so that a reader that lists no files never parses them all."""

    def __init__(self, rows: Sequence[FileInfo], peaks: np.ndarray | None = None):
        self.rows = rows if isinstance(rows, JsonLines) else list(rows)
        self.peaks = peaks
        self._row_of_paths: dict[str, int] | None = None
        self._folders: list[tuple[str, int]] | None = None

    @property
    def _row_of(self) -> dict[str, int]:
        if self._row_of_paths is None:
            self._row_of_paths = {row.path: i for i, row in enumerate(self.rows)}
        return self._row_of_paths

    def __len__(self) -> int:
        return len(self.rows)

    def load(self) -> None:
        """Parse every row and make the lookups now instead of on first use."""
        _ = self._row_of, self.folders()

    def info(self, path: str) -> FileInfo | None:
        row = self._row_of.get(path)
        return None if row is None else self.rows[row]

    def stored_peaks(self, path: str) -> np.ndarray | None:
        """int8 [PEAKS_PER_FILE, 2] as stored, or None without stored peaks."""
        row = self._row_of.get(path)
        # A file that could not be read again when its peaks were due has a row without them.
        if row is None or self.peaks is None or self.rows[row].sample_rate is None:
            return None
        return self.peaks[row]

    def peaks_of(self, path: str) -> np.ndarray | None:
        """float32 [PEAKS_PER_FILE, 2] in [-1, 1], or None without stored peaks."""
        stored = self.stored_peaks(path)
        return None if stored is None else stored.astype(np.float32) / PEAK_SCALE

    def folders(self) -> list[tuple[str, int]]:
        """Every folder holding indexed files at any depth below it, with how many: [('birds', 2), ...]."""
        if self._folders is None:
            self._folders = self._count_folders()
        return self._folders

    def _count_folders(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for row in self.rows:
            parts = row.path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                counts[folder] = counts.get(folder, 0) + 1
        return sorted(counts.items())

    @classmethod
    def from_items(cls, items: Sequence[Any]) -> FileTable:
        """What the segments alone tell (an index folder from before files.jsonl): path, size, duration."""
        rows: dict[str, FileInfo] = {}
        for item in items:
            before = rows.get(item.path)
            end = max(item.end, before.duration) if before else item.end
            rows[item.path] = FileInfo(item.path, item.size, item.mtime_ns, float(end))
        return cls(list(rows.values()))

    @classmethod
    def parse(cls, files_blob: bytes, peaks_blob: bytes, folder: Path,
              items: Sequence[Any] | None = None) -> FileTable:
        """The table stored in `folder`, its rows parsed when first read (`JsonLines`); with `items`, parsed
        now and checked against them (the same files in the same order).

        Raises:
            AudioretError: the two files do not describe the indexed files (or each other).
        """
        build = record_builder(FileInfo)

        def make(fields: dict[str, Any], line_no: int) -> FileInfo:
            try:
                return build(fields)
            except TypeError as err:
                raise DataFormatError(folder / FILES_FILE, f"not a file record ({err})", line_no) from None

        rows = JsonLines(files_blob, folder / FILES_FILE, make)
        try:
            peaks = np.load(io.BytesIO(peaks_blob), allow_pickle=False)
        except (ValueError, OSError) as err:
            raise AudioretError(f"{folder}: {PEAKS_FILE} cannot be read ({err})") from None
        if peaks.shape != (len(rows), PEAKS_PER_FILE, 2) or peaks.dtype != np.int8:
            raise AudioretError(f"{folder}: {FILES_FILE}/{PEAKS_FILE} disagree ({len(rows)} rows, peaks "
                                f"{peaks.dtype} {peaks.shape})")
        if items is not None:
            paths = list(dict.fromkeys(item.path for item in items))
            if [row.path for row in rows] != paths:
                raise AudioretError(f"{folder}: {FILES_FILE} does not list the indexed files ({len(rows)} rows, "
                                    f"{len(paths)} files)")
        return cls(rows, peaks)

    def write(self, folder: Path) -> None:
        """files.jsonl and peaks.npy into `folder` (the commit's staging folder), each atomically."""
        self.write_rows(folder)
        self.write_peaks(folder)

    def write_rows(self, folder: Path) -> None:
        with atomic_write(folder / FILES_FILE) as handle:
            handle.writelines(map(file_line, self.rows))

    def write_peaks(self, folder: Path) -> None:
        peaks = self.peaks if self.peaks is not None else np.zeros((len(self.rows), PEAKS_PER_FILE, 2), np.int8)
        with atomic_write(folder / PEAKS_FILE, "wb") as handle:
            np.save(handle, np.asarray(peaks, np.int8))  # no copy of an int8 table


_QUOTE = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str


def file_line(row: FileInfo) -> str:
    """The files.jsonl line of `row`, byte for byte what `json.dumps(asdict(row))` writes (tests/retrieval/
    test_fileinfo.py) in a twentieth of its time: asdict deep-copies every field, 30 s of each commit at a
    million files."""
    return (f'{{"path": {_QUOTE(row.path)}, "size": {row.size}, "mtime_ns": {row.mtime_ns}, '
            f'"duration": {float(row.duration)!r}, "sample_rate": {_json(row.sample_rate)}, '
            f'"channels": {_json(row.channels)}, "format": {_json(row.format)}, "subtype": {_json(row.subtype)}}}\n')


@functools.lru_cache(maxsize=1024, typed=True)  # a library holds a few rates, channel counts and formats
def _json(value: str | int | None) -> str:
    if value is None:
        return "null"
    return _QUOTE(value) if isinstance(value, str) else str(value)
