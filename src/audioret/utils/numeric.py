"""Numeric precision helpers shared by the front ends and the losses."""

from __future__ import annotations

import torch


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """float32 for half precision (front ends and losses stay exact enough under mixed precision); float64
    stays float64, so that a whole computation can run in float64 (the tests' rounding-free references)."""
    return x if x.dtype == torch.float64 else x.float()


#: What `--precision` accepts: "auto" is bfloat16 where the hardware computes it natively, else float32.
PRECISIONS = ("auto", "float32", "bfloat16")


def inference_dtype(precision: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The dtype that an encoder's heavy layers compute in at inference on `device` (see `PRECISIONS`).

    bfloat16 halves the aiSFX CNN's time on a CPU with AVX512-BF16 or AMX; without them torch emulates it,
    which is slower than float32, so "auto" takes it only where it is native.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is none of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return getattr(torch, precision)
    return torch.bfloat16 if native_bfloat16(torch.device(device)) else torch.float32


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 convolutions and matrix products in hardware."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    try:  # torch's own check (AVX512-BF16, AMX or Arm BF16), private but stable since torch 1.12
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
