"""`audioret index`: embed every sound of a folder into an index folder (see `library.py`).

Files are decoded by a thread pool (soundfile and soxr release the GIL) while the main thread embeds
the previous batch. Long files become 10 s segments, each searchable with its time range. Each
embedded batch is written to IDX/pending/ at once, so a killed run loses at most the batch in flight;
the next run, or a re-run after files changed, embeds only what is new or changed.

Memory: a file whose decoded samples (float32 at its own rate, all channels) would exceed
WHOLE_FILE_MAX_BYTES is never decoded whole. It is read one segment at a time (a seek and a block read),
its segments fill ordinary batches of `batch_size`, and each batch is saved as it is embedded, so a
killed run resumes inside a long file. Files are decoded ahead of the embedding loop only as far as
DECODE_BUDGET_BYTES allows (2 x workers files, at most budget / WHOLE_FILE_MAX_BYTES = 8), so decoded
audio in flight stays within that budget (plus the resampled copies) and one batch of segments,
whatever the files and the number of workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

import numpy as np

from audioret.retrieval.fileinfo import PEAKS_PER_FILE, FileInfo, FileTable, describe_file
from audioret.retrieval.library import DEFAULT_STRUCTURE, IndexStore, Item, StructureOptions
from audioret.retrieval.rowstore import DEFAULT_ROW_STORAGE
from audioret.utils.audio import audio_info, load_audio, load_frames, walk_audio
from audioret.utils.errors import AudioDecodeError, AudioretError
from audioret.utils.io import atomic_write, escape_name
from audioret.utils.progress import progress_bar

WHOLE_FILE_MAX_BYTES = 32 << 20  # about 87 s of 48 kHz stereo
DECODE_BUDGET_BYTES = 256 << 20  # decoded samples of the files waiting for the embedding loop
SEGMENT_SECONDS = 10.0
MIN_TAIL_SECONDS = 1.0  # a shorter remainder joins the segment before it instead of standing alone
PROBLEMS_FILE = "problems.txt"
SHARDS_DIR = "shards"


@dataclass
class IndexReport:
    folder: Path
    files: int = 0  # indexed files in the final index
    segments: int = 0
    embedded: int = 0  # files embedded by this run
    unchanged: int = 0  # files whose vectors were kept from an earlier run
    removed: int = 0  # files indexed before and gone now
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files without an audio extension
    seconds: float = 0.0
    decode_wait_seconds: float = 0.0  # time the embedding loop waited for decoded audio
    embed_seconds: float = 0.0
    problems_file: Path | None = None
    structure: str = ""  # how the commit made the search structure: "updated" in place or "built"


Facts = tuple[FileInfo, np.ndarray]  # a file's header facts and its int8 peaks [PEAKS_PER_FILE, 2]


@dataclass
class _FileState:
    size: int
    mtime_ns: int
    spans: list[tuple[float, float]]
    vectors: Any  # an array, or the committed rows as `_CommittedRows` (read only if needed)
    complete: bool = True  # False: a long file whose later segments are not embedded yet
    facts: Facts | None = None  # format and waveform peaks (fileinfo.py), once read


@dataclass
class _CommittedRows:
    """Rows start..end of a committed index folder's vectors, read from its index when asked for."""

    folder: Path
    view: Any  # the snapshot's RowView
    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = self.view[self.start : self.end]
        return rows if dtype is None else rows.astype(dtype)


@dataclass
class _LongFile:
    """A file read segment by segment: segment i is frames bounds[i]..bounds[i + 1] at the file's rate."""

    path: Path
    rate: int
    bounds: list[int]

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def segment(self, i: int, sample_rate: int) -> tuple[float, float, np.ndarray]:
        first, stop = self.bounds[i], self.bounds[i + 1]
        wave = load_frames(self.path, first, stop - first, sample_rate)
        return round(first / self.rate, 3), round(stop / self.rate, 3), wave


@dataclass
class _Decoded:
    path: str
    size: int
    mtime_ns: int
    segments: list[tuple[float, float, np.ndarray]] = field(default_factory=list)
    error: str | None = None
    long: _LongFile | None = None  # set instead of `segments` for a file too long to decode whole
    facts: Facts | None = None


@dataclass
class _Piece:
    """Segments of one file in one batch; `partial` when more of the file follows in a later batch."""

    path: str
    size: int
    mtime_ns: int
    segments: list[tuple[float, float, np.ndarray]]
    partial: bool = False


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): the second of four shards."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise AudioretError(f"--shard takes i/n with 1 <= i <= n, e.g. 2/4; got {text!r}")
    return int(match[1]), int(match[2])


def shard_folder(out: str | Path, shard: tuple[int, int]) -> Path:
    return Path(out) / SHARDS_DIR / f"{shard[0]}-of-{shard[1]}"


def in_shard(relative_path: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of files to shards by a hash of the path (same on every machine)."""
    return shard is None or zlib.crc32(relative_path.encode("utf-8", "surrogateescape")) % shard[1] == shard[0] - 1


def segment_bounds(n_samples: int, sample_rate: int) -> list[int]:
    """Boundaries of non-overlapping SEGMENT_SECONDS windows over n samples; a short tail joins the last one."""
    length = int(SEGMENT_SECONDS * sample_rate)
    bounds = list(range(0, n_samples, length)) + [n_samples]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_TAIL_SECONDS * sample_rate:
        del bounds[-2]
    return bounds


def split_segments(wave: np.ndarray, sample_rate: int) -> list[tuple[float, float, np.ndarray]]:
    """Non-overlapping SEGMENT_SECONDS windows (start s, end s, samples); a short tail joins the last one."""
    bounds = segment_bounds(len(wave), sample_rate)
    spans = zip(bounds[:-1], bounds[1:], strict=True)
    return [(round(a / sample_rate, 3), round(b / sample_rate, 3), wave[a:b]) for a, b in spans]


def index_folder(
    audio_dir: str | Path,
    out: str | Path,
    model: Any,
    model_info: dict[str, Any],
    shard: tuple[int, int] | None = None,
    batch_size: int = 16,
    workers: int = 4,
    structure: StructureOptions = DEFAULT_STRUCTURE,
    show_progress: bool = True,
) -> IndexReport:
    """Index (or update the index of) every audio file under `audio_dir` into `out`.

    Args:
        model: an `AudioTextModel` (in eval mode on return).
        model_info: `describe_model(...)` of that model; stored in out/model.json and checked.
        shard: (i, n) to index only the i-th of n hash-partitions of the files (then `merge_shards`).
        structure: backend, row storage, and whether to train the search structure afresh instead of
            updating the committed one in place.
    """
    started = time.perf_counter()
    check_options(batch_size, workers)
    root = Path(audio_dir).resolve()
    if not root.is_dir():
        raise AudioretError(f"{audio_dir} is not a folder of audio files")
    out = Path(out).resolve()
    with _write_errors_explained(out), IndexStore(out).writing() as store:
        return _index_locked(store, root, model, model_info, shard, batch_size, workers, structure, show_progress,
                             started)


def check_options(batch_size: int = 1, workers: int = 1) -> None:
    """Reject bad options before any work is done (StructureOptions checks its own)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AudioretError(f"--batch-size must be at least 1 (segments embedded at once), got {batch_size}")
    if not isinstance(workers, int) or workers < 1:
        raise AudioretError(f"--workers must be at least 1 (decoding threads), got {workers}")


@contextlib.contextmanager
def _write_errors_explained(out: Path) -> Iterator[None]:
    """A failed write of the index folder as a message that says what survived (audio errors are caught
    where files are decoded, so an OSError here is the index folder's)."""
    try:
        yield
    except OSError as err:
        if isinstance(err, AudioretError):
            raise
        where = err.filename or out
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise AudioretError(f"the disk is full: cannot write {where}. The last committed index and the batches "
                                "embedded so far are intact; free some space and run the same command to "
                                "resume") from None
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise AudioretError(f"cannot write {where} ({err.strerror}); make {out} writable or choose another "
                                "--out folder") from None
        raise AudioretError(f"cannot write {where} ({err.strerror or err}); the last committed index is intact; "
                            "run the same command again to resume") from None


def _index_locked(store: IndexStore, root: Path, model: Any, model_info: dict[str, Any],
                  shard: tuple[int, int] | None, batch_size: int, workers: int, structure: StructureOptions,
                  show_progress: bool, started: float) -> IndexReport:
    out = store.folder
    store.claim(model_info, root)
    report = IndexReport(out)

    others: list[Path] = []
    files = {}
    for path in walk_audio(root, others):
        if Path(os.path.realpath(path)).is_relative_to(out):
            continue  # an index folder inside the library
        relative = path.relative_to(root).as_posix()
        if not in_shard(relative, shard):
            continue
        try:  # a dangling symlink, a symlink loop, a file deleted since the walk: reported, not fatal
            stat = path.stat()
            if not S_ISREG(stat.st_mode):
                raise IsADirectoryError(0, "not a regular file")
        except OSError as err:
            report.unreadable.append((relative, _stat_problem(path, err)))
            continue
        files[relative] = (stat.st_size, stat.st_mtime_ns)
    report.ignored = [p.relative_to(root).as_posix() for p in others
                      if not Path(os.path.realpath(p)).is_relative_to(out)]

    known = _known_files(store)
    todo = [p for p, (size, mtime) in files.items()
            if p not in known or (known[p].size, known[p].mtime_ns) != (size, mtime) or not known[p].complete]
    report.unchanged = len(files) - len(todo)
    report.removed = len(set(known) - set(files))

    model.eval()
    described: dict[str, Facts] = {}
    with progress_bar("files", show_progress) as progress:
        task = progress.add_task("indexing", total=len(todo))
        decoded = _keep_facts(_decode_in_background(root, todo, files, model.sample_rate, workers, report),
                              described)
        for batch in _batches(decoded, batch_size, report, known, model.sample_rate,
                              lambda n: progress.advance(task, n)):
            tick = time.perf_counter()
            vectors = model.embed_clips([wave for piece in batch for *_, wave in piece.segments],
                                        batch_size).cpu().numpy()
            report.embed_seconds += time.perf_counter() - tick
            _persist(store, batch, vectors, known)
            finished = sum(not piece.partial for piece in batch)
            report.embedded += finished
            progress.advance(task, finished)

    for path, facts in described.items():
        state = known.get(path)
        if state is not None and (state.size, state.mtime_ns) == files[path]:
            state.facts = facts
    _describe_missing(root, files, known, workers)
    items, vectors, kept, table = _final_state(files, known, model_info["embed_dim"], store.folder)
    report.structure = store.commit(items, vectors, root, structure, files=table, kept=kept)
    report.files, report.segments = len({i.path for i in items}), len(items)
    report.problems_file = _write_problems(out, report.unreadable)
    report.seconds = time.perf_counter() - started
    return report


def merge_shards(out: str | Path, structure: StructureOptions = DEFAULT_STRUCTURE) -> IndexReport:
    """Combine out/shards/*-of-n (all n of them, same model and root) into the index at `out`."""
    out = Path(out).resolve()
    folders = sorted((out / SHARDS_DIR).glob("*-of-*"))
    if not folders:
        raise AudioretError(f"no shards under {out / SHARDS_DIR}; run `audioret index DIR --out {out} --shard i/n`")
    counts = {int(f.name.split("-of-")[1]) for f in folders}
    if len(counts) != 1:
        names = ", ".join(f.name for f in folders)
        raise AudioretError(f"shards of different splits under {out / SHARDS_DIR}: {names}")
    n = counts.pop()
    missing = sorted(set(range(1, n + 1)) - {int(f.name.split("-of-")[0]) for f in folders})
    if missing:
        raise AudioretError(f"shards {missing} of {n} are missing under {out / SHARDS_DIR}; index them first")
    report = IndexReport(out)
    known: dict[str, _FileState] = {}
    stores = [IndexStore(f) for f in folders]
    for folder, store in zip(folders, stores, strict=True):
        if store.pending() or store.library_info() is None or store.model_info() is None:
            raise AudioretError(f"shard {folder} is unfinished; run its `audioret index ... --shard` again")
        if store.model_info()["fingerprint"] != stores[0].model_info()["fingerprint"]:
            raise AudioretError(f"shard {folder} was built with a different model than {folders[0]}")
        if store.library_info()["root"] != stores[0].library_info()["root"]:
            raise AudioretError(f"shard {folder} indexes {store.library_info()['root']}, "
                                f"{folders[0]} indexes {stores[0].library_info()['root']}")
        known.update(_known_files(store))
    model_info, root = stores[0].model_info(), Path(stores[0].library_info()["root"])
    with _write_errors_explained(out), IndexStore(out).writing() as target:
        if structure.row_storage is None and target.library_info(damaged_ok=True) is None:  # first merge: as shards
            structure = dataclasses.replace(structure, row_storage=_shards_row_storage(folders, stores))
        target.claim(model_info, root)
        _reuse_committed(known, _known_files(target))
        files = {path: (state.size, state.mtime_ns) for path, state in known.items()}
        _describe_missing(root, files, known)
        items, vectors, kept, table = _final_state(files, known, model_info["embed_dim"], target.folder)
        report.structure = target.commit(items, vectors, root, structure, files=table, kept=kept)
    report.files, report.segments = len(files), len(items)
    return report


def _shards_row_storage(folders: list[Path], stores: list[IndexStore]) -> str:
    """The row storage the shards were indexed with; shards that disagree need --row-storage."""
    chosen = {folder.name: store.library_info().get("row_storage", DEFAULT_ROW_STORAGE)
              for folder, store in zip(folders, stores, strict=True)}
    if len(set(chosen.values())) > 1:
        listed = ", ".join(f"{name}: {storage}" for name, storage in chosen.items())
        raise AudioretError(f"the shards were indexed with different row storages ({listed}); "
                            "merge with --row-storage float16 or int8")
    return next(iter(chosen.values()))


def _known_files(store: IndexStore) -> dict[str, _FileState]:
    """What earlier runs embedded: the committed index, then the pending batches (newer wins)."""
    known: dict[str, _FileState] = {}
    snapshot = store.committed_snapshot()
    items, vectors = (snapshot.items, snapshot.vectors) if snapshot else ([], None)
    table = snapshot.files if snapshot else None
    start = 0
    while start < len(items):
        end = start
        while end < len(items) and items[end].path == items[start].path:
            end += 1
        first = items[start]
        known[first.path] = _FileState(first.size, first.mtime_ns, [(i.start, i.end) for i in items[start:end]],
                                       _CommittedRows(store.folder, vectors, start, end),
                                       facts=_stored_facts(table, first.path))
        start = end
    for batch_items, batch_vectors, partial in store.pending():
        _remember(known, batch_items, batch_vectors, partial)
    return known


def _reuse_committed(known: dict[str, _FileState], committed: dict[str, _FileState]) -> None:
    """Point the files that the target index already holds unchanged (same size, mtime and segments) at
    its committed rows, so that a merge into it updates its index in place instead of rebuilding it."""
    for path, state in known.items():
        held = committed.get(path)
        if held is not None and isinstance(held.vectors, _CommittedRows) and \
                (held.size, held.mtime_ns, held.spans) == (state.size, state.mtime_ns, state.spans):
            state.vectors = held.vectors


def _remember(known: dict[str, _FileState], items: list[Item], vectors: np.ndarray,
              partial: Iterable[str] = ()) -> None:
    """Record a batch's vectors; the segments of a long file that continue an incomplete state extend it."""
    partial = set(partial)
    by_path: dict[str, list[int]] = {}
    for row, item in enumerate(items):
        by_path.setdefault(item.path, []).append(row)
    for path, rows in by_path.items():
        first = items[rows[0]]
        spans = [(items[r].start, items[r].end) for r in rows]
        state = _FileState(first.size, first.mtime_ns, spans, np.asarray(vectors[rows]), path not in partial)
        before = known.get(path)
        if (before is not None and not before.complete and before.spans and before.spans[-1][1] == spans[0][0]
                and (before.size, before.mtime_ns) == (state.size, state.mtime_ns)):
            state.spans = before.spans + spans
            state.vectors = np.concatenate([np.asarray(before.vectors), state.vectors])
            state.facts = before.facts
        known[path] = state


def _stored_facts(table: FileTable | None, path: str) -> Facts | None:
    """What an earlier commit read of the file; None where it has no waveform (re-read at this commit)."""
    if table is None:
        return None
    info, peaks = table.info(path), table.stored_peaks(path)
    return None if info is None or peaks is None else (info, peaks)


def _unread_facts(path: str, state: _FileState) -> Facts:
    """A file listed from what its segments tell (duration), without format or waveform."""
    info = FileInfo(path, state.size, state.mtime_ns, float(state.spans[-1][1]))
    return info, np.zeros((PEAKS_PER_FILE, 2), np.int8)


def _keep_facts(decoded: Iterator[_Decoded], described: dict[str, Facts]) -> Iterator[_Decoded]:
    for file in decoded:
        if file.facts is not None:
            described[file.path] = file.facts
        yield file


def _describe_missing(root: Path, files: dict[str, tuple[int, int]], known: dict[str, _FileState],
                      workers: int = 4) -> None:
    """Read the facts of indexed files that have none yet: files embedded by a killed run (resumed from
    pending batches), or a whole folder indexed before files.jsonl existed."""
    missing = [path for path, state in known.items()
               if path in files and state.facts is None and state.complete and (state.size, state.mtime_ns)
               == files[path]]

    def describe(path: str) -> Facts:
        state = known[path]
        try:
            return describe_file(root / path, path, state.size, state.mtime_ns)
        except (AudioretError, MemoryError, ValueError, OSError, RuntimeError):
            # Embedded earlier and unreadable now (changed since the walk, or gone): listed without a waveform.
            return _unread_facts(path, state)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="describe") as pool:
        for path, facts in zip(missing, pool.map(describe, missing), strict=True):
            known[path].facts = facts


def _decode_in_background(root: Path, todo: list[str], files: dict[str, tuple[int, int]], sample_rate: int,
                          workers: int, report: IndexReport) -> Iterator[_Decoded]:
    """Decoded files in `todo` order, with up to `decode_ahead(workers)` files decoded ahead of the consumer."""
    def decode(path: str) -> _Decoded:
        size, mtime = files[path]
        try:
            info = audio_info(root / path)
            facts = describe_file(root / path, path, size, mtime)
            if info.frames * info.channels * 4 > WHOLE_FILE_MAX_BYTES:
                bounds = segment_bounds(info.frames, info.samplerate)
                return _Decoded(path, size, mtime, long=_LongFile(root / path, info.samplerate, bounds), facts=facts)
            wave = load_audio(root / path, sample_rate)
        except AudioDecodeError as err:
            return _Decoded(path, size, mtime, error=err.reason)
        except (MemoryError, ValueError, OSError, RuntimeError) as err:  # what a broken file makes soundfile raise
            return _Decoded(path, size, mtime, error=f"{type(err).__name__}: {err}")
        return _Decoded(path, size, mtime, split_segments(wave, sample_rate), facts=facts)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
        queue: deque = deque()
        pending = iter(todo)
        for path in pending:
            queue.append(pool.submit(decode, path))
            if len(queue) >= decode_ahead(workers):
                break
        while queue:
            tick = time.perf_counter()
            result = queue.popleft().result()
            report.decode_wait_seconds += time.perf_counter() - tick
            following = next(pending, None)
            if following is not None:
                queue.append(pool.submit(decode, following))
            yield result


def decode_ahead(workers: int) -> int:
    """Files decoded ahead of the embedding loop: enough to keep `workers` threads busy, within the budget."""
    return max(1, min(2 * workers, DECODE_BUDGET_BYTES // WHOLE_FILE_MAX_BYTES))


def _batches(decoded: Iterable[_Decoded], batch_size: int, report: IndexReport, known: dict[str, _FileState],
             sample_rate: int, skipped: Callable[[int], None]) -> Iterator[list[_Piece]]:
    """Batches of at least `batch_size` segments (short files whole; a long file's segments spread over
    as many batches as they fill); unreadable files are reported."""
    batch: list[_Piece] = []
    count = 0
    for file in decoded:
        if file.error is not None:
            report.unreadable.append((file.path, file.error))
            skipped(1)
            continue
        if file.long is None:
            batch.append(_Piece(file.path, file.size, file.mtime_ns, file.segments))
            count += len(file.segments)
            if count >= batch_size:
                yield batch
                batch, count = [], 0
            continue
        state = known.get(file.path)  # a killed run may have embedded the first segments already
        same = state is not None and (state.size, state.mtime_ns) == (file.size, file.mtime_ns)
        resume = same and not state.complete
        piece = None
        for i in range(len(state.spans) if resume else 0, len(file.long)):
            try:
                segment = file.long.segment(i, sample_rate)
            except (AudioretError, MemoryError, ValueError, OSError, RuntimeError) as err:
                report.unreadable.append((file.path, getattr(err, "reason", f"{type(err).__name__}: {err}")))
                skipped(1)
                if piece is not None:  # its segments in this batch are dropped; the file stays incomplete
                    batch.remove(piece)
                    count -= len(piece.segments)
                break
            if piece is None:
                piece = _Piece(file.path, file.size, file.mtime_ns, [], partial=True)
                batch.append(piece)
            piece.segments.append(segment)
            piece.partial = i < len(file.long) - 1
            count += 1
            if count >= batch_size:
                yield batch
                batch, count, piece = [], 0, None
    if batch:
        yield batch


def _persist(store: IndexStore, batch: list[_Piece], vectors: np.ndarray, known: dict[str, _FileState]) -> None:
    items = [Item(-1, piece.path, piece.size, piece.mtime_ns, start, end)
             for piece in batch for start, end, _ in piece.segments]
    partial = sorted({piece.path for piece in batch if piece.partial})
    store.add_pending(items, vectors, partial)
    _remember(known, items, vectors, partial)


def _final_state(files: dict[str, tuple[int, int]], known: dict[str, _FileState], dim: int,
                 folder: Path) -> tuple[list[Item], np.ndarray, list[int], FileTable]:
    """Items for every current file with up-to-date vectors, the vectors of the new ones, and their
    files' facts (`_describe_missing` has read those that had none).

    Files whose committed rows in `folder` are kept come first, in their committed order, so that the
    commit can change the index in place; new and changed files follow, sorted by path.

    Returns:
        (items, vectors of the items with kept == -1, kept: committed row of each item or -1, table)
    """
    current = []
    for path in files:
        state = known.get(path)
        if state is None or (state.size, state.mtime_ns) != files[path] or not state.complete:
            continue  # unreadable this time
        current.append(path)

    first_row = {}  # path -> its first committed row in `folder`, for the files kept from there
    for path in current:
        held = known[path].vectors
        if isinstance(held, _CommittedRows) and held.folder == folder:
            first_row[path] = held.start
    old = sorted(first_row, key=first_row.__getitem__)
    new = sorted(p for p in current if p not in first_row)
    items, kept, blocks, rows, peaks = [], [], [], [], []
    for path in old + new:
        state = known[path]
        first = first_row.get(path)
        for offset, (start, end) in enumerate(state.spans):
            items.append(Item(len(items), path, state.size, state.mtime_ns, start, end))
            kept.append(-1 if first is None else first + offset)
        if first is None:
            blocks.append(np.asarray(state.vectors, np.float32))
        info, file_peaks = state.facts or _unread_facts(path, state)
        rows.append(info)
        peaks.append(file_peaks)
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)
    table = FileTable(rows, np.stack(peaks) if peaks else np.zeros((0, PEAKS_PER_FILE, 2), np.int8))
    return items, vectors, kept, table


def _stat_problem(path: Path, err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "a symlink whose target is missing" if path.is_symlink() else "deleted while the folder was read"
    if err.errno == errno.ELOOP:
        return "a symlink that points to itself (a loop)"
    return err.strerror or str(err)


def _write_problems(out: Path, unreadable: list[tuple[str, str]]) -> Path | None:
    path = out / PROBLEMS_FILE
    if not unreadable:
        if path.exists():
            os.unlink(path)
        return None
    with atomic_write(path) as handle:
        for name, reason in unreadable:
            handle.write(f"{escape_name(name)}\t{escape_name(reason)}\n")
    return path
