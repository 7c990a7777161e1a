"""ClothoV2 as distributed on Zenodo.

    SRC/clotho_captions_{development,validation,evaluation}.csv   file_name, caption_1..caption_5
    SRC/clotho_metadata_{split}.csv   (ISO-8859-1) file_name, keywords (';'-separated), sound_id,
                                      sound_link, start_end_samples, manufacturer, license
    SRC/{split}/<file_name>           the audio

or the layout aac-datasets writes (SRC is its root, or its CLOTHO_v2.1 folder):

    SRC/CLOTHO_v2.1/clotho_csv_files/clotho_{captions,metadata}_{split}.csv
    SRC/CLOTHO_v2.1/clotho_audio_files/{split}/<file_name>

Writes OUT/clotho_{split}.jsonl for every split whose captions file is present, in the row order
of that file (ClothoV2-GPT's indices refer to the development order).
"""

from __future__ import annotations

from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import (
    PrepareReport,
    finish,
    probe_records,
    read_csv_rows,
    require_dir,
    require_file,
    write_split,
)
from audioret.utils.errors import MissingFileError

SPLITS = ("development", "validation", "evaluation")
CAPTION_COLUMNS = tuple(f"caption_{i}" for i in range(1, 6))
METADATA_COLUMNS = ("file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer", "license")


def prepare_clotho(src: Path, out: Path, workers: int = 8) -> PrepareReport:
    """Write one manifest per ClothoV2 split found in `src`."""
    report = PrepareReport("clotho")
    for split in present_splits(src):
        records = clotho_split_records(src, split, report, dataset="clotho")
        write_split(out, report, split, probe_records(records, report, workers, f"clotho {split}"))
    return finish(out, report)


def clotho_folders(src: Path) -> tuple[Path, Path]:
    """(folder of the CSV files, folder holding the split audio folders) of either published layout.

    Of several aac-datasets versions (CLOTHO_v1, CLOTHO_v2, CLOTHO_v2.1) the newest is read.
    """
    if any((src / f"clotho_captions_{s}.csv").is_file() for s in SPLITS):
        return src, src
    versions = sorted((d for d in src.glob("CLOTHO_v*") if (d / "clotho_csv_files").is_dir()),
                      key=lambda d: tuple(int(n) for n in d.name[len("CLOTHO_v"):].split(".") if n.isdigit()))
    root = versions[-1] if versions else src
    if (root / "clotho_csv_files").is_dir():
        return root / "clotho_csv_files", root / "clotho_audio_files"
    raise MissingFileError(src / "clotho_captions_development.csv", "ClothoV2 captions",
                           "point SRC at the folder holding clotho_captions_*.csv and the audio folders, "
                           "or at aac-datasets' root (CLOTHO_v2.1/clotho_csv_files/)")


def present_splits(src: Path) -> list[str]:
    csv_dir, _ = clotho_folders(src)
    return [s for s in SPLITS if (csv_dir / f"clotho_captions_{s}.csv").is_file()]


def clotho_split_records(src: Path, split: str, report: PrepareReport, dataset: str) -> list[ManifestRecord]:
    """Records of one split in the captions file's order; clips without audio go to `report.missing`."""
    csv_dir, audio_root = clotho_folders(src)
    captions_csv = require_file(csv_dir / f"clotho_captions_{split}.csv", "ClothoV2 captions")
    audio_dir = require_dir(audio_root / split, f"ClothoV2 {split} audio folder")
    metadata = _read_metadata(csv_dir / f"clotho_metadata_{split}.csv", report)
    records = []
    for line, row in read_csv_rows(captions_csv, ("file_name", *CAPTION_COLUMNS)):
        name = row["file_name"]
        audio = audio_dir / name
        if not audio.is_file():
            report.missing.append(f"{audio} (listed in {captions_csv.name}:{line})")
            continue
        captions = [row[c] for c in CAPTION_COLUMNS if row[c].strip()]
        records.append(ManifestRecord(
            id=name, audio=str(audio), captions=captions, dataset=dataset, split=split,
            meta=metadata.get(name, {}),
        ))
    return records


def _read_metadata(path: Path, report: PrepareReport) -> dict[str, dict]:
    if not path.is_file():
        report.notes.append(f"no metadata file {path.name}; records carry no keywords or licence")
        return {}
    metadata = {}
    for _, row in read_csv_rows(path, METADATA_COLUMNS, encoding="ISO-8859-1"):
        meta = {k: row[k] for k in METADATA_COLUMNS[1:]}
        meta["keywords"] = [k.strip() for k in row["keywords"].split(";") if k.strip()]
        metadata[row["file_name"]] = meta
    return metadata
