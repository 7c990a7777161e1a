"""`Index` against brute-force numpy search, and its approximate backends on clustered data."""

from __future__ import annotations

import numpy as np
import pytest

from audioret import AudioretError, Index
from audioret.retrieval import vectors as vectors_module
from audioret.retrieval.rowstore import decode_rows, encode_rows


def as_stored(rows: np.ndarray, backend: str, storage: str) -> np.ndarray:
    """What an index of `backend` keeps of `rows`: float32 in flat/HNSW, an IVF's row storage otherwise."""
    if backend != "ivf":
        return rows
    if storage == "float16":
        return rows.astype(np.float16).astype(np.float32)  # numpy's own rounding
    out = np.empty(rows.shape, np.float32)
    decode_rows(encode_rows(rows, storage), storage, out)  # checked by hand in test_rowstore.py
    return out


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, n: int, dim: int, clusters: int = 40) -> np.ndarray:
    """Unit vectors around a few centres, like embeddings of sounds of a few kinds."""
    centres = unit_rows(rng, clusters, dim)
    x = centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_equals_numpy_brute_force():
    rng = np.random.default_rng(0)
    base, queries = unit_rows(rng, 500, 32), unit_rows(rng, 20, 32)
    ids = [f"clip{i}" for i in range(500)]
    index = Index.build(base, ids)
    assert index.backend == "flat"
    scores, found = index.search(queries, k=7)
    reference = queries @ base.T
    order = np.argsort(-reference, axis=1, kind="stable")[:, :7]
    assert found == [[ids[j] for j in row] for row in order]
    np.testing.assert_allclose(scores, np.take_along_axis(reference, order, axis=1), atol=1e-5)


def test_k_larger_than_the_index_returns_everything_once():
    rng = np.random.default_rng(1)
    index = Index.build(unit_rows(rng, 5, 8))
    scores, found = index.search(unit_rows(rng, 2, 8), k=50)
    assert scores.shape == (2, 5) and all(sorted(row) == [0, 1, 2, 3, 4] for row in found)


@pytest.mark.parametrize(("backend", "storage"), [("ivf", "float16"), ("ivf", "int8"), ("hnsw", "float16")])
def test_approximate_backends_find_most_true_neighbours_on_clustered_data(backend, storage):
    rng = np.random.default_rng(2)
    base = clustered(rng, 20_000, 64)
    queries = clustered(rng, 200, 64)
    exact = Index.build(base, backend="flat").search(queries, 10)[1]
    approx = Index.build(base, backend=backend, row_storage=storage)
    assert approx.backend == backend
    found = approx.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(found, exact, strict=True)])
    assert recall >= 0.85, recall  # a random pick would score 10 / 20000


def test_auto_switches_to_ivf_above_the_exact_limit(monkeypatch):
    monkeypatch.setattr(vectors_module, "EXACT_LIMIT", 1000)
    rng = np.random.default_rng(3)
    assert Index.build(unit_rows(rng, 1000, 16)).backend == "flat"
    big = Index.build(clustered(rng, 5000, 16))
    assert big.backend == "ivf" and big.search_effort >= 1


@pytest.mark.parametrize(("backend", "storage"), [("flat", "int8"), ("ivf", "float16"), ("ivf", "int8"),
                                                  ("hnsw", "float16")])
def test_save_and_load_give_the_same_answers(tmp_path, backend, storage):
    rng = np.random.default_rng(4)
    base, queries = clustered(rng, 3000, 16), clustered(rng, 10, 16)
    index = Index.build(base, [f"id{i}" for i in range(3000)], backend=backend, row_storage=storage)
    index.save(tmp_path / "idx")
    again = Index.load(tmp_path / "idx")
    assert again.backend == backend and len(again) == 3000
    assert again.row_storage == storage  # a flat index keeps it for when it grows into an IVF
    first, second = index.search(queries, 5), again.search(queries, 5)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]


def test_bad_inputs_are_clear_errors(tmp_path):
    rng = np.random.default_rng(5)
    index = Index.build(unit_rows(rng, 10, 8))
    with pytest.raises(AudioretError, match="dimensions"):
        index.search(unit_rows(rng, 1, 9), 3)
    with pytest.raises(AudioretError, match="at least 1"):
        index.search(unit_rows(rng, 1, 8), 0)
    with pytest.raises(AudioretError, match="NaN"):
        Index.build(np.full((3, 8), np.nan, np.float32))
    with pytest.raises(AudioretError, match="ids"):
        Index.build(unit_rows(rng, 3, 8), ids=["a"])
    with pytest.raises(AudioretError, match="backend"):
        Index.build(unit_rows(rng, 3, 8), backend="annoy")
    with pytest.raises(AudioretError, match="vectors.faiss"):
        Index.load(tmp_path)


def recall_at_10(found: list[list], truth: list[list]) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


@pytest.mark.parametrize(("backend", "storage"), [("flat", "float16"), ("ivf", "float16"), ("ivf", "int8"),
                                                  ("hnsw", "float16")])
def test_rows_read_back_exactly_what_was_stored(backend, storage):
    rng = np.random.default_rng(6)
    base = clustered(rng, 3000, 16)
    index = Index.build(base, backend=backend, row_storage=storage)
    stored = as_stored(base, backend, storage)
    np.testing.assert_array_equal(index.rows([0, 2999, 17]), stored[[0, 2999, 17]])
    np.testing.assert_array_equal(index.rows(slice(100, 110)), stored[100:110])
    np.testing.assert_array_equal(np.asarray(vectors_module.RowView(index)), stored)
    with pytest.raises(IndexError):
        index.rows([3000])


@pytest.mark.parametrize(("backend", "storage"), [("flat", "float16"), ("ivf", "float16"), ("ivf", "int8")])
def test_add_and_remove_without_retraining_match_exact_search_over_the_same_rows(backend, storage):
    """Remove a third, add new clustered rows: the result searches like an exact index built on
    exactly the surviving and added rows (same ids), and the IVF cells are the ones trained before."""
    rng = np.random.default_rng(7)
    every = clustered(rng, 15_100, 32)  # one collection of sounds: what is added is like what was there
    base, extra, queries = every[:12_000], every[12_000:15_000], every[15_000:]
    ids = [f"old{i}" for i in range(len(base))]
    index = Index.build(base, ids, backend=backend, row_storage=storage)
    centroids = index.ivf.quantizer.reconstruct_n(0, index.ivf.nlist) if backend == "ivf" else None
    gone = set(rng.choice(len(base), 4_000, replace=False).tolist())
    index.remove([ids[i] for i in sorted(gone)])
    index.add(extra, [f"new{i}" for i in range(len(extra))])
    survivors = [i for i in range(len(base)) if i not in gone]
    expected_ids = [ids[i] for i in survivors] + [f"new{i}" for i in range(len(extra))]
    expected_rows = np.concatenate([base[survivors], extra])
    assert index.ids == expected_ids and len(index) == len(expected_rows)
    stored = as_stored(expected_rows, backend, storage)
    np.testing.assert_array_equal(index.rows(slice(None)), stored)  # row r still belongs to ids[r]
    truth = Index.build(expected_rows, expected_ids, backend="flat").search(queries, 10)[1]
    found = index.search(queries, 10)[1]
    if backend == "flat":
        assert found == truth
    else:
        np.testing.assert_array_equal(index.ivf.quantizer.reconstruct_n(0, index.ivf.nlist), centroids)
        fresh = Index.build(expected_rows, expected_ids, backend="ivf", row_storage=storage).search(queries, 10)[1]
        assert recall_at_10(found, truth) >= recall_at_10(fresh, truth) - 0.05  # cells trained before suffice
        # every cell scanned: exactly the top 10 of exact search over the rows it stores
        index.set_search_effort(index.ivf.nlist)
        assert index.search(queries, 10)[1] == Index.build(stored, expected_ids, backend="flat").search(queries, 10)[1]


def test_an_index_that_outgrew_its_training_asks_for_a_rebuild(monkeypatch):
    monkeypatch.setattr(vectors_module, "EXACT_LIMIT", 1000)
    rng = np.random.default_rng(8)
    index = Index.build(clustered(rng, 2000, 16))
    assert index.backend == "ivf" and not index.needs_rebuild()
    index.add(clustered(rng, 2000, 16), range(2000, 4000))
    assert not index.needs_rebuild()  # exactly twice the training size
    index.add(clustered(rng, 1, 16), [4000])
    assert index.needs_rebuild()
    small = Index.build(clustered(rng, 900, 16))
    small.add(clustered(rng, 200, 16), range(900, 1100))
    assert small.backend == "flat" and small.needs_rebuild()  # past the exact limit: IVF is due
    fresh = Index.build(clustered(rng, 2000, 16))
    assert not fresh.needs_rebuild(row_storage="float16") and fresh.needs_rebuild(row_storage="int8")
    flat = Index.build(clustered(rng, 500, 16))
    assert flat.backend == "flat" and not flat.needs_rebuild(row_storage="int8")  # float32 rows: nothing to redo


def test_hnsw_cannot_remove_and_says_so():
    rng = np.random.default_rng(9)
    index = Index.build(clustered(rng, 500, 8), backend="hnsw")
    with pytest.raises(AudioretError, match="HNSW index cannot remove"):
        index.remove([3])
    with pytest.raises(AudioretError, match="not in the index"):
        Index.build(clustered(rng, 5, 8)).remove([99])
