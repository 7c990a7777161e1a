"""The API under concurrent requests: the model is shared, answers must not mix."""

from __future__ import annotations

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
