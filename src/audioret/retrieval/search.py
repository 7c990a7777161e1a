"""Searching an index folder with the model that built it: by text, by example file, by indexed item."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audioret.models.loading import describe_model, load_model_folder, model_fingerprint, resolve_model_dir
from audioret.models.text_onnx import (
    OnnxTextEncoder,
    TextCacheError,
    export_or_warn,
    onnx_disabled,
    open_fast_text,
    warn,
)
from audioret.retrieval.library import Hit, Library, marker_of, read_snapshot
from audioret.utils.errors import AudioretError

if TYPE_CHECKING:  # torch loads only when the model does: a text search with an ONNX export never loads it
    from audioret.models import AudioTextModel

__all__ = ["Searcher", "describe_model", "resolve_model_dir"]  # the last two live in models.loading

_log = logging.getLogger("audioret.serve")
RELOAD_ATTEMPTS = 3  # a request does not wait long for a commit in progress; the next one tries again
MAX_JOINED_QUERIES = 64  # queries of concurrent requests encoded in one model call, at most


class Searcher:
    """A `Library` and its model. Thread-safe: one model call at a time (torch is not re-entrant).

    `current()` picks up a newer commit of the index folder (its index.json changed) without a restart;
    each method works on one snapshot from start to end, passed in or taken once.

    Text queries go to `text_encoder` (the model's ONNX export, `models.text_onnx`) when there is one; the
    torch model is then loaded (by `load_model`) only when audio must be embedded.
    """

    def __init__(self, library: Library, model: AudioTextModel | None = None, fingerprint: str | None = None,
                 text_encoder: OnnxTextEncoder | None = None,
                 load_model: Callable[[], AudioTextModel] | None = None, model_folder: Path | None = None):
        if model is None and load_model is None:
            raise ValueError("a Searcher needs a model or a way to load one")
        self.library, self._model, self._load_model = library, model, load_model
        self.text_encoder, self.model_folder = text_encoder, model_folder
        self.fingerprint = fingerprint or library.model_info["fingerprint"]
        self._export_blocked = False  # a damaged export is reported, never overwritten by a reader
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []  # text requests queued for the next model call (under _queue_lock)
        self._queue_lock = threading.Lock()
        self._model_lock = threading.Lock()
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
            fresh = Library.from_snapshot(read_snapshot(self.library.folder, attempts=RELOAD_ATTEMPTS)).warm()
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

    @property
    def model(self) -> AudioTextModel:
        """The torch model, loaded on first use."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    @classmethod
    def open(cls, index_dir: str | Path, model_dir: str | Path | None = None, fast_text: bool = True) -> Searcher:
        """The index and its model; with `fast_text` (and no AUDIORET_NO_ONNX), text queries use the model's
        ONNX export when the cache holds one, and torch is not loaded for them."""
        library = Library.open(index_dir)
        folder = resolve_model_dir(model_dir, library.model_info)
        fingerprint = model_fingerprint(folder)
        library.check_model(fingerprint, str(folder))
        text_encoder, blocked = None, not fast_text
        if fast_text:
            try:
                text_encoder = open_fast_text(folder, fingerprint)
            except TextCacheError as err:
                warn(f"{err}; searching with torch meanwhile")
                blocked = True
        searcher = cls(library, None, fingerprint, text_encoder, lambda: load_model_folder(folder), folder)
        searcher._export_blocked = blocked
        return searcher

    def prepare_fast_text(self) -> bool:
        """Export the text side to ONNX (loading the torch model if needed) when the cache lacks it, and use
        it from now on; False when it cannot be (unsupported model, opt-out, damaged export: warned)."""
        if self.text_encoder is not None:
            return True
        if self._export_blocked or self.model_folder is None or onnx_disabled():
            return False
        self._export_blocked = True  # one try per process
        folder = export_or_warn(self.model, self.model_folder, self.fingerprint)
        if folder is not None:
            try:
                self.text_encoder = OnnxTextEncoder(folder)
            except AudioretError as err:
                warn(str(err))
        return self.text_encoder is not None

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
        return library.search(self._encode_joined(list(queries)), k, admit=admit)

    def _encode_joined(self, queries: list[str]) -> np.ndarray:
        """Text vectors of `queries`, encoded together with those of requests that arrived meanwhile.

        The server answers requests on several threads but the model runs one call at a time: a request
        that finds it busy queues its queries, and whichever request runs next encodes every queued one in
        one call (a batch costs little more than one query). Nothing waits for a timer, so a lone request
        is encoded at once and alone.
        """
        pending = _Pending(queries)
        with self._queue_lock:
            self._waiting.append(pending)
        with self._lock:
            while not pending.done:  # requests queued before this one go first
                self._encode_waiting()
        if pending.error is not None:
            raise pending.error
        return pending.vectors

    def _encode_waiting(self) -> None:
        """Encode the queued requests (up to MAX_JOINED_QUERIES queries, at least one request); under _lock."""
        with self._queue_lock:
            batch: list[_Pending] = []
            count = 0
            for request in self._waiting:
                count += len(request.queries)
                if batch and count > MAX_JOINED_QUERIES:
                    break
                batch.append(request)
            del self._waiting[: len(batch)]
        encoder = self.text_encoder or self.model
        try:
            vectors = encoder.encode_text([query for request in batch for query in request.queries])
        except Exception as err:  # each request of the batch reports the failure itself
            for request in batch:
                request.error = err
            return
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.queries)]
            start += len(request.queries)

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


class _Pending:
    """One text request waiting for the model: its queries, then its vectors or the error of the call."""

    def __init__(self, queries: list[str]):
        self.queries = queries
        self.vectors: np.ndarray | None = None
        self.error: Exception | None = None

    @property
    def done(self) -> bool:
        return self.vectors is not None or self.error is not None
