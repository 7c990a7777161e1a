"""Indexing throughput (files/s) with a model, and how much of the time goes to decoding audio.

    python bench/index.py                                  # default model, 300 synthesised clips
    python bench/index.py --audio ~/Sounds --model models/my-model

Three timings in one run, on the same files:
  decode only   every file decoded and resampled to the model's rate by the indexer's thread pool
  index         a fresh `audioret index` of the folder (decode in the background + embed + write)
  re-index      the same command again with nothing changed (the incremental check alone)
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

from audioret.data.recipes import prepare
from audioret.data.recipes.base import walk_audio
from audioret.models import AudioTextModel
from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import describe_model, resolve_model_dir
from audioret.utils.audio import audio_duration, load_audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path, help="folder to index (default: a synth corpus made here)")
    parser.add_argument("--clips", type=int, default=300, help="synth clips when no --audio is given")
    parser.add_argument("--model", type=Path, help="model folder (default: the embedded default model)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        audio = args.audio
        if audio is None:
            audio = Path(tmp) / "audio"
            prepare("synth", audio, Path(tmp) / "manifests", size=args.clips, seed=0)
        files = walk_audio(audio)
        hours = sum(audio_duration(f) for f in files) / 3600
        folder = resolve_model_dir(args.model)
        model = AudioTextModel.from_pretrained(folder).eval()
        info = describe_model(folder, model)
        print(f"{len(files)} files ({hours:.2f} h of audio) in {audio}; model {folder.name} "
              f"({info['audio']} + {info['text']}, {model.sample_rate} Hz); {os.cpu_count()} CPUs, "
              f"{args.workers} decode threads, batch {args.batch_size}")

        tick = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            for _ in pool.map(lambda f: load_audio(f, model.sample_rate), files):
                pass
        decode_s = time.perf_counter() - tick

        out = Path(tmp) / "index"
        report = index_folder(audio, out, model, info, batch_size=args.batch_size, workers=args.workers)
        again = index_folder(audio, out, model, info, batch_size=args.batch_size, workers=args.workers)

    rows = [("decode only", decode_s), ("index", report.seconds), ("re-index (no change)", again.seconds)]
    print(f"\n{'run':22} {'seconds':>8} {'files/s':>9} {'x real time':>12}")
    for label, seconds in rows:
        print(f"{label:22} {seconds:8.2f} {len(files) / seconds:9.1f} {hours * 3600 / seconds:12.1f}")
    print(f"\nindex run: {report.embed_seconds:.1f} s embedding, {report.decode_wait_seconds:.1f} s waiting for "
          f"decode ({100 * report.decode_wait_seconds / report.seconds:.0f}% of the run); decoding alone takes "
          f"{100 * decode_s / report.seconds:.0f}% of the index run's time when run by itself")


if __name__ == "__main__":
    main()
