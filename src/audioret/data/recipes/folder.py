"""Any folder of audio, how users bring their own data.

    SRC/**/*.{wav,flac,ogg,mp3,...}   every file soundfile can decode
    --captions CAPTIONS.csv           optional: columns path (relative to SRC, or absolute), caption;
                                      several rows for one path give several captions

Writes OUT/folder_{split}.jsonl (split "all" unless told otherwise). Files that cannot be decoded
(corrupt, empty, not audio) are skipped and listed at the end and in OUT/folder_problems.txt.
"""

from __future__ import annotations

import os
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import (
    PrepareReport,
    finish,
    probe_records,
    read_csv_rows,
    require_dir,
    require_file,
    walk_audio,
    write_split,
)
from audioret.utils.errors import AudioretError


def prepare_folder(
    src: Path, out: Path, captions: Path | None = None, split: str = "all", workers: int = 8
) -> PrepareReport:
    """Write OUT/folder_{split}.jsonl listing every decodable audio file under `src`."""
    require_dir(src, "audio folder")
    report = PrepareReport("folder")
    files = walk_audio(src)
    captions_of = _read_captions(require_file(captions, "captions CSV"), src, report) if captions else {}
    listed_only = sorted(set(captions_of) - {Path(os.path.realpath(p)) for p in files})
    report.missing.extend(f"{p} (named in {captions.name})" for p in listed_only)
    dataset = src.resolve().name or "folder"
    records = [
        ManifestRecord(id=path.relative_to(src).as_posix(), audio=str(path),
                       captions=captions_of.get(Path(os.path.realpath(path)), []), dataset=dataset, split=split)
        for path in files
    ]
    if not records:
        raise AudioretError(f"no audio files under {src} (looked for extensions wav, flac, ogg, mp3, aiff, au, opus)")
    write_split(out, report, split, probe_records(records, report, workers, f"folder {src.name}"))
    return finish(out, report)


def _read_captions(path: Path, src: Path, report: PrepareReport) -> dict[Path, list[str]]:
    captions: dict[Path, list[str]] = {}
    for line, row in read_csv_rows(path, ("path", "caption")):
        if not row["caption"].strip():
            report.notes.append(f"{path.name}:{line}: empty caption ignored")
            continue
        audio = Path(row["path"])
        audio = Path(os.path.realpath(audio if audio.is_absolute() else src / audio))
        captions.setdefault(audio, []).append(row["caption"].strip())
    return captions
