"""audioret: language-based audio retrieval.

Train dual audio/text encoders on audio-caption datasets (the recipe of Munakata et al., DCASE
2024) and search sound collections by text.

The model API (`create_model`, `list_models`, `load_model`, `AudioTextModel`) is imported on first
use, so that data commands start without loading torch and transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audioret.data.manifest import ManifestRecord, read_manifest, write_manifest
from audioret.utils.errors import AudioretError

__version__ = "0.1.0"
__all__ = ["AudioTextModel", "AudioretError", "ManifestRecord", "__version__", "create_model", "list_models",
           "load_model", "read_manifest", "write_manifest"]

_MODEL_API = {"AudioTextModel", "create_model", "list_models"}


def load_model(path: str | Path | None = None) -> Any:
    """Load an audioret model folder (config.json + model.safetensors).

    Raises:
        AudioretError: no path given; the embedded default model does not exist yet.
    """
    if path is None:
        raise AudioretError("audioret has no embedded default model yet; pass the folder of a trained model")
    from audioret.models import AudioTextModel

    return AudioTextModel.from_pretrained(path)


def __getattr__(name: str) -> Any:
    if name in _MODEL_API:
        import audioret.models as models

        return getattr(models, name)
    raise AttributeError(f"module 'audioret' has no attribute {name!r}")
