"""aiSFX (Ma et al., ISMIR 2022): a 9-layer CNN trained on professional sound-effects libraries,
with the weights that the `aisfx` package ships (CC-BY-4.0). 44.1 kHz in, 512-d out.

Front end, as the package's original (Essentia) pipeline computes it: frames of 2048 samples every
1024, centred on multiples of the hop with zero padding, symmetric Hann window, power spectrum, 96
triangular bands spaced on the HTK mel scale (triangles in mel, each normalised to unit sum),
log10(1 + 1e4 x), divided by 9.4578 (the package's 'original' normalisation). The CNN embeds blocks
of 100 frames (about 2.3 s) every 50 frames; the clip embedding is their mean.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.utils.fusion import fuse_conv_bn_eval

from audioret.models.audio.base import AudioEncoder
from audioret.models.checkpoints import filter_keys, load_state_dict_strict, read_checkpoint
from audioret.models.registry import register_model
from audioret.utils.errors import MissingFileError
from audioret.utils.numeric import at_least_float32

FRAME, HOP, N_BANDS = 2048, 1024, 96
SPEC_MAX = 9.457798957824707
BLOCK, BLOCK_HOP = 100, 50


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def essentia_mel_banks(sample_rate: int = 44_100, n_fft: int = FRAME, n_bands: int = N_BANDS,
                       low: float = 0.0, high: float = 22_050.0) -> torch.Tensor:
    """[n_bands, n_fft // 2 + 1] triangles spaced and shaped in HTK mel, each summing to one."""
    edges_mel = np.linspace(_hz_to_mel(np.float64(low)), _hz_to_mel(np.float64(high)), n_bands + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    step = (sample_rate / 2) / (n_fft // 2)
    bins = np.arange(n_fft // 2 + 1) * step
    bins_mel = _hz_to_mel(bins)
    banks = np.zeros((n_bands, len(bins)))
    for i in range(n_bands):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        inside = (bins >= math.ceil(lo / step) * step - 1e-9) & (bins <= hi + 1e-9)
        rising = (bins_mel - _hz_to_mel(lo)) / (_hz_to_mel(mid) - _hz_to_mel(lo))
        falling = (_hz_to_mel(hi) - bins_mel) / (_hz_to_mel(hi) - _hz_to_mel(mid))
        banks[i] = np.where(inside, np.where(bins < mid, rising, falling), 0.0)
        banks[i] /= banks[i].sum()
    return torch.from_numpy(banks).float()


class ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(channels_out), nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor, pool: bool) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)), inplace=True))), inplace=True)
        return F.max_pool2d(x, 2) if pool else x

    def fold_batchnorm(self) -> None:
        """Eval only: each BatchNorm's affine map moved into the convolution before it (one pass over the
        activations instead of two; the same function up to float rounding)."""
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        self.conv2, self.bn2 = fuse_conv_bn_eval(self.conv2, self.bn2), nn.Identity()


class AisfxCNN(nn.Module):
    """[blocks, 100 frames, 96 bands] -> [blocks, 8 * width]: mean over bands, max over time."""

    def __init__(self, width: int = 64):
        super().__init__()
        widths = (1, width, width * 2, width * 4, width * 8)
        for i in range(4):
            setattr(self, f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.output_dim = widths[-1]

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = spec.unsqueeze(1)
        for i in range(4):
            x = getattr(self, f"conv_block{i + 1}")(x, pool=i < 3)
        return x.mean(dim=3).amax(dim=2)


class Aisfx(AudioEncoder):
    """aiSFX encoder.

    Args:
        pretrained: load the checkpoint that the `aisfx` package ships.
        checkpoint: or a path to such a checkpoint ((state_dict, dataset table) as the package saves it).
        width: channels of the first block (64 in the published model).
    """

    sample_rate = 44_100

    def __init__(self, pretrained: bool = False, checkpoint: str | Path | None = None, width: int = 64):
        super().__init__()
        self.embedding_net = AisfxCNN(width)
        self.output_dim = self.embedding_net.output_dim
        self.register_buffer("window", torch.hann_window(FRAME, periodic=False, dtype=torch.float64).float(),
                             persistent=False)
        self.register_buffer("banks", essentia_mel_banks(self.sample_rate), persistent=False)
        if pretrained and checkpoint is None:
            checkpoint = package_checkpoint()
        if checkpoint is not None:
            # The package pickles numpy scalars beside the weights; it is read as the user's own file.
            published = read_checkpoint(checkpoint, "aiSFX checkpoint", trusted=True)
            state = published[0] if isinstance(published, tuple) else published
            state = filter_keys(state, drop=lambda k: k.startswith("fc."))  # per-library classifiers
            load_state_dict_strict(self, state, checkpoint)

    def prepare_for_inference(self, dtype: torch.dtype | None = None) -> None:
        """BatchNorm folded into the convolutions and the weights in channels-last layout: 1.3-1.7x the clips/s
        on 2 cores (`bench/encoders.py --encoders aisfx --prepared`), the same function up to float rounding.
        With `dtype` bfloat16 the CNN computes in it (the front end stays float32): about 2x again on a CPU
        with native bfloat16, and the clip embedding stays within 1e-5 cosine of float32
        (tests/models/test_aisfx.py)."""
        if self.training:
            raise RuntimeError("prepare_for_inference() is for a model in eval mode")
        for i in range(4):
            getattr(self.embedding_net, f"conv_block{i + 1}").fold_batchnorm()
        self.embedding_net.to(dtype=dtype, memory_format=torch.channels_last)

    def spectrogram(self, wave: torch.Tensor) -> torch.Tensor:
        """One waveform [samples] -> normalised log-mel [frames, 96], frames = ceil((samples + 1024) / 1024)."""
        n_frames = math.ceil((len(wave) + HOP) / HOP)
        padded = F.pad(wave, (HOP, n_frames * HOP + FRAME - len(wave) - HOP))
        frames = padded.unfold(0, FRAME, HOP)[:n_frames]
        power = torch.fft.rfft(frames * self.window).abs().pow(2)
        return torch.log10(1.0 + 1e4 * (power @ self.banks.T)) / SPEC_MAX

    @staticmethod
    def blocks(spec: torch.Tensor) -> torch.Tensor:
        """[frames, 96] -> [n, 100, 96]: full blocks every 50 frames (one zero-padded block if shorter)."""
        if len(spec) <= BLOCK:
            return F.pad(spec, (0, 0, 0, BLOCK - len(spec))).unsqueeze(0)
        return spec.unfold(0, BLOCK, BLOCK_HOP).transpose(1, 2)

    def block_embeddings(self, wave: torch.Tensor) -> torch.Tensor:
        return self.embed_blocks(self.blocks(self.spectrogram(wave)))

    def embed_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        """[n, 100, 96] -> [n, 512], computed in the CNN's dtype (bfloat16 once prepared for it) and
        returned in the blocks' dtype."""
        net_dtype = self.embedding_net.conv_block1.conv1.weight.dtype
        return self.embedding_net(blocks.to(net_dtype)).to(blocks.dtype)

    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            waveform = at_least_float32(waveform)
            specs = [self.blocks(self.spectrogram(w[: int(valid_samples[i])] if valid_samples is not None else w))
                     for i, w in enumerate(waveform)]
        counts = [len(s) for s in specs]
        embeddings = self.embed_blocks(torch.cat(specs))
        return torch.stack([e.mean(0) for e in embeddings.split(counts)])


def package_checkpoint() -> Path:
    """The checkpoint inside the installed `aisfx` package."""
    spec = importlib.util.find_spec("aisfx")
    if spec is None or spec.origin is None:
        raise MissingFileError("aisfx/models/checkpoint.pth", "aiSFX weights",
                               "pip install --no-deps aisfx==0.1.2, or pass checkpoint=PATH")
    return Path(spec.origin).parent / "models" / "checkpoint.pth"


@register_model("aisfx", "audio")
def aisfx(**cfg: Any) -> Aisfx:
    """aiSFX sound-effects CNN (512-d); pretrained=True loads the weights the aisfx package carries."""
    return Aisfx(**cfg)
