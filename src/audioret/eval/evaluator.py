"""`audioret eval`: models, query augmentation and ensembles on one manifest, as in the paper's tables.

Each model scores every caption query against every clip (`mAP@10`, DCASE 2022-2024: one relevant
clip per caption), every distinct normalised caption against the clips that carry it
(`mAP@10_caption_groups`) and, given DCASE 2025's relevance judgments, each judged query against its
relevant clips (`mAP@10_dcase2025`). With augmentation "both", a model counts twice, with and without
paraphrased queries, as the paper's ensembles do. Several models also give the ensemble of all
members, and, when they are seeds of one configuration, the mean and standard deviation over them.

Every row says what it is in fields (`kind`, `model`, `paraphrases`), never through its position.
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
from audioret.eval.metrics import (
    RetrievalTargets,
    average_precision_at_k,
    dcase2025_average_precision,
    jackknife_interval,
    read_relevance,
    relevant_ranks,
    retrieval_metrics,
    targets_from_records,
)
from audioret.eval.paraphrases import Paraphrases
from audioret.models import AudioTextModel
from audioret.utils.errors import AudioretError, DataFormatError
from audioret.utils.io import open_text

AUGMENT_CHOICES = ("without", "with", "both")
MEMBER, SEED_MEAN, ENSEMBLE = "member", "seed mean", "ensemble"
#: Query sets a row is scored on: one query per caption, caption groups, judged queries (optional).
CAPTIONS, CAPTION_GROUPS, RELEVANCE = "captions", "caption_groups", "relevance"


@dataclass
class Row:
    """One line of an evaluation table.

    Attributes:
        kind: MEMBER (one model, one augmentation setting), SEED_MEAN (mean ± std over seeds) or
            ENSEMBLE (similarities of all members averaged).
        model: the model's display name; for a seed mean or an ensemble, its members' names joined by "+".
        paraphrases: paraphrases averaged per query (0: the query alone); None for an ensemble whose
            members differ in it.
        members: how many (model, augmentation) members the row stands for.
        path: a member's model folder ("" for other kinds).
        scores: per query set (CAPTIONS, CAPTION_GROUPS, RELEVANCE), the [queries, clips] similarities;
            None for a seed mean.
    """

    kind: str
    model: str
    paraphrases: int | None
    metrics: dict[str, float]
    std: dict[str, float] = field(default_factory=dict)
    members: int = 1
    path: str = ""
    scores: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The row's label in a printed table."""
        suffix = f" +{self.paraphrases} paraphrases" if self.paraphrases else ""
        if self.kind == MEMBER:
            return self.model + suffix
        if self.kind == SEED_MEAN:
            return f"mean of {self.members} seeds{suffix}"
        return f"ensemble of {self.members}"

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "model": self.model, "paraphrases": self.paraphrases,
                "members": self.members, **self.metrics, **{f"{k}_std": v for k, v in self.std.items()}}


def score_metrics(scores: dict[str, np.ndarray], targets: dict[str, RetrievalTargets]) -> dict[str, float]:
    """mAP@10 (with its interval), R@1/5/10, mAP@10_caption_groups and, if judged, mAP@10_dcase2025."""
    metrics = retrieval_metrics(scores[CAPTIONS], targets[CAPTIONS].relevant)
    grouped = relevant_ranks(scores[CAPTION_GROUPS], targets[CAPTION_GROUPS].relevant)
    metrics["mAP@10_caption_groups"] = float(average_precision_at_k(grouped, 10).mean())
    if RELEVANCE in targets:
        ap = dcase2025_average_precision(relevant_ranks(scores[RELEVANCE], targets[RELEVANCE].relevant), 10)
        metrics["mAP@10_dcase2025"] = float(ap.mean())
        if len(ap) > 1:
            metrics["mAP@10_dcase2025_ci_low"], metrics["mAP@10_dcase2025_ci_high"] = jackknife_interval(ap)
        metrics["n_judged_queries"] = float(len(ap))
    return metrics


def clip_names(records) -> list[str]:
    """The file name of each clip, as challenge files name them (Clotho: the file_name column)."""
    return [Path(r.audio).name for r in records]


def evaluation_targets(records, relevance: str | Path | None = None) -> dict[str, RetrievalTargets]:
    targets = {CAPTIONS: targets_from_records(records), CAPTION_GROUPS: targets_from_records(records, True)}
    if relevance is not None:
        targets[RELEVANCE] = read_relevance(relevance, clip_names(records))
    return targets


def evaluate(manifest: str | Path, models: Sequence[str | Path], paraphrases: Paraphrases | None = None,
             n_paraphrases: int = 5, augment: str = "without", seeds: bool = False,
             cache_root: str | Path | None = None, relevance: str | Path | None = None) -> list[Row]:
    """Rows for each (model, augmentation) member, then the seed summary if asked, then the ensemble."""
    if augment not in AUGMENT_CHOICES:
        raise AudioretError(f"augment must be one of {AUGMENT_CHOICES}, got {augment!r}")
    if augment != "without" and not paraphrases:
        raise AudioretError("query augmentation needs paraphrases: --paraphrases FILE or --paraphraser URL")
    records = list(read_manifest(manifest))
    if not records:
        raise AudioretError(f"{manifest} lists no clips")
    check_records(manifest, records)
    targets = evaluation_targets(records, relevance)
    rows: list[Row] = []
    for path in models:
        model = AudioTextModel.from_pretrained(path)
        cache = EmbeddingCache(model, model_fingerprint(path), cache_root)
        audio = cache.audio([r.audio for r in records])
        for with_paraphrases in ([False, True] if augment == "both" else [augment == "with"]):
            n = n_paraphrases if with_paraphrases else 0
            scores = {key: embed_queries(cache, t.queries, paraphrases, n) @ audio.T for key, t in targets.items()}
            rows.append(Row(MEMBER, display_name(path), n, score_metrics(scores, targets), path=str(path),
                            scores=scores))
    members = [r for r in rows if r.kind == MEMBER]
    if seeds and len(models) > 1:
        rows.extend(seed_summary(members))
    if len(members) > 1:
        combined = {key: ensemble([r.scores[key] for r in members]) for key in targets}
        settings = {r.paraphrases for r in members}
        rows.append(Row(ENSEMBLE, "+".join(dict.fromkeys(r.model for r in members)),
                        settings.pop() if len(settings) == 1 else None, score_metrics(combined, targets),
                        members=len(members), scores=combined))
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


def seed_summary(members: list[Row]) -> list[Row]:
    """Mean and standard deviation over the seeds (models), one row per augmentation setting."""
    out = []
    for n in dict.fromkeys(r.paraphrases for r in members):
        group = [r for r in members if r.paraphrases == n]
        keys = [k for k in group[0].metrics if not k.startswith("n_")]
        out.append(Row(SEED_MEAN, "+".join(r.model for r in group), n,
                       {k: float(np.mean([r.metrics[k] for r in group])) for k in keys},
                       {k: float(np.std([r.metrics[k] for r in group])) for k in keys}, members=len(group)))
    return out


def submission_row(rows: Sequence[Row]) -> Row:
    """The row a submission file ranks by: the ensemble when there is one, else the only member."""
    scored = [r for r in rows if r.scores is not None]
    ensembles = [r for r in scored if r.kind == ENSEMBLE]
    if ensembles:
        return ensembles[-1]
    if len(scored) != 1:
        raise AudioretError(f"{len(scored)} scored rows and no ensemble; a submission ranks by one of them")
    return scored[0]
