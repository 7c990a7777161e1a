"""Retrieval metrics against independent references: examples worked by hand, torchmetrics, a
brute-force sort, and astropy's jackknife."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from astropy.stats import jackknife_stats
from hypothesis import given, settings
from hypothesis import strategies as st
from torchmetrics.functional.retrieval import retrieval_average_precision, retrieval_recall

from audioret.data.manifest import ManifestRecord
from audioret.eval.metrics import (
    average_precision_at_k,
    chance_map_at_k,
    jackknife_interval,
    recall_at_k,
    relevant_ranks,
    retrieval_metrics,
    targets_from_records,
)

#: Both sides float64. An AP@k sums at most k = 10 precisions of size <= 1 (error <= 20 u64 = 2e-15); the
#: jackknife sums 500 leave-one-out means and takes a square root (<= 1000 u64 = 1.1e-13). 1e-12 covers both.
METRIC_TOL = 1e-12


def brute_force_ap(scores: np.ndarray, relevant: set[int], k: int) -> float:
    """AP@k by sorting the clips explicitly (stable, so ties go to the lower index)."""
    order = sorted(range(len(scores)), key=lambda j: -scores[j])
    hits, total = 0, 0.0
    for position, clip in enumerate(order[:k], start=1):
        if clip in relevant:
            hits += 1
            total += hits / position
    return total / min(k, len(relevant))


def test_hand_worked_single_positive():
    # Query 0: its clip (2) has the 3rd highest score -> AP 1/3. Query 1: clip 0 is first -> 1.
    # Query 2: clip 1 ranks 4th of 4 -> 1/4 with k=10, 0 with k=3.
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.8, 0.2, 0.3, 0.1], [0.4, 0.0, 0.3, 0.2]])
    relevant = [np.array([2]), np.array([0]), np.array([1])]
    ranks = relevant_ranks(scores, relevant)
    assert [r.tolist() for r in ranks] == [[3], [1], [4]]
    assert average_precision_at_k(ranks, 10).tolist() == pytest.approx([1 / 3, 1.0, 1 / 4], abs=METRIC_TOL)
    assert average_precision_at_k(ranks, 3).tolist() == pytest.approx([1 / 3, 1.0, 0.0], abs=METRIC_TOL)
    assert recall_at_k(ranks, 1).tolist() == [0.0, 1.0, 0.0]
    m = retrieval_metrics(scores, relevant, ks=(1, 3))
    assert m["mAP@10"] == pytest.approx((1 / 3 + 1 + 1 / 4) / 3, abs=METRIC_TOL)
    assert m["R@3"] == pytest.approx(2 / 3, abs=METRIC_TOL)


def test_hand_worked_group_captions_normalised_by_min_k_relevant():
    # Relevant clips {1, 3, 4} at ranks 1, 3, 6 (scores sorted by hand).
    scores = np.array([[0.5, 0.9, 0.8, 0.7, 0.2, 0.6, 0.4]])
    relevant = [np.array([1, 3, 4])]
    ranks = relevant_ranks(scores, relevant)
    assert ranks[0].tolist() == [1, 3, 7]
    # k=10: (1/1 + 2/3 + 3/7) / min(10, 3) ; k=2: (1/1) / min(2, 3) ; k=5: (1 + 2/3) / 3.
    assert average_precision_at_k(ranks, 10)[0] == pytest.approx((1 + 2 / 3 + 3 / 7) / 3, abs=METRIC_TOL)
    assert average_precision_at_k(ranks, 2)[0] == pytest.approx(1 / 2, abs=METRIC_TOL)
    assert average_precision_at_k(ranks, 5)[0] == pytest.approx((1 + 2 / 3) / 3, abs=METRIC_TOL)
    assert recall_at_k(ranks, 5)[0] == pytest.approx(2 / 3, abs=METRIC_TOL)


def test_ties_are_broken_by_clip_order():
    scores = np.array([[0.5, 0.5, 0.5, 0.5]])
    assert relevant_ranks(scores, [np.array([0])])[0].tolist() == [1]
    assert relevant_ranks(scores, [np.array([3])])[0].tolist() == [4]
    assert relevant_ranks(scores, [np.array([1, 2])])[0].tolist() == [2, 3]
    assert average_precision_at_k(relevant_ranks(scores, [np.array([2])]), 10)[0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(5))
def test_single_positive_agrees_with_torchmetrics(seed):
    rng = np.random.default_rng(seed)
    n_queries, n_clips = 60, 35
    scores = rng.normal(size=(n_queries, n_clips))
    targets = rng.integers(0, n_clips, n_queries)
    ranks = relevant_ranks(scores, [np.array([t]) for t in targets])
    ours_ap = average_precision_at_k(ranks, 10)
    for k in (1, 5, 10):
        ours_recall = recall_at_k(ranks, k)
        for q in range(n_queries):
            target = torch.zeros(n_clips, dtype=torch.bool)
            target[targets[q]] = True
            preds = torch.from_numpy(scores[q])
            ref_recall = retrieval_recall(preds, target, top_k=k).item()
            assert abs(ours_recall[q] - ref_recall) < METRIC_TOL
    for q in range(n_queries):
        target = torch.zeros(n_clips, dtype=torch.bool)
        target[targets[q]] = True
        ref_ap = retrieval_average_precision(torch.from_numpy(scores[q]), target, top_k=10)
        # torchmetrics divides in float32 whatever the input dtype: equal at that precision. The
        # float64 brute-force reference below checks the same values to METRIC_TOL.
        assert np.float32(ours_ap[q]) == ref_ap.item()
        assert abs(ours_ap[q] - brute_force_ap(scores[q], {int(targets[q])}, 10)) < METRIC_TOL


@pytest.mark.parametrize("seed", range(3))
def test_group_captions_recall_agrees_with_torchmetrics(seed):
    rng = np.random.default_rng(100 + seed)
    scores = rng.normal(size=(20, 30))
    relevant = [rng.choice(30, size=rng.integers(1, 6), replace=False) for _ in range(20)]
    ranks = relevant_ranks(scores, relevant)
    for q, rel in enumerate(relevant):
        target = torch.zeros(30, dtype=torch.bool)
        target[torch.from_numpy(rel)] = True
        for k in (1, 5, 10):
            ref = retrieval_recall(torch.from_numpy(scores[q]), target, top_k=k).item()
            assert np.float32(recall_at_k(ranks, k)[q]) == ref  # torchmetrics divides in float32


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 40), st.booleans())
def test_group_captions_ap_agrees_with_brute_force(seed, n_queries, n_clips, coarse):
    rng = np.random.default_rng(seed)
    # Coarse scores create many ties, which the stable order must settle the same way.
    scores = rng.integers(0, 4, size=(n_queries, n_clips)).astype(float) if coarse else rng.normal(
        size=(n_queries, n_clips))
    relevant = [rng.choice(n_clips, size=rng.integers(1, min(n_clips, 5) + 1), replace=False)
                for _ in range(n_queries)]
    for k in (1, 3, 10):
        ours = average_precision_at_k(relevant_ranks(scores, relevant), k)
        ref = [brute_force_ap(scores[q], set(relevant[q].tolist()), k) for q in range(n_queries)]
        np.testing.assert_allclose(ours, ref, atol=METRIC_TOL)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 50))
def test_results_do_not_depend_on_chunk_size(seed, chunk):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=(37, 23)).astype(float)
    relevant = [rng.choice(23, size=rng.integers(1, 4), replace=False) for _ in range(37)]
    whole = retrieval_metrics(scores, relevant, chunk_size=1000)
    chunked = retrieval_metrics(scores, relevant, chunk_size=chunk)
    assert whole == chunked


@pytest.mark.parametrize("n", [2, 7, 500])
def test_jackknife_matches_astropy(n):
    values = np.random.default_rng(n).random(n)
    _, _, _, interval = jackknife_stats(values, np.mean, confidence_level=0.95)
    low, high = jackknife_interval(values)
    assert low == pytest.approx(interval[0], abs=METRIC_TOL)
    assert high == pytest.approx(interval[1], abs=METRIC_TOL)


def test_chance_level_matches_simulation():
    rng = np.random.default_rng(0)
    n_clips = 50
    scores = rng.random((20_000, n_clips))
    ap = average_precision_at_k(relevant_ranks(scores, [np.array([0])] * 20_000, chunk_size=4096), 10)
    assert ap.mean() == pytest.approx(chance_map_at_k(n_clips), rel=0.05)


def _record(i: int, captions: list[str]) -> ManifestRecord:
    return ManifestRecord(id=str(i), audio=f"{i}.wav", captions=captions, dataset="t", split="eval")


def test_targets_single_positive_one_query_per_caption():
    targets = targets_from_records([_record(0, ["A dog.", "b"]), _record(1, ["a dog"])])
    assert targets.queries == ["A dog.", "b", "a dog"]
    assert [r.tolist() for r in targets.relevant] == [[0], [0], [1]]


def test_targets_group_captions_merges_equal_normalised_captions():
    targets = targets_from_records([_record(0, ["A dog barks.", "rain"]), _record(1, ["a dog barks"]),
                                    _record(2, ["Rain!", "rain"])], group_captions=True)
    assert targets.queries == ["a dog barks", "rain"]
    assert [r.tolist() for r in targets.relevant] == [[0, 1], [0, 2]]


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="one relevant set per query"):
        relevant_ranks(np.zeros((2, 3)), [np.array([0])])
    with pytest.raises(ValueError, match="within"):
        relevant_ranks(np.zeros((1, 3)), [np.array([3])])
    with pytest.raises(ValueError, match="non-empty"):
        relevant_ranks(np.zeros((1, 3)), [np.array([], dtype=int)])
