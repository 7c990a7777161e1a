"""audioret's figures against independent re-implementations of the official challenge scorers'
logic, on rows copied from the published challenge files (tests/fixtures/published/README.md):

- DCASE 2025 Task 6 (`retrieval_module.py` of the baseline): queries and relevant files from
  `metadata_eval.csv`; 0-based ranks from a double argsort of the negated similarities; AP sums
  i / (rank + 1) over the sorted ranks below 10 and divides by the number of relevant files.
- DCASE 2022 Task 6b (`eval_script.py` of the baseline): a ranking CSV re-scored by caption, one
  ground-truth file per caption; AP@10 sums i / position over matching positions; R@k counts
  matches in the first k; astropy's jackknife gives the interval.

The re-implementations below follow those scripts' steps; they share no code with audioret.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pytest
from astropy.stats import jackknife_stats

from audioret.eval.metrics import (
    average_precision_at_k,
    dcase2025_average_precision,
    read_relevance,
    relevant_ranks,
    retrieval_metrics,
)
from audioret.eval.submission import write_submission
from audioret.utils.errors import DataFormatError

PUBLISHED = Path(__file__).resolve().parent.parent / "fixtures" / "published"
# Each AP is a sum of at most 10 terms in [0, 1], each off by at most one rounding (2**-53 relative),
# and a mean over queries adds one more rounding per query; 1e-13 bounds both with a wide margin
# and is far below the 1e-4 that the published figures are printed to.
TOLERANCE = 1e-13


def _relevance_rows() -> list[tuple[str, list[str]]]:
    with open(PUBLISHED / "dcase2025_metadata_eval.csv", newline="", encoding="utf-8") as handle:
        return [(row["query"], ast.literal_eval(row["audio_filenames"])) for row in csv.DictReader(handle)]


def dcase2025_reference(similarities: np.ndarray, queries: list[str], paths: list[str],
                        judged: list[tuple[str, list[str]]]) -> float:
    """The DCASE 2025 baseline's multi-positive mAP@10, step by step."""
    per_query = []
    for query, files in judged:
        row = similarities[queries.index(query)]
        positions = np.argsort(np.argsort(-row))  # 0-based rank of every clip
        ranks = sorted(int(positions[paths.index(f)]) for f in files)
        ap = 0.0
        for i, rank in enumerate(ranks, start=1):
            if rank >= 10:
                break
            ap += i / (rank + 1)
        per_query.append(ap / len(ranks))
    return float(np.mean(per_query))


def _clips_and_scores(seed: int, n_distractors: int = 20):
    judged = _relevance_rows()
    files = list(dict.fromkeys(f for _, names in judged for f in names))
    paths = files + [f"distractor {i}.wav" for i in range(n_distractors)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    paths = [paths[i] for i in order]
    queries = [q for q, _ in judged]
    similarities = rng.standard_normal((len(queries), len(paths)))  # continuous: no ties
    return judged, queries, paths, similarities


def test_twelve_relevant_clips_at_ranks_one_to_twelve_score_ten_twelfths():
    ranks = [np.arange(1, 13)]
    assert dcase2025_average_precision(ranks, 10)[0] == pytest.approx(10 / 12, abs=TOLERANCE)
    assert average_precision_at_k(ranks, 10)[0] == pytest.approx(1.0, abs=TOLERANCE)  # the caption-group form


@pytest.mark.parametrize("seed", range(5))
def test_dcase2025_map_matches_the_baseline_scorer_on_published_judgments(seed):
    judged, queries, paths, similarities = _clips_and_scores(seed)
    targets = read_relevance(PUBLISHED / "dcase2025_metadata_eval.csv", paths)
    assert targets.queries == queries
    assert [len(r) for r in targets.relevant] == [len(f) for _, f in judged] == [2, 1, 3, 6, 12]
    ours = dcase2025_average_precision(relevant_ranks(similarities, targets.relevant), 10).mean()
    assert ours == pytest.approx(dcase2025_reference(similarities, queries, paths, judged), abs=TOLERANCE)


def test_dcase2025_map_of_a_perfect_and_a_reversed_ranking():
    judged, queries, paths, _ = _clips_and_scores(0)
    targets = read_relevance(PUBLISHED / "dcase2025_metadata_eval.csv", paths)
    perfect = np.zeros((len(queries), len(paths)))
    for q, rel in enumerate(targets.relevant):
        perfect[q, rel] = 1.0
    # Everything relevant on top: AP is 1 except for the 12-file query, capped at 10/12.
    expected = (4 + 10 / 12) / 5
    ours = dcase2025_average_precision(relevant_ranks(perfect, targets.relevant), 10).mean()
    assert ours == pytest.approx(expected, abs=TOLERANCE)
    assert ours == pytest.approx(dcase2025_reference(perfect + 1e-9 * -np.arange(len(paths)), queries, paths,
                                                     judged), abs=TOLERANCE)
    assert dcase2025_average_precision(relevant_ranks(-perfect, targets.relevant), 10).mean() == 0.0


def test_relevance_file_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "metadata_eval.csv"
    bad.write_text("query,audio_filenames\nA dog barks.,\"['dog.wav']\"\nRain.,\"['nowhere.wav']\"\n")
    with pytest.raises(DataFormatError, match=r"metadata_eval.csv:3: 'nowhere.wav' is not a clip"):
        read_relevance(bad, ["dog.wav"])
    bad.write_text("query,audio_filenames\nA dog barks.,dog.wav\n")
    with pytest.raises(DataFormatError, match=r"metadata_eval.csv:2: audio_filenames 'dog.wav' is not a non-empty"):
        read_relevance(bad, ["dog.wav"])
    bad.write_text("query,audio_filenames\nA dog barks.,\"['1038.flac']\"\n")
    with pytest.raises(DataFormatError, match=r"metadata_eval.csv:2: '1038.flac' names 2 clips"):
        read_relevance(bad, ["1038.flac", "dog.wav", "1038.flac"])
    bad.write_text("query,files\nA dog barks.,\"['dog.wav']\"\n")
    with pytest.raises(DataFormatError, match=r"metadata_eval.csv:1: missing column\(s\) \['audio_filenames'\]"):
        read_relevance(bad, ["dog.wav"])


# ---------------------------------------------------------------- DCASE 2022 ranking files
def dcase2022_rescore(gt_csv: Path, pred_csv: Path) -> dict[str, float]:
    """eval_script.py's steps: caption -> ground-truth file; caption -> ranked files; per-query R@k, AP@10."""
    with open(gt_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    truth = {caption: row[0] for row in rows for caption in row[1:]}
    with open(pred_csv, newline="", encoding="utf-8") as handle:
        predicted = {row[0]: row[1:] for row in list(csv.reader(handle))[1:]}
    r1, r5, r10, ap10 = [], [], [], []
    for caption, fname in truth.items():
        hits = np.array([fname == p for p in predicted[caption]])
        r1.append(float(hits[:1].sum()))
        r5.append(float(hits[:5].sum()))
        r10.append(float(hits[:10].sum()))
        positions = np.arange(1, 11, dtype=float)[hits[:10]]
        ap10.append(float(np.sum(np.arange(1, len(positions) + 1) / positions)) if len(positions) else 0.0)
    _, _, _, interval = jackknife_stats(np.asarray(ap10), np.mean, 0.95)
    return {"R@1": np.mean(r1), "R@5": np.mean(r5), "R@10": np.mean(r10), "mAP@10": np.mean(ap10),
            "mAP@10_ci_low": interval[0], "mAP@10_ci_high": interval[1]}


@pytest.mark.parametrize("seed", range(3))
def test_submission_file_rescored_by_the_dcase2022_logic_gives_our_metrics(tmp_path, seed):
    gt = PUBLISHED / "clotho_captions_evaluation.csv"
    with open(gt, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [r["file_name"] for r in rows] + [f"other clip {i}.wav" for i in range(12)]
    queries = [r[f"caption_{i}"] for r in rows for i in range(1, 6)]
    relevant = [np.array([c]) for c in range(len(rows)) for _ in range(5)]
    scores = np.random.default_rng(seed).standard_normal((len(queries), len(names)))
    scores[np.arange(len(queries)), [r[0] for r in relevant]] += 1.5  # most true clips in the top 10
    submission = write_submission(tmp_path / "out.csv", scores, queries, names)
    header = submission.read_text().splitlines()[0]
    assert header == "caption," + ",".join(f"fname_{i}" for i in range(1, 11))
    rescored = dcase2022_rescore(gt, submission)
    ours = retrieval_metrics(scores, relevant)
    for key, value in rescored.items():
        assert ours[key] == pytest.approx(value, abs=TOLERANCE), key


def test_published_dcase2022_ranking_file_reads_like_ours():
    # The baseline's own submission: caption first, then ten names; quoted names with commas survive.
    with open(PUBLISHED / "dcase2022_test.output.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows[0]) == 11 and all(len(r) == 11 for r in rows[1:])
    assert rows[5][0] == "While rhythmically punching or stamping, a machine whines and squeals."


def test_a_ranking_file_refuses_clips_it_could_not_tell_apart(tmp_path):
    from audioret.utils.errors import AudioretError

    with pytest.raises(AudioretError, match=r"2 clips are called '1038.flac'"):
        write_submission(tmp_path / "out.csv", np.zeros((1, 3)), ["a query"], ["1038.flac", "x.wav", "1038.flac"])
    assert not (tmp_path / "out.csv").exists()
