"""The batch sampler: one dataset per batch, no clip twice in a batch, size-proportional draws,
shards that partition each global batch, and exact resumption."""

from __future__ import annotations

from collections import Counter

import pytest

from audioret.data.training import DatasetBatchSampler
from audioret.utils.errors import AudioretError


def epoch(sampler: DatasetBatchSampler, number: int) -> list[list[tuple[int, int, int]]]:
    sampler.set_epoch(number)
    return list(sampler)


def test_one_dataset_per_batch_no_duplicates_every_clip_once():
    sampler = DatasetBatchSampler([50, 23, 9], batch_size=4, seed=1)
    batches = epoch(sampler, 0)
    assert len(batches) == len(sampler) == 12 + 5 + 2
    for batch in batches:
        assert len({d for d, _, _ in batch}) == 1
        assert len({c for _, c, _ in batch}) == len(batch) == 4
    for dataset, size in enumerate([50, 23, 9]):
        used = [c for b in batches for d, c, _ in b if d == dataset]
        assert len(used) == len(set(used)) == size // 4 * 4


def test_weights_set_the_share_of_batches():
    sampler = DatasetBatchSampler([40, 40], batch_size=4, weights=[3.0, 1.0], seed=0)
    counts = Counter(b[0][0] for b in epoch(sampler, 0))
    assert counts == {0: 15, 1: 5}
    for batch in epoch(sampler, 0):
        assert len({c for _, c, _ in batch}) == 4  # reshuffled passes never repeat a clip within a batch


def test_order_depends_on_seed_and_epoch_only():
    a = DatasetBatchSampler([30, 30], batch_size=5, seed=7)
    b = DatasetBatchSampler([30, 30], batch_size=5, seed=7)
    assert epoch(a, 3) == epoch(b, 3)
    assert [[c for _, c, _ in x] for x in epoch(a, 3)] != [[c for _, c, _ in x] for x in epoch(a, 4)]
    assert epoch(a, 3) != epoch(DatasetBatchSampler([30, 30], batch_size=5, seed=8), 3)


def test_process_shards_partition_each_global_batch():
    whole = epoch(DatasetBatchSampler([32, 16], batch_size=8, seed=2), 1)
    shards = [epoch(DatasetBatchSampler([32, 16], batch_size=8, seed=2, rank=r, world_size=2), 1) for r in (0, 1)]
    for full, first, second in zip(whole, *shards, strict=True):
        assert first + second == full


def test_resumes_after_the_batches_already_trained():
    sampler = DatasetBatchSampler([40, 24], batch_size=4, seed=5)
    full = epoch(sampler, 2)
    state = sampler.state_dict(batches_done=6)
    resumed = DatasetBatchSampler([40, 24], batch_size=4, seed=5)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # what the trainer calls when the epoch restarts
    assert list(resumed) == full[6:]
    assert len(resumed) == len(full)  # the epoch keeps its length; iteration just starts later
    assert epoch(resumed, 3) == epoch(DatasetBatchSampler([40, 24], batch_size=4, seed=5), 3)


def test_a_state_saved_at_the_end_of_an_epoch_resumes_with_the_next_one():
    sampler = DatasetBatchSampler([40, 24], batch_size=4, seed=5)
    full = epoch(sampler, 2)
    resumed = DatasetBatchSampler([40, 24], batch_size=4, seed=5)
    resumed.load_state_dict(sampler.state_dict(batches_done=len(full)))
    assert list(resumed) == epoch(DatasetBatchSampler([40, 24], batch_size=4, seed=5), 3)


def test_bad_sizes_are_refused():
    with pytest.raises(AudioretError, match="dataset 1 has 3 clips, fewer than one batch of 4"):
        DatasetBatchSampler([10, 3], batch_size=4)
    with pytest.raises(AudioretError, match="does not split over 3 processes"):
        DatasetBatchSampler([10], batch_size=4, world_size=3)


def test_training_loader_keeps_its_workers_and_delivers_whole_batches(tmp_path):
    from transformers import AutoTokenizer

    from audioret.data.manifest import ManifestRecord
    from audioret.data.training import ClipSet, TrainingClips, TrainingCollate
    from audioret.models.text import minilm_package_folder
    from audioret.train.module import training_loader
    from conftest import write_tone

    records = [ManifestRecord(id=str(i), audio=str(write_tone(tmp_path / f"{i}.flac", 1.5, rate=44_100,
                                                                format="FLAC")),
                              captions=[f"tone {i}"], dataset="d", split="train") for i in range(4)]
    dataset = TrainingClips([ClipSet("d", records)], 32_000, 32_000, seed=0)
    collate = TrainingCollate(AutoTokenizer.from_pretrained(minilm_package_folder()), 8)
    sampler = DatasetBatchSampler(dataset.sizes, 2, seed=0)
    loader = training_loader(dataset, sampler, collate, num_workers=1, pin_memory=False)
    assert loader.persistent_workers
    batches = list(loader)
    assert [tuple(b["audio"].shape) for b in batches] == [(2, 32_000), (2, 32_000)]
    assert not training_loader(dataset, sampler, collate, num_workers=0, pin_memory=False).persistent_workers
