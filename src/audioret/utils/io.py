"""Atomic writes and transparent gzip, so that an interrupted job never leaves a half-written file
where a complete one is expected."""

from __future__ import annotations

import contextlib
import gzip
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


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it into place only on success.

    A crash, a full disk or an exception inside the block leaves any previous `path` untouched and
    removes the temporary file. A `.gz` suffix compresses the text.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, "wb") as raw:
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
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
