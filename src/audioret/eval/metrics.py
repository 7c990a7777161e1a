"""Text-to-audio retrieval metrics over a score matrix (queries x clips).

Conventions (DESIGN.md):
- A clip's rank is 1 + the number of clips scored higher + the number of earlier clips (lower
  index) scored equal: ties are broken by clip order, as a stable sort would.
- Three mAP@10 figures, named apart because they differ:
  * `mAP@10` (DCASE 2022-2024): one query per caption, its own clip the only relevant one; AP is
    1/rank within the top 10, else 0 (`average_precision_at_k`).
  * `mAP@10_dcase2025` (DCASE 2025 Task 6): queries and relevant clips from human relevance
    judgments (`metadata_eval.csv`, `read_relevance`); AP of relevant ranks r_1 < r_2 < ... is the
    sum over r_i <= 10 of i / r_i divided by the number of relevant clips, so a query with 12
    relevant clips at ranks 1-12 scores 10/12 (`dcase2025_average_precision`).
  * `mAP@10_caption_groups`: captions equal after normalisation are one query whose relevant set
    is every clip carrying it; AP divided by min(10, #relevant). No challenge uses it; on ClothoV2
    evaluation (no caption repeated) it equals `mAP@10`.
- R@k is the fraction of a query's relevant clips ranked in the top k (for one relevant clip:
  whether it is there).
- The 95% interval of a mean over queries is the jackknife one (astropy's `jackknife_stats`, which
  the official DCASE retrieval script calls).

Everything is computed query-chunk by query-chunk; results do not depend on the chunk size.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import read_csv_rows
from audioret.data.text import normalize_caption
from audioret.utils.errors import DataFormatError, MissingFileError

PRIMARY_METRIC = "mAP@10"


@dataclass
class RetrievalTargets:
    """Queries and, for each, the sorted indices of its relevant clips."""

    queries: list[str]
    relevant: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.queries)


def targets_from_records(records: Iterable[ManifestRecord], group_captions: bool = False) -> RetrievalTargets:
    """Queries of a manifest in clip order.

    Args:
        records: the clips; clip index = position in this sequence.
        group_captions: False gives one query per caption with its own clip as the only relevant
            one (DCASE 2022-2024). True merges captions that are equal after normalisation into one
            query whose relevant set is every clip carrying it (`mAP@10_caption_groups`; DCASE 2025
            uses human judgments instead, see `read_relevance`).
    """
    if not group_captions:
        queries, relevant = [], []
        for index, record in enumerate(records):
            for caption in record.captions:
                queries.append(caption)
                relevant.append(np.array([index]))
        return RetrievalTargets(queries, relevant)
    clips_of: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        for caption in record.captions:
            clips = clips_of.setdefault(normalize_caption(caption), [])
            if index not in clips:
                clips.append(index)
    return RetrievalTargets(list(clips_of), [np.array(sorted(c)) for c in clips_of.values()])


def relevant_ranks(scores: np.ndarray, relevant: Sequence[np.ndarray], chunk_size: int = 64) -> list[np.ndarray]:
    """1-based ranks of each query's relevant clips, sorted ascending, ties broken by clip order.

    Args:
        scores: [n_queries, n_clips] similarity matrix.
        relevant: per query, the indices of its relevant clips (at least one each).
        chunk_size: queries handled at once; memory grows with it, results do not change.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or len(relevant) != scores.shape[0]:
        raise ValueError(f"scores must be [n_queries, n_clips] with one relevant set per query, "
                         f"got shape {scores.shape} and {len(relevant)} relevant sets")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    n_clips = scores.shape[1]
    clip_index = np.arange(n_clips)
    ranks: list[np.ndarray] = []
    for start in range(0, scores.shape[0], chunk_size):
        stop = min(start + chunk_size, scores.shape[0])
        block = scores[start:stop]
        sets = [np.unique(np.asarray(relevant[q], dtype=np.int64)) for q in range(start, stop)]
        for q, rel in enumerate(sets):
            if rel.size == 0 or rel[0] < 0 or rel[-1] >= n_clips:
                raise ValueError(f"query {start + q}: relevant clips must be non-empty and within 0..{n_clips - 1}")
        # One row per (query, relevant clip) pair, compared against all clips of that query.
        owner = np.repeat(np.arange(stop - start), [len(r) for r in sets])
        target = np.concatenate(sets)
        rows = block[owner]
        target_score = rows[np.arange(len(target)), target][:, None]
        higher = (rows > target_score).sum(axis=1)
        tied_before = ((rows == target_score) & (clip_index[None, :] < target[:, None])).sum(axis=1)
        pair_ranks = 1 + higher + tied_before
        bounds = np.cumsum([0] + [len(r) for r in sets])
        ranks.extend(np.sort(pair_ranks[bounds[i] : bounds[i + 1]]) for i in range(len(sets)))
    return ranks


def average_precision_at_k(ranks: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Per-query AP@k from sorted relevant ranks: sum of i / r_i over r_i <= k, over min(k, #relevant)."""
    values = np.zeros(len(ranks))
    for q, r in enumerate(ranks):
        hits = r[r <= k]
        values[q] = np.sum(np.arange(1, len(hits) + 1) / hits) / min(k, len(r))
    return values


def dcase2025_average_precision(ranks: Sequence[np.ndarray], k: int = 10) -> np.ndarray:
    """Per-query AP@k of DCASE 2025 Task 6: sum of i / r_i over r_i <= k, divided by #relevant.

    The denominator is the number of relevant clips even when it exceeds k, as the Task 6 baseline's
    scorer (`retrieval_module.py`) computes it.
    """
    values = np.zeros(len(ranks))
    for q, r in enumerate(ranks):
        hits = r[r <= k]
        values[q] = np.sum(np.arange(1, len(hits) + 1) / hits) / len(r)
    return values


def read_relevance(path: str | Path, clip_names: Sequence[str]) -> RetrievalTargets:
    """Queries and relevant clips from DCASE 2025's `metadata_eval.csv` (`query`, `audio_filenames`).

    `audio_filenames` is a Python list literal of file names (`['a.wav', 'b.wav']`); each must be
    one of `clip_names` (a clip's index is its position there).

    Raises:
        DataFormatError: a missing column, an unreadable list, or a file name that is not a clip of
            the evaluated set; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "relevance judgments", "DCASE 2025's metadata_eval.csv: query,audio_filenames")
    index = {name: i for i, name in enumerate(clip_names)}
    shared = {name for name in index if clip_names.count(name) > 1} if len(index) < len(clip_names) else set()
    queries, relevant = [], []
    for line, row in read_csv_rows(path, ("query", "audio_filenames")):
        try:
            names = ast.literal_eval(row["audio_filenames"].strip())
        except (ValueError, SyntaxError):
            names = None
        if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
            raise DataFormatError(path, f"audio_filenames {row['audio_filenames']!r} is not a non-empty list of "
                                  "file names", line)
        unknown = [n for n in names if n not in index]
        if unknown:
            raise DataFormatError(path, f"{unknown[0]!r} is not a clip of the evaluated manifest "
                                  f"({len(clip_names)} clips)", line)
        ambiguous = [n for n in names if n in shared]
        if ambiguous:
            raise DataFormatError(path, f"{ambiguous[0]!r} names {clip_names.count(ambiguous[0])} clips of the "
                                  "evaluated manifest (same file name in different folders)", line)
        queries.append(row["query"])
        relevant.append(np.array(sorted({index[n] for n in names})))
    if not queries:
        raise DataFormatError(path, "no queries")
    return RetrievalTargets(queries, relevant)


def recall_at_k(ranks: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Per-query fraction of relevant clips within the top k."""
    return np.array([np.count_nonzero(r <= k) / len(r) for r in ranks], dtype=float)


def jackknife_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Jackknife confidence interval of the mean of per-query values.

    For the mean, the leave-one-out estimates are (n * mean - x_i) / (n - 1), the jackknife bias is
    zero, and the standard error is sqrt((n - 1) / n * sum((theta_i - theta_bar)^2)); the interval is
    mean +- z * se with z the normal quantile (as astropy.stats.jackknife_stats computes it).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        raise ValueError("a jackknife interval needs at least two queries")
    mean = values.mean()
    leave_one_out = (n * mean - values) / (n - 1)
    std_err = np.sqrt((n - 1) / n * np.sum((leave_one_out - leave_one_out.mean()) ** 2))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return float(mean - z * std_err), float(mean + z * std_err)


def retrieval_metrics(
    scores: np.ndarray,
    relevant: Sequence[np.ndarray],
    ks: Sequence[int] = (1, 5, 10),
    map_k: int = 10,
    chunk_size: int = 64,
) -> dict[str, float]:
    """mAP@k with its jackknife 95% interval, and R@k, as one flat dict.

    Returns:
        {"mAP@10", "mAP@10_ci_low", "mAP@10_ci_high", "R@1", "R@5", "R@10", "n_queries", "n_clips"}
        (keys follow `map_k` and `ks`). Values are fractions in [0, 1].
    """
    ranks = relevant_ranks(scores, relevant, chunk_size)
    ap = average_precision_at_k(ranks, map_k)
    metrics: dict[str, float] = {f"mAP@{map_k}": float(ap.mean())}
    if len(ap) > 1:
        low, high = jackknife_interval(ap)
        metrics[f"mAP@{map_k}_ci_low"], metrics[f"mAP@{map_k}_ci_high"] = low, high
    for k in ks:
        metrics[f"R@{k}"] = float(recall_at_k(ranks, k).mean())
    metrics["n_queries"] = float(len(ranks))
    metrics["n_clips"] = float(np.asarray(scores).shape[1])
    return metrics


def chance_map_at_k(n_clips: int, k: int = 10) -> float:
    """Expected single-positive AP@k of a random ranking: (1/N) * sum_{r=1..min(k,N)} 1/r."""
    return float(np.sum(1.0 / np.arange(1, min(k, n_clips) + 1)) / n_clips)
