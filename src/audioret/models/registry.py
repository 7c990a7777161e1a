"""One factory for every encoder and model: `create_model(name, **cfg)`, `list_models()`.

Encoders register themselves with `@register_model("name")`. Whole audio-text models are small JSON
files in `models/configs/` naming an audio and a text encoder and their options.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from importlib import resources
from typing import Any

from torch import nn

from audioret.utils.errors import AudioretError, ConfigError

_ENCODERS: dict[str, tuple[str, Callable[..., nn.Module]]] = {}


def register_model(name: str, kind: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make a constructor available as `create_model(name)`; kind is 'audio' or 'text'."""
    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _ENCODERS:
            raise ValueError(f"model name {name!r} registered twice")
        _ENCODERS[name] = (kind, factory)
        return factory
    return wrap


def list_models(kind: str | None = None) -> list[str]:
    """Registered encoder names (kind 'audio' or 'text') and, with kind None or 'pair', model configs."""
    _import_encoders()
    names = [n for n, (k, _) in _ENCODERS.items() if kind in (None, k)]
    if kind in (None, "pair"):
        names += model_config_names()
    return sorted(names)


def model_config_names() -> list[str]:
    folder = resources.files("audioret.models") / "configs"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def model_config(name: str) -> dict[str, Any]:
    path = resources.files("audioret.models") / "configs" / f"{name}.json"
    return json.loads(path.read_text())


def encoder_kind(name: str) -> str:
    _import_encoders()
    if name not in _ENCODERS:
        raise AudioretError(f"unknown encoder {name!r}; registered: {sorted(_ENCODERS)}")
    return _ENCODERS[name][0]


def encoder_options(name: str) -> list[str] | None:
    """The options encoder `name` accepts; None when they cannot be listed (it takes any keyword).

    A factory that forwards `**cfg` to the class it returns (`def cnn_small(**cfg) -> SmallCNN`)
    accepts its own named parameters and those of that class's constructor.
    """
    encoder_kind(name)
    factory = _ENCODERS[name][1]
    accepted, open_ended = _named_parameters(factory)
    if open_ended:
        target = typing.get_type_hints(factory).get("return")
        if not isinstance(target, type):
            return None
        more, open_ended = _named_parameters(target.__init__)
        if open_ended:
            return None
        accepted += [p for p in more if p != "self" and p not in accepted]
    return accepted


def _named_parameters(function: Callable[..., Any]) -> tuple[list[str], bool]:
    parameters = inspect.signature(function).parameters.values()
    named = [p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                       inspect.Parameter.KEYWORD_ONLY)]
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_encoder_options(name: str, options: dict[str, Any], where: str = "") -> None:
    """Raise a ConfigError naming the first option encoder `name` does not take.

    Args:
        where: the settings' place, for the message (`model.audio` in a recipe).
    """
    accepted = encoder_options(name)
    unknown = [key for key in options if accepted is not None and key not in accepted]
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"{key}: encoder {name!r} takes no option {unknown[0]!r}; it accepts {sorted(accepted)}")


def create_encoder(name: str, **cfg: Any) -> nn.Module:
    _import_encoders()
    if name not in _ENCODERS:
        raise AudioretError(f"unknown encoder {name!r}; registered: {sorted(_ENCODERS)}")
    check_encoder_options(name, cfg)
    return _ENCODERS[name][1](**cfg)


def create_model(name: str, **cfg: Any) -> nn.Module:
    """An encoder by registered name, or an `AudioTextModel` by config name.

    For a config, keyword arguments override its entries: `audio={...}` and `text={...}` are merged
    into the encoders' options, anything else into the model's.

    Example:
        >>> model = create_model("cnn-minilm", text={"path": "/models/all-MiniLM-L6-v2"})
    """
    _import_encoders()
    if name in _ENCODERS:
        return create_encoder(name, **cfg)
    if name in model_config_names():
        from audioret.models.audio_text import AudioTextModel

        config = model_config(name)
        for side in ("audio", "text"):
            config[side] = {**config[side], **cfg.pop(side, {})}
        config.update(cfg)
        return AudioTextModel(config)
    raise AudioretError(f"unknown model {name!r}; choose one of {list_models()}")


def _import_encoders() -> None:
    # Importing the modules runs their @register_model decorators.
    from audioret.models import text  # noqa: F401
    from audioret.models.audio import aisfx, beats, cavmae, cnn, passt, stack, yamnet  # noqa: F401
