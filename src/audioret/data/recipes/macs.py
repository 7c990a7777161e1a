"""MACS: crowd-sourced captions for TAU Urban Acoustic Scenes 2019 development clips.

    SRC/MACS.yaml   files: [{filename, annotations: [{annotator_id, sentence, tags}]}]
    SRC/**/<filename>   the TAU audio (e.g. TAU-urban-acoustic-scenes-2019-development/audio/)

or aac-datasets' layout, SRC/MACS/{MACS.yaml, audio/<filename>} (SRC may be its root or MACS/).

Writes OUT/macs_train.jsonl (MACS is a training set).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import AudioFinder, PrepareReport, finish, probe_records, require_file, write_split
from audioret.utils.errors import AudioretError, DataFormatError


def prepare_macs(src: Path, out: Path, workers: int = 8) -> PrepareReport:
    """Write OUT/macs_train.jsonl from MACS.yaml and the TAU audio under `src`."""
    if not (src / "MACS.yaml").is_file() and (src / "MACS" / "MACS.yaml").is_file():
        src = src / "MACS"  # aac-datasets' root
    path = require_file(src / "MACS.yaml", "MACS annotations")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DataFormatError(path, f"invalid YAML: {getattr(err, 'problem', err)}",
                              None if mark is None else mark.line + 1) from None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list):
        raise DataFormatError(path, "expected a top-level 'files' list")
    report = PrepareReport("macs")
    finder = AudioFinder(src)
    records = []
    for position, item in enumerate(files):
        name, annotations = _validated(item, path, position)
        audio = finder.find(Path(name).stem)
        if audio is None:
            report.missing.append(f"{name} (MACS.yaml files[{position}])")
            continue
        records.append(ManifestRecord(
            id=Path(name).stem, audio=str(audio), captions=[a["sentence"] for a in annotations],
            dataset="macs", split="train",
            meta={"annotator_ids": [a.get("annotator_id") for a in annotations],
                  "tags": [a.get("tags") or [] for a in annotations]},
        ))
    if not records:
        raise AudioretError(f"none of the {len(files)} MACS clips has its audio under {src}; "
                            "unpack the TAU Urban Acoustic Scenes 2019 development audio there")
    write_split(out, report, "train", probe_records(records, report, workers, "macs"))
    return finish(out, report)


def _validated(item: object, path: Path, position: int) -> tuple[str, list[dict]]:
    where = f"files[{position}]"
    if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
        raise DataFormatError(path, f"{where} needs a 'filename'")
    annotations = item.get("annotations")
    if not isinstance(annotations, list) or not all(
        isinstance(a, dict) and isinstance(a.get("sentence"), str) for a in annotations
    ):
        raise DataFormatError(path, f"{where} ({item['filename']}): 'annotations' must be a list "
                              "with a 'sentence' each")
    return item["filename"], annotations
