"""Evaluation: retrieval metrics (DCASE mAP@10, multi-positive mAP@k, R@k, jackknife intervals)."""

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
