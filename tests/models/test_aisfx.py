"""aiSFX with the weights the aisfx package ships, against that package's own outputs (its Essentia
front end and model) on the same audio (tests/fixtures/make_aisfx_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.aisfx import Aisfx, package_checkpoint
from audioret.models.checkpoints import CheckpointMismatchError
from fixtures.aisfx_signals import signals

REFERENCE = np.load(Path(__file__).parents[1] / "fixtures" / "aisfx_reference.npz")
@pytest.fixture(scope="module")
def pretrained():
    return Aisfx(pretrained=True).eval()


@pytest.mark.parametrize("name", ["long", "short"])
def test_spectrogram_and_block_embeddings_match_the_package(pretrained, name):
    wave = torch.from_numpy(signals()[name])
    with torch.no_grad():
        spec = pretrained.spectrogram(wave).numpy()
        blocks = pretrained.block_embeddings(wave).numpy()
    np.testing.assert_allclose(spec, REFERENCE[f"{name}_spec"], atol=1e-4)
    np.testing.assert_allclose(blocks, REFERENCE[f"{name}_blocks"], atol=1e-4)


def test_clip_embedding_is_the_mean_of_blocks_and_ignores_padding(pretrained):
    waves = signals()
    batch = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waves.values()], batch_first=True)
    with torch.no_grad():
        out = pretrained(batch, torch.tensor([len(w) for w in waves.values()])).numpy()
    for row, name in zip(out, waves, strict=True):
        np.testing.assert_allclose(row, REFERENCE[f"{name}_blocks"].mean(0), atol=1e-4)


def test_the_package_checkpoint_holds_classifiers_that_are_dropped(tmp_path):
    weights, table = torch.load(package_checkpoint(), map_location="cpu", weights_only=False)
    assert any(k.startswith("fc.") for k in weights) and len(table) == 9
    broken = dict(weights)
    del broken["embedding_net.conv_block4.bn2.running_var"]
    path = tmp_path / "aisfx-broken.pth"
    torch.save((broken, table), path)
    with pytest.raises(CheckpointMismatchError, match=r"aisfx-broken.pth .*conv_block4.bn2.running_var"):
        Aisfx(checkpoint=path)
