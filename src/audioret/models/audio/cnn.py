"""A small log-mel CNN for CPU experiments and tests (about 1.2 M parameters at the default width)."""

from __future__ import annotations

import torch
from torch import nn

from audioret.models.audio.base import AudioEncoder
from audioret.models.audio.frontend import kaldi_mel_banks
from audioret.models.registry import register_model


class ConvBlock(nn.Sequential):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__(
            nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.AvgPool2d(2),
        )


class SmallCNN(AudioEncoder):
    """16 kHz waveform -> 64-bin log-mel -> four conv blocks -> mean+max pooling over time.

    Args:
        widths: channels of the four blocks; output_dim is the last.
        n_mels: mel bands.
        window_seconds: clip length used in training and for splitting long audio.
        hop: STFT hop in samples (160 = 10 ms); a longer hop trades time resolution for speed.
    """

    sample_rate = 16_000

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), n_mels: int = 64, window_seconds: float = 10.0,
                 hop: int = 160):
        super().__init__()
        self.window_seconds = window_seconds
        self.output_dim = widths[-1]
        self.n_fft, self.hop = 512, hop
        self.register_buffer("window", torch.hann_window(400), persistent=False)
        self.register_buffer("banks", kaldi_mel_banks(n_mels, self.n_fft, self.sample_rate, 20.0, 0.0),
                             persistent=False)
        self.input_norm = nn.BatchNorm2d(1)
        channels = (1, *widths)
        self.blocks = nn.Sequential(*[ConvBlock(a, b) for a, b in zip(channels, channels[1:], strict=False)])

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waveform, self.n_fft, hop_length=self.hop, win_length=400, window=self.window,
                          center=True, return_complex=True)
        return torch.log(self.banks @ (spec.real.pow(2) + spec.imag.pow(2)) + 1e-6)  # [B, mels, frames]

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.input_norm(self.log_mel(waveform).unsqueeze(1)))  # [B, C, mels', frames']
        x = x.mean(dim=2)
        return x.mean(dim=-1) + x.amax(dim=-1)


@register_model("cnn-small", "audio")
def cnn_small(**cfg) -> SmallCNN:
    """The small CNN (widths 32-256, 256-d output)."""
    return SmallCNN(**cfg)


@register_model("cnn-tiny", "audio")
def cnn_tiny(**cfg) -> SmallCNN:
    """A tiny CNN for unit tests (widths 4-32, 32-d output)."""
    return SmallCNN(**{"widths": (4, 8, 16, 32), "n_mels": 32, **cfg})
