"""The demo library of `make demo`: the CC0 Kenney game sounds that the `arcade` package carries."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from audioret.utils.audio import walk_audio
from audioret.utils.errors import MissingFileError

EXAMPLE_QUERIES = ("a coin is collected", "a big explosion", "a laser gun fires", "someone jumps",
                   "a sad jingle when the game is lost", "a rock hits the ground")
# The same effect in several formats (laser1.wav/.ogg/.mp3) is copied once, in the first of these.
FORMAT_PREFERENCE = (".wav", ".ogg", ".flac", ".mp3")


def arcade_sounds() -> Path:
    """arcade's folder of Kenney sound effects, found without importing arcade (which opens a window system)."""
    spec = importlib.util.find_spec("arcade")
    if spec is None or spec.origin is None:
        raise MissingFileError("arcade", "package with the demo sounds", "pip install --no-deps arcade==3.3.3")
    folder = Path(spec.origin).parent / "resources" / "assets" / "sounds"
    if not folder.is_dir():
        raise MissingFileError(folder, "arcade's sound folder", "reinstall arcade==3.3.3")
    return folder


def build_demo_library(target: Path) -> tuple[Path, int]:
    """Copy the demo sounds into `target` (idempotent). Returns (folder, number of files)."""
    target.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, Path] = {}
    for path in walk_audio(arcade_sounds()):
        rank = FORMAT_PREFERENCE.index(path.suffix.lower()) if path.suffix.lower() in FORMAT_PREFERENCE else 99
        best = chosen.get(path.stem)
        if best is None or rank < FORMAT_PREFERENCE.index(best.suffix.lower()):
            chosen[path.stem] = path
    for path in chosen.values():
        copy = target / path.name
        if not copy.exists() or copy.stat().st_size != path.stat().st_size:
            shutil.copy2(path, copy)
    return target, len(chosen)
