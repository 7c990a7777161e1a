"""Recipes on rows copied from the published files (tests/fixtures/published/README.md says where
each comes from): WavCaps ids that two sources share, exclusion lists by header, and the folder
layouts aac-datasets writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audioret.data.manifest import read_manifest
from audioret.data.recipes import prepare
from audioret.data.recipes.wavcaps import DURATION_TOLERANCE, read_exclusion_ids
from audioret.utils.errors import DataFormatError
from conftest import write_tone

PUBLISHED = Path(__file__).resolve().parent.parent / "fixtures" / "published"
SHARED_IDS = ("287", "370", "1038", "1748", "1960")  # SoundBible ids that are also excluded FreeSound ids
WAVCAPS_RATE = 32_000  # WavCaps' published FLAC files are 32 kHz


def _records(out: Path, name: str, split: str) -> dict:
    return {r.id: r for r in read_manifest(out / f"{name}_{split}.jsonl")}


def _soundbible_entries() -> dict[str, dict]:
    return {e["id"]: e for e in json.loads((PUBLISHED / "wavcaps_sb_final.json").read_text())["data"]}


def _freesound_json(path: Path, ids_and_durations: list[tuple[str, float]]) -> None:
    # fsd_final.json is Git LFS upstream: the same format as sb_final.json, with FreeSound ids.
    data = [{"id": i, "caption": f"FreeSound clip {i}.", "audio": "wav_path", "duration": d}
            for i, d in ids_and_durations]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"num_captions_per_audio": 1, "data": data}))


def make_shared_id_wavcaps(root: Path, soundbible_audio: tuple[str, ...]) -> Path:
    """aac-datasets' WavCaps layout: json_files/<Source>/, Audio/<Source>/<id>.flac."""
    sb = root / "json_files" / "SoundBible" / "sb_final.json"
    sb.parent.mkdir(parents=True)
    shutil.copy(PUBLISHED / "wavcaps_sb_final.json", sb)
    _freesound_json(root / "json_files" / "FreeSound" / "fsd_final.json", [(i, 1.0) for i in SHARED_IDS])
    for clip_id in SHARED_IDS:  # FreeSound's clips of these ids: 1.0 s each
        write_tone(root / "Audio" / "FreeSound" / f"{clip_id}.flac", 1.0, rate=WAVCAPS_RATE, format="FLAC")
    entries = _soundbible_entries()
    for clip_id in soundbible_audio:
        write_tone(root / "Audio" / "SoundBible" / f"{clip_id}.flac", entries[clip_id]["duration"],
                   rate=WAVCAPS_RATE, format="FLAC")
    shutil.copy(PUBLISHED / "aac_datasets_blacklist_clotho.full.v2.csv", root / "blacklist_clotho.full.v2.csv")
    return root


def test_soundbible_clip_never_takes_freesound_audio_of_the_same_id(tmp_path):
    # SoundBible 1038 ("A zombie is being attacked.", 3.89 s) has no audio here; FreeSound 1038 does.
    src = make_shared_id_wavcaps(tmp_path / "WavCaps", soundbible_audio=("287", "370", "1748", "1960"))
    report = prepare("wavcaps", src, tmp_path / "out", exclude=src / "blacklist_clotho.full.v2.csv")
    records = _records(tmp_path / "out", "wavcaps", "train")
    assert "SoundBible/1038" not in records
    assert any(item.startswith("SoundBible/1038 ") for item in report.missing)
    assert {f"SoundBible/{i}" for i in ("287", "370", "1748", "1960")} <= set(records)
    for clip_id in ("287", "370", "1748", "1960"):
        record = records[f"SoundBible/{clip_id}"]
        assert Path(record.audio).parent.name == "SoundBible"
        assert record.duration == pytest.approx(_soundbible_entries()[clip_id]["duration"], abs=1 / WAVCAPS_RATE)
    assert not [r for r in records if r.startswith("FreeSound/")]  # all five are on the Clotho list
    assert "excluded 5 FreeSound clips" in " ".join(report.notes)


def test_a_file_whose_length_differs_from_the_json_is_listed_and_left_out(tmp_path):
    src = make_shared_id_wavcaps(tmp_path / "WavCaps", soundbible_audio=("287", "1748", "1960"))
    # The wrong clip under SoundBible's name: FreeSound's 1.0 s file where the JSON says 4.05 s.
    shutil.copy(src / "Audio" / "FreeSound" / "370.flac", src / "Audio" / "SoundBible" / "370.flac")
    report = prepare("wavcaps", src, tmp_path / "out")
    records = _records(tmp_path / "out", "wavcaps", "train")
    assert "SoundBible/370" not in records
    assert [(Path(a).name, why) for a, why in report.mismatched] == [
        ("370.flac", "SoundBible/370: 1.000 s, the JSON says 4.050 s")]
    assert "mismatched\t" in report.problems_file.read_text()
    assert "blacklist_clotho.full.v2.csv lies under SRC but was not applied" in " ".join(report.notes)


def test_duration_tolerance_admits_one_sample_and_rejects_a_hundredth_more(tmp_path):
    src = make_shared_id_wavcaps(tmp_path / "WavCaps", soundbible_audio=())
    published = _soundbible_entries()["287"]["duration"]
    one_sample_short = (round(published * WAVCAPS_RATE) - 1) / WAVCAPS_RATE
    write_tone(src / "Audio" / "SoundBible" / "287.flac", one_sample_short, rate=WAVCAPS_RATE, format="FLAC")
    write_tone(src / "Audio" / "SoundBible" / "1748.flac", _soundbible_entries()["1748"]["duration"]
               + 2 * DURATION_TOLERANCE, rate=WAVCAPS_RATE, format="FLAC")
    report = prepare("wavcaps", src, tmp_path / "out")
    records = _records(tmp_path / "out", "wavcaps", "train")
    assert "SoundBible/287" in records and "SoundBible/1748" not in records
    assert [Path(a).name for a, _ in report.mismatched] == ["1748.flac"]


def test_list_form_json_of_earlier_wavcaps_commits_is_read(tmp_path):
    src = tmp_path / "wavcaps"
    (src / "SoundBible").mkdir(parents=True)
    shutil.copy(PUBLISHED / "wavcaps_sb_final_list_form.json", src / "SoundBible" / "sb_final.json")
    entries = json.loads((PUBLISHED / "wavcaps_sb_final_list_form.json").read_text())
    for entry in entries:
        write_tone(src / "SoundBible_flac" / f"{entry['id']}.flac", entry["duration"], rate=WAVCAPS_RATE,
                   format="FLAC")
    prepare("wavcaps", src, tmp_path / "out")
    records = _records(tmp_path / "out", "wavcaps", "train")
    assert records["SoundBible/2219"].captions == ["An airplane is landing."]
    assert records["SoundBible/2218"].meta["published_duration"] == 1.5698125


# ---------------------------------------------------------------- exclusion lists
def test_aac_datasets_blacklist_is_read_from_its_id_column_not_the_row_index():
    ids = read_exclusion_ids(PUBLISHED / "aac_datasets_blacklist_clotho.full.v2.csv")
    assert "354184" in ids and "1038" in ids
    assert ids == {"117790", "204046", "322000", "354184", "1038", "1748", "287", "370", "1960"}
    assert "4891" not in ids and "0" not in ids  # row indices


def test_dcase_sound_id_list_and_a_headerless_list(tmp_path):
    assert read_exclusion_ids(PUBLISHED / "dcase2025_task6_excluded_freesound_ids.csv") == {
        "354184", "265492", "58276", "1038"}
    plain = tmp_path / "ids.txt"
    plain.write_text("354184\n1038\n\n")
    assert read_exclusion_ids(plain) == {"354184", "1038"}


def test_unknown_header_and_bad_id_are_refused_by_name(tmp_path):
    unknown = tmp_path / "list.csv"
    unknown.write_text("row,freesound\n0,354184\n")
    with pytest.raises(DataFormatError, match=r"list.csv:1: no id column in header \['row', 'freesound'\]"):
        read_exclusion_ids(unknown)
    bad = tmp_path / "bad.csv"
    bad.write_text("index,id\n0,354184\n1,abc\n")
    with pytest.raises(DataFormatError, match=r"bad.csv:3: FreeSound id 'abc' is not a number"):
        read_exclusion_ids(bad)


# ---------------------------------------------------------------- aac-datasets layouts
def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def make_aac_clotho(root: Path) -> Path:
    """aac-datasets' Clotho v2.1: CLOTHO_v2.1/clotho_csv_files/, clotho_audio_files/<split>/."""
    csv_dir = root / "CLOTHO_v2.1" / "clotho_csv_files"
    csv_dir.mkdir(parents=True)
    shutil.copy(PUBLISHED / "clotho_captions_evaluation.csv", csv_dir / "clotho_captions_evaluation.csv")
    for row in _csv_rows(PUBLISHED / "clotho_captions_evaluation.csv"):
        write_tone(root / "CLOTHO_v2.1" / "clotho_audio_files" / "evaluation" / row["file_name"], 0.5, rate=44_100)
    return root


def make_aac_audiocaps(root: Path) -> Path:
    """aac-datasets' AudioCaps: AUDIOCAPS/csv_files_v2/train.csv, audio_32000Hz/train/<ytid>_<start>.flac."""
    csv_dir = root / "AUDIOCAPS" / "csv_files_v2"
    csv_dir.mkdir(parents=True)
    shutil.copy(PUBLISHED / "aac_datasets_audiocaps_train_v2.csv", csv_dir / "train.csv")
    for row in _csv_rows(PUBLISHED / "aac_datasets_audiocaps_train_v2.csv")[:4]:  # the fifth is "gone"
        name = f"{row['youtube_id']}_{int(row['start_time'])}.flac"
        write_tone(root / "AUDIOCAPS" / "audio_32000Hz" / "train" / name, 0.5, rate=32_000, format="FLAC")
    return root


def test_clotho_in_aac_datasets_layout(tmp_path):
    src = make_aac_clotho(tmp_path / "data")
    report = prepare("clotho", src, tmp_path / "out")
    records = _records(tmp_path / "out", "clotho", "evaluation")
    names = [row["file_name"] for row in _csv_rows(PUBLISHED / "clotho_captions_evaluation.csv")]
    assert list(records) == names and len(names) == 12
    assert names[:3] == ["Santa Motor.wav", "Radio Garble.wav", "Radio Fuzz for Old Radio Broadcast FF233.wav"]
    assert records["Radio Garble.wav"].captions[1] == "Communication with a walkie-talkie with a lot of static."
    assert records["Santa Motor.wav"].captions[4] == (
        "While rhythmically punching or stamping, a machine whines and squeals.")
    assert "clotho_audio_files" in records["Santa Motor.wav"].audio
    assert report.manifests["evaluation"][1] == 12


def test_audiocaps_in_aac_datasets_layout(tmp_path):
    src = make_aac_audiocaps(tmp_path / "data")
    report = prepare("audiocaps", src, tmp_path / "out")
    records = _records(tmp_path / "out", "audiocaps", "train")
    assert list(records) == ["r1nicOVtvkQ", "UDGBjjwyaqE", "3eJ9RynJzP8", "3eK62q7SnVU"]
    assert records["r1nicOVtvkQ"].captions == ["A woman talks nearby as water pours"]
    assert records["r1nicOVtvkQ"].meta == {"audiocap_ids": ["91139"], "start_time": 130.0}
    assert records["3eJ9RynJzP8"].audio.endswith("3eJ9RynJzP8_80.flac")
    assert report.missing == ["3eGXNIadwGk (first listed in train.csv:6)"]


def test_macs_in_aac_datasets_layout(tmp_path):
    from recipes import layouts

    plain = layouts.make_macs(tmp_path / "plain")
    macs = tmp_path / "data" / "MACS"
    (macs / "audio").mkdir(parents=True)
    shutil.copy(plain / "MACS.yaml", macs / "MACS.yaml")
    for wav in plain.rglob("*.wav"):
        shutil.copy(wav, macs / "audio" / wav.name)
    prepare("macs", tmp_path / "data", tmp_path / "out")
    records = _records(tmp_path / "out", "macs", "train")
    assert set(records) == {"street_traffic-lyon-1162-44650-a", "park-helsinki-241-7198-a"}
    assert all(Path(r.audio).parent == macs / "audio" for r in records.values())


def test_wavcaps_in_aac_datasets_layout_from_its_root(tmp_path):
    make_shared_id_wavcaps(tmp_path / "data" / "WavCaps", soundbible_audio=("287", "370", "1038", "1748", "1960"))
    prepare("wavcaps", tmp_path / "data", tmp_path / "out",
            exclude=tmp_path / "data" / "WavCaps" / "blacklist_clotho.full.v2.csv")
    records = _records(tmp_path / "out", "wavcaps", "train")
    assert set(records) == {f"SoundBible/{i}" for i in SHARED_IDS}
    assert records["SoundBible/1038"].captions == ["A zombie is being attacked."]
    assert records["SoundBible/1038"].duration == pytest.approx(3.89078125, abs=1 / WAVCAPS_RATE)
