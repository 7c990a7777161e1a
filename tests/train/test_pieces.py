"""Recipe parsing, the learning-rate schedule, checkpoint averaging and training-data details."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audioret.config import ConfigError, load_recipe
from audioret.data.manifest import ManifestRecord
from audioret.data.training import ClipSet, TrainingClips, merge_same_audio
from audioret.train.averaging import average_state_dicts
from audioret.train.run import check_inputs
from audioret.train.schedule import warmup_cosine
from audioret.utils.errors import AudioretError, MissingFileError
from conftest import write_tone

RECIPE = """
name: t
data:
  train:
    - manifest: train.jsonl
  val_manifest: val.jsonl
model:
  audio: {name: cnn-tiny}
  text: {name: minilm}
train:
  epochs: 2
  lr: 1e-5
"""


def test_recipe_defaults_overrides_and_relative_paths(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    config = load_recipe(tmp_path / "r.yaml", ["train.batch_size=64", "train.mixco=false", "data.num_workers=0"])
    assert config.train.lr == 1e-5 and config.train.batch_size == 64 and config.train.mixco is False
    assert config.train.text_mask_prob == 0.15 and config.train.val_every == 0.2 and config.model.temperature is None
    assert config.data.train[0].manifest == str(tmp_path / "train.jsonl")
    assert config.data.train[0].variation_prob == 0.3


@pytest.mark.parametrize(("override", "message"), [
    ("train.learning_rate=1", "unknown key 'train.learning_rate'"),
    ("train.epochs=many", "train.epochs: expected int, got 'many'"),
    ("data.train=[{manifest: a, weigth: 2}]", "unknown key 'data.train\\[0\\].weigth'"),
    ("seed", "must look like key.path=value"),
])
def test_recipe_errors_name_the_key(tmp_path, override, message):
    (tmp_path / "r.yaml").write_text(RECIPE)
    with pytest.raises(ConfigError, match=message):
        load_recipe(tmp_path / "r.yaml", [override])


def test_missing_manifests_fail_before_any_weight_loads(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    with pytest.raises(MissingFileError, match="training manifest.*train.jsonl"):
        check_inputs(load_recipe(tmp_path / "r.yaml"))


def test_missing_audio_is_named_before_training(tmp_path):
    from audioret.data.manifest import write_manifest

    (tmp_path / "r.yaml").write_text(RECIPE)
    present = write_tone(tmp_path / "clips" / "a.wav")
    records = [ManifestRecord(id=n, audio=str(tmp_path / "clips" / n), captions=["x"], dataset="d", split="s")
               for n in ("a.wav", "gone.wav")]
    write_manifest(tmp_path / "train.jsonl", records)
    write_manifest(tmp_path / "val.jsonl", records[:1])
    assert present.is_file()
    with pytest.raises(MissingFileError, match=r"listed in .*train.jsonl \(1 missing in all\): .*gone.wav"):
        check_inputs(load_recipe(tmp_path / "r.yaml"))


def test_schedule_warms_up_then_decays_by_cosine():
    assert [warmup_cosine(s, 4, 20) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warmup_cosine(4, 4, 20) == pytest.approx(1.0)
    assert warmup_cosine(12, 4, 20) == pytest.approx(0.5)
    assert warmup_cosine(20, 4, 20) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(7, 4, 20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 16)))


def test_average_is_the_mean_of_the_state_dicts():
    rng = torch.Generator().manual_seed(0)
    states = [{"w": torch.randn(3, 2, generator=rng), "bn.num_batches_tracked": torch.tensor(i)} for i in range(4)]
    averaged = average_state_dicts(states)
    expected = sum(s["w"] for s in states) / 4
    torch.testing.assert_close(averaged["w"], expected)
    assert averaged["bn.num_batches_tracked"].item() == 0
    with pytest.raises(AudioretError, match="different models"):
        average_state_dicts([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


def test_training_clips_draw_paraphrases_and_are_reproducible(tmp_path):
    audio = write_tone(tmp_path / "a.wav", seconds=3.0)
    record = ManifestRecord(id="a", audio=str(audio), captions=["a tone"], dataset="d", split="train",
                            variations=[["a beep", "a sine"]])
    dataset = TrainingClips([ClipSet("d", [record], variation_prob=0.3)], 16_000, 16_000, seed=0)
    captions = [dataset[(0, 0, epoch)]["caption"] for epoch in range(400)]
    share = sum(c != "a tone" for c in captions) / len(captions)
    assert 0.24 < share < 0.36 and set(captions) == {"a tone", "a beep", "a sine"}
    first, again = dataset[(0, 0, 5)], dataset[(0, 0, 5)]
    assert np.array_equal(first["audio"], again["audio"]) and first["caption"] == again["caption"]
    assert len(first["audio"]) == 16_000


def test_duplicate_audio_lines_are_merged_into_one_clip():
    records = [ManifestRecord(id=str(i), audio="x.wav", captions=[f"c{i}"], dataset="d", split="s") for i in range(2)]
    merged = merge_same_audio(records + [ManifestRecord(id="y", audio="y.wav", captions=["y"], dataset="d",
                                                        split="s")])
    assert [m.captions for m in merged] == [["c0", "c1"], ["y"]]


def test_every_paper_recipe_is_valid_and_differs_from_the_base_as_its_table_says():
    from pathlib import Path

    from audioret.models import list_models

    folder = Path(__file__).parents[2] / "recipes" / "paper"
    recipes = {p.stem: load_recipe(p) for p in sorted(folder.glob("table*.yaml"))}
    assert len([n for n in recipes if n.startswith("table1")]) == 7
    assert len([n for n in recipes if n.startswith("table2")]) == 11
    assert len([n for n in recipes if n.startswith("table3")]) == 4
    for name, config in recipes.items():
        assert config.name == name
        assert config.model.audio["name"] in list_models("audio") and config.model.text["name"] in list_models("text")
        assert (config.train.lr, config.train.batch_size, config.train.epochs) == (1e-5, 128, 15)
    assert recipes["table1-B-cavmae-roberta"].model.audio == {"name": "cav-mae",
                                                               "checkpoint": "weights/cav-mae-scale++.pth"}
    assert recipes["table1-F-passt-t5"].model.audio["patchout_time"] == 15
    assert [len(recipes[n].data.train) for n in sorted(recipes) if n.startswith("table2")] == [1] * 6 + [3, 3, 4, 4, 5]
    assert not any(recipes[n].train.mixco or recipes[n].train.text_mask_prob for n in recipes if "table2" in n)
    flags = {n: (recipes[n].train.mixco, recipes[n].train.text_mask_prob) for n in recipes if n.startswith("table3")}
    assert flags == {"table3-none": (False, 0.0), "table3-mixco": (True, 0.0), "table3-masking": (False, 0.15),
                     "table3-both": (True, 0.15)}


def test_unknown_encoder_option_in_a_recipe_is_a_config_error_naming_the_key(tmp_path):
    from audioret.cli import main
    from audioret.config import model_config
    from audioret.models import AudioTextModel

    (tmp_path / "r.yaml").write_text(RECIPE.replace("{name: cnn-tiny}", "{name: cnn-tiny, widthz: [1]}"))
    config = load_recipe(tmp_path / "r.yaml")
    message = r"model.audio.widthz: encoder 'cnn-tiny' takes no option 'widthz'; it accepts \['hop', 'n_mels'"
    with pytest.raises(ConfigError, match=message):
        check_inputs(config)  # before the manifests (absent here) are even looked at
    with pytest.raises(ConfigError, match=message):
        AudioTextModel(model_config(config))
    assert main(["train", str(tmp_path / "r.yaml")]) == 2


def test_recipes_name_their_model_pair_instead_of_repeating_it():
    import json
    from pathlib import Path

    import yaml

    from audioret.config import MODEL_PAIRS_DIR

    root = Path(__file__).parents[2] / "recipes"
    base = load_recipe(root / "paper" / "table1-A-passt-roberta.yaml")
    assert base.model.pair == "passt-roberta"
    assert base.model.audio == {"name": "passt-s-s16", "patchout_freq": 2, "patchout_time": 15,
                                "checkpoint": "weights/passt-s-f128-p16-s16-ap.468.pt"}
    assert base.model.text == {"name": "roberta", "max_length": 32, "path": "weights/roberta-large"}
    assert (base.model.embed_dim, base.model.temperature) == (1024, 0.02)
    synth = load_recipe(root / "cpu-synth.yaml")
    assert synth.model.audio["name"] == "cnn-small" and synth.model.temperature == 0.05
    # No recipe file states a setting with the value its pair already gives it.
    for path in sorted(root.rglob("*.yaml")):
        model = (yaml.safe_load(path.read_text()) or {}).get("model") or {}
        if not model.get("pair"):
            continue
        pair = json.loads((MODEL_PAIRS_DIR / f"{model['pair']}.json").read_text())
        for key, value in model.items():
            if isinstance(value, dict) and isinstance(pair.get(key), dict):
                repeated = [k for k, v in value.items() if pair[key].get(k) == v]
                assert not repeated, f"{path.name}: model.{key} repeats {repeated} of {model['pair']}.json"
            else:
                assert pair.get(key) != value, f"{path.name}: model.{key} repeats {model['pair']}.json"


def test_unknown_pair_is_named(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE.replace("model:\n", "model:\n  pair: passt-robreta\n"))
    with pytest.raises(ConfigError, match=r"model.pair: unknown pair 'passt-robreta'; choose one of \['cnn-minilm'"):
        load_recipe(tmp_path / "r.yaml")


def test_model_settings_carry_the_prior_and_leave_the_temperature_to_the_model(tmp_path):
    from audioret.config import model_config

    (tmp_path / "r.yaml").write_text(RECIPE)
    settings = model_config(load_recipe(tmp_path / "r.yaml", ["model.prior={weight: 1.0, tau: 0.05}"]))
    assert settings["prior"] == {"weight": 1.0, "tau": 0.05} and "temperature" not in settings
