"""Dataset recipes: `prepare(name, src, out, **options)` writes OUT/NAME_SPLIT.jsonl manifests.

Each recipe reads one dataset exactly as its publishers distribute it and never downloads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from audioret.data.recipes.audiocaps import prepare_audiocaps
from audioret.data.recipes.auto_acd import prepare_auto_acd
from audioret.data.recipes.base import PrepareReport
from audioret.data.recipes.clotho import prepare_clotho
from audioret.data.recipes.clotho_gpt import prepare_clotho_gpt
from audioret.data.recipes.folder import prepare_folder
from audioret.data.recipes.macs import prepare_macs
from audioret.data.recipes.sfx import prepare_sfx
from audioret.data.recipes.synth import prepare_synth
from audioret.data.recipes.wavcaps import prepare_wavcaps
from audioret.utils.errors import AudioretError

RECIPES: dict[str, Callable[..., PrepareReport]] = {
    "clotho": prepare_clotho,
    "clotho-gpt": prepare_clotho_gpt,
    "audiocaps": prepare_audiocaps,
    "wavcaps": prepare_wavcaps,
    "macs": prepare_macs,
    "auto-acd": prepare_auto_acd,
    "folder": prepare_folder,
    "synth": prepare_synth,
    "sfx": prepare_sfx,
}


def recipe_options(name: str) -> list[str]:
    """The keyword options a recipe accepts beyond SRC and OUT."""
    return [p for p in inspect.signature(_recipe(name)).parameters if p not in ("src", "out")]


def prepare(name: str, src: str | Path, out: str | Path, **options: object) -> PrepareReport:
    """Run recipe `name` on `src`, writing manifests to `out`.

    Raises:
        AudioretError: unknown recipe or an option the recipe does not take.
    """
    recipe = _recipe(name)
    accepted = recipe_options(name)
    unknown = sorted(k for k, v in options.items() if v is not None and k not in accepted)
    if unknown:
        raise AudioretError(f"recipe {name!r} takes no option {unknown}; it accepts {accepted}")
    kwargs = {k: v for k, v in options.items() if v is not None}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return recipe(Path(src), out, **kwargs)


def _recipe(name: str) -> Callable[..., PrepareReport]:
    if name not in RECIPES:
        raise AudioretError(f"unknown dataset {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


__all__ = ["RECIPES", "PrepareReport", "prepare", "recipe_options"]
