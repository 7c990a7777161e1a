"""The interface every audio encoder implements."""

from __future__ import annotations

import torch
from torch import nn


class AudioEncoder(nn.Module):
    """Maps a batch of mono waveforms at `sample_rate` to clip embeddings of size `output_dim`.

    Subclasses set `sample_rate` and `output_dim`; `window_seconds` is the clip length the encoder
    was trained on (longer audio is split into windows of that length by `AudioTextModel`).
    """

    sample_rate: int = 16_000
    output_dim: int = 0
    window_seconds: float = 10.0

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))
