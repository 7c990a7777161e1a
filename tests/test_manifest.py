"""Manifest round trips, laziness, path handling, validation and atomic writes."""

from __future__ import annotations

import json
import types

import pytest

from audioret.data.manifest import ManifestRecord, read_manifest, write_manifest
from audioret.utils.errors import DataFormatError, MissingFileError


def _records(root):
    return [
        ManifestRecord(id="a", audio=str(root / "clips" / "a.wav"), captions=["a dog barks"], dataset="d",
                       split="train", duration=1.5, meta={"licence": "CC0"}),
        ManifestRecord(id="b", audio="/elsewhere/b.flac", captions=["rain", "heavy rain"], dataset="d",
                       split="train", variations=[["rainfall"], []]),
    ]


@pytest.mark.parametrize("name", ["m.jsonl", "m.jsonl.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    records = _records(tmp_path)
    assert write_manifest(tmp_path / name, records) == 2
    back = list(read_manifest(tmp_path / name))
    assert back == records
    assert list(read_manifest(tmp_path / name, resolve_audio=False))[0].audio == "clips/a.wav"


def test_paths_under_the_manifest_folder_are_stored_relative(tmp_path):
    write_manifest(tmp_path / "m.jsonl", _records(tmp_path))
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines[0]["audio"] == "clips/a.wav"
    assert lines[1]["audio"] == "/elsewhere/b.flac"
    assert "variations" not in lines[0] and lines[1]["variations"] == [["rainfall"], []]


def test_relative_paths_in_memory_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = ManifestRecord(id="a", audio="work/clips/a.wav", captions=[], dataset="d", split="s")
    write_manifest("work/m.jsonl", [record])
    assert json.loads((tmp_path / "work" / "m.jsonl").read_text())["audio"] == "clips/a.wav"
    assert next(read_manifest("work/m.jsonl")).audio == str(tmp_path / "work" / "clips" / "a.wav")
    write_manifest("other/m.jsonl", [record])
    assert json.loads((tmp_path / "other" / "m.jsonl").read_text())["audio"] == str(tmp_path / "work/clips/a.wav")


def test_reading_is_lazy(tmp_path):
    write_manifest(tmp_path / "m.jsonl", _records(tmp_path))
    with open(tmp_path / "m.jsonl", "a") as handle:
        handle.write("not json\n")
    reader = read_manifest(tmp_path / "m.jsonl")
    assert isinstance(reader, types.GeneratorType)
    assert next(reader).id == "a"  # the bad third line has not been read yet
    next(reader)
    with pytest.raises(DataFormatError, match=r"m.jsonl:3: invalid JSON"):
        next(reader)


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "x"}', "missing required field 'audio'"),
    ('{"id": "x", "audio": "a", "captions": "one", "dataset": "d", "split": "s"}', "'captions' must be list"),
    ('{"id": "x", "audio": "a", "captions": [1], "dataset": "d", "split": "s"}', "every caption must be a string"),
    ('{"id": "x", "audio": "a", "captions": [], "dataset": "d", "split": "s", "duration": "5"}', "duration"),
    ('{"id": "x", "audio": "a", "captions": [], "dataset": "d", "split": "s", "extra": 1}', "unknown field"),
    ("[1, 2]", "expected a JSON object"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "audio": "a", "captions": [], "dataset": "d", "split": "s"}\n\n' + line + "\n")
    with pytest.raises(DataFormatError, match=rf"bad.jsonl:3: .*{message}"):
        list(read_manifest(path))


def test_missing_manifest_says_how_to_make_one(tmp_path):
    with pytest.raises(MissingFileError, match="audioret prepare"):
        list(read_manifest(tmp_path / "absent.jsonl"))


def test_failed_write_leaves_the_previous_manifest_intact(tmp_path):
    path = tmp_path / "m.jsonl"
    write_manifest(path, _records(tmp_path))
    before = path.read_bytes()

    def exploding():
        yield _records(tmp_path)[0]
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_manifest(path, exploding())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["m.jsonl"]  # no temporary file left
