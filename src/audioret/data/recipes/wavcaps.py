"""WavCaps: four JSON files of GPT-rewritten captions plus the audio of four sources.

    SRC/**/fsd_final.json (FreeSound), bbc_final.json (BBC_Sound_Effects), sb_final.json
    (SoundBible), as_final.json (AudioSet_SL), each {"num_captions_per_audio": 1,
    "data": [{"id", "caption", "audio", "duration", ...}]}
    SRC/**/<id>.<ext>   the audio; a folder named after the source (e.g. FreeSound_flac/) settles
                        ids that two sources share. An entry's "audio" is used when it names an
                        existing file; the published files hold a placeholder there.

`exclude` is the DCASE list of FreeSound ids that overlap ClothoV2 (a CSV or text file, id in the
first column); those clips are left out, as DCASE rules require when evaluating on Clotho.
Writes OUT/wavcaps_train.jsonl (WavCaps has no other split).
"""

from __future__ import annotations

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


def prepare_wavcaps(src: Path, out: Path, exclude: Path | None = None, workers: int = 8) -> PrepareReport:
    """Write OUT/wavcaps_train.jsonl from the WavCaps JSON files found under `src`."""
    json_files = _find_json_files(src)
    report = PrepareReport("wavcaps")
    excluded = _read_exclusions(require_file(exclude, "FreeSound exclusion list")) if exclude else set()
    finder = AudioFinder(src)
    records, n_excluded = [], 0
    for source, path in json_files.items():
        for position, entry in enumerate(_entries(path)):
            clip_id = strip_audio_extension(str(entry["id"]).strip())
            if source == "FreeSound" and clip_id in excluded:
                n_excluded += 1
                continue
            audio = _given_audio(entry.get("audio"), src, path.parent) or finder.find(clip_id, prefer=source)
            if audio is None:
                report.missing.append(f"{source}/{clip_id} ({path.name} entry {position})")
                continue
            meta = {"source": source}
            if entry.get("duration") is not None:
                meta["published_duration"] = entry["duration"]
            records.append(ManifestRecord(id=f"{source}/{clip_id}", audio=str(audio), captions=[entry["caption"]],
                                          dataset="wavcaps", split="train", meta=meta))
    if exclude:
        report.notes.append(f"excluded {n_excluded} FreeSound clips listed in {exclude.name}")
    missing_sources = sorted(set(SOURCES) - set(json_files))
    if missing_sources:
        report.notes.append(f"no JSON file for {missing_sources}")
    if not records:
        raise AudioretError(f"no WavCaps audio found under {src}: files must be named <id>.<ext>")
    write_split(out, report, "train", probe_records(records, report, workers, "wavcaps"))
    return finish(out, report)


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
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise DataFormatError(path, 'expected {"data": [...]} at the top level')
    for position, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("caption"), str) or "id" not in entry:
            raise DataFormatError(path, f"entry {position} needs 'id' and a string 'caption'")
        yield entry


def _given_audio(value: object, src: Path, json_dir: Path) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        return None
    candidate = Path(value)
    for path in ([candidate] if candidate.is_absolute() else [src / candidate, json_dir / candidate]):
        if path.is_file():
            return path
    return None


def _read_exclusions(path: Path) -> set[str]:
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        first = line.split(",")[0].strip().strip('"')
        if first and first.isdigit():
            ids.add(first)
    return ids
