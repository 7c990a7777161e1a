"""BEATs against outputs of the official code on a tiny random model in the published checkpoint
format (tests/fixtures/make_beats_fixture.py), strict loading, and padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.beats import BEATs
from audioret.models.checkpoints import CheckpointMismatchError
from tolerances import assert_within_rounding, longest_reduction, rounding_bound

FIXTURE = torch.load(Path(__file__).parents[1] / "fixtures" / "beats_tiny.pt", weights_only=True)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "BEATs_tiny.pt"
    torch.save({"cfg": FIXTURE["cfg"], "model": FIXTURE["model"]}, path)
    return path


def float64_tokens(checkpoint):
    """The encoder's tokens in float64 and the float32 rounding bound (tests/tolerances.py)."""
    reference = BEATs(checkpoint=checkpoint).eval()
    n = longest_reduction(reference, 512, FIXTURE["features"].shape[1])  # layers, FFT, attention over tokens
    return rounding_bound(lambda w: reference.tokens(w)[0], (FIXTURE["wave"],), n, module=reference)


def test_token_outputs_match_the_official_code(checkpoint):
    encoder = BEATs(checkpoint=checkpoint).eval()
    with torch.no_grad():
        tokens, valid = encoder.tokens(FIXTURE["wave"])
        clip = encoder(FIXTURE["wave"])
    assert valid.all()
    exact, bound = float64_tokens(checkpoint)
    assert_within_rounding(FIXTURE["features"], exact, bound, "the official code's tokens (float32)")
    assert_within_rounding(tokens, exact, bound, "our tokens (float32)")
    assert_within_rounding(clip, exact.mean(1), bound.mean(1), "our clip embedding")  # a mean keeps the bound


def test_release_layout_loads_strictly_and_shares_one_bias_table(checkpoint):
    encoder = BEATs(checkpoint=checkpoint)
    assert encoder.output_dim == 32 and encoder.config["encoder_layers"] == 2
    shared = encoder.encoder.layers[0].self_attn.relative_attention_bias
    assert encoder.encoder.layers[1].self_attn.relative_attention_bias is shared
    assert torch.equal(shared.weight, FIXTURE["model"]["encoder.layers.0.self_attn.relative_attention_bias.weight"])


def test_broken_checkpoints_are_named(tmp_path, checkpoint):
    not_a_release = tmp_path / "weights_only.pt"
    torch.save(FIXTURE["model"], not_a_release)
    with pytest.raises(CheckpointMismatchError, match="weights_only.pt is not a BEATs release"):
        BEATs(checkpoint=not_a_release)
    partial = tmp_path / "partial.pt"
    state = dict(FIXTURE["model"])
    del state["encoder.layers.1.fc2.weight"]
    torch.save({"cfg": FIXTURE["cfg"], "model": state}, partial)
    with pytest.raises(CheckpointMismatchError, match=r"partial.pt .*absent, first \['encoder.layers.1.fc2.weight'\]"):
        BEATs(checkpoint=partial)


def test_zero_padding_with_valid_lengths_embeds_like_the_unpadded_clip(checkpoint):
    encoder = BEATs(checkpoint=checkpoint).eval()
    clip = FIXTURE["wave"][:1, :20_000]
    padded = torch.nn.functional.pad(clip, (0, 12_000))
    with torch.no_grad():
        masked = encoder(padded, torch.tensor([20_000]))
        unmasked = encoder(padded)
    reference = BEATs(checkpoint=checkpoint).eval()
    exact, bound = rounding_bound(reference, (clip,), longest_reduction(reference, 512, 200), module=reference)
    assert_within_rounding(masked, exact, bound, "the padded clip with its valid length")
    assert np.abs(unmasked.numpy() - exact).max() > 100 * bound.max()  # the mask is what makes them equal


def _vast_like(state: dict, wrap: bool, prefix: str = "") -> dict:
    """A VAST-style checkpoint: BEATs under `audio_encoder.` beside vision and text encoders."""
    full = {f"{prefix}audio_encoder.{k}": v for k, v in state.items()}
    full[f"{prefix}vision_encoder.visual.conv1.weight"] = torch.zeros(4, 3, 2, 2)
    full[f"{prefix}multimodal_encoder.bert.embeddings.word_embeddings.weight"] = torch.zeros(10, 4)
    return {"model": full} if wrap else full


@pytest.mark.parametrize(("wrap", "prefix"), [(False, ""), (True, ""), (False, "module.")])
def test_vast_checkpoints_load_their_beats_branch(tmp_path, checkpoint, wrap, prefix):
    from audioret.models import create_model

    path = tmp_path / "vast.pth"
    torch.save(_vast_like(FIXTURE["model"], wrap, prefix), path)
    encoder = create_model("vast-audio", checkpoint=path, config=FIXTURE["cfg"]).eval()
    with torch.no_grad():
        tokens, _ = encoder.tokens(FIXTURE["wave"])
    exact, bound = float64_tokens(checkpoint)
    assert_within_rounding(tokens, exact, bound, "the VAST branch's tokens (float32)")


def test_a_file_without_vast_audio_weights_is_named(tmp_path):
    from audioret.models import create_model

    path = tmp_path / "not-vast.pth"
    torch.save(FIXTURE["model"], path)
    with pytest.raises(CheckpointMismatchError, match=r"not-vast.pth holds no 'audio_encoder.\*' tensors"):
        create_model("vast-audio", checkpoint=path, config=FIXTURE["cfg"])
