"""Retrieval quality of the default model beside the training-free YAMNet baseline and chance, per category.

    make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx   # once
    python bench/quality.py                                  # the development set
    python bench/quality.py --test                           # the test set, once, for the figures we report
    python bench/quality.py --model runs/other/model --manifest data/sfx/sfx_dev.jsonl
    python bench/quality.py --precision auto                 # the encoders as `audioret index` runs them here

The held-out sets are whole packages never trained on (src/audioret/data/recipes/sfx.py), their clips
copied under opaque names. Metrics are multi-positive: a caption carried by several clips is one query
whose relevant set is all of them. Percent, with the 95% jackknife interval of mAP@10. A query's category
is its clips' category. Chance is the mean over 20 random rankings. The baseline's tau is the best of a
small grid on the development set (so its dev figure, unlike the model's, was tuned on dev).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audioret import default_model_dir
from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.data.recipes.sfx import CATEGORIES
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.eval.zero_shot import YamnetLabelBaseline
from audioret.models.loading import load_model_folder
from audioret.utils.errors import MissingFileError
from audioret.utils.numeric import PRECISIONS
from audioret.utils.text import normalize_caption

DEV, TEST = Path("data/sfx/sfx_dev.jsonl"), Path("data/sfx/sfx_test.jsonl")
TAUS = (0.01, 0.02, 0.05, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model folder (default: the embedded default model)")
    parser.add_argument("--manifest", type=Path, help="an evaluation manifest (default: the development set)")
    parser.add_argument("--test", action="store_true", help="evaluate on the test set instead")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="the audio encoder's dtype, as `audioret index --precision` (default: float32, the "
                             "figures of record)")
    args = parser.parse_args()
    manifest = args.manifest or (TEST if args.test else DEV)
    for path in {manifest, DEV}:
        if not path.is_file():
            raise MissingFileError(path, "evaluation manifest",
                                   "make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx")
    model = load_model_folder(args.model or default_model_dir(), precision=args.precision)
    baseline = YamnetLabelBaseline(model)
    baseline.tau = tune_baseline(baseline, list(read_manifest(DEV)))
    records = list(read_manifest(manifest))
    targets = targets_from_records(records, group_captions=True)
    ours = model.encode_text(targets.queries) @ model.encode_audio([r.audio for r in records]).T
    theirs = baseline.score(targets.queries, baseline.clip_posteriors([r.audio for r in records]))
    rng = np.random.default_rng(0)
    chances = [rng.random(ours.shape) for _ in range(20)]
    category = {normalize_caption(c): r.meta.get("category", "?") for r in records for c in r.captions}
    name = model.config.get("provenance", {}).get("recipe", "model")
    print(f"{manifest}: {len(records)} clips, {len(targets)} queries; model {name}; baseline YAMNet class names, "
          f"tau={baseline.tau} (dev)\n")
    print(f"{'queries':24} {'n':>4} | {'model mAP@10 [95% CI]':>24} {'R@1':>6} {'R@10':>6} | "
          f"{'baseline mAP@10 [95% CI]':>24} {'R@1':>6} {'R@10':>6} | {'chance':>6}")
    for label in ("all", *CATEGORIES):
        rows = [i for i, q in enumerate(targets.queries) if label == "all" or category.get(q) == label]
        if not rows:
            continue
        relevant = [targets.relevant[i] for i in rows]
        a, b = retrieval_metrics(ours[rows], relevant), retrieval_metrics(theirs[rows], relevant)
        chance = np.mean([retrieval_metrics(c[rows], relevant)["mAP@10"] for c in chances])
        print(f"{label:24} {len(rows):4d} | {cell(a):>24} {100 * a['R@1']:6.1f} {100 * a['R@10']:6.1f} | "
              f"{cell(b):>24} {100 * b['R@1']:6.1f} {100 * b['R@10']:6.1f} | {100 * chance:6.1f}")


def cell(metrics: dict[str, float]) -> str:
    return (f"{100 * metrics['mAP@10']:.1f} [{100 * metrics['mAP@10_ci_low']:.1f}, "
            f"{100 * metrics['mAP@10_ci_high']:.1f}]")


def tune_baseline(baseline: YamnetLabelBaseline, dev: list[ManifestRecord]) -> float:
    targets = targets_from_records(dev, group_captions=True)
    posteriors = baseline.clip_posteriors([r.audio for r in dev])

    def score(tau: float) -> float:
        baseline.tau = tau
        return retrieval_metrics(baseline.score(targets.queries, posteriors), targets.relevant)["mAP@10"]

    return max(TAUS, key=score)


if __name__ == "__main__":
    main()
