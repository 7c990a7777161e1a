"""Near-duplicate detection between held-out and training clips (data/recipes/duplicates.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.duplicates import best_correlation, find_near_duplicates


def brute_force_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The definition, one alignment at a time in float64."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    short = short.astype(np.float64)
    best = 0.0
    for lag in range(len(long) - len(short) + 1):
        stretch = long[lag : lag + len(short)].astype(np.float64)
        norm = np.linalg.norm(short) * np.linalg.norm(stretch)
        if norm > 0:
            best = max(best, float(short @ stretch / norm))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlation_matches_the_definition(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(300), rng.standard_normal(700)
    b[200:500] += 0.7 * a  # a partly hidden copy, so the maximum is well above the noise
    # The FFT route rounds each product by about u log2(N) |a| |b| (~1e-13 of these values), the loop by less.
    assert best_correlation(a, b) == pytest.approx(brute_force_correlation(a, b), abs=1e-9)
    assert best_correlation(b, a) == pytest.approx(best_correlation(a, b), abs=1e-12)


def test_a_scaled_shifted_copy_correlates_fully_and_noise_does_not():
    rng = np.random.default_rng(3)
    clip = rng.standard_normal(4000)
    longer = np.concatenate([np.zeros(1234), 0.25 * clip, rng.standard_normal(500)])
    assert best_correlation(clip, longer) == pytest.approx(1.0, abs=1e-9)
    assert best_correlation(clip, rng.standard_normal(8000)) < 0.1


def record(path: Path, split: str) -> ManifestRecord:
    return ManifestRecord(id=path.name, audio=str(path), captions=["x"], dataset="sfx", split=split)


def test_finds_a_reencoded_copy_among_other_recordings(tmp_path):
    rng = np.random.default_rng(4)
    rate = 22_050

    def sound(seconds: float) -> np.ndarray:  # decaying noise bursts, like an effect
        n = int(seconds * rate)
        return (rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * rate))).astype(np.float32) * 0.5

    original = sound(1.5)
    held = tmp_path / "held.wav"
    sf.write(held, original, rate)
    # The copy another package ships: resampled to 44.1 kHz, quieter, with silence before it and faint noise.
    copy = np.concatenate([np.zeros(8000, np.float32), 0.4 * soxr.resample(original, rate, 44_100)])
    copy += 0.005 * rng.standard_normal(len(copy)).astype(np.float32)
    sf.write(tmp_path / "copy.ogg", copy, 44_100, format="OGG")
    others = []
    for i in range(6):
        sf.write(tmp_path / f"other{i}.wav", sound(1.0 + 0.2 * i), rate)
        others.append(record(tmp_path / f"other{i}.wav", "train"))
    train = [*others[:3], record(tmp_path / "copy.ogg", "train"), *others[3:]]
    found = find_near_duplicates([record(held, "dev")], train, workers=2)
    assert [(d.kept.id, d.dropped.id) for d in found] == [("held.wav", "copy.ogg")]
