"""Auto-ACD (the VGGSound part the paper uses): a published CSV of YouTube id and caption.

    SRC/{train,val,test}.csv   a header naming an id column (youtube_id, ytid, video_id, id, audio,
                               file_name) and a caption column (caption, text), or no header and
                               exactly those two columns
    SRC/**/<id>.<ext>          the audio, named by the id (VGGSound ids look like <ytid>_<start>)

Writes OUT/auto-acd_{split}.jsonl; clips whose audio is missing are counted and listed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.audiocaps import youtube_key
from audioret.data.recipes.base import (
    AudioFinder,
    PrepareReport,
    finish,
    probe_records,
    strip_audio_extension,
    write_split,
)
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError

SPLITS = ("train", "val", "test")
ID_COLUMNS = ("youtube_id", "ytid", "video_id", "id", "audio", "file_name", "filename")
CAPTION_COLUMNS = ("caption", "text")


def prepare_auto_acd(src: Path, out: Path, workers: int = 8) -> PrepareReport:
    """Write one manifest per Auto-ACD CSV found in `src`."""
    splits = [s for s in SPLITS if (src / f"{s}.csv").is_file()]
    if not splits:
        raise MissingFileError(src / "train.csv", "Auto-ACD captions CSV", "point SRC at the folder holding it")
    report = PrepareReport("auto-acd")
    finder = AudioFinder(src, key=youtube_key)
    for split in splits:
        csv_path = src / f"{split}.csv"
        clips: dict[str, ManifestRecord | None] = {}
        for line, clip_id, caption in _read_pairs(csv_path):
            if clip_id not in clips:
                audio = finder.find(clip_id)
                clips[clip_id] = None if audio is None else ManifestRecord(
                    id=clip_id, audio=str(audio), captions=[], dataset="auto-acd", split=split)
                if audio is None:
                    report.missing.append(f"{clip_id} (first listed in {csv_path.name}:{line})")
            if clips[clip_id] is not None:
                clips[clip_id].captions.append(caption)
        found = [r for r in clips.values() if r is not None]
        write_split(out, report, split, probe_records(found, report, workers, f"auto-acd {split}"))
    if report.n_records == 0:
        raise AudioretError(f"no Auto-ACD audio found under {src}: files must be named by the CSV's ids")
    return finish(out, report)


def _read_pairs(path: Path):
    """Yield (line, id, caption), finding the two columns by header name or position."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, "the file is empty")
            names = [h.strip().lower() for h in header]
            id_col = next((names.index(c) for c in ID_COLUMNS if c in names), None)
            cap_col = next((names.index(c) for c in CAPTION_COLUMNS if c in names), None)
            if id_col is None or cap_col is None:
                if len(header) != 2:
                    raise DataFormatError(path, f"no id/caption columns in header {header}; expected one of "
                                          f"{ID_COLUMNS} and one of {CAPTION_COLUMNS}, or two unnamed columns", 1)
                id_col, cap_col = 0, 1
                yield from _pair(path, 1, header, id_col, cap_col)
            for row in reader:
                yield from _pair(path, reader.line_num, row, id_col, cap_col)
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"not valid utf-8 text (byte {err.start})") from None


def _pair(path: Path, line: int, row: list[str], id_col: int, cap_col: int):
    if not row:
        return
    if len(row) <= max(id_col, cap_col):
        raise DataFormatError(path, f"{len(row)} fields, expected at least {max(id_col, cap_col) + 1}", line)
    clip_id, caption = strip_audio_extension(row[id_col].strip()), row[cap_col].strip()
    if not clip_id or not caption:
        raise DataFormatError(path, "empty id or caption", line)
    yield line, clip_id, caption
