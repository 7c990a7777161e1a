"""Errors that the command line prints as a message (no traceback) because they describe bad
input the user can fix, not a bug."""

from __future__ import annotations

from pathlib import Path


class AudioretError(Exception):
    """Base class: bad input or a missing resource, with a message that says what to do."""


class ConfigError(AudioretError):
    """A recipe or model setting is unknown, missing or of the wrong type; the message names its key."""


class MissingFileError(AudioretError, FileNotFoundError):
    """An expected file or folder is absent. The message names the path and what it should hold."""

    def __init__(self, path: str | Path, what: str = "", hint: str = ""):
        self.path = Path(path)
        text = f"missing {what + ': ' if what else ''}{self.path}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DataFormatError(AudioretError, ValueError):
    """A file exists but a row or field in it is malformed. Names the file and, when known, the line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


class AudioDecodeError(AudioretError):
    """An audio file cannot be decoded (corrupt, empty, unsupported format)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot decode audio {self.path}: {reason}")
