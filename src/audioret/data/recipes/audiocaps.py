"""AudioCaps as distributed by its authors: CSV files plus audio you obtained yourself.

    SRC/{train,val,test}.csv   audiocap_id, youtube_id, start_time, caption (one row per caption)
    SRC/**/<youtube_id>.<ext>  audio named by YouTube id, with or without AudioSet's 'Y' prefix

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


def prepare_audiocaps(src: Path, out: Path, workers: int = 8) -> PrepareReport:
    """Write one manifest per AudioCaps split CSV found in `src`."""
    splits = [s for s in SPLITS if (src / f"{s}.csv").is_file()]
    if not splits:
        raise MissingFileError(src / "train.csv", "AudioCaps captions",
                               "point SRC at the folder with {train,val,test}.csv")
    report = PrepareReport("audiocaps")
    finder = AudioFinder(src, key=youtube_key)
    for split in splits:
        csv_path = src / f"{split}.csv"
        clips: dict[str, ManifestRecord] = {}
        for line, row in read_csv_rows(csv_path, COLUMNS):
            ytid = row["youtube_id"].strip()
            record = clips.get(ytid)
            if record is None:
                audio = finder.find(ytid, prefer=split)
                if audio is None:
                    report.missing.append(f"{ytid} (first listed in {csv_path.name}:{line})")
                    clips[ytid] = None
                    continue
                record = clips[ytid] = ManifestRecord(
                    id=ytid, audio=str(audio), captions=[], dataset="audiocaps", split=split,
                    meta={"audiocap_ids": [], "start_time": _start_time(row["start_time"], csv_path, line)},
                )
            if record is not None:
                record.captions.append(row["caption"])
                record.meta["audiocap_ids"].append(row["audiocap_id"])
        found = [r for r in clips.values() if r is not None]
        write_split(out, report, split, probe_records(found, report, workers, f"audiocaps {split}"))
    if report.n_records == 0:
        raise AudioretError(f"no AudioCaps audio found under {src}: files must be named <youtube_id>.wav "
                            "or Y<youtube_id>.wav (any audio extension)")
    return finish(out, report)


def _start_time(text: str, path: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataFormatError(path, f"start_time {text!r} is not a number", line) from None
