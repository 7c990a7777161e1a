"""Models: encoder registry, audio encoders with their own front ends, text encoders, AudioTextModel."""

from audioret.models.audio_text import AudioTextModel
from audioret.models.registry import create_model, list_models, register_model

__all__ = ["AudioTextModel", "create_model", "list_models", "register_model"]
