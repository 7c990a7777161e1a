"""Numeric precision helpers shared by the front ends and the losses."""

from __future__ import annotations

import torch


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """float32 for half precision (front ends and losses stay exact enough under mixed precision); float64
    stays float64, so that a whole computation can run in float64 (the tests' rounding-free references)."""
    return x if x.dtype == torch.float64 else x.float()
