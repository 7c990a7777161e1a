"""Retrieval quality of the default model beside the training-free YAMNet baseline and chance.

    make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx   # once
    python bench/quality.py                                  # development (wesnoth) and test (arcade) sets
    python bench/quality.py --model runs/other/model --manifest data/sfx/sfx_dev.jsonl

Metrics are over caption groups (`mAP@10_caption_groups`, not DCASE 2025's judged mAP@10): a caption
carried by several clips is one query whose relevant set is all of them, as weak name-derived
captions repeat (orc-hit-1 .. orc-hit-4). Percent.
Chance is the mean over 20 random rankings. The baseline's tau is the best of a small grid on the
development set (so its dev figure, unlike the model's, was tuned on dev).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audioret import default_model_dir
from audioret.data.manifest import read_manifest
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.eval.zero_shot import YamnetLabelBaseline
from audioret.models import AudioTextModel
from audioret.utils.errors import MissingFileError

DEFAULT_MANIFESTS = ["data/sfx/sfx_dev.jsonl", "data/sfx/sfx_test.jsonl"]
TAUS = (0.01, 0.02, 0.05, 0.1)
SHOWN = ("mAP@10", "R@1", "R@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model folder (default: the embedded default model)")
    parser.add_argument("--manifest", type=Path, action="append", help="evaluation manifest(s)")
    args = parser.parse_args()
    manifests = args.manifest or [Path(m) for m in DEFAULT_MANIFESTS]
    for manifest in manifests:
        if not manifest.is_file():
            raise MissingFileError(manifest, "evaluation manifest",
                                   "make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx")
    model = AudioTextModel.from_pretrained(args.model or default_model_dir()).eval()
    baseline = YamnetLabelBaseline(model)
    rows = {}
    tau = None
    for manifest in manifests:
        records = list(read_manifest(manifest))
        targets = targets_from_records(records, group_captions=True)
        audio = model.encode_audio([r.audio for r in records])
        ours = retrieval_metrics(model.encode_text(targets.queries) @ audio.T, targets.relevant)
        posteriors = baseline.clip_posteriors([r.audio for r in records])
        if tau is None:  # tuned on the first manifest (the development set), then fixed
            tau = max(TAUS, key=lambda t, q=targets, p=posteriors: _baseline_map(baseline, t, q, p))
        baseline.tau = tau
        theirs = retrieval_metrics(baseline.score(targets.queries, posteriors), targets.relevant)
        rng = np.random.default_rng(0)
        chance = [retrieval_metrics(rng.random((len(targets), len(records))), targets.relevant) for _ in range(20)]
        rows[manifest] = (len(records), len(targets), ours, theirs,
                          {k: float(np.mean([c[k] for c in chance])) for k in SHOWN})
    name = model.config.get("provenance", {}).get("recipe", "model")
    print(f"model: {name} ({model.config['audio']['name']} + {model.config['text']['name']}); "
          f"baseline: YAMNet class posteriors x MiniLM class names, tau={tau}")
    print(f"\n{'set':26} {'clips':>5} {'queries':>7} | {'model mAP@10':>12} {'R@1':>6} {'R@10':>6} | "
          f"{'baseline mAP@10':>15} {'R@1':>6} {'R@10':>6} | {'chance mAP@10':>13}")
    for manifest, (clips, queries, ours, theirs, chance) in rows.items():
        print(f"{manifest.name:26} {clips:5d} {queries:7d} | {100 * ours['mAP@10']:12.2f} {100 * ours['R@1']:6.2f} "
              f"{100 * ours['R@10']:6.2f} | {100 * theirs['mAP@10']:15.2f} {100 * theirs['R@1']:6.2f} "
              f"{100 * theirs['R@10']:6.2f} | {100 * chance['mAP@10']:13.2f}")
        print(f"{'':26} {'':5} {'':7} | 95% CI [{100 * ours['mAP@10_ci_low']:.2f}, {100 * ours['mAP@10_ci_high']:.2f}]"
              f"{'':7}| 95% CI [{100 * theirs['mAP@10_ci_low']:.2f}, {100 * theirs['mAP@10_ci_high']:.2f}]")


def _baseline_map(baseline: YamnetLabelBaseline, tau: float, targets, posteriors) -> float:
    baseline.tau = tau
    return retrieval_metrics(baseline.score(targets.queries, posteriors), targets.relevant)["mAP@10"]


if __name__ == "__main__":
    main()
