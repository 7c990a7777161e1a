"""What training reads: clips of several manifests, one dataset per batch, no clip twice in a batch.

The sampler sees only dataset sizes and yields (dataset, clip, epoch) triples; the dataset does the
I/O. Every random choice (batch order, crop offset, caption, GPT paraphrase) is a function of
(seed, epoch, position), so a resumed run sees exactly the data an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from audioret.data.manifest import ManifestRecord
from audioret.data.text import tokenize_captions
from audioret.utils.audio import load_random_crop
from audioret.utils.errors import AudioretError

Item = tuple[int, int, int]  # (dataset index, clip index, epoch)
CLIP_ID_STRIDE = 1 << 32  # clip ids are dataset * stride + clip, unique across datasets


def merge_same_audio(records: Sequence[ManifestRecord]) -> list[ManifestRecord]:
    """One record per audio file, captions (and paraphrases) of duplicates merged, order kept."""
    merged: dict[str, ManifestRecord] = {}
    for record in records:
        first = merged.get(record.audio)
        if first is None:
            merged[record.audio] = ManifestRecord(**{**record.__dict__, "captions": list(record.captions),
                                                     "variations": _variations(record)})
        else:
            first.captions.extend(record.captions)
            first.variations.extend(_variations(record))
    return list(merged.values())


def _variations(record: ManifestRecord) -> list[list[str]]:
    variations = record.variations or []
    return [list(v) for v in variations] + [[] for _ in range(len(record.captions) - len(variations))]


@dataclass
class ClipSet:
    """One training manifest: its clips and how captions are drawn."""

    name: str
    records: list[ManifestRecord]
    variation_prob: float = 0.3


class TrainingClips(Dataset):
    """Random crops with one randomly chosen caption, from several manifests.

    Args:
        sets: the training manifests, already merged per audio file.
        sample_rate: the audio encoder's rate.
        clip_samples: crop length (shorter clips are zero-padded).
        seed: run seed.
    """

    def __init__(self, sets: Sequence[ClipSet], sample_rate: int, clip_samples: int, seed: int = 0):
        self.sets, self.sample_rate, self.clip_samples, self.seed = list(sets), sample_rate, clip_samples, seed
        for clip_set in self.sets:
            if not clip_set.records:
                raise AudioretError(f"training manifest {clip_set.name} has no clips")
            if not all(r.captions for r in clip_set.records):
                bad = next(r for r in clip_set.records if not r.captions)
                raise AudioretError(f"{clip_set.name}: clip {bad.id} ({bad.audio}) has no caption to train on")

    @property
    def sizes(self) -> list[int]:
        return [len(s.records) for s in self.sets]

    def __len__(self) -> int:
        return sum(self.sizes)

    def __getitem__(self, item: Item) -> dict[str, Any]:
        dataset, clip, epoch = item
        clip_set = self.sets[dataset]
        record = clip_set.records[clip]
        rng = np.random.default_rng([self.seed, epoch, dataset, clip])
        caption_index = int(rng.integers(len(record.captions)))
        caption = record.captions[caption_index]
        paraphrases = record.variations[caption_index] if record.variations else []
        if paraphrases and rng.random() < clip_set.variation_prob:
            caption = paraphrases[int(rng.integers(len(paraphrases)))]
        wave, _ = load_random_crop(record.audio, self.sample_rate, self.clip_samples, rng)
        return {"audio": wave, "caption": caption, "clip_id": dataset * CLIP_ID_STRIDE + clip}


class TrainingCollate:
    """Stacks crops and tokenises (and masks) captions; runs in the loader's workers."""

    def __init__(self, tokenizer: Any, max_length: int = 32, mask_prob: float = 0.0):
        self.tokenizer, self.max_length, self.mask_prob = tokenizer, max_length, mask_prob

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        text = tokenize_captions(self.tokenizer, [i["caption"] for i in items], self.max_length, self.mask_prob)
        return {
            "audio": torch.from_numpy(np.stack([i["audio"] for i in items])),
            "input_ids": text["input_ids"],
            "attention_mask": text["attention_mask"],
            "clip_ids": torch.tensor([i["clip_id"] for i in items], dtype=torch.int64),
        }


class DatasetBatchSampler(Sampler[list[Item]]):
    """Batches drawn from one dataset at a time, each clip at most once per batch.

    Per epoch, each dataset's clips are shuffled and cut into global batches (the incomplete last one
    is dropped); batch order is shuffled across datasets. Without weights every batch of every dataset
    is used once, so datasets appear in proportion to their size; with weights, dataset d gets a share
    w_d / sum(w) of the epoch's batches (reshuffled passes when it runs out). Each process takes its
    slice of every global batch.

    `state_dict()` / `load_state_dict()` record how many batches of which epoch were trained, so a
    resumed run continues with the next batch of the same order.
    """

    def __init__(self, sizes: Sequence[int], batch_size: int, weights: Sequence[float] | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise AudioretError(f"batch size {batch_size} does not split over {world_size} processes")
        small = [i for i, n in enumerate(sizes) if n < batch_size]
        if small:
            raise AudioretError(f"dataset {small[0]} has {sizes[small[0]]} clips, "
                                f"fewer than one batch of {batch_size}")
        self.sizes, self.batch_size, self.weights = list(sizes), batch_size, weights
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.start = 0, 0
        self._pending: tuple[int, int] | None = None

    def global_batches(self, epoch: int) -> list[tuple[int, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch])
        natural = [n // self.batch_size for n in self.sizes]
        if self.weights is None:
            counts = natural
        else:
            total = sum(natural)
            counts = [max(1, round(total * w / sum(self.weights))) for w in self.weights]
        batches = []
        for dataset, (size, count) in enumerate(zip(self.sizes, counts, strict=True)):
            made: list[np.ndarray] = []
            while len(made) < count:
                order = rng.permutation(size)
                made.extend(order[i * self.batch_size : (i + 1) * self.batch_size]
                            for i in range(size // self.batch_size))
            batches.extend((dataset, b) for b in made[:count])
        return [batches[i] for i in rng.permutation(len(batches))]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        pending, self._pending = self._pending, None
        self.start = pending[1] if pending is not None and pending[0] == epoch else 0

    def __iter__(self) -> Iterator[list[Item]]:
        local = self.batch_size // self.world_size
        for dataset, batch in self.global_batches(self.epoch)[self.start :]:
            shard = batch[self.rank * local : (self.rank + 1) * local]
            yield [(dataset, int(clip), self.epoch) for clip in shard]

    def __len__(self) -> int:
        return len(self.global_batches(self.epoch))

    def state_dict(self, batches_done: int) -> dict[str, int]:
        return {"epoch": self.epoch, "batches_done": batches_done, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume: the next `set_epoch(state['epoch'])` starts after the batches already trained."""
        self.epoch, self.start = int(state["epoch"]), int(state["batches_done"])
        if self.start >= len(self.global_batches(self.epoch)):  # saved at the end of an epoch
            self.epoch, self.start = self.epoch + 1, 0
        self._pending = (self.epoch, self.start)  # survives a set_epoch for the same epoch
