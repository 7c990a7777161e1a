"""`audioret eval`: models, query augmentation and ensembles on one manifest, as in the paper's tables.

Each model scores every caption query against every clip (DCASE: one relevant clip per caption) and
every distinct normalised caption against the clips that carry it (multi-positive). With
augmentation "both", a model counts twice, with and without paraphrased queries, as the paper's
ensembles do. Several models also give the ensemble of all members, and, when they are seeds of one
configuration, the mean and standard deviation over them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.eval.augmentation import augmented_queries, ensemble
from audioret.eval.embeddings import EmbeddingCache, model_fingerprint
from audioret.eval.metrics import average_precision_at_k, relevant_ranks, retrieval_metrics, targets_from_records
from audioret.eval.paraphrases import Paraphrases
from audioret.models import AudioTextModel
from audioret.utils.errors import AudioretError, DataFormatError
from audioret.utils.io import open_text

AUGMENT_CHOICES = ("without", "with", "both")


@dataclass
class Row:
    """One line of an evaluation table."""

    name: str
    metrics: dict[str, float]
    std: dict[str, float] = field(default_factory=dict)
    scores: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {"name": self.name, **self.metrics, **{f"{k}_std": v for k, v in self.std.items()}}


def score_metrics(single: np.ndarray, multi: np.ndarray, single_targets, multi_targets) -> dict[str, float]:
    metrics = retrieval_metrics(single, single_targets.relevant)
    metrics["mAP@10_multi"] = float(average_precision_at_k(relevant_ranks(multi, multi_targets.relevant), 10).mean())
    return metrics


def evaluate(manifest: str | Path, models: Sequence[str | Path], paraphrases: Paraphrases | None = None,
             n_paraphrases: int = 5, augment: str = "without", seeds: bool = False,
             cache_root: str | Path | None = None) -> list[Row]:
    """Rows for each (model, augmentation) member, then the ensemble and the seed summary if asked."""
    if augment not in AUGMENT_CHOICES:
        raise AudioretError(f"augment must be one of {AUGMENT_CHOICES}, got {augment!r}")
    if augment != "without" and not paraphrases:
        raise AudioretError("query augmentation needs paraphrases: --paraphrases FILE or --paraphraser URL")
    records = list(read_manifest(manifest))
    if not records:
        raise AudioretError(f"{manifest} lists no clips")
    check_records(manifest, records)
    single, multi = targets_from_records(records), targets_from_records(records, multi_positive=True)
    rows: list[Row] = []
    for path in models:
        model = AudioTextModel.from_pretrained(path)
        cache = EmbeddingCache(model, model_fingerprint(path), cache_root)
        audio = cache.audio([r.audio for r in records])
        for with_paraphrases in ([False, True] if augment == "both" else [augment == "with"]):
            n = n_paraphrases if with_paraphrases else 0
            s_single = embed_queries(cache, single.queries, paraphrases, n) @ audio.T
            s_multi = embed_queries(cache, multi.queries, paraphrases, n) @ audio.T
            name = display_name(path) + (f" +{n_paraphrases} paraphrases" if with_paraphrases else "")
            rows.append(Row(name, score_metrics(s_single, s_multi, single, multi), scores=(s_single, s_multi)))
    if seeds and len(models) > 1:
        rows.extend(seed_summary(rows, len(models)))
    members = [r for r in rows if r.scores is not None]
    if len(members) > 1:
        s_single = ensemble([r.scores[0] for r in members])
        s_multi = ensemble([r.scores[1] for r in members])
        rows.append(Row(f"ensemble of {len(members)}", score_metrics(s_single, s_multi, single, multi)))
    return rows


def check_records(manifest: str | Path, records: Sequence[ManifestRecord]) -> None:
    """Evaluation needs every clip's audio and at least one caption; say which line lacks them."""
    if not any(record.captions for record in records):
        raise AudioretError(f"{manifest} has no captions, and eval ranks clips for captions; give clips captions "
                            "(for `audioret prepare folder`: --captions CSV with columns path, caption)")
    for number, record in zip(_record_lines(manifest), records, strict=False):
        if not os.path.isfile(record.audio):
            raise DataFormatError(manifest, f"audio file {record.audio} of clip {record.id!r} is missing; "
                                  "restore it or remove the line", number)


def _record_lines(manifest: str | Path) -> list[int]:
    """The line numbers of the records, in order (read_manifest skips blank lines)."""
    with open_text(manifest) as handle:
        return [number for number, text in enumerate(handle, 1) if text.strip()]


def display_name(path: str | Path) -> str:
    """A model's name in tables: its folder, or its run's folder for RUN_DIR/model."""
    path = Path(path)
    return path.parent.name if path.name == "model" and path.parent.name else path.name


def embed_queries(cache: EmbeddingCache, queries: list[str], paraphrases: Paraphrases | None, n: int) -> np.ndarray:
    """Query embeddings, averaged with `n` paraphrases each when n > 0."""
    if n > 0 and paraphrases is not None:
        return augmented_queries(cache.text, queries, paraphrases, n)
    return cache.text(queries)


def seed_summary(rows: list[Row], n_models: int) -> list[Row]:
    """Mean and standard deviation over seeds, per augmentation setting (rows come model by model)."""
    per_model = len(rows) // n_models
    out = []
    for variant in range(per_model):
        group = rows[variant::per_model]
        keys = [k for k in group[0].metrics if not k.startswith("n_")]
        suffix = group[0].name.split(" +", 1)[1] if " +" in group[0].name else ""
        out.append(Row(f"mean of {n_models} seeds" + (f" +{suffix}" if suffix else ""),
                       {k: float(np.mean([r.metrics[k] for r in group])) for k in keys},
                       {k: float(np.std([r.metrics[k] for r in group])) for k in keys}))
    return out
