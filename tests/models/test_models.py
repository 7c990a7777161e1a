"""Every registered encoder runs forward and backward on CPU; AudioTextModel encodes, saves and
reloads; bad checkpoints and inputs give errors that name the file."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch

import audioret
from audioret.models import AudioTextModel, create_model, list_models
from audioret.models.checkpoints import CheckpointMismatchError, read_checkpoint
from audioret.models.registry import encoder_kind
from audioret.utils.errors import AudioretError, MissingFileError
from models.tiny import make_text_model

TINY_AUDIO = {
    "passt-s-s16": dict(embed_dim=16, depth=1, num_heads=2),
    "passt-s-s10-ap476": dict(embed_dim=16, depth=1, num_heads=2),
    "passt-s-s10-ap486": dict(embed_dim=16, depth=1, num_heads=2),
    "cnn-small": dict(widths=(4, 8, 8, 16)),
    "cnn-tiny": {},
    "cav-mae": dict(embed_dim=16, specific_depth=1, shared_depth=1, num_heads=2),
    "beats": dict(config=dict(embed_dim=16, encoder_embed_dim=16, encoder_ffn_embed_dim=32, encoder_layers=1,
                              encoder_attention_heads=2, conv_pos=8, conv_pos_groups=2)),
}
TINY_AUDIO["vast-audio"] = TINY_AUDIO["beats"]
TINY_AUDIO["aisfx"] = dict(width=4)
TEXT_FAMILIES = {"bert": "bert", "roberta": "roberta", "t5": "t5"}
FROZEN_AUDIO = {"yamnet", "stack"}  # no trainable weights: tested in tests/models/test_yamnet.py


def test_every_registered_encoder_has_a_tiny_test_config():
    registered = set(list_models("audio")) | set(list_models("text"))
    assert registered == set(TINY_AUDIO) | FROZEN_AUDIO | set(TEXT_FAMILIES) | {"minilm"}


@pytest.mark.parametrize("name", sorted(TINY_AUDIO))
def test_audio_encoder_forward_backward(name):
    encoder = create_model(name, **TINY_AUDIO[name]).train()
    wave = torch.randn(2, int(encoder.sample_rate * 2.0), requires_grad=False)
    out = encoder(wave)
    assert out.shape == (2, encoder.output_dim) and torch.isfinite(out).all()
    out.square().sum().backward()
    grads = [p.grad for p in encoder.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)


@pytest.mark.parametrize("family", sorted(TEXT_FAMILIES))
def test_text_encoder_forward_backward_and_pooling(tmp_path, family):
    folder = make_text_model(tmp_path / family, family)
    encoder = create_model(family, path=folder, dropout=0.0).eval()
    batch = encoder.tokenize(["A dog barks!", "three beeps while rain falls on the roof"])
    out = encoder(**batch)
    assert out.shape == (2, 32)
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.model.encoder.parameters() if p.requires_grad)
    # Pooling ignores padding: a caption embeds the same alone and beside a longer one.
    alone = encoder(**encoder.tokenize(["A dog barks!"]))
    assert torch.allclose(alone[0], out[0], atol=1e-5)
    hidden = encoder.model(**batch).last_hidden_state
    if family == "t5":
        mask = batch["attention_mask"][0].bool()
        assert torch.allclose(out[0], hidden[0, mask].mean(0), atol=1e-5)
    else:
        assert torch.allclose(out[0], hidden[0, 0], atol=1e-6)


def test_text_encoder_truncates_to_max_length(tmp_path):
    encoder = create_model("bert", path=make_text_model(tmp_path / "b", "bert"), max_length=5)
    assert encoder.tokenize([" ".join(["dog"] * 50)])["input_ids"].shape[1] == 5


def test_text_encoder_dropout_is_configurable(tmp_path):
    folder = make_text_model(tmp_path / "r", "roberta")
    encoder = create_model("roberta", path=folder, dropout=0.3)
    assert encoder.model.config.hidden_dropout_prob == 0.3
    assert encoder.model.config.attention_probs_dropout_prob == 0.3


def test_missing_text_folder_is_named(tmp_path):
    with pytest.raises(MissingFileError, match="roberta-large-not-here"):
        create_model("roberta", path=tmp_path / "roberta-large-not-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="config.json"):
        create_model("bert", path=tmp_path / "empty")


def test_packaged_minilm_embeds_paraphrases_closer_than_unrelated_text():
    encoder = create_model("minilm").eval()
    with torch.no_grad():
        emb = torch.nn.functional.normalize(encoder(**encoder.tokenize(
            ["a dog is barking loudly", "a loud dog barks", "gentle rain on a tin roof"])), dim=-1)
    assert emb.shape[1] == 384
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.2


@pytest.fixture
def tiny_model(tmp_path):
    text = make_text_model(tmp_path / "bert", "bert")
    return AudioTextModel({"audio": {"name": "cnn-tiny"}, "text": {"name": "bert", "path": str(text)},
                           "embed_dim": 24, "temperature": 0.02, "provenance": {"note": "test"}})


def test_audio_text_model_embeds_unit_vectors_with_trainable_temperature(tiny_model):
    assert tiny_model.temperature.item() == pytest.approx(0.02)
    assert tiny_model.log_temperature.requires_grad
    text = tiny_model.encode_text(["a dog barks", "rain falls"])
    audio = tiny_model.encode_audio([np.random.default_rng(0).standard_normal(16_000).astype(np.float32)])
    assert text.shape == (2, 24) and audio.shape == (1, 24)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)


def test_long_clips_average_window_embeddings_weighted_by_real_audio(tiny_model):
    tiny_model.eval()
    window = tiny_model.audio.window_samples
    rng = np.random.default_rng(1)
    clip = rng.standard_normal(window * 2 + window // 4).astype(np.float32)  # 2.25 windows
    windows = np.zeros((3, window), np.float32)
    windows.reshape(-1)[: len(clip)] = clip
    with torch.no_grad():
        features = tiny_model.audio(torch.from_numpy(windows))
        pooled = (features * torch.tensor([1.0, 1.0, 0.25])[:, None]).sum(0) / 2.25
        expected = torch.nn.functional.normalize(tiny_model.audio_projection(pooled), dim=-1).numpy()
    np.testing.assert_allclose(tiny_model.encode_audio([clip], batch_size=2)[0], expected, atol=1e-5)


def test_empty_queries_are_refused(tiny_model):
    with pytest.raises(ValueError, match="query 1 is empty"):
        tiny_model.encode_text(["a dog", "   "])


def test_save_and_load_round_trip(tiny_model, tmp_path):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "text"}
    loaded = AudioTextModel.from_pretrained(folder)
    queries = ["a dog barks", "three beeps"]
    np.testing.assert_allclose(loaded.encode_text(queries), tiny_model.encode_text(queries), atol=1e-6)
    clip = [np.random.default_rng(2).standard_normal(20_000).astype(np.float32)]
    np.testing.assert_allclose(loaded.encode_audio(clip), tiny_model.encode_audio(clip), atol=1e-6)
    assert json.loads((folder / "config.json").read_text())["provenance"] == {"note": "test"}


def test_loading_a_model_saved_with_another_architecture_names_keys(tiny_model, tmp_path):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["embed_dim"] = 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointMismatchError, match=r"model.safetensors .*shape mismatch.*audio_projection"):
        AudioTextModel.from_pretrained(folder)


def test_truncated_weights_name_the_file(tiny_model, tmp_path):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioretError, match=r"model.safetensors.*truncated"):
        AudioTextModel.from_pretrained(folder)
    with pytest.raises(MissingFileError, match="config.json"):
        AudioTextModel.from_pretrained(tmp_path / "nowhere")


def test_truncated_or_foreign_checkpoints_name_the_file(tmp_path):
    path = tmp_path / "passt.pt"
    torch.save({"a": torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(AudioretError, match=r"passt.pt.*truncated"):
        read_checkpoint(path, "PaSST checkpoint")
    torch.save({"encoder.layers.0.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointMismatchError, match=r"first keys are \['encoder.layers.0.weight'\]"):
        create_model("passt-s-s16", checkpoint=path, **TINY_AUDIO["passt-s-s16"])
    with pytest.raises(MissingFileError, match="GitHub releases"):
        create_model("passt-s-s16", checkpoint=tmp_path / "absent.pt")


def test_config_names_and_wrong_sides(monkeypatch, tmp_path):
    assert {"passt-roberta", "cnn-minilm"} <= set(list_models("pair"))
    assert encoder_kind("passt-s-s16") == "audio" and encoder_kind("t5") == "text"
    with pytest.raises(AudioretError, match="'minilm' is a text encoder and cannot be the model's audio encoder"):
        AudioTextModel({"audio": {"name": "minilm"}, "text": {"name": "minilm"}})
    with pytest.raises(AudioretError, match="unknown model 'clap'"):
        create_model("clap")
    assert audioret.create_model is create_model
    import importlib.resources

    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)  # an install without the model
    with pytest.raises(AudioretError, match="missing from this installation"):
        audioret.load_model()


def test_the_suite_cannot_reach_the_network():
    from conftest import NETWORK_ATTEMPTS

    with pytest.raises(RuntimeError, match="offline"), socket.create_connection(("192.0.2.1", 443), timeout=1):
        pass
    # The attempt is recorded too, so a library that catches the error still fails its test;
    # this test clears it because provoking it was the point.
    assert NETWORK_ATTEMPTS == [("192.0.2.1", 443)]
    NETWORK_ATTEMPTS.clear()
