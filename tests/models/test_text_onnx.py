"""The ONNX export of a model's text side: the query vectors torch computes, a cache folder that is
published whole, damage that is reported and left alone, and an opt-out."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from audioret.models import text_onnx as fast
from audioret.models.loading import default_model_dir, load_model_folder, model_fingerprint
from audioret.utils.io import FILE_MODE
from models.tiny import WORDS, make_text_model, save_tiny_model

AWKWARD = ["a dog barks", "x", " ".join(WORDS * 4),  # one letter; far longer than max_length 32
           "Rain—falls ON the roof!!! ☔ 日本語 über", "birds sing", "...dog's bark..."]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv(fast.NO_ONNX_ENV, raising=False)
    monkeypatch.setenv("AUDIORET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "text-onnx"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-text"))


def test_the_export_gives_the_torch_query_vectors_of_awkward_queries(tiny_folder):
    model = load_model_folder(tiny_folder)
    folder = fast.export_text(model, tiny_folder, model_fingerprint(tiny_folder))
    encoder = fast.open_fast_text(tiny_folder, model_fingerprint(tiny_folder))
    assert folder is not None and encoder is not None and encoder.folder == folder
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == dict.fromkeys(
        [fast.GRAPH_FILE, fast.WEIGHTS_DATA_FILE, fast.TOKENIZER_FILE, fast.META_FILE], FILE_MODE)
    # The same truncation: the long query keeps exactly max_length tokens on both sides.
    ids = encoder.tokenizer.encode_batch([" ".join(WORDS * 4)])[0].ids
    assert ids == model.tokenize([" ".join(WORDS * 4)])["input_ids"][0].tolist() and len(ids) == 32
    torch_vectors = model.encode_text(AWKWARD)
    assert fast.cosine_gap(encoder.encode_text(AWKWARD), torch_vectors) < 1e-4  # one padded batch
    for query, expected in zip(AWKWARD, torch_vectors, strict=True):  # and one at a time
        assert fast.cosine_gap(encoder.encode_text([query]), expected[None]) < 1e-4
    with pytest.raises(ValueError, match="empty"):
        encoder.encode_text(["a dog", "  "])


def test_the_default_model_export_includes_the_prior_part():
    folder = default_model_dir()
    model = load_model_folder(folder)
    fast.export_text(model, folder, model_fingerprint(folder))
    encoder = fast.open_fast_text(folder, model_fingerprint(folder))
    queries = ["a door creaks open", "thunder rumbles", *AWKWARD[2:4]]
    got, expected = encoder.encode_text(queries), model.encode_text(queries)
    assert got.shape == expected.shape == (4, 1024 + 521)
    assert fast.cosine_gap(got, expected) < 1e-4
    np.testing.assert_allclose(got[:, 1024:], expected[:, 1024:], atol=1e-5)  # the YAMNet class weights


def test_a_damaged_export_is_reported_and_left_alone_until_a_writer_replaces_it(tiny_folder):
    model, fingerprint = load_model_folder(tiny_folder), model_fingerprint(tiny_folder)
    folder = fast.export_text(model, tiny_folder, fingerprint)
    graph = folder / fast.GRAPH_FILE
    graph.write_bytes(graph.read_bytes()[:1000])  # a truncated copy
    damaged = graph.read_bytes()
    with pytest.raises(fast.TextCacheError, match=f"{folder}.*delete that folder"):
        fast.open_fast_text(tiny_folder, fingerprint)
    with pytest.raises(fast.TextCacheError):
        fast.export_text(model, tiny_folder, fingerprint)  # a search does not repair it
    assert graph.read_bytes() == damaged
    (folder / fast.META_FILE).write_text("{not json")
    with pytest.raises(fast.TextCacheError, match="meta.json unreadable"):
        fast.open_fast_text(tiny_folder, fingerprint)
    assert fast.export_text(model, tiny_folder, fingerprint, replace_damaged=True) == folder  # `audioret index`
    assert fast.cosine_gap(fast.open_fast_text(tiny_folder, fingerprint).encode_text(["rain"]),
                           model.encode_text(["rain"])) < 1e-4
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging or old copy left behind


def test_concurrent_writers_publish_one_complete_folder_and_the_loser_keeps_it(tiny_folder, cache):
    model, fingerprint = load_model_folder(tiny_folder), model_fingerprint(tiny_folder)
    key = fast.cache_key(tiny_folder, fingerprint)
    staged = []
    for name in ("first", "second"):
        folder = cache / f".{key}.{name}.tmp"
        folder.mkdir(parents=True)
        fast._write_export(model, folder, key)
        (folder / "writer").write_text(name)
        staged.append(folder)
    fast._publish(staged[0], cache / key, replace=False)
    fast._publish(staged[1], cache / key, replace=False)  # lost the race: no error, the winner stays
    assert (cache / key / "writer").read_text() == "first"
    assert fast.open_fast_text(tiny_folder, fingerprint).encode_text(["rain"]).shape == (1, 16)
    # A reader never takes a staging folder for an export: only the published name is opened.
    assert fast.cache_key(tiny_folder, fingerprint) == key and not key.startswith(".")


def test_the_opt_out_uses_no_export(tiny_folder, monkeypatch):
    model, fingerprint = load_model_folder(tiny_folder), model_fingerprint(tiny_folder)
    fast.export_text(model, tiny_folder, fingerprint)
    monkeypatch.setenv(fast.NO_ONNX_ENV, "1")
    assert fast.open_fast_text(tiny_folder, fingerprint) is None
    assert fast.export_text(model, tiny_folder, fingerprint) is None
    monkeypatch.setenv(fast.NO_ONNX_ENV, "0")
    assert fast.open_fast_text(tiny_folder, fingerprint) is not None


def test_a_heads_only_model_keys_its_export_by_the_text_weights_it_loads(tmp_path):
    text = make_text_model(tmp_path / "bert", "bert")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"text": {"name": "bert", "path": str(text)},
                                                    "stored_weights": "heads"}))
    key = fast.cache_key(folder, "f" * 32)
    assert key.startswith("f" * 32 + "-")
    weights = text / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert fast.cache_key(folder, "f" * 32) not in (key, None)  # new weights, new export
    (folder / "config.json").write_text(json.dumps({"text": {"name": "bert", "path": "bert-base-uncased"},
                                                    "stored_weights": "heads"}))
    assert fast.cache_key(folder, "f" * 32) is None  # a name in the Hugging Face cache: torch only
