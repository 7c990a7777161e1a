"""Evaluation: retrieval metrics (DCASE 2022-24 mAP@10, DCASE 2025 judged mAP@10,
caption-group mAP@k, R@k, jackknife intervals)."""

from audioret.eval.metrics import (
    RetrievalTargets,
    average_precision_at_k,
    jackknife_interval,
    recall_at_k,
    relevant_ranks,
    retrieval_metrics,
    targets_from_records,
)

__all__ = [
    "RetrievalTargets",
    "average_precision_at_k",
    "jackknife_interval",
    "recall_at_k",
    "relevant_ranks",
    "retrieval_metrics",
    "targets_from_records",
]
