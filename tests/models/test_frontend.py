"""Front ends against reference outputs of the official code (tests/fixtures/make_frontend_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.frontend import PasstMel, kaldi_fbank, kaldi_mel_banks

FIXTURES = np.load(Path(__file__).parents[1] / "fixtures" / "frontends.npz")


def test_passt_mel_matches_official():
    ours = PasstMel()(torch.from_numpy(FIXTURES["x32"])[None])[0].numpy()
    ref = FIXTURES["passt_mel"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_passt_mel_is_the_same_in_training_mode():
    mel = PasstMel()
    x = torch.from_numpy(FIXTURES["x32"])[None]
    assert torch.equal(mel.train()(x), mel.eval()(x))


def test_beats_fbank_matches_torchaudio_kaldi():
    x = torch.from_numpy(FIXTURES["x16"])
    ours = kaldi_fbank(x * 2**15, num_mel_bins=128).numpy()
    np.testing.assert_allclose(ours, FIXTURES["beats_fbank"], atol=1e-4)


def test_cavmae_fbank_matches_torchaudio_kaldi():
    x = torch.from_numpy(FIXTURES["x16"])
    ours = kaldi_fbank(x - x.mean(), num_mel_bins=128, window="hanning").numpy()
    np.testing.assert_allclose(ours, FIXTURES["cavmae_fbank"], atol=1e-4)


def test_fbank_batches_like_single_clips():
    x = torch.from_numpy(FIXTURES["x16"])
    batch = torch.stack([x, 0.5 * x])
    out = kaldi_fbank(batch)
    assert torch.allclose(out[1], kaldi_fbank(0.5 * x), atol=1e-5)


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
