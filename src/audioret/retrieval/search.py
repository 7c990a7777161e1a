"""Searching an index folder with the model that built it: by text, by example file, by indexed item."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from audioret.models import AudioTextModel
from audioret.models.loading import describe_model, open_model, resolve_model_dir
from audioret.retrieval.library import Hit, Library, marker_of, read_snapshot
from audioret.utils.errors import AudioretError

__all__ = ["Searcher", "describe_model", "resolve_model_dir"]  # the last two live in models.loading

_log = logging.getLogger("audioret.serve")
RELOAD_ATTEMPTS = 3  # a request does not wait long for a commit in progress; the next one tries again


class Searcher:
    """A `Library` and its model. Thread-safe: one model call at a time (torch is not re-entrant).

    `current()` picks up a newer commit of the index folder (its index.json changed) without a restart;
    each method works on one snapshot from start to end, passed in or taken once.
    """

    def __init__(self, library: Library, model: AudioTextModel, fingerprint: str | None = None):
        self.library, self.model = library, model
        self.fingerprint = fingerprint or library.model_info["fingerprint"]
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._marker = marker_of(library.folder)
        self._failed_marker: tuple[int, int, int] | None = None

    def current(self) -> Library:
        """The newest committed state of the folder; the one in use while a newer one cannot be opened
        (a commit being moved into place, a damaged folder, another model: logged, retried later)."""
        marker = marker_of(self.library.folder)
        if marker is None or marker in (self._marker, self._failed_marker):
            return self.library
        # One request loads the new commit; the others keep answering from the current one meanwhile.
        if not self._reload_lock.acquire(blocking=False):
            return self.library
        try:
            fresh = Library.from_snapshot(read_snapshot(self.library.folder, attempts=RELOAD_ATTEMPTS))
            fresh.check_model(self.fingerprint, "the served model")
        except AudioretError as err:
            # The files of one marker do not change (a later commit moves in a new index.json last), so
            # this one is not tried again.
            _log.warning("keeping the index loaded before: %s", err)
            self._failed_marker = marker
        else:
            self.library, self._marker = fresh, marker
            _log.info("reloaded %s: %d files", fresh.folder, fresh.n_files)
        finally:
            self._reload_lock.release()
        return self.library

    @classmethod
    def open(cls, index_dir: str | Path, model_dir: str | Path | None = None) -> Searcher:
        library = Library.open(index_dir)
        opened = open_model(model_dir, library.model_info)
        library.check_model(opened.fingerprint, str(opened.folder))
        return cls(library, opened.model, opened.fingerprint)

    def text(self, queries: Sequence[str], k: int = 10, library: Library | None = None,
             admit: Callable[[str], bool] | None = None) -> list[list[Hit]]:
        """The k best files for each text query (empty queries are an error naming the line); `admit`
        keeps only the files whose path it accepts."""
        for i, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise AudioretError(f"query {i + 1} is empty; a query needs at least one word")
            if any("\ud800" <= char <= "\udfff" for char in query):  # bytes that were not UTF-8 (surrogateescape)
                raise AudioretError(f"query {i + 1} is not valid UTF-8 text; type it again in a UTF-8 terminal")
        library = library or self.library
        with self._lock:
            vectors = self.model.encode_text(list(queries))
        return library.search(vectors, k, admit=admit)

    def like(self, path: str | Path, k: int = 10) -> list[Hit]:
        """Files that sound like `path`: its stored vector if it is indexed, else it is embedded now."""
        relative = self.library.relative(path)
        vector = self.library.file_vector(relative) if relative is not None else None
        if vector is None:
            with self._lock:
                vector = self.model.encode_audio([path])[0]
        return self.library.search(vector[None], k, exclude=[relative])[0]

    def similar(self, item_id: int, k: int = 10, library: Library | None = None,
                admit: Callable[[str], bool] | None = None) -> list[Hit]:
        """Files that sound like the file of indexed segment `item_id` (the file itself left out)."""
        library = library or self.library
        if not 0 <= item_id < len(library.items):
            raise KeyError(item_id)
        path = library.items[item_id].path
        vector = library.file_vector(path)
        return library.search(np.asarray(vector)[None], k, exclude=[path], admit=admit)[0]
