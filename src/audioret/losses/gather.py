"""Gathering embeddings across processes with their gradient: the one place distributed training
touches the loss.

Every process computes the loss over the whole global batch. The autograd-aware all-gather sums, in
its backward, the gradients that every process's copy of the loss sends to each local embedding;
DDP then averages parameter gradients over processes. The two factors cancel, so each process ends
with exactly the gradient of the single-process loss on the same global batch
(tests/losses/test_distributed.py checks this on two gloo processes).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from every process along dim 0 (rank order), differentiably."""
    if not is_distributed():
        return x
    return torch.cat(dist_fn.all_gather(x), dim=0)


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor that needs no gradient (ids, mixing weights) from every process."""
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def rank_offset(local_batch: int) -> int:
    """Index of this process's first row in the gathered batch (local batches are equal in size)."""
    return dist.get_rank() * local_batch if is_distributed() else 0
