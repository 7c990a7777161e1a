"""Contrastive losses on embeddings (InfoNCE, Mixco), returning dicts; cross-process gathering."""

from audioret.losses.contrastive import ContrastiveLoss, infonce_loss, mixco_loss, soft_cross_entropy
from audioret.losses.gather import gather_with_grad

__all__ = ["ContrastiveLoss", "gather_with_grad", "infonce_loss", "mixco_loss", "soft_cross_entropy"]
