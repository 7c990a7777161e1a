"""Challenge ranking files: `caption,fname_1,...,fname_10`, one line per caption query, the ten best
clips' file names best first, as DCASE Task 6b (2022-2024) and Task 8 asked for submissions.

The official DCASE 2022 scorer (`eval_script.py` of the Task 6b baseline) reads the caption from the
first column and the file names from the rest, by position; the header names do not matter to it.
Each distinct caption is written once (the scorer keys its rows by caption), in manifest order.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from audioret.utils.errors import AudioretError
from audioret.utils.io import atomic_write

TOP_K = 10


def ranking_rows(scores: np.ndarray, queries: Sequence[str], clip_names: Sequence[str],
                 k: int = TOP_K) -> list[list[str]]:
    """[caption, best clip, ..., k-th clip] per distinct caption; ties broken by clip order."""
    scores = np.asarray(scores)
    if len(set(clip_names)) < len(clip_names):
        shared = next(n for n in clip_names if list(clip_names).count(n) > 1)
        raise AudioretError(f"a ranking file names clips by file name, and {list(clip_names).count(shared)} clips "
                            f"are called {shared!r}; evaluate a manifest whose file names are unique")
    if scores.shape != (len(queries), len(clip_names)):
        raise ValueError(f"scores {scores.shape} do not match {len(queries)} queries x {len(clip_names)} clips")
    rows, seen = [], set()
    for q, caption in enumerate(queries):
        if caption in seen:
            continue
        seen.add(caption)
        order = np.argsort(-scores[q], kind="stable")[:k]
        rows.append([caption, *(clip_names[i] for i in order)])
    return rows


def write_submission(path: str | Path, scores: np.ndarray, queries: Sequence[str], clip_names: Sequence[str],
                     k: int = TOP_K) -> Path:
    """Write the ranking CSV atomically; returns its path."""
    path = Path(path)
    rows = ranking_rows(scores, queries, clip_names, k)
    width = min(k, len(clip_names))
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["caption", *(f"fname_{i}" for i in range(1, width + 1))])
        writer.writerows(rows)
    return path
