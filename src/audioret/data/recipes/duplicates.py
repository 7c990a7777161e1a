"""Near-duplicate recordings across packages, so that no training clip is a copy of a held-out one.

Games copy sounds from one another (the same freesound recording, re-encoded, trimmed, at another gain or
sample rate), so byte-identical checks are not enough. Two clips are near-duplicates when the waveform of
the shorter one, at a common rate, correlates with some stretch of the longer one:

    max over lags of  <short, long[lag : lag + n]> / (|short| |long[lag : lag + n]|)  >=  threshold

which is 1 for an exact copy whatever the gain, stays near 1 through lossy re-encoding and resampling, and is
near 0 for different recordings. Comparing every pair would take hours, so candidates come first from a
cheap fingerprint (the mean and spread of each clip's log band energies): only the few training clips most
like each held-out clip in it are correlated. A copy with a changed pitch or speed is not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from audioret.data.manifest import ManifestRecord
from audioret.utils.audio import load_audio
from audioret.utils.errors import AudioDecodeError
from audioret.utils.progress import progress_bar

RATE = 8_000  # copies of one recording still correlate here, and it is four times cheaper than 16 kHz
MAX_SECONDS = 20.0  # long ambiences are compared on their first 20 s
FRAME, BANDS = 256, 24
CANDIDATES = 10
THRESHOLD = 0.8
# Below half a second unrelated impulsive sounds (clicks, thuds) correlate as well as copies do, so shorter
# clips are left to the byte-identical check.
MIN_SECONDS = 0.5


@dataclass(frozen=True)
class Duplicate:
    kept: ManifestRecord  # the held-out clip
    dropped: ManifestRecord  # the training clip that copies it
    correlation: float


def fingerprint(wave: np.ndarray) -> np.ndarray:
    """Unit vector of the mean and standard deviation over frames of log energies in log-spaced bands."""
    frames = max(1, len(wave) // FRAME)
    spectrum = np.abs(np.fft.rfft(np.resize(wave, frames * FRAME).reshape(frames, FRAME), axis=1)) ** 2
    edges = np.unique(np.geomspace(1, spectrum.shape[1], BANDS + 1).astype(int))
    bands = np.log(np.add.reduceat(spectrum, edges[:-1], axis=1) + 1e-10)
    vector = np.concatenate([bands.mean(axis=0), bands.std(axis=0)])
    vector -= vector.mean()
    return vector / (np.linalg.norm(vector) + 1e-12)


def best_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Max over alignments of the normalised correlation of the shorter signal with a stretch of the longer."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    n, size = len(short), len(short) + len(long)
    spectrum = np.fft.rfft(long, size) * np.conj(np.fft.rfft(short, size))
    products = np.fft.irfft(spectrum, size)[: len(long) - n + 1]  # <short, long[lag : lag + n]>
    energy = np.concatenate([[0.0], np.cumsum(long.astype(np.float64) ** 2)])
    stretch = np.sqrt(np.maximum(energy[n:] - energy[:-n], 0.0))
    norm = np.linalg.norm(short) * stretch
    valid = norm > 1e-6 * (norm.max() + 1e-30)
    return float(np.max(products[valid] / norm[valid])) if valid.any() else 0.0


def find_near_duplicates(held_out: Sequence[ManifestRecord], train: Sequence[ManifestRecord],
                         threshold: float = THRESHOLD, workers: int = 8) -> list[Duplicate]:
    """Training clips that copy a held-out clip (each training clip listed once, with its best match)."""
    waves = _decode([*held_out, *train], workers)
    prints = np.stack([fingerprint(w) for w in waves])
    held, trained = prints[: len(held_out)], prints[len(held_out) :]
    found: dict[int, Duplicate] = {}
    for i, record in enumerate(held_out):
        if len(waves[i]) < MIN_SECONDS * RATE:
            continue
        for j in np.argsort(-(trained @ held[i]))[:CANDIDATES]:
            if len(waves[len(held_out) + j]) < MIN_SECONDS * RATE:
                continue
            score = best_correlation(waves[i], waves[len(held_out) + j])
            if score >= threshold and (j not in found or score > found[j].correlation):
                found[j] = Duplicate(record, train[j], score)
    return [found[j] for j in sorted(found)]


def _decode(records: Sequence[ManifestRecord], workers: int) -> list[np.ndarray]:
    def read(record: ManifestRecord) -> np.ndarray:
        try:
            wave = load_audio(record.audio, RATE)[: int(MAX_SECONDS * RATE)]
        except AudioDecodeError:
            return np.zeros(FRAME, np.float32)  # already reported by the probe; matches nothing
        return wave - wave.mean() if len(wave) else np.zeros(FRAME, np.float32)

    with progress_bar() as progress, ThreadPoolExecutor(workers) as pool:
        task = progress.add_task("near-duplicates: decoding", total=len(records))
        waves = []
        for wave in pool.map(read, records):
            waves.append(wave)
            progress.advance(task)
    return waves
