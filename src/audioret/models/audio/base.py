"""The interface every audio encoder implements."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from audioret.utils.errors import AudioretError


class AudioEncoder(nn.Module):
    """Maps a batch of mono waveforms at `sample_rate` to clip embeddings of size `output_dim`.

    Subclasses set `sample_rate` and `output_dim`; `window_seconds` is the clip length the encoder
    was trained on (longer audio is split into windows of that length by `AudioTextModel`).
    """

    sample_rate: int = 16_000
    output_dim: int = 0
    window_seconds: float = 10.0

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        """[batch, samples] -> [batch, output_dim].

        `valid_samples` [batch] says how many leading samples of each row are real audio (the rest is
        zero padding); encoders that can pool over real audio only use it, others may ignore it.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    @staticmethod
    def real_audio(waveform: torch.Tensor, valid_samples: torch.Tensor | None) -> list[np.ndarray]:
        """Each row's real audio (its padding cut off) as float32 numpy, for encoders that run outside torch."""
        rows = list(waveform.detach().float().cpu().numpy())
        if valid_samples is None:
            return rows
        return [row[: int(n)] for row, n in zip(rows, valid_samples, strict=True)]

    def class_posteriors(self) -> tuple[tuple[int, int], list[str]]:
        """(start, stop) of the class posteriors in the output and the classes' names, for encoders that
        classify (YAMNet); a model's prior reads them."""
        raise AudioretError(f"{type(self).__name__} reports no class posteriors, which a model's prior needs")

    def prepare_for_inference(self, dtype: torch.dtype | None = None) -> None:
        """Rewrite the module for faster evaluation where that changes nothing but float rounding; after it the
        module is for eval mode only (no training). Called by `load_model_folder`; most encoders keep theirs.

        `dtype` is the precision the heavy layers may compute in (`utils.numeric.inference_dtype`; None keeps
        the module's); an encoder takes bfloat16 only where its outputs stay within 1e-3 cosine of float32,
        and ignores it otherwise."""

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))
