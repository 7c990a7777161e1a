"""A training-free text-to-audio baseline: YAMNet's AudioSet class posteriors, read through the
similarity of the query to each class name.

    score(query, clip) = sum_c w(query, c) * p(c | clip)
    w(query, .) = softmax over the 521 classes of cos(MiniLM(query), MiniLM(class name)) / tau
    p(c | clip) = mean over the clip's 0.96 s patches of sigmoid(YAMNet logit c)

YAMNet, its front end and where its weights come from: models/audio/yamnet.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from audioret.models import AudioTextModel
from audioret.models.audio.yamnet import SAMPLE_RATE, Yamnet
from audioret.utils.audio import load_audio


class YamnetLabelBaseline:
    """Training-free retrieval through YAMNet's class names (see the module docstring)."""

    def __init__(self, text_model: AudioTextModel, tau: float = 0.05):
        self.yamnet, self.text_model, self.tau = Yamnet(), text_model.eval(), tau
        self.class_vectors = self._text_vectors(self.yamnet.class_names)

    def _text_vectors(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(self.text_model.text_features(list(texts)), dim=-1)

    def clip_posteriors(self, paths: Sequence[str | Path]) -> np.ndarray:
        return np.stack([self.yamnet.posteriors(load_audio(p, SAMPLE_RATE)) for p in paths])

    def score(self, queries: Sequence[str], posteriors: np.ndarray) -> np.ndarray:
        """[n_queries, n_clips] scores from precomputed `clip_posteriors`."""
        weights = torch.softmax(self._text_vectors(queries) @ self.class_vectors.T / self.tau, dim=1)
        return weights.numpy() @ posteriors.T
