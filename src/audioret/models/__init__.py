"""Models: encoder registry, audio encoders with their own front ends, text encoders, AudioTextModel.

The names are imported on first use, so that `models.loading` and `models.text_onnx` (what a text search
needs) load without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AudioTextModel", "create_model", "list_models", "register_model"]


def __getattr__(name: str) -> Any:
    if name == "AudioTextModel":
        from audioret.models.audio_text import AudioTextModel

        return AudioTextModel
    if name in ("create_model", "list_models", "register_model"):
        from audioret.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'audioret.models' has no attribute {name!r}")
