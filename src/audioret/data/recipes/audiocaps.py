"""AudioCaps as distributed by its authors: CSV files plus audio you obtained yourself.

    SRC/{train,val,test}.csv   audiocap_id, youtube_id, start_time, caption (one row per caption)
    SRC/**/<youtube_id>.<ext>  audio named by YouTube id, with or without AudioSet's 'Y' prefix

or the layout aac-datasets writes (the DCASE 2025 baseline's; SRC is its root or AUDIOCAPS/):

    SRC/AUDIOCAPS/csv_files_v1/{train,val,test}.csv  (or csv_files_v2/, or AUDIOCAPS/*.csv)
    SRC/AUDIOCAPS/audio_32000Hz/{train,val,test}/<youtube_id>_<start_time>.flac

Writes OUT/audiocaps_{split}.jsonl with one line per clip and all its captions. Clips whose audio
is missing (many YouTube videos are gone) are counted and listed, not fatal.
"""

from __future__ import annotations

from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import AudioFinder, PrepareReport, finish, probe_records, read_csv_rows, write_split
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError

SPLITS = ("train", "val", "test")
COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
YOUTUBE_ID_LENGTH = 11


def youtube_key(stem: str) -> str:
    """Map a file stem or id to its YouTube id: AudioSet names files 'Y' + the 11-character id."""
    if len(stem) == YOUTUBE_ID_LENGTH + 1 and stem.startswith("Y"):
        return stem[1:]
    return stem


def captions_folder(src: Path) -> Path:
    """The folder holding {train,val,test}.csv: SRC itself, or where aac-datasets puts them."""
    root = src / "AUDIOCAPS" if (src / "AUDIOCAPS").is_dir() else src
    for folder in (src, root, root / "csv_files_v1", root / "csv_files_v2"):
        if any((folder / f"{s}.csv").is_file() for s in SPLITS):
            return folder
    raise MissingFileError(src / "train.csv", "AudioCaps captions",
                           "point SRC at the folder with {train,val,test}.csv, or at aac-datasets' root "
                           "(AUDIOCAPS/csv_files_v1/)")


def prepare_audiocaps(src: Path, out: Path, workers: int = 8) -> PrepareReport:
    """Write one manifest per AudioCaps split CSV found in `src`."""
    csv_dir = captions_folder(src)
    splits = [s for s in SPLITS if (csv_dir / f"{s}.csv").is_file()]
    report = PrepareReport("audiocaps")
    finder = AudioFinder(src, key=youtube_key)
    for split in splits:
        csv_path = csv_dir / f"{split}.csv"
        clips: dict[str, ManifestRecord] = {}
        for line, row in read_csv_rows(csv_path, COLUMNS):
            ytid = row["youtube_id"].strip()
            record = clips.get(ytid)
            if record is None and ytid not in clips:
                start = _start_time(row["start_time"], csv_path, line)
                # aac-datasets names a clip <youtube_id>_<start_time as an integer>
                audio = finder.find(f"{ytid}_{int(start)}", prefer=split) or finder.find(ytid, prefer=split)
                if audio is None:
                    report.missing.append(f"{ytid} (first listed in {csv_path.name}:{line})")
                    clips[ytid] = None
                    continue
                record = clips[ytid] = ManifestRecord(
                    id=ytid, audio=str(audio), captions=[], dataset="audiocaps", split=split,
                    meta={"audiocap_ids": [], "start_time": start},
                )
            if record is not None:
                record.captions.append(row["caption"])
                record.meta["audiocap_ids"].append(row["audiocap_id"])
        found = [r for r in clips.values() if r is not None]
        write_split(out, report, split, probe_records(found, report, workers, f"audiocaps {split}"))
    if report.n_records == 0:
        raise AudioretError(f"no AudioCaps audio found under {src}: files must be named <youtube_id>.wav, "
                            "Y<youtube_id>.wav or <youtube_id>_<start_time>.flac (any audio extension)")
    return finish(out, report)


def _start_time(text: str, path: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataFormatError(path, f"start_time {text!r} is not a number", line) from None
