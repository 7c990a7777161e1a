"""Searching an index folder with the model that built it: by text, by example file, by indexed item."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from audioret.models import AudioTextModel
from audioret.models.loading import describe_model, open_model, resolve_model_dir
from audioret.retrieval.library import Hit, Library
from audioret.utils.errors import AudioretError

__all__ = ["Searcher", "describe_model", "resolve_model_dir"]  # the last two live in models.loading


class Searcher:
    """A `Library` and its model. Thread-safe: one model call at a time (torch is not re-entrant)."""

    def __init__(self, library: Library, model: AudioTextModel):
        self.library, self.model = library, model
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, model_dir: str | Path | None = None) -> Searcher:
        library = Library.open(index_dir)
        opened = open_model(model_dir, library.model_info)
        library.check_model(opened.fingerprint, str(opened.folder))
        return cls(library, opened.model)

    def text(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The k best files for each text query (empty queries are an error naming the line)."""
        for i, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise AudioretError(f"query {i + 1} is empty; a query needs at least one word")
            if any("\ud800" <= char <= "\udfff" for char in query):  # bytes that were not UTF-8 (surrogateescape)
                raise AudioretError(f"query {i + 1} is not valid UTF-8 text; type it again in a UTF-8 terminal")
        with self._lock:
            vectors = self.model.encode_text(list(queries))
        return self.library.search(vectors, k)

    def like(self, path: str | Path, k: int = 10) -> list[Hit]:
        """Files that sound like `path`: its stored vector if it is indexed, else it is embedded now."""
        relative = self.library.relative(path)
        vector = self.library.file_vector(relative) if relative is not None else None
        if vector is None:
            with self._lock:
                vector = self.model.encode_audio([path])[0]
        return self.library.search(vector[None], k, exclude=[relative])[0]

    def similar(self, item_id: int, k: int = 10) -> list[Hit]:
        """Files that sound like the file of indexed segment `item_id` (the file itself left out)."""
        if not 0 <= item_id < len(self.library.items):
            raise KeyError(item_id)
        path = self.library.items[item_id].path
        vector = self.library.file_vector(path)
        return self.library.search(np.asarray(vector)[None], k, exclude=[path])[0]
