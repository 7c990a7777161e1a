"""`audioret search` with the ONNX text export: written by `index`, used without importing torch, the same
results as torch, and a damaged export that is reported while torch answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from audioret.cli import main
from audioret.models import text_onnx as fast

# Runs one search in a fresh interpreter and reports which heavy modules it imported.
SEARCH_AND_LIST_MODULES = """
import json, sys
from audioret.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))
print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv(fast.NO_ONNX_ENV, raising=False)
    monkeypatch.setenv("AUDIORET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "text-onnx"


def fresh_search(*args: str) -> tuple[dict, dict]:
    done = subprocess.run([sys.executable, "-c", SEARCH_AND_LIST_MODULES, "search", *args, "--json"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return json.loads(done.stdout), report


def test_index_writes_the_export_and_search_then_never_imports_torch(sound_library, tmp_path, capsys, model_dir,
                                                                     cache):
    out = tmp_path / "idx"
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    assert len(list(cache.iterdir())) == 1
    capsys.readouterr()
    answer, report = fresh_search("--index", str(out), "rain falls on the roof", "-k", "4")
    assert report["heavy"] == []
    assert main(["search", "--index", str(out), "rain falls on the roof", "-k", "4", "--json", "--no-onnx"]) == 0
    on_torch = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in answer["results"]] == [r["path"] for r in on_torch["results"]]
    assert [r["score"] for r in answer["results"]] == pytest.approx([r["score"] for r in on_torch["results"]],
                                                                    abs=1e-4)


def test_the_first_search_writes_a_missing_export_and_a_damaged_one_is_left_to_the_user(
        sound_library, tmp_path, capsys, model_dir, cache, monkeypatch):
    out = tmp_path / "idx"
    monkeypatch.setenv(fast.NO_ONNX_ENV, "1")  # index without writing the export
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    monkeypatch.delenv(fast.NO_ONNX_ENV)
    assert not cache.exists()
    capsys.readouterr()
    assert main(["search", "--index", str(out), "a dog barks", "--json"]) == 0
    assert "wrote the ONNX text encoder" in capsys.readouterr().err
    (folder,) = cache.iterdir()
    _, report = fresh_search("--index", str(out), "a dog barks")
    assert report["heavy"] == []

    (folder / fast.GRAPH_FILE).write_bytes(b"not a graph")
    answer, report = fresh_search("--index", str(out), "a dog barks")
    assert len(answer["results"]) > 0 and "torch" in report["heavy"]  # answered by torch
    assert main(["search", "--index", str(out), "a dog barks", "--json"]) == 0
    err = capsys.readouterr().err
    assert f"{folder}" in err and "delete that folder" in err and "wrote" not in err
    assert (folder / fast.GRAPH_FILE).read_bytes() == b"not a graph"  # a search never repairs it


def test_the_server_answers_text_from_the_export_and_loads_torch_only_for_audio(sound_library, tmp_path, model_dir,
                                                                                  cache):
    from fastapi.testclient import TestClient

    from audioret.retrieval.search import Searcher
    from audioret.retrieval.server import create_app

    out = tmp_path / "idx"
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    searcher = Searcher.open(out)
    assert searcher.text_encoder is not None and searcher.prepare_fast_text()
    http = TestClient(create_app(searcher), base_url="http://127.0.0.1")
    answer = http.get("/search", params={"q": "birds sing", "k": 3})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 3
    assert not searcher.model_loaded
    hits = searcher.like(sound_library / "doors" / "slam.wav", k=2)  # an indexed file: its stored vector
    assert len(hits) == 2 and not searcher.model_loaded
    outside = tmp_path / "new.wav"
    outside.write_bytes((sound_library / "doors" / "slam.wav").read_bytes())
    assert len(searcher.like(outside, k=2)) == 2 and searcher.model_loaded  # audio to embed: torch now
    assert not Searcher.open(out, fast_text=False).text_encoder
