"""The API under concurrent requests: the model is shared, answers must not mix."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import create_app


def test_parallel_searches_each_get_their_own_answer(sound_library, tmp_path, model, model_dir):
    index_folder(sound_library, tmp_path / "idx", model, describe_model(model_dir, model), show_progress=False)
    searcher = Searcher.open(tmp_path / "idx")
    http = TestClient(create_app(searcher), base_url="http://localhost:8000")
    queries = ["a dog barks", "rain falls on the roof", "birds sing", "three beeps"] * 6
    expected = {q: [h.item.path for h in searcher.text([q], 5)[0]] for q in set(queries)}

    def ask(query: str) -> tuple[str, list[str]]:
        body = http.get("/search", params={"q": query, "k": 5}).json()
        return body["query"], [r["path"] for r in body["results"]]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, queries))
    assert [q for q, _ in answers] == queries
    assert all(paths == expected[q] for q, paths in answers)


def torch_searcher(sound_library, tmp_path, model, model_dir) -> Searcher:
    """A searcher over the sound library that embeds text with the torch model (no ONNX export)."""
    index_folder(sound_library, tmp_path / "idx", model, describe_model(model_dir, model), show_progress=False)
    return Searcher.open(tmp_path / "idx", fast_text=False)


class CountingEncoder:
    """The model's text side, slowed down so that concurrent requests queue behind it, counting its calls."""

    def __init__(self, model):
        self.model, self.batches = model, []
        self.lock = threading.Lock()

    def encode_text(self, queries):
        with self.lock:
            self.batches.append(len(queries))
        time.sleep(0.05)  # long enough for the other threads to arrive (the assertions do not time anything)
        return self.model.encode_text(queries)


def test_concurrent_text_requests_share_model_calls(sound_library, tmp_path, model, model_dir):
    searcher = torch_searcher(sound_library, tmp_path, model, model_dir)
    queries = ["a dog barks", "rain falls on the roof", "birds sing", "three beeps"] * 6
    expected = {q: [h.item.path for h in searcher.text([q], 5)[0]] for q in set(queries)}
    counting = searcher.text_encoder = CountingEncoder(searcher.model)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda q: [h.item.path for h in searcher.text([q], 5)[0]], queries))
    assert answers == [expected[q] for q in queries]
    assert sum(counting.batches) == len(queries)  # every query encoded once
    assert len(counting.batches) < len(queries) and max(counting.batches) > 1


def test_a_failed_joined_call_fails_each_request_it_held(sound_library, tmp_path, model, model_dir):
    searcher = torch_searcher(sound_library, tmp_path, model, model_dir)

    class Broken(CountingEncoder):
        def encode_text(self, queries):
            super().encode_text(queries)
            raise RuntimeError("the model fell over")

    searcher.text_encoder = Broken(searcher.model)

    def ask(query):
        try:
            searcher.text([query], 5)
        except RuntimeError as err:
            return str(err)
        return "answered"

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(ask, ["a", "b", "c", "d"])) == ["the model fell over"] * 4
    assert searcher.text_encoder.batches and not searcher._waiting  # nothing left queued
