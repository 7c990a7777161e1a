"""The HTTP API: answers, limits, JSON errors, and that no request can name a file."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import MAX_K, MAX_QUERY_CHARS, create_app


@pytest.fixture(scope="module")
def client(sound_library, tmp_path_factory, model, model_dir):
    out = tmp_path_factory.mktemp("served") / "idx"
    index_folder(sound_library, out, model, describe_model(model_dir, model), show_progress=False)
    searcher = Searcher.open(out)
    return TestClient(create_app(searcher), base_url="http://127.0.0.1"), searcher


def test_health_describes_the_index(client):
    http, searcher = client
    body = http.get("/health").json()
    assert body == {"status": "ok", "files": 8, "segments": 10, "backend": "flat",
                    "model": searcher.library.model_info["fingerprint"],
                    "model_source": searcher.library.model_info["source"], "waveforms": True}


def test_search_returns_the_same_ranking_as_the_library(client):
    http, searcher = client
    response = http.get("/search", params={"q": "a dog barks", "k": 5})
    assert response.status_code == 200
    results = response.json()["results"]
    expected = searcher.text(["a dog barks"], 5)[0]
    assert [r["path"] for r in results] == [h.item.path for h in expected]
    commit = searcher.library.commit
    assert [r["audio"] for r in results] == [f"/audio/{h.item.id}?v={commit}" for h in expected]
    assert [r["similar"] for r in results] == [f"/similar?id={h.item.id}&v={commit}" for h in expected]
    assert results[0]["score"] >= results[-1]["score"]


def test_similar_leaves_the_file_itself_out(client):
    http, searcher = client
    idle = next(i for i in searcher.library.items if i.path == "engines/idle.wav")
    body = http.get("/similar", params={"id": idle.id, "k": 10}).json()
    assert body["path"] == "engines/idle.wav"
    assert len(body["results"]) == 7 and "engines/idle.wav" not in [r["path"] for r in body["results"]]


def test_audio_streams_exactly_the_indexed_file(client, sound_library):
    http, searcher = client
    item = next(i for i in searcher.library.items if i.path == "birds/song.flac")
    response = http.get(f"/audio/{item.id}")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    assert response.content == (sound_library / "birds" / "song.flac").read_bytes()
    ranged = http.get(f"/audio/{item.id}", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == response.content[:100]


@pytest.mark.parametrize("url", [
    "/audio/../../../etc/passwd", "/audio/..%2F..%2Fetc%2Fpasswd", "/audio/%2Fetc%2Fpasswd", "/audio/birds/chirp.wav",
    "/audio/-1", "/audio/10", "/audio/1e3", "/audio/0x1", "/static/../pyproject.toml", "/similar?id=999",
])
def test_no_request_reaches_a_file_outside_the_index(client, url):
    http, _ = client
    response = http.get(url)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(("params", "status"), [
    ({"q": "x" * (MAX_QUERY_CHARS + 1)}, 422),
    ({"q": "rain", "k": MAX_K + 1}, 422),
    ({"q": "rain", "k": 0}, 422),
    ({"q": "rain", "k": "ten"}, 422),
    ({"q": ""}, 422),
    ({"q": "   "}, 400),
    ({}, 422),
])
def test_bad_queries_are_json_client_errors(client, params, status):
    http, _ = client
    response = http.get("/search", params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json" and response.json()["detail"]


def test_the_page_is_served(client):
    http, _ = client
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="search-form"' in page.text and ".innerHTML" not in page.text  # server strings go through textContent
