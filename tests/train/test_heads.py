"""Training the projection heads of frozen encoders: locked text, seeds soup, heads-only model folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from audioret.config import HeadsConfig, load_recipe
from audioret.data.manifest import read_manifest, write_manifest
from audioret.data.recipes import prepare
from audioret.models import AudioTextModel
from audioret.train.heads import (
    FeatureTable,
    _fit_member,
    dev_map,
    fit_heads,
    train_heads,
)
from audioret.utils.errors import AudioretError, ConfigError
from models.tiny import make_text_model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("heads")
    prepare("synth", root / "audio", root, size=150, seed=3)  # val: 30 clips, 150 captions
    return list(read_manifest(root / "synth_train.jsonl")), list(read_manifest(root / "synth_val.jsonl"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    text = make_text_model(tmp_path_factory.mktemp("bert") / "bert", "bert")
    torch.manual_seed(0)
    return AudioTextModel({"audio": {"name": "cnn-tiny", "window_seconds": 5.0},
                           "text": {"name": "bert", "path": str(text)}, "embed_dim": 64, "temperature": 0.1})


def test_locked_text_head_keeps_the_encoders_cosine_similarities(tiny):
    with pytest.raises(AudioretError, match="embed_dim"):
        AudioTextModel({"audio": {"name": "cnn-tiny"}, "text": tiny.config["text"], "embed_dim": 16}).lock_text_head(0)
    tiny.lock_text_head(seed=0)
    captions = ["a dog barks", "rain falls on the roof", "three beeps"]
    raw = torch.nn.functional.normalize(tiny.text_features(captions), dim=-1)
    projected = torch.from_numpy(tiny.encode_text(captions))
    torch.testing.assert_close(projected @ projected.T, raw @ raw.T, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def with_minilm(corpus):
    """A random small CNN beside MiniLM, which gives the captions real meaning; features computed once."""
    torch.manual_seed(0)
    model = AudioTextModel({"audio": {"name": "cnn-tiny", "window_seconds": 5.0}, "text": {"name": "minilm"},
                            "embed_dim": 384, "temperature": 0.1})
    features = FeatureTable(model)
    features.add(corpus[0])
    features.add(corpus[1])
    return model, features


@pytest.mark.parametrize("lock_text", [False, True])
def test_fitting_heads_beats_the_untrained_heads_on_held_out_clips(corpus, with_minilm, lock_text):
    train, dev = corpus
    tiny, features = with_minilm
    torch.manual_seed(5)
    tiny.audio_projection.reset_parameters()
    before = dev_map(tiny, dev, features)
    report = fit_heads(tiny, train, dev, features, HeadsConfig(epochs=20, batch_size=64, lr=3e-3, lock_text=lock_text))
    after = dev_map(tiny, dev, features)
    assert after == pytest.approx(report.kept_dev, abs=1e-5) and after > before + 0.05, (before, after)
    assert len(report.history) == 20 and report.history[-1]["loss"] < report.history[0]["loss"]


def test_averaged_seeds_are_the_ensemble_of_members_sharing_one_locked_text_head(corpus, with_minilm):
    train, dev = corpus
    model, features = with_minilm
    config = HeadsConfig(epochs=3, batch_size=64, lr=3e-3, lock_text=True, keep_best=False, average_seeds=3)
    fit_heads(model, train, dev, features, config, seed=7)
    averaged = {k: v.clone() for k, v in model.state_dict().items()}
    rows = torch.stack([features.audio[r.audio] for r in dev])
    members = []
    for seed in (7, 8, 9):  # what fit_heads is documented to do: data seeds 7, 8, 9, the text locked by seed 7
        _fit_member(model, train, dev, features, config, lock_seed=7, seed=seed)
        members.append((model.audio_projection(rows).detach(), model.text_projection.weight.detach().clone()))
    assert all(torch.equal(text, members[0][1]) for _, text in members)
    model.load_state_dict(averaged)
    u = torch.finfo(torch.float32).eps / 2
    # The mean of three equal float32 tensors is each of them up to the rounding of a sum and a division.
    torch.testing.assert_close(model.text_projection.weight, members[0][1], atol=0, rtol=4 * u)
    # The average head's embeddings (before normalisation) are the members' mean, up to float32 rounding of
    # the products: a sum over the n features of a row, bounded by n u of the values' size.
    ensemble = torch.stack([m for m, _ in members]).mean(0)
    bound = rows.shape[1] * u
    torch.testing.assert_close(model.audio_projection(rows).detach(), ensemble, atol=bound, rtol=bound)
    with pytest.raises(ConfigError, match="average_seeds"):
        HeadsConfig(average_seeds=0)


def test_a_heads_only_folder_rebuilds_the_same_model_from_the_packages(tmp_path):
    torch.manual_seed(0)
    model = AudioTextModel({"audio": {"name": "aisfx", "pretrained": True}, "text": {"name": "minilm"},
                            "embed_dim": 32, "stored_weights": "heads"})
    folder = model.save_pretrained(tmp_path / "m")
    assert set(load_file(folder / "model.safetensors")) == {
        "audio_projection.weight", "audio_projection.bias", "text_projection.weight", "text_projection.bias",
        "log_temperature"}
    assert (folder / "model.safetensors").stat().st_size < 200_000 and not (folder / "text").exists()
    again = AudioTextModel.from_pretrained(folder)
    wave = np.sin(np.linspace(0, 2000, 44_100 * 2)).astype(np.float32)
    np.testing.assert_allclose(again.encode_audio([wave]), model.eval().encode_audio([wave]), atol=1e-6)
    np.testing.assert_allclose(again.encode_text(["a bell"]), model.encode_text(["a bell"]), atol=1e-6)
    config = json.loads((folder / "config.json").read_text())
    config["stored_weights"] = "all"  # now the file lacks the encoders: a strict load must refuse it
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(AudioretError):
        AudioTextModel.from_pretrained(folder)


def test_teacher_captions_add_confident_specific_classes():
    from audioret.data.manifest import ManifestRecord
    from audioret.train.heads import teacher_captions

    names = ["Dog", "Bark", "Silence", "Rain", "Music"]
    records = [ManifestRecord("a", "a.wav", ["a dog barks"], "sfx", "train"),
               ManifestRecord("b", "b.wav", ["rain"], "sfx", "train")]
    posteriors = {"a.wav": torch.tensor([0.9, 0.6, 0.95, 0.1, 0.2]), "b.wav": torch.tensor([0.0, 0.0, 0.0, 0.3, 0.9])}
    taught = teacher_captions(records, posteriors, names, threshold=0.3)
    assert taught[0].captions == ["a dog barks", "dog", "bark"]  # silence is generic: left out
    assert taught[1].captions == ["rain"]  # music is generic; "rain" is already the caption
    assert records[0].captions == ["a dog barks"]  # the originals are left as they were


def test_a_heads_recipe_writes_a_model_folder_that_names_itself_its_data_and_licences(tmp_path, corpus):
    train, dev = corpus
    root = tmp_path / "data"
    write_manifest(root / "train.jsonl", train)
    write_manifest(root / "dev.jsonl", dev)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""
name: heads-e2e
output_dir: {tmp_path / "runs"}
data:
  train: [{{manifest: {root / "train.jsonl"}}}]
  val_manifest: {root / "dev.jsonl"}
model:
  audio: {{name: cnn-tiny, window_seconds: 5.0}}
  text: {{name: minilm}}
  embed_dim: 384
  stored_weights: heads
  licences: {{audio encoder weights: "random, generated by the test"}}
heads: {{epochs: 2, batch_size: 64, lock_text: true, average_seeds: 2}}
""")
    folder = train_heads(load_recipe(recipe))
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == "heads-e2e" and config["provenance"]["recipe"] == "heads-e2e"
    assert config["provenance"]["licences"] == {"audio encoder weights": "random, generated by the test"}
    assert sum(entry["clips"] for entry in config["provenance"]["training_data"]) == len(train)
    assert 0.0 <= config["provenance"]["development"]["mAP@10"] <= 1.0
    assert (folder.parent / "history.csv").read_text().count("\n") == 1 + 2  # the last member's epochs
