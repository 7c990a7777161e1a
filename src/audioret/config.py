"""Training recipes: typed dataclasses read from YAML, with `--set key.path=value` overrides.

Every number of the paper's recipe is a default here, not a constant in code. An unknown key or a
value of the wrong type is an error naming the key, raised before any weight is loaded.

Example:
    >>> config = load_recipe("recipes/cpu-synth.yaml", ["train.epochs=2", "train.lr=3e-4"])
    >>> config.train.epochs
    2
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audioret.utils.errors import ConfigError, MissingFileError

#: Model pairs (`model: {pair: passt-roberta}` in a recipe): JSON files of encoder settings shipped with
#: the package. Read as data files, so that reading a recipe imports no model code.
MODEL_PAIRS_DIR = Path(__file__).resolve().parent / "models" / "configs"


@dataclass
class DatasetEntry:
    """One training manifest. Batches are drawn from one dataset at a time."""

    manifest: str
    weight: float | None = None  # share of batches; None: in proportion to the dataset's size
    variation_prob: float = 0.3  # ClothoV2-GPT: chance of replacing a caption by one of its paraphrases


@dataclass
class DataConfig:
    train: list[DatasetEntry] = field(default_factory=list)
    val_manifest: str = ""
    clip_seconds: float | None = None  # training crop; None: the audio encoder's window (10 s)
    num_workers: int = 2


@dataclass
class ModelConfig:
    pair: str = ""  # a file of MODEL_PAIRS_DIR whose settings the keys below override (resolved on load)
    audio: dict[str, Any] = field(default_factory=lambda: {"name": "passt-s-s16"})
    text: dict[str, Any] = field(default_factory=lambda: {"name": "roberta"})
    embed_dim: int = 1024
    temperature: float | None = None  # the initial temperature; None: the model's default (the paper's 0.02)
    stored_weights: str = "all"  # "heads": save only projections + temperature (encoders from packages)
    # A training-free prior fused into the score, {"weight": w, "tau": t, "prompts": ["the sound of {}", ...]}
    # (models/audio_text.py); the audio encoder must report class posteriors (YAMNet).
    prior: dict[str, Any] | None = None
    # What a model card must say about the weights the encoders load ({"audio encoder weights": "..."}):
    # written into the trained model's provenance, beside the training data's licences.
    licences: dict[str, str] | None = None


@dataclass
class TrainConfig:
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-5
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    mixco: bool = True
    text_mask_prob: float = 0.15
    precision: str = "32-true"  # or "bf16-mixed", "16-mixed"
    accumulate_grad_batches: int = 1
    val_every: float = 0.2  # validate every 20% of an epoch
    keep_top: int = 10  # checkpoints kept, then averaged into the final model
    max_steps: int = -1  # -1: epochs decide
    devices: int | str = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    gradient_clip: float | None = None


@dataclass
class HeadsConfig:
    """Train only the projection heads on features of frozen encoders, computed once (train/heads.py).

    A recipe with a `heads:` section is trained this way; its `train:` section is not read.
    """

    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    # Locked text (as in LiT): the text head is a fixed isometry of the text encoder's space (orthonormal
    # columns, so cosine similarities between captions are exactly the encoder's) and only the audio
    # head learns. Query wordings never seen in training then keep the text encoder's generalisation.
    lock_text: bool = False
    feature_dropout: float = 0.0  # dropout on the frozen features while training (augmentation)
    keep_best: bool = True  # keep the best epoch on data.val_manifest (its dev figure then flatters); False: the last
    # A teacher's captions: the names of the classes the audio encoder hears with at least this probability
    # are added to each training clip's captions (the encoder must report class posteriors); None: off.
    teacher_threshold: float | None = None
    # Fit the heads this many times (seeds seed, seed + 1, ...) and average their weights (train/heads.py).
    average_seeds: int = 1

    def __post_init__(self) -> None:
        if self.average_seeds < 1:
            raise ConfigError(f"heads.average_seeds: at least 1 fit is needed, got {self.average_seeds}")


@dataclass
class RecipeConfig:
    """A whole training run."""

    name: str = "run"
    seed: int = 0
    output_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    heads: HeadsConfig | None = None
    notes: str = ""

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Read a YAML recipe, apply `key.path=value` overrides (values parsed as YAML), validate.

    Relative manifest paths in the recipe are taken relative to the recipe's folder.
    """
    path = Path(path)
    raw = read_recipe_file(path)
    for override in overrides or []:
        apply_override(raw, override)
    if isinstance(raw.get("model"), dict) and raw["model"].get("pair"):
        raw["model"] = deep_merge(read_model_pair(raw["model"]["pair"]), raw["model"])
    config = from_dict(RecipeConfig, raw, "")
    for entry in config.data.train:
        entry.manifest = _relative_to(entry.manifest, path.parent)
    if config.data.val_manifest:
        config.data.val_manifest = _relative_to(config.data.val_manifest, path.parent)
    return config


def model_pairs() -> list[str]:
    return sorted(p.stem for p in MODEL_PAIRS_DIR.glob("*.json"))


def read_model_pair(name: str) -> dict[str, Any]:
    """The settings of a shipped model pair (`passt-roberta`, `cnn-minilm`, ...)."""
    import json

    path = MODEL_PAIRS_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"model.pair: unknown pair {name!r}; choose one of {model_pairs()}")
    return json.loads(path.read_text())


def run_config(run_dir: str | Path) -> RecipeConfig:
    """The merged settings a run was trained with (RUN_DIR/config.yaml, written by `audioret train`)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise MissingFileError(path, "merged run config", "RUN_DIR is the folder `audioret train` created")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    return from_dict(RecipeConfig, raw, "")


def model_config(config: RecipeConfig) -> dict[str, Any]:
    """The `AudioTextModel` settings of a recipe: encoders, space, and the temperature and prior when set."""
    model = {"audio": dict(config.model.audio), "text": dict(config.model.text), "embed_dim": config.model.embed_dim,
             "stored_weights": config.model.stored_weights}
    optional = {"temperature": config.model.temperature, "prior": config.model.prior}
    return {**model, **{k: v for k, v in optional.items() if v is not None}}


def read_recipe_file(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe mapping; `base: other.yaml` (relative to this file) is read first and overridden key by key."""
    if not path.is_file():
        raise MissingFileError(path, "recipe")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: recipes include each other in a loop")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys to values")
    base = raw.pop("base", None)
    if base is None:
        return raw
    return deep_merge(read_recipe_file(path.parent / base, (*seen, path.resolve())), raw)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` on top of `base`; mappings merge recursively, anything else (lists included) replaces.

    A mapping that names another encoder (`name` differs) replaces the base one whole: one encoder's
    options mean nothing to another.
    """
    out = dict(base)
    for key, value in update.items():
        old = out.get(key)
        mergeable = isinstance(value, dict) and isinstance(old, dict) and _same_name(old, value)
        out[key] = deep_merge(old, value) if mergeable else value
    return out


def _same_name(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return new.get("name", old.get("name")) == old.get("name")


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set `a.b.c=value` in a nested mapping; the value is parsed as YAML (numbers, booleans, lists)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like key.path=value")
    key, value = override.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def to_dict(config: Any) -> Any:
    return dataclasses.asdict(config)


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from `data`, checking every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'recipe'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown key {_join(where, unknown[0])!r}; {where or 'the recipe'} accepts {sorted(names)}")
    values = {name: _convert(hints[name], value, _join(where, name)) for name, value in data.items()}
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing key {_join(where, missing[0])!r}")
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except ConfigError:
                continue  # try the next member of the union; the error below names them all
        raise ConfigError(f"{where}: {value!r} is none of {[getattr(o, '__name__', str(o)) for o in options]}")
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-5 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _relative_to(path: str, folder: Path) -> str:
    candidate = Path(path)
    return str(candidate if candidate.is_absolute() or candidate.exists() else folder / candidate)
