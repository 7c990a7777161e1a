"""Audio I/O: decode with soundfile, mix to mono, resample with soxr, crop and window.

Every encoder states its own sample rate; the functions here do the rest. Errors name the file.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from stat import S_ISREG

import numpy as np
import soundfile as sf
import soxr

from audioret.utils.errors import AudioDecodeError

#: Extensions `audioret` looks for when it walks a folder: the containers libsndfile (soundfile) decodes.
AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
                              ".au", ".snd", ".caf", ".w64", ".rf64"})
DECODE_BLOCK = 4_096  # frames read at a time when a whole file is decoded to check it (where it stops)


def walk_audio(root: Path, others: list[Path] | None = None) -> list[Path]:
    """Every file with an audio extension under `root`, sorted; symlinked folders are followed once.

    Hidden files and folders (a leading dot) are skipped. Files with other extensions are appended to
    `others` when it is given, so that callers can say what they ignored.
    """
    found = []
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a symlink cycle, or a second link to a folder already walked
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(Path(folder) / name)
            elif others is not None:
                others.append(Path(folder) / name)
    return sorted(found)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds, read from the header only.

    Raises:
        AudioDecodeError: the file is empty, unreadable, or holds no samples.
    """
    info = _info(Path(path))
    return info.frames / info.samplerate


def decoded_duration(path: str | Path) -> float:
    """Duration in seconds of the audio that decodes, the whole file read in blocks.

    A header can promise more than the stream holds (a WAV of MP3 data whose data chunk runs into the next
    chunk): `audio_duration` accepts such a file, and reading all of it fails later.

    Raises:
        AudioDecodeError: the file is empty or unreadable, or decoding fails before its end (the error says
            where).
    """
    path = Path(path)
    info = _info(path)
    frames = 0
    try:
        with sf.SoundFile(os.fsencode(path)) as handle:
            for block in handle.blocks(blocksize=DECODE_BLOCK, dtype="float32"):
                frames += len(block)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(path, f"decoding fails after about {frames / info.samplerate:.2f} s of the "
                                     f"{info.duration:.2f} s its header gives ({_reason(err)})") from None
    return frames / info.samplerate


def audio_info(path: str | Path) -> sf._SoundFileInfo:
    """The file's header (frames, samplerate, channels), without decoding it.

    Raises:
        AudioDecodeError: the file is empty, unreadable, or holds no samples.
    """
    return _info(Path(path))


def load_frames(path: str | Path, start: int, frames: int, sample_rate: int | None = None) -> np.ndarray:
    """Frames [start, start + frames) of a file (at its own rate), mixed to mono and resampled on their
    own to `sample_rate`: a long file read piece by piece, in memory that does not grow with its length.

    Raises:
        AudioDecodeError: the file is corrupt or unsupported.
    """
    mono, file_rate = _read_mono(Path(path), start, frames)
    if sample_rate is not None:
        mono = resample(mono, file_rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_audio(path: str | Path, sample_rate: int | None = None) -> np.ndarray:
    """Decode a file to a mono float32 waveform, resampled to `sample_rate` when given.

    Returns:
        A 1-D array in [-1, 1] (channel mean of the file's samples).

    Raises:
        AudioDecodeError: the file is empty, corrupt or in a format soundfile cannot read.
    """
    path = Path(path)
    _check_not_empty(path)
    mono, file_rate = _read_mono(path)
    if sample_rate is not None:
        mono = resample(mono, file_rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a 1-D waveform with soxr's high-quality filter (identity when the rates agree)."""
    if orig_rate == target_rate:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave.astype(np.float32, copy=False), orig_rate, target_rate, quality="HQ")


def load_random_crop(path: str | Path, sample_rate: int, length: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A random window of `length` samples at `sample_rate`, reading only that part of the file.

    Long training files (WavCaps averages a minute) are not decoded whole: the window is chosen in
    the file's own frames, read with a seek, mixed to mono and resampled. Shorter files are
    zero-padded at the end.

    Returns:
        (window, n_valid): the window and how many of its samples are real audio.

    Raises:
        AudioDecodeError: the file is empty, corrupt or unsupported.
    """
    path = Path(path)
    info = _info(path)
    needed = min(info.frames, int(np.ceil(length * info.samplerate / sample_rate)))
    start = int(rng.integers(0, info.frames - needed + 1)) if info.frames > needed else 0
    mono, file_rate = _read_mono(path, start, needed)
    mono = resample(mono, file_rate, sample_rate)[:length]
    window = np.zeros(length, dtype=np.float32)
    window[: len(mono)] = mono
    return window, len(mono)


def split_windows(wave: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a whole clip into non-overlapping windows of `length` samples for evaluation.

    The last window is zero-padded; the mask says which samples are real, so that window
    embeddings can be averaged with weights proportional to their real audio.

    Returns:
        (windows, mask): float array [n_windows, length] and boolean array of the same shape.
    """
    n_windows = max(1, -(-len(wave) // length))
    windows = np.zeros((n_windows, length), dtype=np.float32)
    mask = np.zeros((n_windows, length), dtype=bool)
    flat_windows, flat_mask = windows.reshape(-1), mask.reshape(-1)
    flat_windows[: len(wave)] = wave
    flat_mask[: len(wave)] = True
    return windows, mask


def _info(path: Path) -> sf._SoundFileInfo:
    """The file's header; an empty, unreadable or sample-less file is an error naming it."""
    _check_not_empty(path)
    try:
        info = sf.info(os.fsencode(path))  # bytes: a file name that is not UTF-8 still opens
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(path, _reason(err)) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioDecodeError(path, "the file holds no audio samples")
    return info


def _read_mono(path: Path, start: int = 0, frames: int = -1) -> tuple[np.ndarray, int]:
    """Frames [start, start + frames) of a file (all by default), mixed to mono, at the file's rate."""
    try:
        wave, file_rate = sf.read(os.fsencode(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioDecodeError(path, _reason(err)) from None
    if wave.shape[0] == 0:
        raise AudioDecodeError(path, "the file holds no audio samples")
    return (wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]), file_rate


def _check_not_empty(path: Path) -> None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioDecodeError(path, "a symlink whose target is missing" if path.is_symlink() else "no such file") \
            from None
    except OSError as err:  # a symlink loop, a name too long, no permission
        loop = err.errno == errno.ELOOP
        raise AudioDecodeError(path, "a symlink that points to itself (a loop)" if loop else
                               err.strerror or type(err).__name__) from None
    if not S_ISREG(stat.st_mode):
        raise AudioDecodeError(path, "not a regular file")
    size = stat.st_size
    if size == 0:
        raise AudioDecodeError(path, "the file is empty (0 bytes)")


def _reason(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    # libsndfile prefixes its message with the path, which the error already names.
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text
