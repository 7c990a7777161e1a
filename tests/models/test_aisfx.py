"""aiSFX with the weights the aisfx package ships, against that package's own outputs (its Essentia
front end and model) on the same audio (tests/fixtures/make_aisfx_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.aisfx import FRAME, HOP, SPEC_MAX, Aisfx, package_checkpoint
from audioret.models.checkpoints import CheckpointMismatchError
from fixtures.aisfx_signals import signals
from tolerances import (
    U32,
    assert_within_rounding,
    bank_condition,
    filterbank_energy_bound,
    frame_norms,
    longest_reduction,
    rounding_bound,
)

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
    exact_spec, spec_bound = spectrogram_bound(signals()[name].astype(np.float64))
    assert_within_rounding(REFERENCE[f"{name}_spec"], exact_spec, spec_bound, "the package's spectrogram")
    assert_within_rounding(spec, exact_spec, spec_bound, "our spectrogram (float32)")
    exact, bound = float64_blocks(wave)
    assert_within_rounding(REFERENCE[f"{name}_blocks"], exact, bound, "the package's block embeddings")
    assert_within_rounding(blocks, exact, bound, "our block embeddings (float32)")


def spectrogram_bound(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 aiSFX spectrogram and the float32 rounding bound of each element (tests/tolerances.py)."""
    reference = Aisfx().double()
    exact = reference.spectrogram(torch.from_numpy(wave)).numpy()
    n_frames = len(exact)
    padded = np.pad(wave, (HOP, n_frames * HOP + FRAME - len(wave) - HOP))
    energies = (10 ** (exact * SPEC_MAX) - 1) / 1e4
    mel_high = 2595.0 * np.log10(1.0 + 22_050.0 / 700.0)
    energy_error = filterbank_energy_bound(frame_norms(padded, FRAME, HOP)[:n_frames], energies,
                                           reference.banks.numpy(), FRAME, 2, bank_condition(0.0, mel_high, 96))
    # log10(1 + 1e4 E) / max: the log's slope at the low end of the interval, then three roundings.
    slope = 1e4 / (np.log(10) * SPEC_MAX * (1 + 1e4 * np.maximum(energies - energy_error, 0)))
    return exact, slope * energy_error + 3 * U32 * np.abs(exact)


def float64_blocks(wave: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    reference = Aisfx(pretrained=True).eval()
    return rounding_bound(reference.block_embeddings, (wave,), longest_reduction(reference, FRAME), module=reference)


def test_clip_embedding_is_the_mean_of_blocks_and_ignores_padding(pretrained):
    waves = signals()
    batch = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waves.values()], batch_first=True)
    with torch.no_grad():
        out = pretrained(batch, torch.tensor([len(w) for w in waves.values()])).numpy()
    for row, wave in zip(out, waves.values(), strict=True):
        exact, bound = float64_blocks(torch.from_numpy(wave))
        assert_within_rounding(row, exact.mean(0), bound.mean(0), "a clip embedding")  # a mean keeps the bound


def test_the_package_checkpoint_holds_classifiers_that_are_dropped(tmp_path):
    weights, table = torch.load(package_checkpoint(), map_location="cpu", weights_only=False)
    assert any(k.startswith("fc.") for k in weights) and len(table) == 9
    broken = dict(weights)
    del broken["embedding_net.conv_block4.bn2.running_var"]
    path = tmp_path / "aisfx-broken.pth"
    torch.save((broken, table), path)
    with pytest.raises(CheckpointMismatchError, match=r"aisfx-broken.pth .*conv_block4.bn2.running_var"):
        Aisfx(checkpoint=path)


def test_inference_preparation_folds_batchnorm_into_the_same_function():
    """In float64 the folded CNN must equal the original to rounding (the fold is exact algebra); BatchNorm
    statistics far from (0, 1) make a wrong fold show."""
    torch.manual_seed(0)
    encoder = Aisfx(width=8).double()
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.2, 3)
            module.weight.data.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    encoder.eval()
    spec = torch.rand(3, 100, 96, dtype=torch.float64)
    with torch.no_grad():
        before = encoder.embedding_net(spec)
        encoder.prepare_for_inference()
        after = encoder.embedding_net(spec)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    np.testing.assert_allclose(after.numpy(), before.numpy(), rtol=1e-10, atol=1e-12 * before.abs().max().item())
    with pytest.raises(RuntimeError, match="eval mode"):
        Aisfx(width=8).train().prepare_for_inference()


def test_bfloat16_inference_stays_within_the_contract_of_float32():
    """`prepare_for_inference(torch.bfloat16)` (what `--precision auto` picks on a CPU with native bfloat16)
    computes the CNN in bfloat16: every weight and activation is stored with 8 significant bits (relative
    rounding up to u = 2^-8, sums still accumulate in float32). If each of the 16 roundings (weights and input
    of 8 convolutions) passes on a relative error u, they add up to about u sqrt(16) = 1.6e-2, and an error
    that size orthogonal to the embedding costs 1 - cosine = 1.2e-4 (about 2e-5 on these signals). What is
    asserted is the contract of a faster inference path, 1 - cosine <= 1e-3 against exact (float64) results."""
    fast = Aisfx(pretrained=True).eval()
    fast.prepare_for_inference(torch.bfloat16)
    assert fast.embedding_net.conv_block4.conv2.weight.dtype == torch.bfloat16
    waves = signals()
    batch = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waves.values()], batch_first=True)
    with torch.no_grad():
        out = fast(batch, torch.tensor([len(w) for w in waves.values()]))
    assert out.dtype == torch.float32
    for row, wave in zip(out.double().numpy(), waves.values(), strict=True):
        exact = float64_blocks(torch.from_numpy(wave))[0].mean(0)
        cosine = row @ exact / (np.linalg.norm(row) * np.linalg.norm(exact))
        assert 1 - cosine <= 1e-3, f"bfloat16 clip embedding: 1 - cosine = {1 - cosine:.2e}"
