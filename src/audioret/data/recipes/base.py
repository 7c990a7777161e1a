"""What every dataset recipe shares: strict CSV reading with line numbers, finding audio files by
name, probing durations in parallel, and writing manifests plus a list of skipped files.

Recipes never download. They read a dataset as its publishers distribute it and report exactly
what is missing or malformed.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from audioret.data.manifest import ManifestRecord, write_manifest
from audioret.utils.audio import AUDIO_EXTENSIONS, audio_duration, decoded_duration, walk_audio
from audioret.utils.errors import AudioDecodeError, DataFormatError, MissingFileError
from audioret.utils.io import atomic_write, escape_name
from audioret.utils.progress import progress_bar


@dataclass
class PrepareReport:
    """What a recipe wrote and what it had to leave out (never silently)."""

    name: str
    manifests: dict[str, tuple[Path, int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    mismatched: list[tuple[str, str]] = field(default_factory=list)  # (audio, why it is not the published clip)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (audio, the held-out clip it copies)
    notes: list[str] = field(default_factory=list)
    problems_file: Path | None = None

    @property
    def n_records(self) -> int:
        return sum(n for _, n in self.manifests.values())


def require_file(path: Path, what: str, hint: str = "") -> Path:
    """Return `path` if it is a file, else raise a MissingFileError naming it."""
    if not path.is_file():
        raise MissingFileError(path, what, hint)
    return path


def require_dir(path: Path, what: str, hint: str = "") -> Path:
    if not path.is_dir():
        raise MissingFileError(path, what, hint)
    return path


def read_csv_rows(
    path: Path, required: Sequence[str], encoding: str = "utf-8-sig", delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a headed CSV file, checking every row's shape.

    Raises:
        DataFormatError: a required column is absent, a row has too few or too many fields, or the
            bytes are not valid in `encoding`; the message names the file and line.
    """
    try:
        with open(path, encoding=encoding, newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            header = reader.fieldnames or []
            absent = [c for c in required if c not in header]
            if absent:
                raise DataFormatError(path, f"missing column(s) {absent}; found {header}", 1)
            for row in reader:
                if None in row:
                    raise DataFormatError(path, f"{len(header) + len(row[None])} fields, header has {len(header)}",
                                          reader.line_num)
                if any(v is None for v in row.values()):
                    n = sum(v is not None for v in row.values())
                    raise DataFormatError(path, f"{n} fields, header has {len(header)}", reader.line_num)
                yield reader.line_num, row
    except csv.Error as err:
        raise DataFormatError(path, f"CSV syntax error: {err}") from None
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"not valid {encoding} text (byte {err.start})") from None


class AudioFinder:
    """Finds audio files under a root by file stem, the way datasets name clips (ids, not paths)."""

    def __init__(self, root: Path, key: Callable[[str], str] = lambda stem: stem):
        self.root = root
        self._by_key: dict[str, list[Path]] = {}
        self._key = key
        for path in walk_audio(root):
            self._by_key.setdefault(key(path.stem), []).append(path)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def find(self, name: str, prefer: str | None = None) -> Path | None:
        """The file whose stem maps to `name`; among several, the one with a folder starting with `prefer`.

        Only for datasets where equal names mean the same clip (an AudioCaps YouTube id in two split
        folders); where sources share ids for different clips, use `find_under`.
        """
        matches = self._by_key.get(self._key(name), [])
        if len(matches) > 1 and prefer:
            preferred = [p for p in matches if _has_folder(p, self.root, prefer)]
            matches = preferred or matches
        return matches[0] if matches else None

    def find_under(self, name: str, folder_prefix: str) -> Path | None:
        """The file whose stem maps to `name` inside a folder (below the root) named `folder_prefix*`.

        Never falls back to a file elsewhere: another folder's file of the same name is another clip.
        """
        matches = [p for p in self._by_key.get(self._key(name), []) if _has_folder(p, self.root, folder_prefix)]
        return matches[0] if matches else None


def _has_folder(path: Path, root: Path, prefix: str) -> bool:
    """Whether a folder between `root` and `path` starts with `prefix` (case-insensitive)."""
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        parts = path.parent.parts
    return any(part.lower().startswith(prefix.lower()) for part in parts)


def strip_audio_extension(name: str) -> str:
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in AUDIO_EXTENSIONS else name


def probe_records(
    records: list[ManifestRecord], report: PrepareReport, workers: int = 8, label: str = "probing audio",
    decode: bool = False,
) -> list[ManifestRecord]:
    """Fill in durations; records whose audio cannot be read are dropped and listed.

    Durations come from file headers, or with `decode` from decoding every file whole, which also catches
    a file whose header is sound and whose stream is not (slower: for corpora small enough to decode).
    """
    duration_of = decoded_duration if decode else audio_duration

    def probe(record: ManifestRecord) -> tuple[ManifestRecord, float | None, str | None]:
        try:
            return record, duration_of(record.audio), None
        except AudioDecodeError as err:
            return record, None, err.reason

    kept = []
    with progress_bar() as progress, ThreadPoolExecutor(max_workers=workers) as pool:
        task = progress.add_task(label, total=len(records))
        for record, duration, reason in pool.map(probe, records):
            progress.advance(task)
            if reason is None:
                record.duration = round(duration, 6)
                kept.append(record)
            else:
                report.unreadable.append((record.audio, reason))
    return kept


def write_split(out: Path, report: PrepareReport, split: str, records: Iterable[ManifestRecord]) -> Path:
    path = out / f"{report.name}_{split}.jsonl"
    report.manifests[split] = (path, write_manifest(path, records))
    return path


def finish(out: Path, report: PrepareReport) -> PrepareReport:
    """Write `NAME_problems.txt` beside the manifests when anything was left out."""
    if report.missing or report.unreadable or report.mismatched or report.duplicates:
        report.problems_file = out / f"{report.name}_problems.txt"
        with atomic_write(report.problems_file) as handle:
            for item in report.missing:
                handle.write(f"missing\t{escape_name(item)}\n")
            for path, reason in report.unreadable:
                handle.write(f"unreadable\t{escape_name(path)}\t{escape_name(reason)}\n")
            for path, reason in report.mismatched:
                handle.write(f"mismatched\t{escape_name(path)}\t{escape_name(reason)}\n")
            for path, reason in report.duplicates:
                handle.write(f"duplicate\t{escape_name(path)}\t{escape_name(reason)}\n")
    return report

