"""The audio branch of CAV-MAE (Gong et al., 2023), scale++ as in the paper: a ViT over 16x16
patches of a 1024-frame Kaldi fbank, 11 audio-specific blocks then 1 block shared with video.

Published checkpoints are DataParallel state dicts (keys prefixed `module.`) of the whole
audio-visual model; the filter keeps the audio path: the video branch, the MAE decoder and a
fine-tuned classifier are dropped, and in the shared blocks the audio-specific norms (`norm1_a`,
`norm2_a`) become the block's norms. The clip embedding is the mean of the final audio tokens.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audioret.models.audio.base import AudioEncoder
from audioret.models.audio.frontend import kaldi_fbank
from audioret.models.audio.vit import Block, init_vit_weights
from audioret.models.checkpoints import StateDict, filter_keys, load_state_dict_strict, read_checkpoint
from audioret.models.registry import register_model
from audioret.utils.numeric import at_least_float32

FBANK_MEAN, FBANK_STD = -5.081, 4.4849
AUDIO_PREFIXES = ("patch_embed_a.", "pos_embed_a", "modality_a", "blocks_a.", "blocks_u.", "norm_a.")


def audio_branch(state: StateDict) -> StateDict:
    """The audio-path tensors of a CAV-MAE checkpoint, renamed to this module's layout."""
    out = {}
    for key, value in filter_keys(state, strip_prefix="module.").items():
        if not key.startswith(AUDIO_PREFIXES):
            continue
        block = re.match(r"(blocks_[au])\.(\d+)\.(norm[12])(_[av])?\.(weight|bias)$", key)
        if block:
            group, index, norm, modality, kind = block.groups()
            # blocks_a run with the plain norms, blocks_u with the audio ones (modality 'a').
            wanted = None if group == "blocks_a" else "_a"
            if modality != wanted:
                continue
            key = f"{group}.{index}.{norm}.{kind}"
        out[key] = value
    return out


class CAVMAEAudio(AudioEncoder):
    """CAV-MAE audio encoder: 16 kHz waveform in, mean of 512 audio tokens (768-d) out.

    Args:
        checkpoint: a published CAV-MAE checkpoint (pretrained or fine-tuned, e.g. cav-mae-scale++.pth).
        specific_depth, shared_depth: audio-only blocks and blocks shared with video (11 + 1).

    Example:
        >>> encoder = CAVMAEAudio(checkpoint="weights/cav-mae-scale++.pth")
    """

    sample_rate = 16_000
    n_frames = 1024

    def __init__(self, checkpoint: str | Path | None = None, embed_dim: int = 768, specific_depth: int = 11,
                 shared_depth: int = 1, num_heads: int = 12, dropout: float = 0.0):
        super().__init__()
        self.output_dim = embed_dim
        self.patch_embed_a = nn.Module()
        self.patch_embed_a.proj = nn.Conv2d(1, embed_dim, kernel_size=16, stride=16)
        # Fixed sin-cos values in the release (not trained); kept as a frozen parameter to load them.
        self.pos_embed_a = nn.Parameter(torch.zeros(1, (128 // 16) * (self.n_frames // 16), embed_dim),
                                        requires_grad=False)
        self.modality_a = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.blocks_a = nn.ModuleList([Block(embed_dim, num_heads, dropout=dropout, eps=1e-5)
                                       for _ in range(specific_depth)])
        self.blocks_u = nn.ModuleList([Block(embed_dim, num_heads, dropout=dropout, eps=1e-5)
                                       for _ in range(shared_depth)])
        self.norm_a = nn.LayerNorm(embed_dim)
        init_vit_weights(self, self.pos_embed_a, self.modality_a)
        if checkpoint is not None:
            state = read_checkpoint(checkpoint, "CAV-MAE checkpoint",
                                    "download cav-mae-scale++.pth from the CAV-MAE repository and pass its path")
            load_state_dict_strict(self, audio_branch(state), checkpoint)

    def fbank(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        """[batch, samples] -> normalised [batch, 1024, 128], each clip as the official dataloader
        prepares it: mean removed, Hann-window fbank, zero-padded or cut to 1024 frames, normalised."""
        rows = []
        for i, wave in enumerate(at_least_float32(waveform)):
            if valid_samples is not None:
                wave = wave[: max(int(valid_samples[i]), 400)]
            fbank = kaldi_fbank(wave - wave.mean(), num_mel_bins=128, window="hanning")
            rows.append(nn.functional.pad(fbank, (0, 0, 0, max(0, self.n_frames - len(fbank))))[: self.n_frames])
        return (torch.stack(rows) - FBANK_MEAN) / FBANK_STD

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            fbank = self.fbank(waveform, valid_samples)
        x = self.patch_embed_a.proj(fbank.transpose(1, 2).unsqueeze(1).to(self.modality_a.dtype))
        x = x.flatten(2).transpose(1, 2) + self.pos_embed_a + self.modality_a
        for block in (*self.blocks_a, *self.blocks_u):
            x = block(x)
        return self.norm_a(x).mean(dim=1)


@register_model("cav-mae", "audio")
def cav_mae(**cfg: Any) -> CAVMAEAudio:
    """CAV-MAE scale++ audio branch (16 kHz, 1024 frames, mean-pooled)."""
    return CAVMAEAudio(**cfg)
