"""Front ends against reference outputs of the official code (tests/fixtures/make_frontend_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.frontend import PasstMel, kaldi_fbank, kaldi_mel_banks
from tolerances import U32, assert_within_rounding, bank_condition, filterbank_energy_bound, frame_norms

FIXTURES = np.load(Path(__file__).parents[1] / "fixtures" / "frontends.npz")


def mel(hz: float) -> float:
    return 1127.0 * np.log1p(hz / 700.0)


def passt_bound(x64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 PaSST mel of a clip and the float32 rounding bound of each element."""
    exact = PasstMel().double()(torch.from_numpy(x64)[None])[0].numpy()  # [128, frames]
    emphasised = x64[1:] - 0.97 * x64[:-1]
    norms = frame_norms(np.pad(emphasised, 512, mode="reflect"), 1024, 320)
    shifted = np.exp(5 * exact - 4.5)  # E + 1e-5
    banks = PasstMel().banks.double().numpy()
    energy_error = filterbank_energy_bound(norms, (shifted - 1e-5).T, banks, 1024, 2,
                                           bank_condition(mel(0.0), mel(15_000.0), 128)).T
    # (log(E + 1e-5) + 4.5) / 5: the log's slope at the low end of the interval, then two roundings.
    return exact, energy_error / np.maximum(shifted - energy_error, 1e-5) / 5 + 2 * U32 * np.abs(exact)


def test_passt_mel_matches_official():
    exact, bound = passt_bound(FIXTURES["x32"].astype(np.float64))
    assert_within_rounding(FIXTURES["passt_mel"], exact, bound, "hear21passt's mel (float32)")
    assert_within_rounding(PasstMel()(torch.from_numpy(FIXTURES["x32"])[None])[0], exact, bound, "our mel")


def test_passt_mel_is_the_same_in_training_mode():
    mel_module = PasstMel()
    x = torch.from_numpy(FIXTURES["x32"])[None]
    assert torch.equal(mel_module.train()(x), mel_module.eval()(x))


def kaldi_bound(signal64: np.ndarray, window: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 Kaldi fbank of a signal and the float32 rounding bound of each element."""
    exact = kaldi_fbank(torch.from_numpy(signal64), num_mel_bins=128, window=window).numpy()
    banks = kaldi_mel_banks(128, 512, 16_000, 20.0, 0.0).double().numpy()
    energies = np.exp(exact)  # clamped at float32's epsilon, as both implementations clamp
    energy_error = filterbank_energy_bound(frame_norms(signal64, 400, 160), energies, banks, 512, 2,
                                           bank_condition(mel(20.0), mel(8000.0), 128), preemphasis=0.97)
    floor = float(np.finfo(np.float32).eps)
    # log(max(E, eps)): the log's slope at the low end of the interval, then the log's own rounding.
    return exact, energy_error / np.maximum(energies - energy_error, floor) + U32 * np.abs(exact)


@pytest.mark.parametrize(("fixture", "window", "prepare"), [
    ("beats_fbank", "povey", lambda x: x * 2**15),  # BEATs scales to int16 range
    ("cavmae_fbank", "hanning", lambda x: x - x.mean()),  # CAV-MAE removes the clip's mean
])
def test_kaldi_fbank_matches_torchaudio(fixture, window, prepare):
    signal = prepare(FIXTURES["x16"].astype(np.float64))
    exact, bound = kaldi_bound(signal, window)
    assert_within_rounding(FIXTURES[fixture], exact, bound, f"torchaudio's {fixture} (float32)")
    ours = kaldi_fbank(prepare(torch.from_numpy(FIXTURES["x16"])), num_mel_bins=128, window=window)
    assert_within_rounding(ours, exact, bound, f"our {fixture} (float32)")


def test_fbank_batches_like_single_clips():
    x = torch.from_numpy(FIXTURES["x16"])
    out = kaldi_fbank(torch.stack([x, 0.5 * x]))
    exact, bound = kaldi_bound(0.5 * FIXTURES["x16"].astype(np.float64), "povey")
    assert_within_rounding(out[1], exact, bound, "the second row of a batch")


def test_mel_banks_hand_checked_properties():
    banks = kaldi_mel_banks(10, 512, 16_000, 20.0, 0.0)
    assert banks.shape == (10, 257)
    assert torch.all(banks[:, -1] == 0)  # Nyquist column
    peaks = banks.argmax(dim=1)
    assert torch.all(peaks[1:] > peaks[:-1])  # centres rise with the band index
    # Band 0's centre lies one mel step above 20 Hz: mel(20) + (mel(8000) - mel(20)) / 11.
    mel = lambda f: 1127 * np.log1p(f / 700)  # noqa: E731
    centre_mel = mel(20.0) + (mel(8000.0) - mel(20.0)) / 11
    centre_hz = 700 * (np.exp(centre_mel / 1127) - 1)
    assert int(peaks[0]) == pytest.approx(centre_hz / (16_000 / 512), abs=1)
    with pytest.raises(ValueError, match="low_freq"):
        kaldi_mel_banks(10, 512, 16_000, 9000.0, 0.0)
