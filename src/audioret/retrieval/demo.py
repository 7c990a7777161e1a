"""The demo library of `make demo`: everyday sounds from two Debian packages the default model never trained on.

- `scratch` (Scratch 1.4's media library, CC-BY-SA-3.0): animals, household effects, people;
- `7kaa-data` (Seven Kingdoms, GPL-2.0-or-later): rain, thunder, wind, fire, an earthquake.

`make demo-sources` downloads and unpacks both into data/demo-sources/ (`apt-get download`, 55 MB). Both
belong to the development split of the default model's corpus (src/audioret/data/recipes/sfx.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from audioret.utils.audio import walk_audio
from audioret.utils.errors import MissingFileError

DEFAULT_SOURCES = Path("data/demo-sources")
#: (package folder under the sources, folder of sounds inside it, folder in the library).
DEMO_FOLDERS = (("scratch", "usr/share/scratch/Media/Sounds/Animal", "animals"),
                ("scratch", "usr/share/scratch/Media/Sounds/Effects", "effects"),
                ("scratch", "usr/share/scratch/Media/Sounds/Human", "people"),
                ("7kaa", "usr/share/games/7kaa/SOUND", "weather"))
EXAMPLE_QUERIES = ("a dog barks", "a rooster crows", "rain falls", "thunder rumbles", "a door creaks open",
                   "a baby cries", "someone sneezes", "a car drives by")


def build_demo_library(target: Path, sources: Path = DEFAULT_SOURCES) -> tuple[Path, int]:
    """Copy the demo sounds into `target` (idempotent). Returns (folder, number of files)."""
    copied = 0
    for package, folder, name in DEMO_FOLDERS:
        origin = sources / package / folder
        if not origin.is_dir():
            raise MissingFileError(origin, "demo sounds",
                                   "run `make demo-sources` (apt-get download scratch 7kaa-data)")
        for path in walk_audio(origin):
            copy = target / name / path.name
            if not copy.exists() or copy.stat().st_size != path.stat().st_size:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
            copied += 1
    return target, copied


def demo_index_dir(workdir: Path, model_info: dict[str, Any]) -> Path:
    """The demo's index folder for one model. After an upgrade of the default model the demo builds a new
    index beside the old one, which stays intact for anyone still serving it."""
    return Path(workdir) / f"index-{model_info['fingerprint'][:8]}"
