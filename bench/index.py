"""Indexing throughput (files/s) with a model, and how much of the time goes to decoding audio.

    python bench/index.py                                  # default model, 300 synthesised 5 s clips
    python bench/index.py --audio ~/Sounds --model models/my-model
    python bench/index.py --precision float32              # one precision only

The model is loaded as `audioret index` loads it (`open_model`: encoders prepared for inference, in
the dtype that `--precision` gives on this machine). Timings in one run, on the same files:
  decode only      every file decoded and resampled to the model's rate by the indexer's thread pool
  index            a fresh `audioret index` of the folder (decode in the background + embed + write)
  index, float32   the same with the encoders in float32, when `--precision auto` chose bfloat16 here:
                   the baseline of the speed-up, and the cosine between the two runs' vectors
  re-index         the same command again with nothing changed (the incremental check alone)
`waiting for decode` is the part of the index run in which the embedding loop had no decoded audio
to work on; when it is small, decoding is hidden behind the model and a faster decoder would not help.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from audioret.data.recipes import prepare
from audioret.data.recipes.base import walk_audio
from audioret.models.loading import open_model
from audioret.retrieval.indexer import index_folder
from audioret.retrieval.library import IndexStore
from audioret.utils.audio import audio_duration, load_audio
from audioret.utils.numeric import PRECISIONS, inference_dtype


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path, help="folder to index (default: a synth corpus made here)")
    parser.add_argument("--clips", type=int, default=300, help="synth clips when no --audio is given")
    parser.add_argument("--model", type=Path, help="model folder (default: the embedded default model)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="as `audioret index --precision`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        audio = args.audio
        if audio is None:
            audio = Path(tmp) / "audio"
            prepare("synth", audio, Path(tmp) / "manifests", size=args.clips, seed=0)
        files = walk_audio(audio)
        hours = sum(audio_duration(f) for f in files) / 3600
        opened = open_model(args.model, precision=args.precision)
        model, info = opened.model, opened.info
        dtype = inference_dtype(args.precision)
        print(f"{len(files)} files ({hours:.2f} h of audio) in {audio}; model {opened.folder.name} "
              f"({info['audio']} + {info['text']}, {model.sample_rate} Hz) in {dtype}; {os.cpu_count()} CPUs, "
              f"{args.workers} decode threads, batch {args.batch_size}")

        tick = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            for _ in pool.map(lambda f: load_audio(f, model.sample_rate), files):
                pass
        decode_s = time.perf_counter() - tick

        def run(out: Path, with_model):
            return index_folder(audio, out, with_model, info, batch_size=args.batch_size, workers=args.workers)

        out = Path(tmp) / "index"
        report = run(out, model)
        rows = [("decode only", decode_s), (f"index, {str(dtype)[6:]}", report.seconds)]
        if dtype != torch.float32:
            baseline = run(Path(tmp) / "index-float32", open_model(opened.folder, precision="float32").model)
            rows.append(("index, float32", baseline.seconds))
            cosines = np.sum(vectors(out) * vectors(Path(tmp) / "index-float32"), axis=1)
        again = run(out, model)
        rows.append(("re-index (no change)", again.seconds))

    print(f"\n{'run':22} {'seconds':>8} {'files/s':>9} {'x real time':>12}")
    for label, seconds in rows:
        print(f"{label:22} {seconds:8.2f} {len(files) / seconds:9.1f} {hours * 3600 / seconds:12.1f}")
    if dtype != torch.float32:
        print(f"\n{str(dtype)[6:]} is {rows[2][1] / rows[1][1]:.2f}x the files/s of float32; cosine between their "
              f"vectors: min {cosines.min():.6f}, mean {cosines.mean():.6f}")
    print(f"\nindex run: {report.embed_seconds:.1f} s embedding, {report.decode_wait_seconds:.1f} s waiting for "
          f"decode ({100 * report.decode_wait_seconds / report.seconds:.0f}% of the run); decoding alone takes "
          f"{100 * decode_s / report.seconds:.0f}% of the index run's time when run by itself")


def vectors(index: Path) -> np.ndarray:
    """An index's stored vectors in (path, start) order, scaled to unit rows (a prior's part included)."""
    items, stored = IndexStore(index).committed()
    order = sorted(range(len(items)), key=lambda i: (items[i].path, items[i].start))
    rows = np.asarray(stored, np.float64)[order]
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


if __name__ == "__main__":
    main()
