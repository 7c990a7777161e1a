"""Per-file facts and waveform peaks: computed block by block, stored with the commit, served by the API."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from audioret.retrieval import fileinfo
from audioret.retrieval.fileinfo import PEAKS_PER_FILE, FileInfo, file_line, waveform_peaks
from audioret.retrieval.indexer import index_folder
from audioret.retrieval.library import Library, read_snapshot
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import create_app
from retrieval.conftest import write_sound


def reference_peaks(path, n):
    """Whole-file decode; stretch j holds frames ceil(j F / n) .. ceil((j + 1) F / n) - 1."""
    wave, _ = sf.read(path, dtype="float32", always_2d=True)
    frames = len(wave)
    out = np.zeros((n, 2), np.float32)
    for j in range(n):
        part = wave[-(-j * frames // n):-(-(j + 1) * frames // n)]
        if len(part):
            out[j] = part.min(), part.max()
    return out


@pytest.mark.parametrize(("seconds", "channels", "block"), [(3.0, 2, 1000), (0.004, 1, 7), (1.0, 1, 1 << 16)])
def test_peaks_match_a_whole_file_reference(tmp_path, monkeypatch, seconds, channels, block):
    monkeypatch.setattr(fileinfo, "BLOCK_FRAMES", block)  # stretches that straddle blocks
    path = write_sound(tmp_path / "s.wav", seconds, 330.0, channels=channels)
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    data[:, -1] *= 0.5  # channels differ: the envelope covers both
    sf.write(path, data, rate, subtype="FLOAT")
    np.testing.assert_array_equal(waveform_peaks(path, PEAKS_PER_FILE), reference_peaks(path, PEAKS_PER_FILE))


@pytest.fixture(scope="module")
def indexed(sound_library, tmp_path_factory, model, model_dir):
    out = tmp_path_factory.mktemp("facts") / "idx"
    index_folder(sound_library, out, model, describe_model(model_dir, model), show_progress=False)
    return out


def test_the_commit_stores_facts_and_peaks_under_its_checksums(indexed, sound_library):
    marker = json.loads((indexed / "index.json").read_text())
    assert {"files.jsonl", "peaks.npy"} <= set(marker["sha256"])
    files = Library.open(indexed).files
    assert len(files) == 8
    drip, rev, idle = files.info("water/drip.wav"), files.info("engines/rev.ogg"), files.info("engines/idle.wav")
    assert (drip.sample_rate, drip.channels, drip.format, drip.duration) == (44_100, 1, "WAV", 0.5)
    assert (rev.channels, rev.format, rev.folder) == (2, "OGG", "engines")
    assert idle.duration == 25.0
    expected = np.round(reference_peaks(sound_library / "doors/creak.wav", PEAKS_PER_FILE) * 127) / 127
    np.testing.assert_allclose(files.peaks_of("doors/creak.wav"), expected, atol=1e-6)
    assert files.folders() == [("birds", 2), ("doors", 2), ("engines", 2), ("water", 2)]


def test_changed_peaks_are_refused(indexed, tmp_path):
    import shutil

    copy = shutil.copytree(indexed, tmp_path / "idx")
    peaks = np.load(copy / "peaks.npy")
    peaks[0, 0, 0] += 1
    np.save(copy / "peaks.npy", peaks)
    with pytest.raises(Exception, match="peaks.npy"):
        read_snapshot(copy, attempts=1)


def test_a_folder_from_before_waveforms_is_served_and_upgraded(indexed, tmp_path, sound_library, model,
                                                              model_dir):
    import shutil

    old = shutil.copytree(indexed, tmp_path / "old")
    marker = json.loads((old / "index.json").read_text())
    for name in ("files.jsonl", "peaks.npy"):
        del marker["sha256"][name]
        (old / name).unlink()
    (old / "index.json").write_text(json.dumps(marker))
    http = TestClient(create_app(Searcher.open(old)), base_url="http://127.0.0.1")
    body = http.get("/search", params={"q": "water", "k": 8}).json()
    idle = next(r for r in body["results"] if r["path"] == "engines/idle.wav")
    assert idle["duration"] == 25.0 and idle["peaks"] is None and idle["sample_rate"] is None
    assert http.get("/health").json()["waveforms"] is False
    assert http.get(f"/peaks/{idle['id']}").status_code == 404
    index_folder(sound_library, old, model, describe_model(model_dir, model), show_progress=False)
    assert Library.open(old).files.peaks_of("engines/idle.wav") is not None  # nothing re-embedded, facts added


@pytest.fixture(scope="module")
def http(indexed):
    return TestClient(create_app(Searcher.open(indexed)), base_url="http://127.0.0.1")


def test_results_carry_facts_and_links(http, sound_library):
    result = http.get("/search", params={"q": "rain", "k": 8}).json()["results"][0]
    assert {"folder", "name", "duration", "sample_rate", "channels", "format", "download", "peaks",
            "full_path", "media_type"} <= set(result)
    assert len(result["peaks"]) == PEAKS_PER_FILE
    download = http.get(result["download"])
    assert download.headers["content-disposition"].startswith(f'attachment; filename="{result["name"]}"')
    assert download.content == (sound_library / result["path"]).read_bytes()
    assert http.get(result["audio"].replace("/audio/", "/peaks/")).json()["peaks"] == result["peaks"]


def test_pages_follow_the_full_ranking(http):
    full = http.get("/search", params={"q": "rain", "k": 8}).json()
    assert full["has_more"] is False and full["files"] == 8
    pages = [http.get("/search", params={"q": "rain", "k": 3, "offset": o}).json() for o in (0, 3, 6)]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [r["path"] for p in pages for r in p["results"]] == [r["path"] for r in full["results"]]


def test_filters_keep_only_matching_files(http):
    body = http.get("/search", params={"q": "rain", "k": 10, "folder": "engines"}).json()
    assert {r["path"] for r in body["results"]} == {"engines/idle.wav", "engines/rev.ogg"} and body["files"] == 2
    body = http.get("/search", params={"q": "rain", "k": 10, "min_duration": 1.5, "max_duration": 3}).json()
    assert {r["path"] for r in body["results"]} == {"birds/chirp.wav", "birds/song.flac", "engines/rev.ogg",
                                                    "doors/creak.wav"}
    similar = http.get(body["results"][0]["similar"] + "&min_duration=1.5&max_duration=3").json()
    assert similar["files"] == 3 and len(similar["results"]) == 3
    assert http.get("/search", params={"q": "rain", "folder": "nowhere"}).status_code == 400
    assert http.get("/search", params={"q": "rain", "min_duration": 3, "max_duration": 1}).status_code == 400
    assert http.get("/folders").json()["folders"][0] == {"path": "birds", "files": 2}


@settings(max_examples=300, deadline=None)
@given(path=st.text(st.characters(exclude_categories=()), min_size=1), size=st.integers(0, 2**63),
       mtime_ns=st.integers(-(2**63), 2**63),
       duration=st.floats(0, 1e7, allow_nan=False), rate=st.none() | st.integers(1, 10**6),
       channels=st.none() | st.integers(1, 64), fmt=st.none() | st.text(), subtype=st.none() | st.text())
def test_file_lines_are_what_json_writes(path, size, mtime_ns, duration, rate, channels, fmt, subtype):
    """The hand-written line of a commit's files.jsonl against json.dumps of the record (the reference),
    any text included (quotes, control characters, non-BMP, lone surrogates of undecodable names)."""
    row = FileInfo(path, size, mtime_ns, duration, rate, channels, fmt, subtype)
    assert file_line(row) == json.dumps(asdict(row)) + "\n"
    assert FileInfo(**json.loads(file_line(row))) == row
