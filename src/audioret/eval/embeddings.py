"""Clip and caption embeddings of a model, cached on disk so that each is computed once.

The cache key is the model's fingerprint (a hash of its config and weights) and, for audio, the
file's path, size and modification time; a changed file or model is simply a miss.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from audioret.models import AudioTextModel
from audioret.models.loading import model_fingerprint
from audioret.utils.io import atomic_write

__all__ = ["DEFAULT_CACHE", "EmbeddingCache", "model_fingerprint"]  # model_fingerprint lives in models.loading

DEFAULT_CACHE = Path(os.environ.get("AUDIORET_CACHE", Path.home() / ".cache" / "audioret")) / "embeddings"


class EmbeddingCache:
    """Per-model folder of .npy vectors, one per audio file or caption."""

    def __init__(self, model: AudioTextModel, fingerprint: str, root: str | Path | None = None):
        self.model = model
        self.folder = Path(root or DEFAULT_CACHE) / fingerprint
        (self.folder / "audio").mkdir(parents=True, exist_ok=True)
        (self.folder / "text").mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def audio(self, paths: Sequence[str], batch_size: int = 8) -> np.ndarray:
        keys = [self._audio_key(p) for p in paths]
        return self._lookup("audio", keys, list(paths), lambda items: self.model.encode_audio(items, batch_size))

    def text(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts]
        return self._lookup("text", keys, list(texts), self.model.encode_text)

    def _lookup(self, kind: str, keys: list[str], items: list, encode) -> np.ndarray:
        out: list[np.ndarray | None] = []
        todo = []
        for i, key in enumerate(keys):
            path = self.folder / kind / f"{key}.npy"
            try:
                out.append(np.load(path))
                self.hits += 1
            except (FileNotFoundError, ValueError, OSError):  # absent, or a partial write of a killed run
                out.append(None)
                todo.append(i)
        if todo:
            self.misses += len(todo)
            fresh = encode([items[i] for i in todo])
            for i, vector in zip(todo, fresh, strict=True):
                out[i] = vector
                with atomic_write(self.folder / kind / f"{keys[i]}.npy", "wb") as handle:
                    np.save(handle, vector)
        return np.stack(out)

    @staticmethod
    def _audio_key(path: str) -> str:
        stat = os.stat(path)
        return hashlib.sha256(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
