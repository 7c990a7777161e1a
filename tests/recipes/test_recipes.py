"""Each recipe on a tiny copy of its dataset's published layout, and its failures on broken copies."""

from __future__ import annotations

import json
import shutil

import pytest

from audioret.data.manifest import read_manifest
from audioret.data.recipes import RECIPES, prepare, recipe_options
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError
from recipes import layouts


def _read(out, name, split):
    return {r.id: r for r in read_manifest(out / f"{name}_{split}.jsonl")}


# ---------------------------------------------------------------- Clotho
def test_clotho_writes_three_splits_with_metadata(tmp_path):
    src = layouts.make_clotho(tmp_path / "clotho")
    report = prepare("clotho", src, tmp_path / "out")
    assert {s: n for s, (_, n) in report.manifests.items()} == {"development": 3, "validation": 1, "evaluation": 2}
    dev = list(read_manifest(tmp_path / "out" / "clotho_development.jsonl"))
    assert [r.id for r in dev] == layouts.CLOTHO_SPLITS["development"]  # captions-file order
    first = dev[0]
    assert first.captions == [layouts.clotho_caption("dev one.wav", i) for i in range(1, 6)]
    assert first.duration == pytest.approx(0.5)
    assert first.meta["keywords"] == ["rain", "wind", "city"]
    assert first.meta["manufacturer"] == "Zoë"  # decoded from ISO-8859-1
    assert first.meta["license"].endswith("by/3.0/")
    assert first.audio == str(src / "development" / "dev one.wav")
    assert not report.missing and not report.unreadable


def test_clotho_wrong_folder_names_the_expected_file(tmp_path):
    with pytest.raises(MissingFileError, match="clotho_captions_development.csv"):
        prepare("clotho", tmp_path, tmp_path / "out")


def test_clotho_missing_audio_folder_is_named(tmp_path):
    src = layouts.make_clotho(tmp_path / "clotho")
    shutil.rmtree(src / "validation")
    with pytest.raises(MissingFileError, match="validation audio folder"):
        prepare("clotho", src, tmp_path / "out")


def test_clotho_malformed_row_names_file_and_line(tmp_path):
    src = layouts.make_clotho(tmp_path / "clotho")
    path = src / "clotho_captions_validation.csv"
    path.write_text(path.read_text() + "extra.wav,only two fields\n")
    with pytest.raises(DataFormatError, match=r"clotho_captions_validation.csv:3: 2 fields, header has 6"):
        prepare("clotho", src, tmp_path / "out")


def test_clotho_missing_and_corrupt_audio_are_listed(tmp_path):
    src = layouts.make_clotho(tmp_path / "clotho")
    (src / "development" / "dev_two.wav").unlink()
    (src / "development" / "dev3.wav").write_bytes(b"garbage")
    report = prepare("clotho", src, tmp_path / "out")
    assert report.manifests["development"][1] == 1
    assert len(report.missing) == 1 and "dev_two.wav" in report.missing[0]
    assert "clotho_captions_development.csv:3" in report.missing[0]
    assert [p.endswith("dev3.wav") for p, _ in report.unreadable] == [True]
    problems = report.problems_file.read_text()
    assert "missing" in problems and "unreadable" in problems and "dev3.wav" in problems


# ---------------------------------------------------------------- ClothoV2-GPT
def test_clotho_gpt_attaches_variations_by_index(tmp_path):
    src = layouts.make_clotho_gpt(tmp_path / "clotho")
    prepare("clotho-gpt", src, tmp_path / "out")
    records = list(read_manifest(tmp_path / "out" / "clotho-gpt_development.jsonl"))
    assert len(records) == 3 and {r.dataset for r in records} == {"clotho-gpt"}
    for clip, record in enumerate(records):
        assert len(record.variations) == 5
        for caption in range(5):
            assert record.variations[caption] == [f"paraphrase {v} of {clip * 5 + caption}" for v in range(5)]


def test_clotho_gpt_index_counts_clips_whose_audio_is_missing(tmp_path):
    src = layouts.make_clotho_gpt(tmp_path / "clotho")
    (src / "development" / "dev one.wav").unlink()
    report = prepare("clotho-gpt", src, tmp_path / "out")
    records = list(read_manifest(tmp_path / "out" / "clotho-gpt_development.jsonl"))
    assert [r.id for r in records] == ["dev_two.wav", "dev3.wav"]
    assert records[0].variations[0] == ["paraphrase 0 of 5", "paraphrase 1 of 5", "paraphrase 2 of 5",
                                        "paraphrase 3 of 5", "paraphrase 4 of 5"]
    assert any("idx 0" in note for note in report.notes)


def test_clotho_gpt_detects_a_file_in_another_order(tmp_path):
    src = layouts.make_clotho_gpt(tmp_path / "clotho")
    entries = json.loads((src / "variations.json").read_text())
    for entry in entries:
        entry["idx"] = 14 - entry["idx"]
    (src / "variations.json").write_text(json.dumps(entries))
    with pytest.raises(DataFormatError, match="do not match the Clotho caption"):
        prepare("clotho-gpt", src, tmp_path / "out")


def test_clotho_gpt_missing_variations_file_is_named(tmp_path):
    src = layouts.make_clotho(tmp_path / "clotho")
    with pytest.raises(MissingFileError, match="variations.json"):
        prepare("clotho-gpt", src, tmp_path / "out")


# ---------------------------------------------------------------- AudioCaps
def test_audiocaps_groups_captions_and_finds_prefixed_audio(tmp_path):
    src = layouts.make_audiocaps(tmp_path / "audiocaps")
    report = prepare("audiocaps", src, tmp_path / "out")
    train = _read(tmp_path / "out", "audiocaps", "train")
    assert set(train) == {"abcdefghijk", "Zyxwvutsrqp"}
    assert train["abcdefghijk"].audio.endswith("Yabcdefghijk.wav")
    assert train["abcdefghijk"].meta == {"audiocap_ids": ["1"], "start_time": 30.0}
    val = _read(tmp_path / "out", "audiocaps", "val")
    assert val["valclip0001"].captions == ["Rain falls", "Heavy rain on a roof"]
    assert len(report.missing) == 1 and "missingid00" in report.missing[0] and "train.csv:4" in report.missing[0]


def test_audiocaps_bad_start_time_names_line(tmp_path):
    src = layouts.make_audiocaps(tmp_path / "audiocaps")
    (src / "test.csv").write_text("audiocap_id,youtube_id,start_time,caption\n6,testclip001,soon,An engine\n")
    with pytest.raises(DataFormatError, match=r"test.csv:2: start_time 'soon'"):
        prepare("audiocaps", src, tmp_path / "out")


def test_audiocaps_wrong_folder(tmp_path):
    with pytest.raises(MissingFileError, match=r"train.csv"):
        prepare("audiocaps", tmp_path, tmp_path / "out")


def test_audiocaps_missing_column_is_named(tmp_path):
    src = layouts.make_audiocaps(tmp_path / "audiocaps")
    (src / "val.csv").write_text("audiocap_id,youtube_id,caption\n4,valclip0001,Rain\n")
    with pytest.raises(DataFormatError, match=r"val.csv:1: missing column\(s\) \['start_time'\]"):
        prepare("audiocaps", src, tmp_path / "out")


# ---------------------------------------------------------------- WavCaps
def test_wavcaps_reads_four_sources_and_applies_exclusions(tmp_path):
    src = layouts.make_wavcaps(tmp_path / "wavcaps")
    report = prepare("wavcaps", src, tmp_path / "out", exclude=src / "dcase2024_task6_excluded_freesound_ids.csv")
    records = _read(tmp_path / "out", "wavcaps", "train")
    assert set(records) == {"FreeSound/1001", "BBC_Sound_Effects/07070146", "SoundBible/1001",
                            "AudioSet_SL/Yb0RFKhbpFJA"}
    assert "FreeSound_flac" in records["FreeSound/1001"].audio
    assert "SoundBible_flac" in records["SoundBible/1001"].audio  # shared id settled by the source folder
    assert records["SoundBible/1001"].captions == ["A dog barks twice."]
    assert records["AudioSet_SL/Yb0RFKhbpFJA"].meta["source"] == "AudioSet_SL"
    assert any("excluded 1 FreeSound" in n for n in report.notes)


def test_wavcaps_without_exclusions_keeps_everything(tmp_path):
    src = layouts.make_wavcaps(tmp_path / "wavcaps")
    prepare("wavcaps", src, tmp_path / "out")
    assert "FreeSound/1002" in _read(tmp_path / "out", "wavcaps", "train")


def test_wavcaps_malformed_entry_and_wrong_folder(tmp_path):
    with pytest.raises(MissingFileError, match="fsd_final.json"):
        prepare("wavcaps", tmp_path, tmp_path / "out")
    src = layouts.make_wavcaps(tmp_path / "wavcaps")
    (src / "json_files" / "SoundBible" / "sb_final.json").write_text('{"data": [{"id": "1"}]}')
    with pytest.raises(DataFormatError, match="sb_final.json: entry 0 needs 'id' and a string 'caption'"):
        prepare("wavcaps", src, tmp_path / "out")


# ---------------------------------------------------------------- MACS
def test_macs_collects_annotations(tmp_path):
    src = layouts.make_macs(tmp_path / "macs")
    prepare("macs", src, tmp_path / "out")
    records = _read(tmp_path / "out", "macs", "train")
    street = records["street_traffic-lyon-1162-44650-a"]
    assert street.captions == ["Cars pass by on a busy road.", "Traffic noise with a horn."]
    assert street.meta["annotator_ids"] == [1, 2] and street.meta["tags"] == [["car"], ["horn"]]


def test_macs_errors(tmp_path):
    with pytest.raises(MissingFileError, match="MACS.yaml"):
        prepare("macs", tmp_path, tmp_path / "out")
    (tmp_path / "MACS.yaml").write_text("files:\n  - filename: a.wav\n    annotations: [{sentence: ok}\n")
    with pytest.raises(DataFormatError, match=r"MACS.yaml:\d+: invalid YAML"):
        prepare("macs", tmp_path, tmp_path / "out")
    (tmp_path / "MACS.yaml").write_text("files:\n  - filename: a.wav\n    annotations: [{tags: [x]}]\n")
    with pytest.raises(DataFormatError, match=r"files\[0\] \(a.wav\)"):
        prepare("macs", tmp_path, tmp_path / "out")


# ---------------------------------------------------------------- Auto-ACD
def test_auto_acd_groups_by_id_and_lists_missing(tmp_path):
    src = layouts.make_auto_acd(tmp_path / "acd")
    report = prepare("auto-acd", src, tmp_path / "out")
    records = _read(tmp_path / "out", "auto-acd", "train")
    assert records["--0PQM4-hqg_000030"].captions == ["Water flows in a stream.", "A stream babbles."]
    assert set(records) == {"---g-f_I2yQ_000001", "--0PQM4-hqg_000030"}
    assert report.missing == ["absent_clip_000000 (first listed in train.csv:5)"]


def test_auto_acd_headerless_csv_and_bad_rows(tmp_path):
    src = layouts.make_auto_acd(tmp_path / "acd")
    (src / "train.csv").write_text("---g-f_I2yQ_000001,A horn.\n--0PQM4-hqg_000030,Water.\n")
    prepare("auto-acd", src, tmp_path / "out")
    assert len(_read(tmp_path / "out", "auto-acd", "train")) == 2
    (src / "train.csv").write_text("youtube_id,caption\n---g-f_I2yQ_000001\n")
    with pytest.raises(DataFormatError, match=r"train.csv:2: 1 fields"):
        prepare("auto-acd", src, tmp_path / "out")


# ---------------------------------------------------------------- folder
def test_folder_skips_and_lists_undecodable_files(tmp_path):
    src = layouts.make_folder(tmp_path / "library")
    report = prepare("folder", src, tmp_path / "out", captions=src / "captions.csv")
    records = _read(tmp_path / "out", "folder", "all")
    assert set(records) == {"doors/creak.wav", "doors/slam.ogg", "rain.mp3"}
    assert records["doors/creak.wav"].captions == ["A wooden door creaks.", "A slow creak."]
    assert records["doors/slam.ogg"].captions == []
    assert records["rain.mp3"].dataset == "library"
    skipped = {p.split("/")[-1]: reason for p, reason in report.unreadable}
    assert set(skipped) == {"broken.wav", "empty.flac"}
    assert "empty" in skipped["empty.flac"]
    assert len(report.missing) == 1 and "gone.wav" in report.missing[0]


def test_folder_without_audio_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(AudioretError, match="no audio files"):
        prepare("folder", tmp_path, tmp_path / "out")
    with pytest.raises(MissingFileError, match="audio folder"):
        prepare("folder", tmp_path / "absent", tmp_path / "out")


# ---------------------------------------------------------------- registry
def test_registry_lists_every_recipe_and_checks_options(tmp_path):
    assert sorted(RECIPES) == sorted(["clotho", "clotho-gpt", "audiocaps", "wavcaps", "macs", "auto-acd", "folder",
                                      "synth", "sfx"])
    assert "exclude" in recipe_options("wavcaps")
    with pytest.raises(AudioretError, match="unknown dataset 'clothov3'"):
        prepare("clothov3", tmp_path, tmp_path / "out")
    with pytest.raises(AudioretError, match=r"takes no option \['exclude'\]"):
        prepare("clotho", tmp_path, tmp_path / "out", exclude=tmp_path / "x.csv")


def test_csv_with_byte_order_mark_and_symlink_cycles(tmp_path):
    src = layouts.make_folder(tmp_path / "library")
    (src / "doors" / "loop").symlink_to(src, target_is_directory=True)
    csv_path = src / "captions.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())  # as spreadsheet programs save UTF-8
    prepare("folder", src, tmp_path / "out", captions=csv_path)
    records = _read(tmp_path / "out", "folder", "all")
    assert set(records) == {"doors/creak.wav", "doors/slam.ogg", "rain.mp3"}
    assert records["rain.mp3"].captions == ["Rain on a window."]
