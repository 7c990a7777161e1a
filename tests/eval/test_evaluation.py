"""Evaluation: query augmentation, ensembles, seeds, the embedding cache and the paraphrase endpoint
client (against a small server that speaks the protocol, started by the test)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from audioret.cli import main
from audioret.data.manifest import read_manifest
from audioret.eval.augmentation import ensemble
from audioret.eval.evaluator import evaluate, score_metrics
from audioret.eval.paraphrases import Paraphrases, complete_paraphrases
from audioret.models import AudioTextModel
from audioret.utils.errors import AudioretError


def test_identical_paraphrases_leave_the_ranking_unchanged(corpus, models, tmp_path):
    queries = [c for r in read_manifest(corpus) for c in r.captions]
    echo = Paraphrases({q: [q, q, q] for q in queries})
    plain, augmented, both = evaluate(corpus, models[:1], echo, 3, "both", cache_root=tmp_path)
    assert both.name == "ensemble of 2"  # with and without augmentation count as two members
    np.testing.assert_allclose(augmented.scores["captions"], plain.scores["captions"], atol=1e-5)
    assert augmented.metrics["mAP@10"] == pytest.approx(plain.metrics["mAP@10"], abs=1e-9)
    assert augmented.name.endswith("+3 paraphrases")


def test_real_paraphrases_change_the_query_embedding(corpus, models, tmp_path):
    queries = [c for r in read_manifest(corpus) for c in r.captions]
    other = Paraphrases({q: ["three beeps"] for q in queries})
    plain, augmented, _ = evaluate(corpus, models[:1], other, 1, "both", cache_root=tmp_path)
    assert not np.allclose(augmented.scores["captions"], plain.scores["captions"], atol=1e-4)


def test_ensemble_of_one_model_equals_the_model(corpus, models, tmp_path):
    scores = np.random.default_rng(0).random((4, 3))
    np.testing.assert_array_equal(ensemble([scores]), scores)
    rows = evaluate(corpus, [models[0], models[0]], cache_root=tmp_path)  # the same model twice
    assert [r.name for r in rows] == ["seed0", "seed0", "ensemble of 2"]
    assert rows[2].metrics == rows[0].metrics
    with pytest.raises(ValueError, match="different query/clip sets"):
        ensemble([np.zeros((2, 3)), np.zeros((3, 3))])


def test_two_seeds_give_mean_std_and_an_ensemble(corpus, models, tmp_path):
    rows = evaluate(corpus, models, seeds=True, cache_root=tmp_path)
    first, second, summary, combined = rows
    assert summary.name == "mean of 2 seeds"
    assert summary.metrics["mAP@10"] == pytest.approx((first.metrics["mAP@10"] + second.metrics["mAP@10"]) / 2)
    assert summary.std["R@5"] == pytest.approx(abs(first.metrics["R@5"] - second.metrics["R@5"]) / 2)
    expected = score_metrics({k: (first.scores[k] + second.scores[k]) / 2 for k in first.scores}, _targets(corpus))
    assert combined.metrics["mAP@10"] == pytest.approx(expected["mAP@10"], abs=1e-12)


def _targets(corpus):
    from audioret.eval.metrics import targets_from_records

    records = list(read_manifest(corpus))
    return {"captions": targets_from_records(records), "caption_groups": targets_from_records(records, True)}


def test_embeddings_are_computed_once_and_recomputed_when_a_file_changes(corpus, models, tmp_path):
    from audioret.eval.embeddings import EmbeddingCache, model_fingerprint

    model = AudioTextModel.from_pretrained(models[0])
    paths = [r.audio for r in read_manifest(corpus)]
    first = EmbeddingCache(model, model_fingerprint(models[0]), tmp_path)
    vectors = first.audio(paths)
    assert (first.hits, first.misses) == (0, len(paths))
    again = EmbeddingCache(model, model_fingerprint(models[0]), tmp_path)
    np.testing.assert_array_equal(again.audio(paths), vectors)
    assert (again.hits, again.misses) == (len(paths), 0)
    import os

    os.utime(paths[0], ns=(0, 0))  # same content, other mtime: treated as changed
    third = EmbeddingCache(model, model_fingerprint(models[0]), tmp_path)
    third.audio(paths)
    assert third.misses == 1
    assert model_fingerprint(models[0]) != model_fingerprint(models[1])


class ChatServer(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        caption = body["messages"][0]["content"].split('"')[1]
        answer = "\n".join(f"{i}. {caption} variant {i}" for i in range(1, 4))
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = HTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ChatServer.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_endpoint_paraphrases_are_requested_once_and_cached(chat_server, tmp_path):
    cache = tmp_path / "paraphrases.json"
    table = complete_paraphrases(Paraphrases(), ["A dog barks.", "Rain falls", "a dog barks"], 3, chat_server,
                                 "tiny-llm", cache, api_key="k")
    assert len(ChatServer.requests) == 2  # "A dog barks." and "a dog barks" are one normalised query
    request = ChatServer.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "tiny-llm"
    assert request["auth"] == "Bearer k" and "A dog barks." in request["messages"][0]["content"]
    assert table.get("a dog barks", 5) == [f"A dog barks. variant {i}" for i in (1, 2, 3)]
    reloaded = Paraphrases.load(cache)
    complete_paraphrases(reloaded, ["Rain falls"], 3, chat_server, "tiny-llm", cache)
    assert len(ChatServer.requests) == 2  # answered from the cache file, no new request


def test_unreachable_endpoint_is_a_clear_error(tmp_path):
    with pytest.raises(AudioretError, match="unreachable"):
        complete_paraphrases(Paraphrases(), ["a dog"], 2, "http://127.0.0.1:9", "m", tmp_path / "p.json")


def test_variations_json_is_read_as_a_paraphrase_table(tmp_path):
    path = tmp_path / "variations.json"
    path.write_text(json.dumps([{"idx": 0, "caption": "A dog barks.", "variations": ["a hound yelps", "barking"]}]))
    assert Paraphrases.load(path).get("a dog barks", 1) == ["a hound yelps"]


def test_cli_eval_prints_json(corpus, models, tmp_path, capsys):
    code = main(["eval", "--manifest", str(corpus), "--model", str(models[0]), "--model", str(models[1]),
                 "--seeds", "--cache", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["name"] for r in result["rows"]] == ["seed0", "seed1", "mean of 2 seeds", "ensemble of 2"]
    assert 0 <= result["rows"][0]["mAP@10"] <= 1 and "mAP@10_std" in result["rows"][2]
    assert main(["eval", "--manifest", str(corpus), "--model", str(models[0]), "--augment", "with",
                 "--cache", str(tmp_path)]) == 2
    assert "needs paraphrases" in capsys.readouterr().err


def test_rows_say_what_they_are_in_fields(corpus, models, tmp_path):
    queries = [c for r in read_manifest(corpus) for c in r.captions]
    echo = Paraphrases({q: [q] for q in queries})
    rows = evaluate(corpus, models, echo, 1, "both", seeds=True, cache_root=tmp_path)
    described = [(r.kind, r.model, r.paraphrases, r.members) for r in rows]
    assert described == [("member", "seed0", 0, 1), ("member", "seed0", 1, 1), ("member", "seed1", 0, 1),
                         ("member", "seed1", 1, 1), ("seed mean", "seed0+seed1", 0, 2),
                         ("seed mean", "seed0+seed1", 1, 2), ("ensemble", "seed0+seed1", None, 4)]
    plain_mean = rows[4]
    assert plain_mean.metrics["mAP@10"] == pytest.approx((rows[0].metrics["mAP@10"] + rows[2].metrics["mAP@10"]) / 2)
    assert rows[5].name == "mean of 2 seeds +1 paraphrases"
    assert rows[6].as_dict()["kind"] == "ensemble" and rows[0].as_dict()["paraphrases"] == 0
