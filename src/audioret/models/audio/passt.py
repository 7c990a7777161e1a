"""PaSST-S (Koutini et al., 2022): a ViT over log-mel patches with separate time/frequency
positional encodings and structured Patchout, as used by the paper's best single model.

Parameter names follow the official implementation so that the published AudioSet checkpoints
(`passt-s-f128-p16-s16-ap.468.pt`, `passt-s-swa-p16-128-ap476.pt`, `passt-s-kd-p16-128-ap486.pt`)
load with a strict key check; only the AudioSet classifier heads are dropped. The clip embedding is
the mean of the final CLS and distillation tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from audioret.models.audio.base import AudioEncoder
from audioret.models.audio.frontend import PasstMel
from audioret.models.audio.vit import Block, init_vit_weights
from audioret.models.checkpoints import filter_keys, load_state_dict_strict, read_checkpoint
from audioret.models.registry import register_model

#: Published variants: patch stride (frequency and time) and the release file to pass as `checkpoint`.
VARIANTS = {
    "passt-s-s16": (16, "passt-s-f128-p16-s16-ap.468.pt"),
    "passt-s-s10-ap476": (10, "passt-s-swa-p16-128-ap476.pt"),
    "passt-s-s10-ap486": (10, "passt-s-kd-p16-128-ap486.pt"),
}
CLASSIFIER_PREFIXES = ("head.", "head_dist.")


class PatchEmbed(nn.Module):
    def __init__(self, embed_dim: int, patch: int, stride: int):
        super().__init__()
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=patch, stride=stride)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.proj(mel)  # [B, E, F', T']


class PaSST(AudioEncoder):
    """PaSST-S audio encoder with its own front end (32 kHz waveform in, 768-d clip embedding out).

    Args:
        stride: patch stride in both axes (16 for the s16 model, 10 for the others).
        checkpoint: path of a published checkpoint; None keeps random weights.
        patchout_freq, patchout_time: rows and columns of the patch grid dropped while training.
        embed_dim, depth, num_heads, n_mels, n_frames: architecture (defaults: PaSST-S, 10 s input).

    Example:
        >>> encoder = PaSST(stride=16, checkpoint="weights/passt-s-f128-p16-s16-ap.468.pt")
        >>> encoder(torch.zeros(2, 320_000)).shape
        torch.Size([2, 768])
    """

    sample_rate = 32_000

    def __init__(self, stride: int = 16, checkpoint: str | Path | None = None, patchout_freq: int = 2,
                 patchout_time: int = 15, embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, n_mels: int = 128, n_frames: int = 998, patch: int = 16,
                 dropout: float = 0.0):
        super().__init__()
        self.output_dim = embed_dim
        self.patchout_freq, self.patchout_time = patchout_freq, patchout_time
        self.frontend = PasstMel(sample_rate=self.sample_rate, n_mels=n_mels)
        self.patch_embed = PatchEmbed(embed_dim, patch, stride)
        grid = (n_mels // stride, n_frames // stride)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, embed_dim))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, grid[0], 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, 1, grid[1]))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, dropout, eps=1e-6) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        init_vit_weights(self, self.cls_token, self.dist_token, self.new_pos_embed, self.freq_new_pos_embed,
                         self.time_new_pos_embed)
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)

    def load_checkpoint(self, path: str | Path) -> None:
        """Load a published PaSST checkpoint (AudioSet classifier heads are dropped)."""
        state = read_checkpoint(path, "PaSST checkpoint",
                                "download it from the PaSST GitHub releases and pass its path")
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        state = filter_keys(state, drop=lambda k: k.startswith(CLASSIFIER_PREFIXES))
        load_state_dict_strict(self, state, path)

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        # Zero padding is part of PaSST's training input (clips padded to 10 s), so it is kept.
        return self.forward_mel(self.frontend(waveform))

    def forward_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """[batch, n_mels, frames] -> [batch, embed_dim]: mean of the CLS and distillation outputs."""
        x = self.patch_embed(mel.unsqueeze(1))
        n_time = x.shape[-1]
        if n_time > self.time_new_pos_embed.shape[-1]:
            raise ValueError(f"{mel.shape[-1]} frames give {n_time} time patches, more than the "
                             f"{self.time_new_pos_embed.shape[-1]} this model has positions for; split the audio")
        x = x + self.time_new_pos_embed[..., :n_time] + self.freq_new_pos_embed
        if self.training:
            x = self._structured_patchout(x)
        x = x.flatten(2).transpose(1, 2)
        batch = x.shape[0]
        cls = self.cls_token.expand(batch, -1, -1) + self.new_pos_embed[:, :1]
        dist = self.dist_token.expand(batch, -1, -1) + self.new_pos_embed[:, 1:]
        x = self.norm(self.blocks(torch.cat([cls, dist, x], dim=1)))
        return (x[:, 0] + x[:, 1]) / 2

    def _structured_patchout(self, x: torch.Tensor) -> torch.Tensor:
        # Time columns first, then frequency rows, each a sorted random subset (the official order,
        # so that the same torch seed drops the same patches).
        _, _, n_freq, n_time = x.shape
        if self.patchout_time:
            x = x[..., torch.randperm(n_time)[: n_time - self.patchout_time].sort().values]
        if self.patchout_freq:
            x = x[:, :, torch.randperm(n_freq)[: n_freq - self.patchout_freq].sort().values, :]
        return x


def _factory(variant: str):
    stride, _ = VARIANTS[variant]

    def build(**cfg) -> PaSST:
        return PaSST(**{"stride": stride, **cfg})

    build.__doc__ = f"PaSST-S, patch stride {stride} (checkpoint {VARIANTS[variant][1]})."
    return build


for _name in VARIANTS:
    register_model(_name, "audio")(_factory(_name))
