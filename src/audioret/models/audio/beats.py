"""BEATs (Chen et al., 2023): a ViT over 16x16 Kaldi-fbank patches with a convolutional positional
embedding, gated relative position bias and deep-norm post-LayerNorm blocks.

Parameter names follow the official release, so checkpoints such as `BEATs_iter3_plus_AS2M.pt`
({"cfg": {...}, "model": state_dict}) load with a strict key check; the fine-tuned classifier
(`predictor.*`) is dropped. The clip embedding is the mean of the encoder outputs over the tokens
that cover real audio, never the classifier's probabilities.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from audioret.models.audio.base import AudioEncoder
from audioret.models.audio.frontend import kaldi_fbank
from audioret.models.checkpoints import (
    CheckpointMismatchError,
    filter_keys,
    load_state_dict_strict,
    read_checkpoint,
)
from audioret.models.registry import register_model
from audioret.utils.numeric import at_least_float32

#: The fine-tuned AudioSet BEATs (iter3+) configuration; a checkpoint's own "cfg" overrides it.
DEFAULT_CONFIG: dict[str, Any] = {
    "input_patch_size": 16, "embed_dim": 512, "conv_bias": False, "encoder_layers": 12, "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12, "activation_fn": "gelu", "layer_norm_first": False,
    "deep_norm": True, "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "conv_pos": 128,
    "conv_pos_groups": 16, "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800,
    "gru_rel_pos": True,
}
FBANK_MEAN, FBANK_STD = 15.41663, 6.55582
#: Keys of a published checkpoint that the encoder does not use.
UNUSED_PREFIXES = ("predictor.",)


class WeightNormConv(nn.Module):
    """A grouped 1-D convolution stored as weight_norm (g, v) over the kernel axis, as published."""

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.groups, self.padding = groups, kernel // 2
        self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * 0.02)
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=(0, 1), keepdim=True))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_v * (self.weight_g / self.weight_v.norm(dim=(0, 1), keepdim=True))
        out = F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)
        return out[..., :-1] if weight.shape[-1] % 2 == 0 else out  # an even kernel yields one extra frame


class RelativeAttention(nn.Module):
    def __init__(self, dim: int, heads: int, cfg: dict[str, Any], owns_bias: bool):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.num_buckets, self.max_distance = cfg["num_buckets"], cfg["max_distance"]
        self.dropout = cfg["attention_dropout"]
        self.gated = cfg["gru_rel_pos"]
        if self.gated:
            self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))
        if owns_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, heads)
        self.k_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.q_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        if self.gated:
            self.grep_linear = nn.Linear(self.head_dim, 8)

    def position_bias(self, length: int) -> torch.Tensor:
        """[heads, length, length] learned bias of log-spaced relative-distance buckets (T5 style)."""
        position = torch.arange(length, device=self.relative_attention_bias.weight.device)
        relative = position[None, :] - position[:, None]
        half = self.num_buckets // 2
        bucket = (relative > 0).long() * half
        distance = relative.abs()
        exact = half // 2
        far = exact + (torch.log(distance.float().clamp(min=1) / exact) / math.log(self.max_distance / exact)
                       * (half - exact)).long()
        bucket = bucket + torch.where(distance < exact, distance, far.clamp(max=half - 1))
        return self.relative_attention_bias(bucket).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, key_padding: torch.Tensor | None) -> torch.Tensor:
        batch, length, dim = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        if self.gated:  # each query scales the shared bias by a learned gate of its own content
            gate_a, gate_b = torch.sigmoid(self.grep_linear(q).view(batch, self.heads, length, 2, 4).sum(-1)).chunk(
                2, dim=-1)
            bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
        else:
            bias = bias.expand(batch, -1, -1, -1)
        if key_padding is not None:
            bias = bias.masked_fill(key_padding[:, None, None, :], float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype),
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: dict[str, Any], owns_bias: bool):
        super().__init__()
        dim = cfg["encoder_embed_dim"]
        self.self_attn = RelativeAttention(dim, cfg["encoder_attention_heads"], cfg, owns_bias)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, cfg["encoder_ffn_embed_dim"])
        self.fc2 = nn.Linear(cfg["encoder_ffn_embed_dim"], dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.alpha = math.pow(2 * cfg["encoder_layers"], 0.25) if cfg["deep_norm"] else 1.0
        self.dropout, self.activation_dropout = cfg["dropout"], cfg["activation_dropout"]

    def forward(self, x: torch.Tensor, bias: torch.Tensor, key_padding: torch.Tensor | None) -> torch.Tensor:
        attended = F.dropout(self.self_attn(x, bias, key_padding), self.dropout, self.training)
        x = self.self_attn_layer_norm(x * self.alpha + attended)
        hidden = F.dropout(F.gelu(self.fc1(x)), self.activation_dropout, self.training)
        return self.final_layer_norm(x * self.alpha + F.dropout(self.fc2(hidden), self.dropout, self.training))


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        dim = cfg["encoder_embed_dim"]
        self.pos_conv = nn.Sequential(WeightNormConv(dim, cfg["conv_pos"], cfg["conv_pos_groups"]))
        self.layers = nn.ModuleList([EncoderLayer(cfg, owns_bias=i == 0) for i in range(cfg["encoder_layers"])])
        for layer in self.layers[1:]:  # one bias table, shared by every layer as in the release
            layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(dim)
        self.dropout = cfg["dropout"]

    def forward(self, x: torch.Tensor, key_padding: torch.Tensor | None) -> torch.Tensor:
        if key_padding is not None:
            x = x.masked_fill(key_padding.unsqueeze(-1), 0.0)
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2))).transpose(1, 2)
        x = F.dropout(self.layer_norm(x), self.dropout, self.training)
        bias = self.layers[0].self_attn.position_bias(x.shape[1]).unsqueeze(0)
        for layer in self.layers:
            x = layer(x, bias, key_padding)
        return x


class BEATs(AudioEncoder):
    """BEATs audio encoder: 16 kHz waveform in, mean of the encoder outputs (768-d) out.

    Args:
        checkpoint: a published BEATs checkpoint ({"cfg", "model"}); its cfg sets the architecture.
        config: architecture overrides when building without a checkpoint (tests, from_pretrained).

    Example:
        >>> encoder = BEATs(checkpoint="weights/BEATs_iter3_plus_AS2M.pt")
    """

    sample_rate = 16_000

    def __init__(self, checkpoint: str | Path | None = None, config: dict[str, Any] | None = None,
                 dropout: float | None = None):
        super().__init__()
        state = None
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        if checkpoint is not None:
            published = read_checkpoint(checkpoint, "BEATs checkpoint",
                                        "download a BEATs release (e.g. BEATs_iter3_plus_AS2M.pt) and pass its path")
            if not isinstance(published, dict) or "cfg" not in published or "model" not in published:
                raise CheckpointMismatchError(f"{checkpoint} is not a BEATs release: expected a dict with 'cfg' "
                                              "and 'model'")
            cfg = {**cfg, **{k: v for k, v in published["cfg"].items() if k in DEFAULT_CONFIG}}
            state = filter_keys(published["model"], drop=lambda k: k.startswith(UNUSED_PREFIXES))
        if dropout is not None:
            cfg.update(dropout=dropout, attention_dropout=dropout)
        self.config = cfg
        self.output_dim = cfg["encoder_embed_dim"]
        self.patch = cfg["input_patch_size"]
        self.patch_embedding = nn.Conv2d(1, cfg["embed_dim"], self.patch, self.patch, bias=cfg["conv_bias"])
        self.layer_norm = nn.LayerNorm(cfg["embed_dim"])
        self.post_extract_proj = (nn.Linear(cfg["embed_dim"], cfg["encoder_embed_dim"])
                                  if cfg["embed_dim"] != cfg["encoder_embed_dim"] else None)
        self.encoder = TransformerEncoder(cfg)
        if state is not None:
            load_state_dict_strict(self, state, checkpoint)

    def fbank(self, waveform: torch.Tensor) -> torch.Tensor:
        """[batch, samples] -> normalised [batch, frames, 128] (int16-scaled Kaldi fbank)."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return (kaldi_fbank(at_least_float32(waveform) * 2**15, num_mel_bins=128) - FBANK_MEAN) / (2 * FBANK_STD)

    def tokens(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None):
        """Encoder outputs [batch, tokens, dim] and the boolean mask of tokens that cover real audio."""
        patches = self.patch_embedding(self.fbank(waveform).unsqueeze(1))  # [B, C, T', F']
        batch, _, n_time, n_freq = patches.shape
        x = self.layer_norm(patches.flatten(2).transpose(1, 2))  # token index = t * F' + f
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        valid = torch.ones(batch, n_time * n_freq, dtype=torch.bool, device=x.device)
        if valid_samples is not None:
            # A patch counts when all its frames are real audio (at least the first patch always does),
            # so a zero-padded clip embeds exactly as the same clip without padding.
            frames = 1 + torch.div(valid_samples.to(x.device) - 400, 160, rounding_mode="floor")
            full_patches = torch.div(frames, self.patch, rounding_mode="floor").clamp(min=1)
            time_valid = torch.arange(n_time, device=x.device)[None, :] < full_patches[:, None]
            valid = time_valid.repeat_interleave(n_freq, dim=1)
        return self.encoder(x, None if bool(valid.all()) else ~valid), valid

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        x, valid = self.tokens(waveform, valid_samples)
        weights = valid.unsqueeze(-1).to(x.dtype)
        return (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@register_model("beats", "audio")
def beats(**cfg: Any) -> BEATs:
    """BEATs (paper: fine-tuned on AudioSet, BEATs_iter3_plus_AS2M.pt)."""
    return BEATs(**cfg)


VAST_PREFIX = "audio_encoder."


def vast_audio_branch(checkpoint: Any, source: str | Path) -> dict[str, torch.Tensor]:
    """The BEATs tensors inside a VAST checkpoint.

    VAST's model holds the official BEATs module as `audio_encoder` (initialised from
    BEATs_iter3_plus_AS2M with a strict load), so its audio weights are the BEATs keys under that
    prefix. A {"model": ...} wrapper and a DataParallel `module.` prefix are accepted.
    """
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointMismatchError(f"{source} is not a state dict")
    state = filter_keys(state, strip_prefix="module.")
    audio = {k[len(VAST_PREFIX):]: v for k, v in state.items() if k.startswith(VAST_PREFIX)}
    if not audio:
        raise CheckpointMismatchError(f"{source} holds no '{VAST_PREFIX}*' tensors; the file's first keys are "
                                      f"{list(state)[:3]}. Is it a VAST checkpoint?")
    return filter_keys(audio, drop=lambda k: k.startswith(UNUSED_PREFIXES))


@register_model("vast-audio", "audio")
def vast_audio(checkpoint: str | Path | None = None, config: dict[str, Any] | None = None, **cfg: Any) -> BEATs:
    """VAST's audio encoder: BEATs (fine-tuned AudioSet configuration) with the weights VAST trained.

    Preprocessing is BEATs' own; VAST's dataloader settings could not be checked from public sources.
    """
    encoder = BEATs(config=config, **cfg)
    if checkpoint is not None:
        published = read_checkpoint(checkpoint, "VAST checkpoint", "download a VAST release and pass its path")
        load_state_dict_strict(encoder, vast_audio_branch(published, checkpoint), checkpoint)
    return encoder
