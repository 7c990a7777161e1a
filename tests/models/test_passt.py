"""PaSST: our module against the official hear21passt model given the same random weights, and the
published checkpoint layout loading strictly."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from audioret.models.audio.passt import PaSST
from audioret.models.checkpoints import CheckpointMismatchError
from tolerances import assert_within_rounding, longest_reduction, rounding_bound

pytestmark = pytest.mark.filterwarnings("ignore:Input image size:UserWarning")  # hear21passt, short input

TINY = dict(embed_dim=32, depth=2, num_heads=4, n_frames=200)


def official_passt_class():
    """hear21passt's PaSST. Its helpers import timm's downloader at module level; random weights never
    download, so a stub that refuses stands in (timm is not a dependency of audioret)."""
    if "timm.models._hub" not in sys.modules:
        hub = types.ModuleType("timm.models._hub")

        def refuse(*args, **kwargs):
            raise RuntimeError("tests never download")

        hub.download_cached_file = refuse
        sys.modules.setdefault("timm", types.ModuleType("timm"))
        sys.modules.setdefault("timm.models", types.ModuleType("timm.models"))
        sys.modules["timm.models._hub"] = hub
    from hear21passt.models import passt as official

    official.first_RUN = False  # silence its debug prints
    return official.PaSST


def official_and_ours(stride: int):
    torch.manual_seed(0)
    official = official_passt_class()(img_size=(128, TINY["n_frames"]), stride=stride, embed_dim=TINY["embed_dim"],
                                      depth=TINY["depth"], num_heads=TINY["num_heads"], distilled=True,
                                      num_classes=527)
    # Random, non-zero values everywhere (the official init leaves position embeddings at zero).
    with torch.no_grad():
        for p in official.parameters():
            p.normal_(0, 0.1)
    ours = PaSST(stride=stride, **TINY)
    state = {k: v for k, v in official.state_dict().items() if not k.startswith(("head.", "head_dist."))}
    ours.load_state_dict(state, strict=True)
    return official, ours


@pytest.mark.parametrize("stride", [16, 10])
def test_same_outputs_as_official_in_eval(stride):
    official, ours = official_and_ours(stride)
    mel = torch.randn(3, 128, TINY["n_frames"])
    short = mel[..., :120]  # shorter input: time positions are cut, as in the official model
    with torch.no_grad():
        for x in (mel, short):
            _, features = official.eval()(x.unsqueeze(1))
            ours_float32 = ours.float().eval().forward_mel(x)
            # Both against our float64 run, within float32 rounding (tests/tolerances.py).
            exact, bound = rounding_bound(ours.forward_mel, (x,), longest_reduction(ours, x.shape[-1]), module=ours)
            assert_within_rounding(features, exact, bound, "the official PaSST (float32)")
            assert_within_rounding(ours_float32, exact, bound, "our PaSST (float32)")


def test_same_structured_patchout_as_official_under_the_same_seed():
    official, ours = official_and_ours(16)
    official.s_patchout_t, official.s_patchout_f = 5, 2
    ours.patchout_time, ours.patchout_freq = 5, 2
    mel = torch.randn(2, 128, TINY["n_frames"])
    with torch.no_grad():
        torch.manual_seed(42)
        _, features = official.train()(mel.unsqueeze(1))
        torch.manual_seed(43)
        other_subset = ours.train().forward_mel(mel)

        def same_seed(x):
            torch.manual_seed(42)
            return ours.forward_mel(x)

        exact, bound = rounding_bound(same_seed, (mel,), longest_reduction(ours, mel.shape[-1]), module=ours)
    assert_within_rounding(features, exact, bound, "the official Patchout (float32)")
    assert np.abs(other_subset.numpy() - exact).max() > 100 * bound.max()  # a different patch subset


def test_published_checkpoint_layout_loads_strictly(tmp_path):
    official, _ = official_and_ours(16)
    path = tmp_path / "passt-s-f128-p16-s16-ap.468.pt"
    torch.save(official.state_dict(), path)  # the release files are plain state dicts with heads
    loaded = PaSST(stride=16, checkpoint=path, **TINY)
    assert torch.equal(loaded.blocks[1].attn.qkv.weight, official.blocks[1].attn.qkv.weight)


def test_checkpoint_of_another_variant_names_file_and_keys(tmp_path):
    official, _ = official_and_ours(10)
    path = tmp_path / "passt-s-kd-p16-128-ap486.pt"
    torch.save(official.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match=r"passt-s-kd-p16-128-ap486.pt .*shape mismatch.*freq_new_pos"):
        PaSST(stride=16, checkpoint=path, **TINY)


def test_too_long_input_is_refused():
    _, ours = official_and_ours(16)
    with pytest.raises(ValueError, match="split the audio"):
        ours.eval().forward_mel(torch.randn(1, 128, 400))
