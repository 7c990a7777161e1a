"""`RowStore` against a plain numpy array that undergoes the same appends and removals, and its int8
coding against the rounding worked by hand and the bound it promises."""

from __future__ import annotations

import numpy as np
import pytest

from audioret import AudioretError
from audioret.retrieval import rowstore
from audioret.retrieval.rowstore import ROW_STORAGES, RowStore, decode_rows, encode_rows, load_segment


def stored_and_back(rows: np.ndarray, storage: str) -> np.ndarray:
    out = np.empty(rows.shape, np.float32)
    decode_rows(encode_rows(rows, storage), storage, out)
    return out


def test_float16_rows_read_back_as_numpy_rounds_them():
    rows = np.random.default_rng(5).standard_normal((7, 5)).astype(np.float32)
    np.testing.assert_array_equal(stored_and_back(rows, "float16"), rows.astype(np.float16).astype(np.float32))


def test_int8_codes_and_scale_of_a_group_worked_by_hand(monkeypatch):
    monkeypatch.setattr(rowstore, "INT8_GROUP", 4)
    row = np.array([[0.5, -0.25, 0.127, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-3, -2e-3]], np.float32)
    stored = encode_rows(row, "int8")
    # group 1: scale 0.5/127; -0.25 / scale = -63.5 -> -64 (round half to even), 0.127 / scale = 32.258 -> 32
    # group 2: all zero -> scale 0, codes 0; group 3 (2 coordinates): scale 2e-3/127, 1e-3 -> 63.5 -> 64
    np.testing.assert_allclose(stored["scale"][0], [0.5 / 127, 0.0, 2e-3 / 127], rtol=2**-23)
    np.testing.assert_array_equal(stored["code"][0], [127, -64, 32, 0, 0, 0, 0, 0, 64, -127])
    np.testing.assert_allclose(stored_and_back(row, "int8")[0, [1, 8]], [-64 * 0.5 / 127, 64 * 2e-3 / 127],
                               rtol=2**-22)


def test_int8_rows_are_within_half_a_step_of_their_group_scale():
    rng = np.random.default_rng(6)
    rows = rng.standard_normal((50, 300)).astype(np.float32)
    rows[:, 128:256] *= 1e-3  # a block of small coordinates keeps its own, finer step
    rows[3] = 0.0
    back = stored_and_back(rows, "int8")
    for start in (0, 128, 256):
        group = rows[:, start : start + 128].astype(np.float64)
        step = np.abs(group).max(axis=1, keepdims=True) / 127
        error = np.abs(back[:, start : start + 128] - group)
        # half a step, plus float32 rounding of the division, the product and the scale (a few ulps of |x|)
        assert np.all(error <= step / 2 + 4 * 2**-24 * np.abs(group) + 1e-30)
    assert np.all(back[3] == 0)
    codes = encode_rows(rows, "int8")["code"]
    assert codes.min() >= -127 and codes.max() <= 127


def test_int8_codes_of_subnormal_groups_keep_their_sign_instead_of_wrapping_around():
    tiny = np.float32(1.4e-45)  # the smallest subnormal: x / (x / 127) is far from 127 down here
    rows = np.array([[178, -3], [1, 0]], np.float32) * tiny  # scale 178/127 tiny rounds to 1 tiny: code 178
    codes = encode_rows(rows, "int8")["code"]
    assert codes.min() >= -127 and codes.max() <= 127
    assert np.all(np.sign(codes) * np.sign(rows) >= 0) and codes[0, 0] > 0  # no sign flipped (0 may stay 0)


@pytest.mark.parametrize("storage", ROW_STORAGES)
def test_appends_and_removals_read_back_like_the_same_edits_of_one_array(storage):
    rng = np.random.default_rng(0)
    store, reference = RowStore(6, storage=storage), np.zeros((0, 6), np.float32)
    for step in range(8):
        block = rng.standard_normal((int(rng.integers(1, 40)), 6)).astype(np.float32)
        store.append(block)
        reference = np.concatenate([reference, stored_and_back(block, storage)])
        if step % 2:
            doomed = np.unique(rng.choice(len(reference), 7, replace=False))
            store.remove(doomed)
            reference = np.delete(reference, doomed, axis=0)
        assert len(store) == len(reference)
    picks = rng.permutation(len(reference))[:50]
    np.testing.assert_array_equal(store.gather(picks), reference[picks])
    np.testing.assert_array_equal(store.gather_all(), reference)
    assert len(store.segments) == 8 and len(store.dead) == 4 * 7


@pytest.mark.parametrize("storage", ROW_STORAGES)
def test_compaction_keeps_the_live_rows_in_order_as_one_segment(monkeypatch, storage):
    rng = np.random.default_rng(1)
    store = RowStore(4, storage=storage)
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


@pytest.mark.parametrize("storage", ROW_STORAGES)
def test_saved_segments_are_written_once_and_read_back_from_their_record(tmp_path, storage):
    rng = np.random.default_rng(2)
    store = RowStore(3, storage=storage)
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
    assert record["storage"] == storage
    opened = RowStore.from_record(record, lambda name, _sha, dtype: load_segment(tmp_path / name, dtype))
    np.testing.assert_array_equal(opened.gather_all(), store.gather_all())
    with pytest.raises(AudioretError, match="holds 10 rows, the record says 11"):
        record["segments"][0]["rows"] = 11
        RowStore.from_record(record, lambda name, _sha, dtype: load_segment(tmp_path / name, dtype))
    with pytest.raises(AudioretError, match="not a segment file name"):
        RowStore.from_record({"dim": 3, "dead": [], "segments": [{"name": "../x.npy", "rows": 1}]}, None)


def test_a_record_without_a_storage_is_float16_and_a_segment_of_another_storage_is_refused(tmp_path):
    rows = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    for storage in ROW_STORAGES:
        store = RowStore(3, storage=storage)
        store.append(rows)
        store.save(tmp_path / storage)
    record = RowStore(3).describe() | {"segments": [], "dead": []}
    del record["storage"]  # what folders written before int8 storage existed hold
    assert RowStore.from_record(record, None).storage == "float16"
    int8_record = store.describe()
    with pytest.raises(AudioretError, match="expected rows of float16"):
        RowStore.from_record(int8_record | {"storage": "float16"},
                             lambda name, _sha, dtype: load_segment(tmp_path / "int8" / name, dtype))
    with pytest.raises(AudioretError, match="unknown row storage 'int4'"):
        RowStore(3, storage="int4")
