"""The index folder of a sound library: what was embedded, with which model, and the search structure.

    IDX/items.jsonl      one line per segment: id, path (relative to the library root), size,
                         mtime_ns, start, end (seconds)
    IDX/vectors.faiss    the FAISS search structure (row i = item i) + ids.json. Up to 100k segments it is
                         the one copy of the vectors; above, an IVF over narrow projections, and the
                         vectors lie in IDX/rows-*.npy (float16 or int8 segments, written once: a commit
                         adds one for its new rows; ids.json names them, their sha256 and the dead rows).
                         Read back so that re-indexing, merging and "more like this" never need the
                         audio again. Folders written before kept a second copy in embeddings.npy; it
                         is still checked when index.json names it, and dropped by the next commit.
    IDX/model.json       fingerprint of the model that made the vectors; searching with another is an error
    IDX/files.jsonl      per file: duration, sample rate, channels, format; peaks.npy: waveform thumbnails
                         (see `fileinfo.py`; optional: folders indexed before them are served without)
    IDX/index.json       library root, counts, backend, row storage and the sha256 of each file above: the
                         commit marker
    IDX/pending/         batches embedded since the last commit (a killed run resumes from them)
    IDX/writer.lock      held (flock) by the one run that may change the folder; names that run

One writer at a time: `IndexStore.writing()` takes the lock or fails with a message naming its holder.
A commit changes the committed index in place where it can: the rows of removed or changed files are
dropped, new files appended at the end of items.jsonl, and an IVF index keeps its trained cells until
it outgrows them (`Index.needs_rebuild`) or `rebuild` is asked for.
A commit stages every new file in IDX/.commit/, writes a journal naming them, then moves them into
place, new row segments first and index.json last; a writer killed anywhere in between is rolled
forward by the next writer, which also deletes the row segments no commit names any more.
Readers (`Library.open`) never write, repair or delete anything: they check that the files they
opened are the ones index.json names (counts and checksums), retry briefly while a commit is being
moved into place, and otherwise refuse with a message saying how to repair the folder. They parse the
lines of items.jsonl and files.jsonl when first read (a search reads its results' lines only); a
writer parses them all and checks them against each other before it builds on them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import socket
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from audioret.retrieval.fileinfo import FILES_FILE, PEAKS_FILE, FileTable
from audioret.retrieval.jsonlines import JsonLines, record_builder
from audioret.retrieval.rowstore import DEFAULT_ROW_STORAGE, ROW_STORAGES, check_row_storage, is_segment_name
from audioret.retrieval.vectors import IDS_FILE, VECTORS_FILE, Index, RowView, choose_backend
from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError
from audioret.utils.io import FILE_MODE, HASH_CHUNK, atomic_write, file_sha256, fsync_folder, open_file_sha256

ITEMS_FILE, EMBEDDINGS_FILE, MODEL_FILE, LIBRARY_FILE = "items.jsonl", "embeddings.npy", "model.json", "index.json"
PENDING_DIR, STAGING_DIR, JOURNAL_FILE, LOCK_FILE = "pending", ".commit", "commit.json", "writer.lock"
CHECKED_FILES = (ITEMS_FILE, VECTORS_FILE, IDS_FILE)
OPTIONAL_FILES = (FILES_FILE, PEAKS_FILE)  # checked when index.json names them
LEGACY_FILES = (EMBEDDINGS_FILE,)  # a second copy of the vectors that older folders kept: checked when named
COMMITTED_FILES = (*CHECKED_FILES, *OPTIONAL_FILES, LIBRARY_FILE)  # the order of the moves: index.json last
MODEL_KEYS = ("fingerprint", "embed_dim", "sample_rate")
OPEN_ATTEMPTS = 20  # a reader that meets a commit half moved into place tries again, for about 2 s in all
# Threads that hash and write a commit's files beside the one that formats or parses records: more help
# little, the biggest file (the first row segment) is hashed by one thread.
IO_THREADS = 2


class IndexIntegrityError(AudioretError):
    """The files of an index folder do not describe one committed state."""


class IndexBusyError(AudioretError):
    """Another run holds the index folder's writer lock."""


@dataclass(frozen=True)
class StructureOptions:
    """What a commit makes of the search structure (`audioret index --backend --row-storage --rebuild`)."""

    backend: str = "auto"  # auto (exact up to EXACT_LIMIT segments, IVF above), flat, ivf, hnsw
    row_storage: str | None = None  # how an IVF keeps its rows: float16, int8; None: as committed (float16)
    rebuild: bool = False  # train afresh even where the committed structure could be changed in place

    def __post_init__(self) -> None:  # a bad option fails before any work is done
        choose_backend(0, self.backend)
        if self.row_storage is not None:
            check_row_storage(self.row_storage)


DEFAULT_STRUCTURE = StructureOptions()


@dataclass(frozen=True)
class Item:
    """One searchable segment: a whole short file, or a window of a long one."""

    id: int
    path: str  # relative to the library root, '/'-separated
    size: int
    mtime_ns: int
    start: float
    end: float


@dataclass(frozen=True)
class Hit:
    item: Item
    score: float
    root: Path

    @property
    def path(self) -> Path:
        return self.root / self.item.path

    def to_json(self, absolute: bool = True) -> dict[str, Any]:
        return {"id": self.item.id, "path": str(self.path) if absolute else self.item.path,
                "score": round(float(self.score), 6), "start": self.item.start, "end": self.item.end}


class IndexStore:
    """Reads and writes an index folder; `Library` is the read-only search view of a committed one.

    Only a store inside `writing()` changes anything on disk.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock_fd: int | None = None
        # The writer's reading of the committed state: nobody else changes the folder while the lock is
        # held, so it is read (and checksummed) once per run, and a commit changes its index in place.
        self._snapshot: Snapshot | None = None
        self._snapshot_read = False

    # --- one writer at a time ---------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[IndexStore]:
        """Hold the folder's writer lock (and finish a commit a killed writer left) for the block."""
        if self.folder.exists() and not self.folder.is_dir():
            raise AudioretError(f"{self.folder} is a file, not an index folder; choose another --out")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as err:
            raise AudioretError(f"cannot write to {self.folder} ({err.strerror}); choose a writable --out folder "
                                "or fix its permissions") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = " ".join(os.pread(fd, 4096, 0).decode("utf-8", "replace").split()) or "another process"
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise AudioretError(f"cannot lock {self.folder / LOCK_FILE} ({err.strerror})") from None
            raise IndexBusyError(f"{self.folder} is being updated by another run ({holder}); wait for it to "
                                 "finish, or stop it, then run this command again") from None
        try:
            command = " ".join(["audioret", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("audioret") \
                else " ".join(sys.argv) or "python"
            os.ftruncate(fd, 0)
            os.pwrite(fd, (f"pid {os.getpid()} on {socket.gethostname()}, since "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {command}").encode(), 0)
            self._lock_fd = fd
            self.roll_forward()
            yield self
        finally:
            self._lock_fd = None
            self._snapshot, self._snapshot_read = None, False
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # releases the lock; so does the death of the process

    def _require_lock(self) -> None:
        if self._lock_fd is None:
            raise RuntimeError("IndexStore changes a folder only inside `with store.writing():`")

    # --- model and library identity ----------------------------------------------------------------
    def model_info(self, damaged_ok: bool = False) -> dict[str, Any] | None:
        """model.json, checked; None when the folder has none (nothing was indexed yet), or, with
        `damaged_ok` (a writer, which replaces it), when it cannot be read."""
        path = self.folder / MODEL_FILE
        if not path.exists():
            return None
        try:
            return parse_model_info(_read_json(path, "model record"), path)
        except AudioretError as err:
            if damaged_ok:
                return None
            raise AudioretError(f"{err}; repair it with `audioret index {_recorded_root(self.folder)} --out "
                                f"{self.folder}`") from None

    def claim(self, model_info: dict[str, Any], root: Path) -> None:
        """Bind the folder to a model and a library root, or check that it already is."""
        self._require_lock()
        # A damaged model.json is replaced; index.json names the model of the committed vectors, so
        # vectors of another model are never kept under it (see read_snapshot).
        existing = self.model_info(damaged_ok=True)
        if existing is not None and existing["fingerprint"] != model_info["fingerprint"]:
            raise AudioretError(
                f"{self.folder} was built with model {existing.get('source')} (fingerprint "
                f"{existing['fingerprint']}), not {model_info.get('source')} ({model_info['fingerprint']}); "
                "index into a new --out folder, or pass the same --model")
        library = self.library_info(damaged_ok=True)
        if library is not None and Path(library["root"]) != root:
            raise AudioretError(f"{self.folder} indexes {library['root']}, not {root}; use a new --out folder")
        if existing is None:
            with atomic_write(self.folder / MODEL_FILE) as handle:
                json.dump(model_info, handle, indent=2)

    def library_info(self, damaged_ok: bool = False) -> dict[str, Any] | None:
        """index.json (the commit marker), checked; None when nothing was committed yet."""
        path = self.folder / LIBRARY_FILE
        if not path.exists():
            return None
        try:
            return parse_library_info(_read_json(path, "index record"), path)
        except AudioretError:
            if damaged_ok:  # a writer replaces a damaged marker with its commit
                return None
            raise

    # --- committed state --------------------------------------------------------------------------
    def committed(self) -> tuple[list[Item], RowView | np.ndarray]:
        """Items and their vectors (read from the index on access) of the committed state; empty when there
        is none.

        A writer's view: a committed state whose files do not match each other is treated as empty
        (its files get embedded again) instead of stopping the run that repairs it.
        """
        snapshot = self.committed_snapshot()
        return (snapshot.items, snapshot.vectors) if snapshot else ([], np.zeros((0, 0), np.float32))

    def committed_snapshot(self) -> Snapshot | None:
        """The committed state as `committed()` sees it, with its file table; None for an empty one."""
        if self._lock_fd is not None and self._snapshot_read:
            return self._snapshot
        snapshot = self._read_committed()
        if self._lock_fd is not None:
            self._snapshot, self._snapshot_read = snapshot, True
        return snapshot

    def _read_committed(self) -> Snapshot | None:
        if not (self.folder / LIBRARY_FILE).exists():
            return None
        try:
            writer = self._lock_fd is not None
            return read_snapshot(self.folder, attempts=1, legacy=writer, eager=writer)
        except AudioretError as err:
            if self._lock_fd is None:
                raise
            print(f"warning: ignoring the committed state of {self.folder} ({err}); embedding again",
                  file=sys.stderr)
            return None

    # --- pending batches --------------------------------------------------------------------------
    def add_pending(self, items: Sequence[Item], vectors: np.ndarray, partial: Sequence[str] = ()) -> Path:
        """Persist one embedded batch (atomically) so that a killed run does not redo it. `partial`: files
        whose later segments follow in later batches."""
        self._require_lock()
        pending = self.folder / PENDING_DIR
        pending.mkdir(parents=True, exist_ok=True)
        path = pending / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"  # names sort by age
        rows = json.dumps([asdict(item) for item in items])
        with atomic_write(path, "wb") as handle:
            np.savez(handle, vectors=np.asarray(vectors, np.float32), items=np.array(rows),
                     partial=np.array(json.dumps(list(partial))))
        return path

    def pending(self) -> list[tuple[list[Item], np.ndarray, list[str]]]:
        """Every complete pending batch, oldest first (a file changed twice keeps its newest vectors)."""
        folder = self.folder / PENDING_DIR
        parts = sorted(p for p in folder.glob("*.npz") if not p.name.startswith(".")) if folder.is_dir() else []
        batches = []
        for part in parts:
            try:
                with np.load(part) as data:
                    items = [Item(**row) for row in json.loads(str(data["items"]))]
                    vectors = np.asarray(data["vectors"], np.float32)
                    partial = json.loads(str(data["partial"])) if "partial" in data.files else []
                if vectors.ndim != 2 or len(vectors) != len(items):
                    raise ValueError(f"{len(items)} items but vectors of shape {vectors.shape}")
            except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
                reason = (str(err).splitlines() or [type(err).__name__])[0]
                raise AudioretError(f"{part} is not a batch embedded by audioret ({reason}); delete it and "
                                    "run again") from None
            batches.append((items, vectors, partial))
        return batches

    # --- commit -----------------------------------------------------------------------------------
    def commit(self, items: Sequence[Item], vectors: np.ndarray, root: Path,
               structure: StructureOptions = DEFAULT_STRUCTURE, files: FileTable | None = None,
               kept: Sequence[int] | None = None) -> str:
        """Replace the committed state with `items` (and `files`, the facts and waveforms of their files)
        and drop the pending batches.

        `vectors` are the vectors of every item, or with `kept` (item i reuses committed row kept[i], -1:
        new) only those of the new items, in order. When the kept items come first, in their committed
        order, the committed index is changed in place (rows dropped, new rows added) instead of built
        again; it is built again when `structure.rebuild` is asked for, the index has outgrown its training,
        or `structure` asks for another backend or row storage.

        Returns:
            "updated" or "built": how the search structure was made.
        """
        self._require_lock()
        vectors = np.asarray(vectors, np.float32).reshape(-1, self._dim())
        index, how = self._next_index(items, vectors, kept, structure)
        staging = self.folder / STAGING_DIR
        _remove_tree(staging)
        staging.mkdir(parents=True)
        # Two threads: FAISS, numpy and sha256 release the GIL, so the search structure and the checksums
        # are written while this thread formats the item and file lines.
        with ThreadPoolExecutor(IO_THREADS) as pool:
            saved = [pool.submit(index.save, staging, reuse=self.folder)]
            if files is not None:
                saved.append(pool.submit(files.write_peaks, staging))
                files.write_rows(staging)
            write_items(staging / ITEMS_FILE, items)
            for job in saved:
                job.result()
            checked = [*CHECKED_FILES, *(name for name in OPTIONAL_FILES if (staging / name).exists())]
            digests = dict(zip(checked, pool.map(file_sha256, [staging / name for name in checked]), strict=True))
        with atomic_write(staging / LIBRARY_FILE) as handle:
            json.dump({"root": str(root), "items": len(items), "files": len({i.path for i in items}),
                       "dim": int(index.dim), "backend": index.backend, "row_storage": index.row_storage,
                       "commit": uuid.uuid4().hex,
                       "model": self.model_info()["fingerprint"], "sha256": digests}, handle, indent=2)
        parts = sorted(p.name for p in (self.folder / PENDING_DIR).glob("*.npz")) if (
            self.folder / PENDING_DIR).is_dir() else []
        segments = sorted(p.name for p in staging.iterdir() if is_segment_name(p.name))  # ids.json names them
        with atomic_write(self.folder / JOURNAL_FILE) as handle:
            json.dump({"files": [*segments, *COMMITTED_FILES], "pending": parts}, handle)
        self._snapshot, self._snapshot_read = None, False  # its index may have been changed in place
        self.roll_forward()
        return how

    def _next_index(self, items: Sequence[Item], vectors: np.ndarray, kept: Sequence[int] | None,
                    structure: StructureOptions) -> tuple[Index, str]:
        """The search structure over `items`: the committed one updated in place when it can be."""
        ids = [item.id for item in items]
        backend = structure.backend
        committed = self.library_info(damaged_ok=True) or {}  # a flat index that grows keeps the choice
        storage = structure.row_storage or committed.get("row_storage") or DEFAULT_ROW_STORAGE
        if kept is None:
            if len(vectors) != len(items):
                raise AudioretError(f"{len(items)} items but {len(vectors)} vectors")
            return Index.build(vectors, ids, backend, row_storage=storage), "built"
        kept = np.asarray(kept, dtype=np.int64).reshape(len(items))
        new = kept < 0
        if int(new.sum()) != len(vectors):
            raise AudioretError(f"{int(new.sum())} new items but {len(vectors)} vectors")
        n_kept = int((~new).sum())
        snapshot = self.committed_snapshot() if n_kept else None
        if n_kept and snapshot is None:
            raise AudioretError(f"{self.folder}: items reuse committed rows, but nothing usable is committed")
        in_place = (snapshot is not None and not structure.rebuild and not new[:n_kept].any()
                    and bool(np.all(np.diff(kept[:n_kept]) > 0))
                    and (snapshot.index.backend != "hnsw" or n_kept == len(snapshot.index)))  # no removals
        if in_place:
            index = snapshot.index
            dropped = np.ones(len(index), bool)  # a mask, not np.setdiff1d: that sorts, 2 s at a million rows
            dropped[kept[:n_kept]] = False
            index.remove_rows(np.flatnonzero(dropped))
            index.ids = list(range(len(index)))  # an index folder's ids are its rows
            index.add(vectors, ids[n_kept:])
            if index.store is not None:
                index.store.compact_if_due()
            if not index.needs_rebuild(backend, structure.row_storage):
                if index.store is None:  # flat, HNSW: the choice waits for when it becomes an IVF
                    index.row_storage = storage
                return index, "updated"
            every = index.rows(slice(None))
        else:
            every = np.empty((len(items), self._dim()), np.float32)
            every[new] = vectors
            if n_kept:
                every[~new] = snapshot.index.rows(kept[~new])
        return Index.build(every, ids, backend, row_storage=storage), "built"

    def roll_forward(self) -> None:
        """Finish a commit whose journal was written; discard one whose journal was not (writer only)."""
        self._require_lock()
        journal = self.folder / JOURNAL_FILE
        staging = self.folder / STAGING_DIR
        if journal.is_file():
            try:
                plan = json.loads(journal.read_text(encoding="utf-8"))
                names, parts = list(plan["files"]), list(plan["pending"])
            except (ValueError, KeyError, TypeError):
                # Journals are written atomically, so this one was damaged by hand: nothing of it can be
                # trusted. The staged files are dropped; the integrity check decides what is still usable.
                names, parts = [], []
            for name in names:
                if (name in COMMITTED_FILES or is_segment_name(name)) and (staging / name).exists():
                    os.replace(staging / name, self.folder / name)
            fsync_folder(self.folder)
            self._drop_unnamed_files()
            for name in parts:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.folder / PENDING_DIR / Path(name).name)
            journal.unlink()
        _remove_tree(staging)

    def _drop_unnamed_files(self) -> None:
        """Delete what the commit in place no longer names: embeddings.npy of an older layout, row segments
        of replaced commits (a reader that opened one before keeps its open file; one that is about to
        open it fails, and tries again with the new commit)."""
        info = self.library_info(damaged_ok=True)
        if info is None:
            return
        for name in LEGACY_FILES:
            if name not in info.get("sha256", {}):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.folder / name)
        try:
            named = {entry["name"] for entry in json.loads((self.folder / IDS_FILE).read_bytes())
                     .get("rows", {}).get("segments", [])}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return  # a damaged ids.json: keep every segment for the integrity check (and the user) to see
        for path in self.folder.iterdir():
            if is_segment_name(path.name) and path.name not in named:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def _dim(self) -> int:
        info = self.model_info()
        if info is None:
            raise AudioretError(f"{self.folder} has no {MODEL_FILE}; claim() it for a model before committing")
        return int(info["embed_dim"])


@dataclass
class Snapshot:
    """One committed state of an index folder, read from files that were checked against each other."""

    folder: Path
    items: Sequence[Item]  # a JsonLines for a reader, a list for a writer (`read_snapshot`)
    vectors: RowView  # [n, dim], read from the index on access
    index: Index
    model_info: dict[str, Any]
    library_info: dict[str, Any]
    files: FileTable | None = None  # None: a folder indexed before files.jsonl and peaks.npy


def read_snapshot(folder: str | Path, attempts: int = OPEN_ATTEMPTS, legacy: bool = False,
                  eager: bool = False) -> Snapshot:
    """Open the committed state of `folder`, checked, without changing anything on disk.

    Every file is checked against the checksum and counts that index.json records; the lines of
    items.jsonl and files.jsonl are parsed when first read (`JsonLines`), so that a search of a big library
    reads only its results. `eager` parses them all now and checks them against each other (what a writer,
    which goes through every item anyway, wants before it builds on them).
    `legacy` accepts a folder written before index.json carried checksums when its counts agree (the
    writer that updates it does so; readers refuse it).

    Raises:
        MissingFileError: nothing was committed there.
        IndexIntegrityError: the files do not match each other (after `attempts` tries, in case a
            commit was being moved into place); the message says how to repair the folder.
    """
    folder = Path(folder)
    last: IndexIntegrityError | None = None
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(0.1)
        try:
            return _read_snapshot_once(folder, legacy, eager)
        except IndexIntegrityError as err:
            last = err
    journal = " (a commit was cut short: commit.json is there)" if (folder / JOURNAL_FILE).exists() else ""
    root = _recorded_root(folder)
    raise IndexIntegrityError(f"{last}{journal}; repair it with `audioret index {root} --out {folder}` "
                              "(it re-embeds only what is not intact), or index into a new --out folder")


def _read_snapshot_once(folder: Path, legacy: bool = False, eager: bool = False) -> Snapshot:
    model_path, marker_path = folder / MODEL_FILE, folder / LIBRARY_FILE
    if not marker_path.exists():
        hint = "create it with `audioret index AUDIO_DIR --out INDEX_DIR`"
        if folder.is_dir() and not model_path.exists():
            raise MissingFileError(folder / LIBRARY_FILE, "index", hint)
        raise MissingFileError(marker_path, "index record" if folder.is_dir() else "index", hint)
    if not model_path.exists():
        raise IndexIntegrityError(f"{folder}: {MODEL_FILE} is missing")
    with contextlib.ExitStack() as stack, _hashing_pool() as pool:
        # Open every file first: a commit renamed in meanwhile leaves these open files as they were, and
        # the checksums below tell whether they all belong to the commit that index.json describes.
        handles = {}
        for name in (LIBRARY_FILE, *CHECKED_FILES):
            handles[name] = _open_committed(stack, folder, name)
        marker = _parse_json_bytes(handles[LIBRARY_FILE].read(), marker_path, "index record")
        library = parse_library_info(marker, marker_path)
        optional = [name for name in (*OPTIONAL_FILES, *LEGACY_FILES) if name in library.get("sha256", {})]
        for name in optional:
            handles[name] = _open_committed(stack, folder, name)
        model_info = parse_model_info(_read_json(model_path, "model record"), model_path)
        if "sha256" not in library and not legacy:
            raise IndexIntegrityError(f"{folder} was written by an older audioret, without checksums")
        if library.get("model", model_info["fingerprint"]) != model_info["fingerprint"]:
            raise IndexIntegrityError(f"{folder}: {MODEL_FILE} names another model than the one that made the "
                                      "vectors")
        # sha256 releases the GIL: the files are hashed on other threads while this one parses the records.
        jobs = {name: pool.submit(_read_faiss_hashed, handles[name], folder / name) if name == VECTORS_FILE
                else pool.submit(open_file_sha256, handles[name], name not in LEGACY_FILES)
                for name in (*CHECKED_FILES, *optional)}

        def verified(name: str) -> Any:
            digest, content = jobs[name].result()
            if "sha256" in library and digest != library["sha256"].get(name):
                raise IndexIntegrityError(f"{folder}: {name} is not the one {LIBRARY_FILE} describes "
                                          "(changed or damaged after the commit)")
            return content

        structure = verified(VECTORS_FILE)
        ids = _parse_json_bytes(verified(IDS_FILE), folder / IDS_FILE, "id list")
        if structure is None:
            raise IndexIntegrityError(f"{folder}: {VECTORS_FILE} cannot be read")
        segments: list[tuple[str, str | None, Future]] = []

        def open_segment(name: str, sha256: str | None, dtype: np.dtype) -> np.ndarray:
            handle = _open_committed(stack, folder, name)
            segments.append((name, sha256, pool.submit(open_file_sha256, handle)))
            try:
                return _memmap_npy(handle, folder / name, dtype)
            except (ValueError, OSError, IndexIntegrityError) as err:  # a short file cannot be mapped
                _check_segments(folder, segments[-1:])  # a damaged one says so
                raise IndexIntegrityError(f"{folder}: {name} cannot be mapped ({err})") from None

        try:
            index = Index.from_parts(structure, ids, open_segment)
        except (KeyError, TypeError, AttributeError, AudioretError) as err:
            _check_segments(folder, segments)  # a damaged segment is the better explanation
            raise IndexIntegrityError(f"{folder}: {IDS_FILE} does not describe {VECTORS_FILE} "
                                      f"({str(err).splitlines()[0]})") from None
        n, dim = library["items"], library["dim"]
        items = parse_items(verified(ITEMS_FILE), folder / ITEMS_FILE)
        if eager:
            try:
                items = items.records()
            except DataFormatError as err:
                raise IndexIntegrityError(str(err)) from None
        blobs = {name: verified(name) for name in optional}
        _check_segments(folder, segments)
        if EMBEDDINGS_FILE in optional:  # an older folder's second copy must still agree in shape
            legacy = _memmap_npy(handles[EMBEDDINGS_FILE], folder / EMBEDDINGS_FILE)
            if legacy.shape != (n, dim if dim is not None else legacy.shape[1]):
                raise IndexIntegrityError(f"{folder}: counts disagree ({LIBRARY_FILE}: {n} items, "
                                          f"{EMBEDDINGS_FILE}: {legacy.shape[0]})")
    vectors = RowView(index)
    counts = {"items.jsonl": len(items), "vectors.faiss": len(index)}
    dim = index.dim if dim is None else dim  # legacy index.json
    if set(counts.values()) != {n} or index.dim != dim or dim != model_info["embed_dim"]:
        raise IndexIntegrityError(f"{folder}: counts disagree ({LIBRARY_FILE}: {n} x {dim}, "
                                  + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ")")
    if list(index.ids) != list(range(n)):
        raise IndexIntegrityError(f"{folder}: {IDS_FILE} does not number the items 0..{n - 1}")
    files = None
    if len(optional) == len(OPTIONAL_FILES):
        try:
            files = FileTable.parse(blobs[FILES_FILE], blobs[PEAKS_FILE], folder, items if eager else None)
        except AudioretError as err:
            raise IndexIntegrityError(str(err)) from None
    return Snapshot(folder, items, vectors, index, model_info, library, files)


def _open_committed(stack: contextlib.ExitStack, folder: Path, name: str) -> io.BufferedReader:
    try:
        return stack.enter_context(open(folder / name, "rb"))
    except FileNotFoundError:
        raise IndexIntegrityError(f"{folder}: {name} is missing") from None


def marker_of(folder: str | Path) -> tuple[int, int, int] | None:
    """What changes when a commit lands: index.json's inode, size and mtime (None if absent)."""
    try:
        stat = os.stat(Path(folder) / LIBRARY_FILE)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def parse_model_info(info: Any, path: Path) -> dict[str, Any]:
    if not isinstance(info, dict) or any(key not in info for key in MODEL_KEYS):
        raise IndexIntegrityError(f"{path}: not a model record (needs {', '.join(MODEL_KEYS)})")
    return info


def parse_library_info(info: Any, path: Path) -> dict[str, Any]:
    if (not isinstance(info, dict) or not isinstance(info.get("root"), str) or not isinstance(info.get("items"), int)
            or not isinstance(info.get("sha256", {}), dict) or not isinstance(info.get("dim", 0), int | None)):
        raise IndexIntegrityError(f"{path}: not an index record (needs root, items, dim and sha256)")
    if info.get("row_storage", DEFAULT_ROW_STORAGE) not in ROW_STORAGES:
        raise IndexIntegrityError(f"{path}: row_storage {info['row_storage']!r} is none of {', '.join(ROW_STORAGES)}")
    info.setdefault("dim", None)
    return info


def _recorded_root(folder: Path) -> str:
    try:
        return str(json.loads((folder / LIBRARY_FILE).read_text(encoding="utf-8"))["root"])
    except (OSError, ValueError, KeyError, TypeError):
        return "AUDIO_DIR"


def _read_json(path: Path, what: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise AudioretError(f"cannot read {path} ({err.strerror})") from None
    return _parse_json_bytes(data, path, what)


def _parse_json_bytes(data: bytes, path: Path, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise IndexIntegrityError(f"{path}: not a valid {what} ({str(err).splitlines()[0]})") from None


def _read_faiss_hashed(handle: io.BufferedReader, path: Path) -> tuple[str, faiss.Index | None]:
    """The FAISS structure behind an open handle and the sha256 of the file, in one pass: FAISS reads
    through a callback that also feeds the digest, so the file is never held twice in memory.
    None for a file FAISS cannot read (its digest still tells whether it is the committed one)."""
    digest = hashlib.sha256()
    handle.seek(0)

    def read(size: int) -> bytes:
        data = handle.read(size)
        digest.update(data)
        return data

    try:
        structure = faiss.read_index(faiss.PyCallbackIOReader(read, HASH_CHUNK))
    except RuntimeError:
        structure = None
    for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):  # what FAISS did not read
        digest.update(chunk)
    return digest.hexdigest(), structure


@contextlib.contextmanager
def _hashing_pool() -> Iterator[ThreadPoolExecutor]:
    """Threads that hash a folder's files. On the way out, a refused folder's included, the jobs not yet
    started are dropped and the running ones waited for, before the files they read are closed."""
    pool = ThreadPoolExecutor(IO_THREADS)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _check_segments(folder: Path, segments: list[tuple[str, str | None, Future]]) -> None:
    """Each row segment opened against the sha256 that ids.json records for it."""
    for name, sha256, job in segments:
        if job.result()[0] != sha256:
            raise IndexIntegrityError(f"{folder}: {name} is not the one {IDS_FILE} describes (changed or damaged "
                                      "after the commit)")


def _memmap_npy(handle: io.BufferedReader, path: Path, dtype: Any = np.float32) -> np.ndarray:
    """Map the .npy matrix of `dtype` (a vector, for a record dtype) behind an open handle (not its path,
    which a commit may have replaced)."""
    handle.seek(0)
    try:
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, found = read_header(handle)
    except ValueError as err:
        raise IndexIntegrityError(f"{path}: not a numpy array file ({err})") from None
    dtype = np.dtype(dtype)
    if fortran or len(shape) != (1 if dtype.names else 2) or found != dtype:
        raise IndexIntegrityError(f"{path}: expected a {'vector' if dtype.names else 'matrix'} of {dtype}, "
                                  f"found {found} {shape}")
    if shape[0] == 0:
        return np.zeros(shape, dtype)
    return np.memmap(handle, dtype=dtype, mode="r", shape=shape, offset=handle.tell())


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


class Library:
    """A committed index folder, ready to search.

    Example:
        >>> library = Library.open("my-index")
        >>> hits = library.search(model.encode_text(["glass breaking"]), k=5)[0]
        >>> [(str(h.path), h.item.start, h.score) for h in hits]
    """

    def __init__(self, folder: Path, items: Sequence[Item], vectors: np.ndarray, index: Index,
                 model_info: dict[str, Any], root: Path, commit: str = "", files: FileTable | None = None):
        self.folder, self.items, self.vectors, self.index = folder, items, vectors, index
        self.model_info, self.root, self.commit = model_info, root, commit
        self._files = files
        self.has_waveforms = files is not None
        self._rows_of_paths: dict[str, list[int]] | None = None

    @classmethod
    def open(cls, folder: str | Path) -> Library:
        """The committed state of `folder`, checked (see `read_snapshot`); nothing on disk is changed."""
        return cls.from_snapshot(read_snapshot(folder))

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> Library:
        return cls(snapshot.folder, snapshot.items, snapshot.vectors, snapshot.index, snapshot.model_info,
                   Path(snapshot.library_info["root"]), str(snapshot.library_info.get("commit", "")), snapshot.files)

    @property
    def files(self) -> FileTable:
        """Facts and waveforms of the indexed files (for a folder indexed before files.jsonl, what the items
        tell, made on first use)."""
        if self._files is None:
            self._files = FileTable.from_items(self.items)
        return self._files

    @property
    def n_files(self) -> int:
        return len(self.files.rows)

    @property
    def _rows_by_path(self) -> dict[str, list[int]]:
        if self._rows_of_paths is None:
            rows: dict[str, list[int]] = {}
            for item in self.items:
                rows.setdefault(item.path, []).append(item.id)
            self._rows_of_paths = rows
        return self._rows_of_paths

    def warm(self) -> Library:
        """Parse every item and file record now (what opening leaves to first use), so that a server's
        first listing or filtered search does not wait for it."""
        _ = self._rows_by_path
        self.files.load()
        return self

    def check_model(self, fingerprint: str, source: str) -> None:
        if fingerprint != self.model_info["fingerprint"]:
            raise AudioretError(
                f"{self.folder} was built with model {self.model_info.get('source')} (fingerprint "
                f"{self.model_info['fingerprint']}); {source} is a different model ({fingerprint}). Search with "
                "the model that built the index, or re-index with this one into a new folder")

    def file_vector(self, path: str) -> np.ndarray | None:
        """The unit vector of an indexed file (mean of its segments), or None if it is not indexed."""
        rows = self._rows_by_path.get(path)
        if not rows:
            return None
        mean = np.asarray(self.vectors[rows], np.float32).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def relative(self, path: str | Path) -> str | None:
        """`path` as the index names it, if it lies under the library root."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def search(self, queries: np.ndarray, k: int = 10, per_file: bool = True,
               exclude: Sequence[str | None] | None = None,
               admit: Callable[[str], bool] | None = None) -> list[list[Hit]]:
        """The k best segments per query row; with `per_file`, only the best segment of each file.

        `exclude[i]` (a relative path) is left out of query i's results ("more like this"); with `admit`,
        only files whose path it accepts are returned (filters).
        """
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        skips = list(exclude) if exclude is not None else [None] * len(queries)
        # Every query in one FAISS call (one matrix product for exact search, the thread pool for IVF);
        # only the queries whose top is crowded by segments of one file or by filtered files go again.
        first = self._candidates(queries, k + 1)
        return [self._hits(query, candidates, k, per_file, skip, admit)
                for query, candidates, skip in zip(queries, first, skips, strict=True)]

    def _candidates(self, queries: np.ndarray, fetch: int) -> list[list[tuple[float, int]]]:
        fetch = min(fetch, len(self.items)) or 1
        scores, ids = self.index.search(queries, fetch)
        return [list(zip(row_scores.tolist(), row_ids, strict=False)) for row_scores, row_ids in zip(scores, ids,
                                                                                                     strict=True)]

    def _hits(self, query: np.ndarray, candidates: list[tuple[float, int]], k: int, per_file: bool,
              skip: str | None, admit: Callable[[str], bool] | None) -> list[Hit]:
        fetch = len(candidates)
        while True:
            hits, seen = [], set()
            for score, item_id in candidates:
                item = self.items[item_id]
                if item.path == skip or (per_file and item.path in seen) or (admit and not admit(item.path)):
                    continue
                seen.add(item.path)
                hits.append(Hit(item, float(score), self.root))
            # Segments of one file can crowd the top; widen the search until k distinct files appear.
            if len(hits) >= k or fetch >= len(self.items):
                return hits[:k]
            fetch *= 4
            candidates = self._candidates(query[None], fetch)[0]


def read_items(path: Path) -> list[Item]:
    return parse_items(path.read_bytes(), path).records()


def parse_items(data: bytes, path: Path) -> JsonLines[Item]:
    """The items of an items.jsonl, each parsed when first asked for (`JsonLines`); a bad line, or an id
    out of order, is named by its line number when it is read."""

    build = record_builder(Item)

    def make(fields: dict[str, Any], line_no: int) -> Item:
        try:
            item = build(fields)
        except TypeError as err:
            raise DataFormatError(path, f"not an index item ({err})", line_no) from None
        if item.id != line_no - 1:
            raise DataFormatError(path, f"item id {item.id} out of order", line_no)
        return item

    return JsonLines(data, path, make)


def write_items(path: Path, items: Sequence[Item]) -> None:
    """One JSON object per line, written by hand: `json.dumps(asdict(item))` costs 4x as much, which is
    seconds per commit at a million segments (json.loads reads these lines back unchanged)."""
    quote = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str
    with atomic_write(path) as handle:
        handle.writelines(f'{{"id": {i.id}, "path": {quote(i.path)}, "size": {i.size}, "mtime_ns": {i.mtime_ns}, '
                          f'"start": {float(i.start)!r}, "end": {float(i.end)!r}}}\n' for i in items)
