"""Train only the projection heads (and temperature) of a model whose encoders stay frozen.

With frozen pretrained encoders every clip and caption has one fixed feature vector, so they are
computed once and the contrastive loss of the recipe (symmetric InfoNCE, trainable temperature,
several captions of one clip all positives) is minimised over the two linear heads alone. A run over
a few thousand clips takes seconds on a CPU; this is how the default model is made
(recipes/audioret-sfx-small.yaml, whose `heads:` section makes `audioret train` run it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from audioret.config import HeadsConfig, RecipeConfig, model_config
from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.losses import ContrastiveLoss
from audioret.models import AudioTextModel
from audioret.models.audio_text import HEAD_PREFIXES
from audioret.train.averaging import average_state_dicts
from audioret.utils.audio import load_audio
from audioret.utils.io import atomic_write
from audioret.utils.progress import progress_bar
from audioret.utils.text import normalize_caption


@dataclass
class FitReport:
    kept_epoch: int = -1  # the epoch whose heads were kept
    kept_dev: float = float("-inf")
    history: list[dict[str, float]] = field(default_factory=list)


class FeatureTable:
    """Frozen-encoder features of clips (by audio path) and captions, computed once each.

    Captions are keyed by their normalised form, which is what the tokenizer sees anyway and what
    caption-group retrieval targets use as queries, so captions differing only in case or
    punctuation share one entry.
    """

    def __init__(self, model: AudioTextModel, batch_size: int = 16):
        self.model, self.batch = model.eval(), batch_size
        self.audio: dict[str, torch.Tensor] = {}
        self.text: dict[str, torch.Tensor] = {}

    def add(self, records: Sequence[ManifestRecord], label: str = "features") -> None:
        paths = [r.audio for r in records if r.audio not in self.audio]
        with progress_bar("clips") as progress:
            task = progress.add_task(f"{label}: audio", total=len(paths))
            for start in range(0, len(paths), self.batch):
                chunk = paths[start : start + self.batch]
                waves = [load_audio(p, self.model.sample_rate) for p in chunk]
                for path, row in zip(chunk, self.model.audio_features(waves, self.batch), strict=True):
                    self.audio[path] = row.clone()  # a view would keep the whole batch alive
                progress.advance(task, len(chunk))
        captions = sorted({normalize_caption(c) for r in records for c in r.captions} - set(self.text))
        if captions:
            for caption, row in zip(captions, self.model.text_features(captions), strict=True):
                self.text[caption] = row.clone()

    def caption(self, text: str) -> torch.Tensor:
        return self.text[normalize_caption(text)]


def fit_heads(model: AudioTextModel, train: Sequence[ManifestRecord], dev: Sequence[ManifestRecord],
              features: FeatureTable, config: HeadsConfig, seed: int = 0) -> FitReport:
    """Fit the heads on `train`; keep the epoch with the best multi-positive mAP@10 on `dev` (or the last one
    with `keep_best=False`). Each call starts from freshly initialised heads, seeded by `seed`.

    With `config.average_seeds` = n > 1, heads are fitted n times (data order, dropout and initialisation seeded
    `seed`, `seed + 1`, ...; the text head locked alike, by `seed`) and their weights averaged. For linear heads
    beside one locked text head, the average head is exactly the ensemble of the n audio embeddings (before
    normalisation): the members' errors partly cancel and the model stays one head.
    """
    members = []
    for member in range(config.average_seeds):
        report = _fit_member(model, train, dev, features, config, lock_seed=seed, seed=seed + member)
        members.append(head_state(model))
    if len(members) > 1:
        model.load_state_dict(average_state_dicts(members), strict=False)
        report.kept_dev = dev_map(model, dev, features)
    return report


def _fit_member(model: AudioTextModel, train: Sequence[ManifestRecord], dev: Sequence[ManifestRecord],
                features: FeatureTable, config: HeadsConfig, lock_seed: int, seed: int) -> FitReport:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.reset_heads()
    pairs = [(i, c) for i, r in enumerate(train) for c in r.captions]
    audio = torch.stack([features.audio[r.audio] for r in train])
    text = torch.stack([features.caption(c) for _, c in pairs])
    clip_of = torch.tensor([i for i, _ in pairs])
    if config.lock_text:
        model.lock_text_head(lock_seed)
    heads = model.head_parameters(text=not config.lock_text)
    dropout = torch.nn.Dropout(config.feature_dropout)
    optimizer = torch.optim.AdamW(heads, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, -(-len(pairs) // config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps, pct_start=0.1)
    loss_fn, report, best_state = ContrastiveLoss(), FitReport(), None
    for epoch in range(config.epochs):
        order = torch.from_numpy(rng.permutation(len(pairs)))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            a = model.project_audio(dropout(audio[clip_of[rows]]))
            t = model.project_text(dropout(text[rows]))
            loss = loss_fn(a, t, model.temperature, clip_of[rows])["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(rows)
        score = dev_map(model, dev, features)
        report.history.append({"epoch": epoch, "loss": total / len(pairs), "dev_mAP@10": score})
        if score > report.kept_dev or not config.keep_best:
            report.kept_dev, report.kept_epoch = score, epoch
            best_state = head_state(model)
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    return report


@torch.no_grad()
def dev_map(model: AudioTextModel, records: Sequence[ManifestRecord], features: FeatureTable) -> float:
    return dev_metrics(model, records, features)["mAP@10"]


@torch.no_grad()
def dev_metrics(model: AudioTextModel, records: Sequence[ManifestRecord], features: FeatureTable) -> dict[str, float]:
    """Multi-positive retrieval metrics (captions shared by several clips are one query); `records`
    must have been added to `features`."""
    targets = targets_from_records(records, group_captions=True)
    audio = torch.stack([features.audio[r.audio] for r in records])
    text = torch.stack([features.caption(q) for q in targets.queries])
    scores = model.text_search_vectors(text) @ model.audio_search_vectors(audio).T  # with a prior, fused
    return retrieval_metrics(scores.numpy(), targets.relevant)


#: AudioSet classes that say nothing about what a clip is (rooms, noise colours, the genre "sound effect").
GENERIC_CLASSES = frozenset({
    "Silence", "Sound effect", "Music", "Noise", "Static", "White noise", "Pink noise", "Environmental noise",
    "Echo", "Reverberation", "Inside, small room", "Inside, large room or hall", "Inside, public space",
    "Outside, urban or manmade", "Outside, rural or natural", "Mechanisms", "Hubbub, speech noise, speech babble",
})


def teacher_captions(records: Sequence[ManifestRecord], posteriors: dict[str, torch.Tensor], names: Sequence[str],
                     threshold: float = 0.3) -> list[ManifestRecord]:
    """Copies of `records` whose captions also hold the names of the classes YAMNet hears with probability
    >= `threshold` (lower-cased, generic classes left out): a teacher's captions beside the reviewed one."""
    taught = []
    for record in records:
        probabilities = posteriors[record.audio]
        heard = [names[i].lower() for i in torch.nonzero(probabilities >= threshold).flatten().tolist()
                 if names[i] not in GENERIC_CLASSES]
        extra = [c for c in heard if c not in {caption.lower() for caption in record.captions}]
        taught.append(dataclasses.replace(record, captions=[*record.captions, *extra]))
    return taught


def train_heads(config: RecipeConfig) -> Path:
    """`audioret train` for recipes with a `heads:` section: RUN_DIR/model, history.csv."""
    run_dir = config.run_dir
    model = AudioTextModel(model_config(config))
    train = [r for entry in config.data.train for r in read_manifest(entry.manifest)]
    dev = list(read_manifest(config.data.val_manifest))
    features = FeatureTable(model)
    cache = run_dir / f"features-{_encoders_key(config)}.pt"  # other encoders, other file
    if cache.is_file():
        features.audio, features.text = torch.load(cache, weights_only=True).values()
    features.add(train, "train")
    features.add(dev, "dev")
    if config.heads.teacher_threshold is not None:
        (start, stop), names = model.audio.class_posteriors()
        train = teacher_captions(train, {r.audio: features.audio[r.audio][start:stop] for r in train}, names,
                                 config.heads.teacher_threshold)
        features.add(train, "teacher captions")
    with atomic_write(cache, "wb") as handle:
        torch.save({"audio": features.audio, "text": features.text}, handle)
    report = fit_heads(model, train, dev, features, config.heads, config.seed)
    with atomic_write(run_dir / "history.csv") as handle:
        handle.write("epoch,loss,dev_mAP@10\n")
        for row in report.history:
            handle.write(f"{row['epoch']},{row['loss']:.6f},{row['dev_mAP@10']:.6f}\n")
    development = {"manifest": str(config.data.val_manifest), "epoch": report.kept_epoch,
                   "selected_on_dev": config.heads.keep_best,
                   **{k: round(float(v), 4) for k, v in dev_metrics(model, dev, features).items()}}
    model.config["name"] = config.name
    licences = {"licences": config.model.licences} if config.model.licences else {}
    model.config["provenance"] = {**model.config.get("provenance", {}), "recipe": config.name,
                                  "training_data": describe_sources(train), "development": development, **licences}
    return model.save_pretrained(run_dir / "model")


def head_state(model: AudioTextModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(HEAD_PREFIXES)}


def describe_sources(records: Sequence[ManifestRecord]) -> list[dict[str, object]]:
    """Clips per source with package and licence, as the model card lists them."""
    counts: dict[tuple[str, str, str], int] = {}
    for record in records:
        meta = record.meta or {}
        key = (meta.get("source", record.dataset), meta.get("package", record.dataset),
               meta.get("licence", "generated by audioret (no third-party content)"))
        counts[key] = counts.get(key, 0) + 1
    return [{"source": s, "package": p, "licence": lic, "clips": n} for (s, p, lic), n in sorted(counts.items())]


def _encoders_key(config: RecipeConfig) -> str:
    text = json.dumps([config.model.audio, config.model.text], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
