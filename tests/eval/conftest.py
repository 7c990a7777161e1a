"""A small synth evaluation manifest and two tiny random models saved as model folders."""

from __future__ import annotations

import pytest

from audioret.data.recipes import prepare
from audioret.models import AudioTextModel
from models.tiny import make_text_model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    prepare("synth", root / "audio", root, size=60, seed=4)  # eval split: 12 clips, 60 captions
    return root / "synth_eval.jsonl"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    text = make_text_model(root / "bert", "bert")
    folders = []
    for seed in (0, 1):
        import torch

        torch.manual_seed(seed)
        model = AudioTextModel({"audio": {"name": "cnn-tiny", "window_seconds": 5.0},
                                "text": {"name": "bert", "path": str(text)}, "embed_dim": 16})
        folders.append(model.save_pretrained(root / f"seed{seed}"))
    return folders
