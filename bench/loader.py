"""Training-data throughput: what `audioret train`'s loader delivers from real audio files.

    python bench/loader.py                        # 10 s crops at 32 kHz (PaSST), batches of 128
    python bench/loader.py --workers 0 1 2 --batches 4 --json

The corpus is written once into a temporary folder, laid out as the datasets are published:
ClothoV2 (44.1 kHz 16-bit WAV, 15-30 s, `development/<name>.wav`) and WavCaps (44.1 kHz FLAC,
30-90 s, `FreeSound_flac/<id>.flac`), filled with band-limited noise so that FLAC compresses
as little as on field recordings. Each sample is what training does: choose a random 10 s window,
seek and decode only that part, mix to mono, resample to 32 kHz with soxr, pick a caption; each batch
of 128 is stacked and its captions tokenised (MiniLM's tokenizer) by the same collate function, in
the same DataLoader setup (`audioret.train.module.training_loader`).

Reported: samples/s for each worker count, samples/s per worker (from the one-worker run, which
has the main process free to receive), the time of each stage of one sample in one process, and
how many workers feed a given GPU rate (default 902 samples/s, PaSST-S + RoBERTa-large, batch 128,
bf16 on an H200, bench/train_step.py): ceil(rate / per-worker rate), assuming one core per worker.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audioret.data.manifest import ManifestRecord
from audioret.data.training import ClipSet, DatasetBatchSampler, TrainingClips, TrainingCollate
from audioret.train.module import training_loader
from audioret.utils.audio import _read_mono, resample

SOURCE_RATE = 44_100
MODEL_RATE = 32_000  # PaSST's rate
CLIP_SECONDS = 10.0
GPU_SAMPLES_PER_S = 902.0  # bench/train_step.py --device cuda on an H200 (README, Training throughput)


def noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Noise shaped like a field recording (more energy low), which FLAC cannot shrink much."""
    white = rng.standard_normal(int(seconds * SOURCE_RATE)).astype(np.float32)
    shaped = np.cumsum(white) * 0.002
    shaped -= np.convolve(shaped, np.ones(441) / 441, mode="same")  # remove the drift
    return np.clip(0.3 * shaped + 0.05 * white, -1, 1).astype(np.float32)


def write_corpus(root: Path, n_files: int, listed: int, seed: int = 0) -> list[ClipSet]:
    """Clotho-like WAVs and WavCaps-like FLACs, each file listed `listed` times (as different clips,
    each with its own random window); returns one clip set per layout."""
    rng = np.random.default_rng(seed)
    clotho, wavcaps = [], []
    for i in range(n_files):
        path = root / "clotho" / "development" / f"field recording {i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, noise(rng.uniform(15, 30), rng), SOURCE_RATE, subtype="PCM_16")
        clotho.append(ManifestRecord(id=path.name, audio=str(path), captions=[f"caption {i} of a clip"] * 5,
                                     dataset="clotho", split="development"))
        path = root / "wavcaps" / "FreeSound_flac" / f"{100_000 + i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, noise(rng.uniform(30, 90), rng), SOURCE_RATE, format="FLAC")
        wavcaps.append(ManifestRecord(id=f"FreeSound/{100_000 + i}", audio=str(path),
                                      captions=["a sound recorded outdoors with wind and distant traffic"],
                                      dataset="wavcaps", split="train"))
    def repeated(records: list[ManifestRecord]) -> list[ManifestRecord]:
        return [ManifestRecord(**{**r.__dict__, "id": f"{r.id}#{k}"}) for k in range(listed) for r in records]

    return [ClipSet("clotho", repeated(clotho)), ClipSet("wavcaps", repeated(wavcaps))]


def stage_times(sets: list[ClipSet], n: int = 40) -> dict[str, float]:
    """Median milliseconds per sample of each stage, one process (medians resist a busy machine)."""
    rng = np.random.default_rng(1)
    needed = math.ceil(CLIP_SECONDS * SOURCE_RATE)
    out = {}
    for clip_set in sets:
        read, convert = [], []
        for i in range(n):
            path = Path(clip_set.records[i % len(clip_set.records)].audio)
            frames = sf.info(str(path)).frames
            start = time.perf_counter()
            mono, rate = _read_mono(path, int(rng.integers(0, frames - needed)), needed)
            middle = time.perf_counter()
            resample(mono, rate, MODEL_RATE)
            convert.append(time.perf_counter() - middle)
            read.append(middle - start)
        out[f"{clip_set.name}: seek + decode 10 s (ms)"] = 1e3 * float(np.median(read))
        out[f"{clip_set.name}: resample 44.1 -> 32 kHz (ms)"] = 1e3 * float(np.median(convert))
    return out


def loader_rate(sets: list[ClipSet], collate: TrainingCollate, workers: int, batch: int, batches: int) -> float:
    """Samples/s over `batches` batches, after one warm-up batch per worker."""
    dataset = TrainingClips(sets, MODEL_RATE, int(CLIP_SECONDS * MODEL_RATE), seed=0)
    sampler = DatasetBatchSampler(dataset.sizes, batch, seed=0)
    loader = training_loader(dataset, sampler, collate, workers, pin_memory=False)
    iterator = iter(loader)
    for _ in range(max(1, workers)):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - start
    del iterator
    return batches * batch / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=4, help="timed batches per worker count")
    parser.add_argument("--files", type=int, default=64, help="audio files written per layout")
    parser.add_argument("--gpu-rate", type=float, default=GPU_SAMPLES_PER_S)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from audioret.models.text import minilm_package_folder

    collate = TrainingCollate(AutoTokenizer.from_pretrained(minilm_package_folder()), 32, 0.15)
    n_files = args.files
    # Enough listed clips that one epoch holds the warm-up and timed batches of every worker count.
    listed = math.ceil((args.batches + max(args.workers) + 1) * args.batch / (2 * n_files))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sets = write_corpus(Path(tmp), n_files, listed)
        written = time.perf_counter() - start
        stages = stage_times(sets)
        rates = {w: loader_rate(sets, collate, w, args.batch, args.batches) for w in args.workers}
    per_worker = rates.get(1, rates[max(rates)] / max(1, max(rates)))
    result = {"cpu": os.cpu_count(), "batch": args.batch, "corpus_files": 2 * n_files,
              "corpus_write_s": round(written, 1), "stage_ms": {k: round(v, 2) for k, v in stages.items()},
              "samples_per_s": {str(w): round(r, 1) for w, r in rates.items()},
              "samples_per_s_per_worker": round(per_worker, 1), "gpu_samples_per_s": args.gpu_rate,
              "workers_to_feed_gpu": math.ceil(args.gpu_rate / per_worker)}
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result["stage_ms"].items():
        print(f"{key:45s} {value:8.2f}")
    for workers, rate in result["samples_per_s"].items():
        print(f"workers={workers:>2s}  {rate:8.1f} samples/s")
    print(f"per worker: {per_worker:.1f} samples/s; {result['workers_to_feed_gpu']} workers feed "
          f"{args.gpu_rate:.0f} samples/s")


if __name__ == "__main__":
    main()
