"""CAV-MAE audio branch against the official code on a tiny random model saved as the releases are
(tests/fixtures/make_cavmae_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from audioret.models.audio.cavmae import CAVMAEAudio, audio_branch
from audioret.models.checkpoints import CheckpointMismatchError
from tolerances import assert_within_rounding, longest_reduction, rounding_bound

FIXTURE = torch.load(Path(__file__).parents[1] / "fixtures" / "cavmae_tiny.pt", weights_only=True)
TINY = dict(embed_dim=32, specific_depth=10, shared_depth=2, num_heads=4)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "cav-mae-tiny.pth"
    torch.save(FIXTURE["model"], path)
    return path


def test_audio_embeddings_match_the_official_code(checkpoint):
    encoder = CAVMAEAudio(checkpoint=checkpoint, **TINY).eval()
    waves = FIXTURE["waves"]  # 3 s (padded to 1024 frames) and 10.6 s (cut to 1024 frames)
    batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    lengths = torch.tensor([len(w) for w in waves])
    with torch.no_grad():
        out = encoder(batch, lengths)
        first_alone = encoder(waves[0][None])
    reference = CAVMAEAudio(checkpoint=checkpoint, **TINY).eval()
    # Bound from a float64 run (tests/tolerances.py); the longest sums: layers, the FFT, attention over 512 patches.
    exact, bound = rounding_bound(lambda w: reference(w, lengths), (batch,), longest_reduction(reference, 512, 512),
                                  module=reference)
    assert_within_rounding(FIXTURE["features"], exact, bound, "the official code's embeddings (float32)")
    assert_within_rounding(out, exact, bound, "our embeddings (float32)")
    assert_within_rounding(first_alone[0], exact[0], bound[0], "the first clip alone")


def test_filter_keeps_exactly_the_audio_path():
    kept = audio_branch(FIXTURE["model"])
    assert not any(k.startswith(("module.", "blocks_v", "decoder", "patch_embed_v", "norm_v", "mask_token"))
                   for k in kept)
    # Shared blocks take the audio-specific norms; audio blocks keep the plain ones.
    assert torch.equal(kept["blocks_u.0.norm1.weight"], FIXTURE["model"]["module.blocks_u.0.norm1_a.weight"])
    assert torch.equal(kept["blocks_a.3.norm2.bias"], FIXTURE["model"]["module.blocks_a.3.norm2.bias"])


def test_checkpoint_for_another_depth_names_the_difference(checkpoint):
    with pytest.raises(CheckpointMismatchError, match=r"cav-mae-tiny.pth .*unknown key\(s\), first \['blocks_a.9"):
        CAVMAEAudio(checkpoint=checkpoint, embed_dim=32, specific_depth=9, shared_depth=2, num_heads=4)
