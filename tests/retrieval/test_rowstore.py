"""`RowStore` against a plain numpy array that undergoes the same appends and removals."""

from __future__ import annotations

import numpy as np
import pytest

from audioret import AudioretError
from audioret.retrieval import rowstore
from audioret.retrieval.rowstore import RowStore, load_segment


def half(rows: np.ndarray) -> np.ndarray:
    return rows.astype(np.float16).astype(np.float32)


def test_appends_and_removals_read_back_like_the_same_edits_of_one_array():
    rng = np.random.default_rng(0)
    store, reference = RowStore(6), np.zeros((0, 6), np.float32)
    for step in range(8):
        block = rng.standard_normal((int(rng.integers(1, 40)), 6)).astype(np.float32)
        store.append(block)
        reference = np.concatenate([reference, half(block)])
        if step % 2:
            doomed = np.unique(rng.choice(len(reference), 7, replace=False))
            store.remove(doomed)
            reference = np.delete(reference, doomed, axis=0)
        assert len(store) == len(reference)
    picks = rng.permutation(len(reference))[:50]
    np.testing.assert_array_equal(store.gather(picks), reference[picks])
    np.testing.assert_array_equal(store.gather_all(), reference)
    assert len(store.segments) == 8 and len(store.dead) == 4 * 7


def test_compaction_keeps_the_live_rows_in_order_as_one_segment(monkeypatch):
    rng = np.random.default_rng(1)
    store = RowStore(4)
    for _ in range(3):
        store.append(rng.standard_normal((100, 4)).astype(np.float32))
    before = store.gather_all()
    store.remove(np.arange(0, 300, 5))  # 60 of 300 dead: below the 25% that compacts
    assert not store.compact_if_due()
    store.remove(np.arange(0, 240, 10))  # 84 of 300
    expected = store.gather_all()
    assert store.compact_if_due()
    assert len(store.segments) == 1 and len(store.dead) == 0
    np.testing.assert_array_equal(store.gather_all(), expected)
    assert len(expected) == 216 and not np.array_equal(expected[:10], before[:10])
    monkeypatch.setattr(rowstore, "MAX_SEGMENTS", 2)
    for _ in range(3):
        store.append(rng.standard_normal((5, 4)).astype(np.float32))
    assert store.compact_if_due() and len(store.segments) == 1 and len(store) == 231


def test_saved_segments_are_written_once_and_read_back_from_their_record(tmp_path):
    rng = np.random.default_rng(2)
    store = RowStore(3)
    store.append(rng.standard_normal((10, 3)).astype(np.float32))
    store.save(tmp_path)
    first = tmp_path / store.segments[0].name
    stamp = first.stat().st_mtime_ns, first.stat().st_ino
    store.append(rng.standard_normal((4, 3)).astype(np.float32))
    store.remove(np.array([0, 12]))
    store.save(tmp_path)
    assert (first.stat().st_mtime_ns, first.stat().st_ino) == stamp  # not written again
    record = store.describe()
    assert record["dead"] == [0, 12] and [s["rows"] for s in record["segments"]] == [10, 4]
    opened = RowStore.from_record(record, lambda name, _sha: load_segment(tmp_path / name))
    np.testing.assert_array_equal(opened.gather_all(), store.gather_all())
    with pytest.raises(AudioretError, match="holds 10 rows, the record says 11"):
        record["segments"][0]["rows"] = 11
        RowStore.from_record(record, lambda name, _sha: load_segment(tmp_path / name))
    with pytest.raises(AudioretError, match="not a segment file name"):
        RowStore.from_record({"dim": 3, "dead": [], "segments": [{"name": "../x.npy", "rows": 1}]}, None)
