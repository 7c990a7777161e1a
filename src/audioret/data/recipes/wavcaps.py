"""WavCaps: four JSON files of GPT-rewritten captions plus the audio of four sources.

    SRC/**/fsd_final.json (FreeSound), bbc_final.json (BBC_Sound_Effects), sb_final.json
    (SoundBible), as_final.json (AudioSet_SL): {"num_captions_per_audio": 1, "data": [{"id",
    "caption", "duration", ...}]} as on the WavCaps Hugging Face repository and in aac-datasets, or the
    bare list [{"id", "caption", "duration", ...}] of earlier commits of XinhaoMei/WavCaps.
    SRC/**/<Source>*/**/<id>.<ext>   the audio, inside a folder named after its source:
                        FreeSound_flac/ (the unpacked Hugging Face zips) or Audio/FreeSound/
                        (aac-datasets). An entry's "audio" is used when it names an existing file;
                        the published files hold a placeholder there.

Sources share ids for different sounds (SoundBible 1038 is not FreeSound 1038), so a clip is only
ever looked up in its own source's folder, and each file's length is checked against the JSON's
published duration: a file that differs by more than DURATION_TOLERANCE is listed as mismatched and
left out, never trained on.

`exclude` is a list of FreeSound ids that overlap ClothoV2, which DCASE rules require to be left out
when evaluating on Clotho: aac-datasets' `blacklist_clotho.full.v2.csv` (`index,id`), DCASE's
`sound_id` CSV, or a plain file of one id per line. The id column is chosen by its header.
Writes OUT/wavcaps_train.jsonl (WavCaps has no other split).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import (
    AudioFinder,
    PrepareReport,
    finish,
    probe_records,
    require_file,
    strip_audio_extension,
    write_split,
)
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError

SOURCES = {
    "FreeSound": "fsd_final.json",
    "BBC_Sound_Effects": "bbc_final.json",
    "SoundBible": "sb_final.json",
    "AudioSet_SL": "as_final.json",
}


#: Largest accepted gap (s) between a file's length and the JSON's "duration". The JSON gives lengths
#: to at least two decimals (rounding <= 0.005 s), and re-encoding at another sample rate moves a
#: length by less than one sample (< 1/8000 s at any rate in use); 0.01 s covers both with room to
#: spare, while another source's clip of the same id differs by whole seconds (SoundBible 1038 is
#: 3.89 s, FreeSound 1038 1.0 s).
DURATION_TOLERANCE = 0.01

#: Header names of the id column in exclusion lists, in the order they are looked for.
EXCLUSION_ID_COLUMNS = ("sound_id", "freesound_id", "fsd_id", "id")


def prepare_wavcaps(src: Path, out: Path, exclude: Path | None = None, workers: int = 8) -> PrepareReport:
    """Write OUT/wavcaps_train.jsonl from the WavCaps JSON files found under `src`."""
    json_files = _find_json_files(src)
    report = PrepareReport("wavcaps")
    excluded = read_exclusion_ids(require_file(exclude, "FreeSound exclusion list")) if exclude else set()
    finder = AudioFinder(src)
    records, n_excluded = [], 0
    for source, path in json_files.items():
        for position, entry in enumerate(_entries(path)):
            clip_id = strip_audio_extension(str(entry["id"]).strip())
            if source == "FreeSound" and clip_id in excluded:
                n_excluded += 1
                continue
            audio = _given_audio(entry.get("audio"), src, path.parent) or finder.find_under(clip_id, source)
            if audio is None:
                report.missing.append(f"{source}/{clip_id} ({path.name} entry {position}; looked in folders "
                                      f"named {source}*)")
                continue
            meta = {"source": source}
            if entry.get("duration") is not None:
                meta["published_duration"] = entry["duration"]
            records.append(ManifestRecord(id=f"{source}/{clip_id}", audio=str(audio), captions=[entry["caption"]],
                                          dataset="wavcaps", split="train", meta=meta))
    if exclude:
        report.notes.append(f"excluded {n_excluded} FreeSound clips listed in {exclude.name}")
    else:
        lists = sorted(p.name for p in src.rglob("blacklist_clotho*.csv"))
        if lists:
            report.notes.append(f"{lists[-1]} lies under SRC but was not applied; pass --exclude to leave "
                                "Clotho's FreeSound clips out")
    missing_sources = sorted(set(SOURCES) - set(json_files))
    if missing_sources:
        report.notes.append(f"no JSON file for {missing_sources}")
    if not records:
        raise AudioretError(f"no WavCaps audio found under {src}: files must be named <id>.<ext> inside a folder "
                            f"named after their source ({', '.join(SOURCES)})")
    probed = probe_records(records, report, workers, "wavcaps")
    write_split(out, report, "train", [r for r in probed if _published_length(r, report)])
    return finish(out, report)


def _published_length(record: ManifestRecord, report: PrepareReport) -> bool:
    """Whether the file is as long as the JSON says; if not, it is listed as mismatched."""
    published = record.meta.get("published_duration")
    if published is None or record.duration is None:
        return True
    if abs(float(published) - record.duration) <= DURATION_TOLERANCE:
        return True
    report.mismatched.append((record.audio, f"{record.id}: {record.duration:.3f} s, the JSON says "
                                            f"{float(published):.3f} s"))
    return False


def _find_json_files(src: Path) -> dict[str, Path]:
    wanted = {name: source for source, name in SOURCES.items()}
    found: dict[str, Path] = {}
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if name in wanted and wanted[name] not in found:
                found[wanted[name]] = Path(folder) / name
    if not found:
        raise MissingFileError(src / "json_files" / "FreeSound" / "fsd_final.json", "WavCaps JSON files",
                               f"expected one or more of {sorted(wanted)} under SRC")
    return {source: found[source] for source in SOURCES if source in found}


def _entries(path: Path):
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"not valid JSON: {err}") from None
    data = document.get("data") if isinstance(document, dict) else document
    if not isinstance(data, list):
        raise DataFormatError(path, 'expected {"data": [...]} or a list of entries at the top level')
    for position, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("caption"), str) or "id" not in entry:
            raise DataFormatError(path, f"entry {position} needs 'id' and a string 'caption'")
        duration = entry.get("duration")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)):
            raise DataFormatError(path, f"entry {position} (id {entry['id']}): 'duration' {duration!r} "
                                  "is not a number")
        yield entry


def _given_audio(value: object, src: Path, json_dir: Path) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        return None
    candidate = Path(value)
    for path in ([candidate] if candidate.is_absolute() else [src / candidate, json_dir / candidate]):
        if path.is_file():
            return path
    return None


def read_exclusion_ids(path: Path) -> set[str]:
    """FreeSound ids of an exclusion list, read from the column its header names.

    A file whose first line is a bare number is a headerless list, one id per line. Otherwise the
    header must name one of EXCLUSION_ID_COLUMNS; aac-datasets' `index,id` is read from `id`.

    Raises:
        DataFormatError: an unknown header, or an id that is not a number (file and line named).
    """
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"not valid utf-8 text (byte {err.start})") from None
    if not lines:
        return set()
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    if len(header) == 1 and header[0].isdigit():
        column, body, first_line = 0, rows, 1
    else:
        named = [c for c in EXCLUSION_ID_COLUMNS if c in header]
        if not named:
            raise DataFormatError(path, f"no id column in header {header}; expected one of "
                                  f"{list(EXCLUSION_ID_COLUMNS)}", 1)
        column, body, first_line = header.index(named[0]), rows[1:], 2
    ids = set()
    for line, row in enumerate(body, start=first_line):
        if not row or not any(cell.strip() for cell in row):
            continue
        value = row[column].strip() if column < len(row) else ""
        if not value.isdigit():
            raise DataFormatError(path, f"FreeSound id {value!r} is not a number", line)
        ids.add(str(int(value)))
    return ids
