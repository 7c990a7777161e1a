"""Manifests: one JSON object per line, one line per audio clip (the data contract of DESIGN.md).

    {"id": str, "audio": path, "captions": [str], "dataset": str, "split": str,
     "duration": float | null, "variations": [[str]] (optional), "meta": {}}

`audio` is stored relative to the manifest's folder when it lies beneath it, so a dataset folder can
move with its manifests. Reading is lazy: a 400k-line WavCaps manifest is never held in memory
unless the caller asks for a list.

Example:
    >>> records = [ManifestRecord(id="a", audio="clips/a.wav", captions=["a dog barks"],
    ...                           dataset="mine", split="train")]
    >>> write_manifest("out/mine_train.jsonl", records)
    >>> [r.captions for r in read_manifest("out/mine_train.jsonl")]
    [['a dog barks']]
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audioret.utils.errors import DataFormatError, MissingFileError
from audioret.utils.io import atomic_write


@dataclass
class ManifestRecord:
    """One audio clip and its captions."""

    id: str
    audio: str
    captions: list[str]
    dataset: str
    split: str
    duration: float | None = None
    variations: list[list[str]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        if data["variations"] is None:
            del data["variations"]
        text = json.dumps(data, ensure_ascii=False, sort_keys=False)
        if any("\ud800" <= char <= "\udfff" for char in text):
            # A file name that is not UTF-8 (its bytes kept as surrogates): escaped as \udcXX, which reads
            # back as the same name, so the file still opens.
            text = json.dumps(data, ensure_ascii=True, sort_keys=False)
        return text


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "audio": str,
    "captions": list,
    "dataset": str,
    "split": str,
}


def _record_from_dict(obj: Any, path: Path, line: int) -> ManifestRecord:
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"expected a JSON object, found {type(obj).__name__}", line)
    for key, kind in _REQUIRED.items():
        if key not in obj:
            raise DataFormatError(path, f"missing required field {key!r}", line)
        if not isinstance(obj[key], kind):
            raise DataFormatError(path, f"field {key!r} must be {kind.__name__}, found {obj[key]!r}", line)
    if not all(isinstance(c, str) for c in obj["captions"]):
        raise DataFormatError(path, "every caption must be a string", line)
    duration = obj.get("duration")
    if duration is not None and not isinstance(duration, int | float):
        raise DataFormatError(path, f"field 'duration' must be a number or null, found {duration!r}", line)
    variations = obj.get("variations")
    if variations is not None and not (
        isinstance(variations, list) and all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                                             for v in variations)
    ):
        raise DataFormatError(path, "field 'variations' must be a list of lists of strings", line)
    unknown = set(obj) - set(_REQUIRED) - {"duration", "variations", "meta"}
    if unknown:
        raise DataFormatError(path, f"unknown field(s) {sorted(unknown)}", line)
    return ManifestRecord(
        id=obj["id"], audio=obj["audio"], captions=obj["captions"], dataset=obj["dataset"],
        split=obj["split"], duration=None if duration is None else float(duration),
        variations=variations, meta=obj.get("meta") or {},
    )


def read_manifest(path: str | Path, resolve_audio: bool = True) -> Iterator[ManifestRecord]:
    """Yield the records of a `.jsonl` or `.jsonl.gz` manifest, one at a time.

    Args:
        path: the manifest file.
        resolve_audio: turn relative `audio` paths into absolute ones (relative to the manifest's folder).

    Raises:
        MissingFileError: the manifest does not exist.
        DataFormatError: a line is not valid JSON or lacks a field; names file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "manifest", "create it with `audioret prepare NAME SRC OUT`")
    root = Path(os.path.abspath(path.parent))
    line_no = 0
    try:
        # Bytes, decoded line by line, so that text that is not UTF-8 is reported at its own line.
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
            for line_no, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    raise DataFormatError(path, f"not UTF-8 text (byte {err.start} of the line); save the "
                                          "manifest as UTF-8", line_no) from None
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as err:
                    raise DataFormatError(path, f"invalid JSON ({err.msg})", line_no) from None
                record = _record_from_dict(obj, path, line_no)
                if resolve_audio and not os.path.isabs(record.audio):
                    record.audio = str(root / record.audio)
                yield record
    except (OSError, EOFError) as err:  # a truncated or damaged .gz
        raise DataFormatError(path, f"cannot be read ({err}); write it again", line_no + 1) from None


def write_manifest(path: str | Path, records: Iterable[ManifestRecord]) -> int:
    """Write records atomically; audio paths under the manifest's folder are stored relative to it.

    A relative `audio` in a record is taken relative to the current directory (as `read_manifest`
    returns them resolved, reading and writing elsewhere round-trips); others are stored absolute.

    Returns:
        The number of records written.
    """
    path = Path(path)
    root = Path(os.path.abspath(path.parent))
    count = 0
    with atomic_write(path) as handle:
        for record in records:
            # In memory a relative path means relative to the working directory, like any path.
            audio = Path(os.path.abspath(record.audio))
            stored = audio.relative_to(root).as_posix() if audio.is_relative_to(root) else str(audio)
            if stored != record.audio:
                record = _replace_audio(record, stored)
            handle.write(record.to_json() + "\n")
            count += 1
    return count


def _replace_audio(record: ManifestRecord, audio: str) -> ManifestRecord:
    return ManifestRecord(**{**record.__dict__, "audio": audio})
