"""InfoNCE (paper Eq. 3-6) and Mixco (Eq. 8-12) on unit-norm embeddings.

Both are cross-entropies of temperature-scaled cosine similarities against target distributions:
- InfoNCE: audio i's targets are the captions of the same clip (uniform over them, so several
  captions of one clip in a batch are all positives), and symmetrically for text.
- Mixco: mixed audio x'_i = lam_i x_i + (1 - lam_i) x_phi(i) is a semi-positive of caption i with
  weight lam_i and of caption phi(i) with weight 1 - lam_i, in both directions (Eq. 10-11).
Losses are averaged over the (global) batch: the paper's sums divided by the batch size.
"""

from __future__ import annotations

import torch
from torch import nn

from audioret.losses.gather import gather_no_grad, gather_with_grad, rank_offset
from audioret.utils.numeric import at_least_float32


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """sum_ij -targets_ij log softmax(logits_i)_j, divided by the number of rows."""
    return -(targets * at_least_float32(logits).log_softmax(dim=1)).sum() / logits.shape[0]


def infonce_loss(audio: torch.Tensor, text: torch.Tensor, temperature: torch.Tensor,
                 clip_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Symmetric InfoNCE. `clip_ids` [B] marks rows of the same clip as positives (default: the diagonal)."""
    logits = audio @ text.T / temperature
    if clip_ids is None:
        positives = torch.eye(len(audio), device=audio.device, dtype=logits.dtype)
    else:
        positives = (clip_ids[:, None] == clip_ids[None, :]).float()
    a2t = soft_cross_entropy(logits, positives / positives.sum(1, keepdim=True))
    t2a = soft_cross_entropy(logits.T, positives.T / positives.T.sum(1, keepdim=True))
    return {"loss": a2t + t2a, "infonce_a2t": a2t.detach(), "infonce_t2a": t2a.detach()}


def mixco_loss(mixed_audio: torch.Tensor, text: torch.Tensor, temperature: torch.Tensor, lam: torch.Tensor,
               partner: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mixco with soft targets lam / (1 - lam) in both directions.

    Args:
        mixed_audio: [B, D] embeddings of the mixed waveforms.
        text: [B, D] caption embeddings, row i the caption of clip i.
        lam: [B] mixing weights of clip i in mixture i.
        partner: [B] phi(i), the clip mixed into mixture i.
    """
    batch = len(lam)
    rows = torch.arange(batch, device=lam.device)
    logits = mixed_audio @ text.T / temperature  # mixture i x caption j
    audio_targets = torch.zeros(batch, batch, device=lam.device, dtype=at_least_float32(lam).dtype)
    audio_targets[rows, rows] += lam
    audio_targets[rows, partner] += 1 - lam
    # Caption j's target is mixture j with weight lam_j; caption phi(j)'s is mixture j with 1 - lam_j (Eq. 11).
    text_targets = audio_targets.T.contiguous()
    a2t = soft_cross_entropy(logits, audio_targets)
    t2a = soft_cross_entropy(logits.T, text_targets)
    return {"loss": a2t + t2a, "mixco_a2t": a2t.detach(), "mixco_t2a": t2a.detach()}


class ContrastiveLoss(nn.Module):
    """InfoNCE (+ Mixco when mixed embeddings are given) over the batch gathered from every process.

    Example:
        >>> loss = ContrastiveLoss()(audio, text, model.temperature, clip_ids)["loss"]
    """

    def forward(self, audio: torch.Tensor, text: torch.Tensor, temperature: torch.Tensor,
                clip_ids: torch.Tensor, mixed_audio: torch.Tensor | None = None, lam: torch.Tensor | None = None,
                partner: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        offset = rank_offset(len(audio))
        audio_all, text_all = gather_with_grad(audio), gather_with_grad(text)
        out = infonce_loss(audio_all, text_all, temperature, gather_no_grad(clip_ids))
        if mixed_audio is not None:
            mixco = mixco_loss(gather_with_grad(mixed_audio), text_all, temperature, gather_no_grad(lam),
                               gather_no_grad(partner + offset))
            out = {**out, **mixco, "loss": out["loss"] + mixco["loss"], "infonce": out["loss"].detach()}
        return out
