"""Atomic writes and transparent gzip, so that an interrupted job never leaves a half-written file
where a complete one is expected."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def open_text(path: str | Path, mode: str = "rt", encoding: str = "utf-8") -> IO[str]:
    """Open a text file, decompressing or compressing when its name ends in `.gz`."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding=encoding)
    return open(path, mode.replace("t", ""), encoding=encoding, newline="" if "w" in mode else None)


def escape_name(text: str) -> str:
    """`text` on one line and in valid UTF-8: backslash, tab, CR and newline become \\\\, \\t, \\r, \\n, and bytes of
    a file name that are not UTF-8 (which Python keeps as surrogates) become \\xNN; distinct names stay distinct."""
    try:
        raw = text.encode("utf-8", "surrogateescape").replace(b"\\", b"\\\\")
    except UnicodeEncodeError:  # a surrogate that no file name produced: written as \udXXX
        raw = text.replace("\\", "\\\\").encode("utf-8", "backslashreplace")
    escaped = raw.decode("utf-8", "backslashreplace")
    return escaped.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _process_umask() -> int:
    """The umask, read once (setting it is the only way to read it; done at import, before any thread)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_process_umask()  # what open() gives a new file: every atomic write ends with the same mode


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that wants a file name (FAISS, numpy, safetensors,
    soundfile); on success the file is flushed to disk, given the ordinary file mode and renamed into place.

    A crash, a full disk or an exception inside the block leaves any previous `path` untouched and
    removes the temporary file.

    Example:
        >>> with atomic_path("vectors.faiss") as tmp:
        ...     faiss.write_index(index, str(tmp))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp_name)
        fd = os.open(tmp_name, os.O_RDONLY)
        try:
            os.fchmod(fd, FILE_MODE)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: str | Path) -> None:
    """Make renames inside `folder` durable (a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it into place only on success (see `atomic_path`).

    A crash, a full disk or an exception inside the block leaves any previous `path` untouched and
    removes the temporary file. A `.gz` suffix compresses the text.
    """
    path = Path(path)
    binary = "b" in mode
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if path.suffix == ".gz":
            # mtime=0 keeps the output byte-identical across runs of the same input.
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                handle = gz if binary else io.TextIOWrapper(gz, encoding=encoding, newline="")
                yield handle
                handle.flush()
                if not binary:
                    handle.detach()
        else:
            handle = raw if binary else io.TextIOWrapper(raw, encoding=encoding, newline="")
            yield handle
            handle.flush()
            if not binary:
                handle.detach()


HASH_CHUNK = 1 << 22


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return open_file_sha256(handle)[0]


def open_file_sha256(handle: IO[bytes], keep: bool = False) -> tuple[str, bytes | None]:
    """The sha256 of an open file from its first byte (and with `keep` its bytes), read with `os.pread`:
    the handle's position is left alone, so another thread may read or map the same handle meanwhile."""
    digest, parts, fd, offset = hashlib.sha256(), [], handle.fileno(), 0
    while chunk := os.pread(fd, HASH_CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
        if keep:
            parts.append(chunk)
    return digest.hexdigest(), (b"".join(parts) if keep else None)
