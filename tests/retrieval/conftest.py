"""A tiny random model folder and a small library of synthesised sound files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioret.models import AudioTextModel
from models.tiny import save_tiny_model

RATE = 16_000


def write_sound(path: Path, seconds: float, freq: float, channels: int = 1, rate: int = RATE) -> Path:
    """A tone with a noise floor, so that different files embed differently."""
    rng = np.random.default_rng(int(freq * 10 + seconds * 100))
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.stack([wave] * channels, axis=1) if channels > 1 else wave, rate)
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("retrieval-model"))


@pytest.fixture(scope="session")
def model(model_dir) -> AudioTextModel:
    return AudioTextModel.from_pretrained(model_dir).eval()


@pytest.fixture(scope="session")
def sound_library(tmp_path_factory) -> Path:
    """Eight files: mono and stereo, wav/flac/ogg, nested folders, one 25 s file (three segments)."""
    root = tmp_path_factory.mktemp("library")
    write_sound(root / "birds" / "chirp.wav", 1.5, 2000.0)
    write_sound(root / "birds" / "song.flac", 3.0, 3100.0)
    write_sound(root / "engines" / "idle.wav", 25.0, 90.0)
    write_sound(root / "engines" / "rev.ogg", 2.0, 220.0, channels=2)
    write_sound(root / "water" / "drip.wav", 0.5, 1200.0, rate=44_100)
    write_sound(root / "water" / "stream.wav", 4.0, 600.0, channels=2)
    write_sound(root / "doors" / "slam.wav", 1.0, 150.0)
    write_sound(root / "doors" / "creak.wav", 2.5, 700.0)
    return root


@pytest.fixture
def library_copy(sound_library, tmp_path) -> Path:
    """A private copy of the library that a test may change."""
    return Path(shutil.copytree(sound_library, tmp_path / "library"))
