"""A simple retrieval baseline that needs no neural network: audio nearest-neighbour caption transfer.

Each clip is described by hand-made spectral statistics (log band energies over time, their
change, and how loudness evolves). A test clip borrows the captions of its K nearest training
clips; a query is scored against a clip by the TF-IDF cosine between the query and the borrowed
captions, weighted by neighbour similarity. It is the reference point that `make demo` reports
until a trained model exists, and the floor any learned model has to beat on the synth corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from audioret.data.manifest import ManifestRecord
from audioret.data.text import normalize_caption
from audioret.utils.audio import load_audio

FEATURE_RATE = 16_000
N_FFT = 512
HOP = 256
N_BANDS = 32


def audio_features(wave: np.ndarray) -> np.ndarray:
    """A fixed-size description of a clip: band-energy means/stds per half, flux, loudness shape."""
    wave = np.pad(wave, (0, max(0, N_FFT - len(wave))))
    frames = np.lib.stride_tricks.sliding_window_view(wave, N_FFT)[::HOP] * np.hanning(N_FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    edges = np.unique(np.geomspace(2, power.shape[1] - 1, N_BANDS + 1).astype(int))
    bands = np.log(np.add.reduceat(power, edges[:-1], axis=1) + 1e-8)
    half = max(1, len(bands) // 2)
    loudness = bands.max(axis=1)
    thirds = [part.mean() for part in np.array_split(loudness, 3)]
    flux = np.abs(np.diff(bands, axis=0)).mean(axis=1) if len(bands) > 1 else np.zeros(1)
    return np.concatenate([
        bands[:half].mean(0), bands[half:].mean(0) if len(bands) > half else bands[:half].mean(0),
        bands.std(0), [flux.mean(), flux.std(), np.percentile(flux, 90)],
        np.array(thirds) - np.mean(thirds), [loudness.max()],
    ])


def clip_features(records: Sequence[ManifestRecord]) -> np.ndarray:
    return np.stack([audio_features(load_audio(r.audio, FEATURE_RATE)) for r in records])


class CaptionTransferBaseline:
    """Fit on training clips with captions, then score text queries against new clips.

    Example:
        >>> baseline = CaptionTransferBaseline().fit(train_records)
        >>> scores = baseline.score(["three short beeps"], eval_records)   # [1, n_eval]
    """

    def __init__(self, neighbours: int = 10):
        self.neighbours = neighbours

    def fit(self, records: Sequence[ManifestRecord], features: np.ndarray | None = None) -> CaptionTransferBaseline:
        feats = clip_features(records) if features is None else features
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-6
        self.train = self._unit((feats - self.mean) / self.std)
        docs = [" ".join(normalize_caption(c) for c in r.captions) for r in records]
        counts = [Counter(_terms(d)) for d in docs]
        df = Counter(t for c in counts for t in c)
        self.vocab = {t: i for i, t in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + len(docs)) / (1 + df[t])) + 1 for t in sorted(df)])
        self.train_text = np.stack([self._tfidf(c) for c in counts])
        return self

    def score(self, queries: Sequence[str], records: Sequence[ManifestRecord],
              features: np.ndarray | None = None) -> np.ndarray:
        """Cosine scores [n_queries, n_clips]."""
        feats = clip_features(records) if features is None else features
        audio = self._unit((feats - self.mean) / self.std)
        similarity = audio @ self.train.T
        k = min(self.neighbours, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.maximum(np.take_along_axis(similarity, nearest, axis=1), 0.0)
        clip_text = self._unit(np.einsum("ck,ckv->cv", weights, self.train_text[nearest]))
        query_text = np.stack([self._tfidf(Counter(_terms(normalize_caption(q)))) for q in queries])
        return query_text @ clip_text.T

    def _tfidf(self, counts: Counter) -> np.ndarray:
        vector = np.zeros(len(self.vocab))
        for term, n in counts.items():
            if term in self.vocab:
                vector[self.vocab[term]] = n
        return self._unit(vector * self.idf)

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _terms(text: str) -> list[str]:
    """Words and word bigrams: bigrams keep some order ("then a", "slow ticking")."""
    words = text.split()
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
