"""Several frozen audio encoders side by side: their clip features, concatenated.

The default model hears a clip through aiSFX (trained on sound-effect libraries) and YAMNet (trained on
AudioSet's everyday sounds); one linear head reads both. The waveform arrives at the first member's
sample rate and window length; every other member gets each clip's real audio resampled to its own rate.

Example:
    >>> encoder = create_encoder("stack", encoders=[{"name": "aisfx", "pretrained": True}, {"name": "yamnet"}])
    >>> encoder.output_dim  # 512 + 1024 + 521
    2057
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from audioret.models.audio.base import AudioEncoder
from audioret.models.registry import create_encoder, encoder_kind, register_model
from audioret.utils.audio import resample
from audioret.utils.errors import AudioretError


class StackedEncoder(AudioEncoder):
    """Concatenated features of `encoders` (a list of encoder configs, each {"name": ..., **options})."""

    def __init__(self, encoders: list[dict[str, Any]]):
        super().__init__()
        if not encoders:
            raise AudioretError("a 'stack' encoder needs at least one member in 'encoders'")
        for config in encoders:
            if encoder_kind(config["name"]) != "audio":
                raise AudioretError(f"{config['name']!r} is not an audio encoder and cannot be stacked")
        self.members = nn.ModuleList(create_encoder(**config) for config in encoders)
        self.sample_rate = self.members[0].sample_rate
        self.window_seconds = self.members[0].window_seconds
        self.output_dim = sum(m.output_dim for m in self.members)

    def offsets(self) -> list[int]:
        """Where each member's features start in the output."""
        return np.cumsum([0] + [m.output_dim for m in self.members])[:-1].tolist()

    def class_posteriors(self) -> tuple[tuple[int, int], list[str]]:
        """The first member that reports class posteriors, with its span shifted to this output."""
        for member, offset in zip(self.members, self.offsets(), strict=True):
            try:
                (start, stop), names = member.class_posteriors()
            except AudioretError:
                continue
            return (offset + start, offset + stop), names
        raise AudioretError("a prior needs class posteriors, and no stacked encoder reports them (add yamnet)")

    def prepare_for_inference(self, dtype: torch.dtype | None = None) -> None:
        for member in self.members:
            member.prepare_for_inference(dtype)

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        outputs = []
        for member in self.members:
            if member.sample_rate == self.sample_rate:
                outputs.append(member(waveform, valid_samples))
            else:
                outputs.append(member(*self._resampled(waveform, valid_samples, member.sample_rate)))
        return torch.cat([o.float() for o in outputs], dim=1)

    def _resampled(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None,
                   rate: int) -> tuple[torch.Tensor, torch.Tensor]:
        converted = [resample(wave, self.sample_rate, rate) for wave in self.real_audio(waveform, valid_samples)]
        batch = np.zeros((len(converted), max(len(c) for c in converted)), np.float32)
        for row, wave in zip(batch, converted, strict=True):
            row[: len(wave)] = wave
        device = waveform.device
        return torch.from_numpy(batch).to(device), torch.tensor([len(c) for c in converted], device=device)


@register_model("stack", "audio")
def stack(**cfg) -> StackedEncoder:
    """Frozen encoders side by side (see models/audio/stack.py)."""
    return StackedEncoder(**cfg)
