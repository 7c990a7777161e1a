"""Loading published checkpoints from a local path, strictly.

A foreign checkpoint passes through a small key filter (prefixes stripped, classifier heads dropped,
tensors renamed) and must then match the module exactly: every expected key present, no unknown
key, every shape equal. Anything else is an error naming the file and the first differing keys,
so a checkpoint of another architecture or a truncated download never loads half-way.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audioret.utils.errors import AudioretError, MissingFileError

StateDict = dict[str, torch.Tensor]


class CheckpointMismatchError(AudioretError):
    """A checkpoint's keys or shapes do not match the module it is loaded into."""


def read_checkpoint(path: str | Path, what: str, hint: str = "", trusted: bool = False, mmap: bool = False) -> Any:
    """torch.load a local file with a clear error when it is missing, truncated or not a checkpoint.

    Args:
        trusted: allow arbitrary pickled objects (some published checkpoints store config classes);
            only for files the user chose to load.
        mmap: map tensors from the file instead of reading them, for reading a few small entries.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what, hint)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trusted, mmap=mmap)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise AudioretError(f"cannot read {what} {path}: {str(err).splitlines()[0]} "
                            "(truncated download or not a PyTorch checkpoint?)") from None


def load_state_dict_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Copy `state` into `module`, refusing any missing, unexpected or mis-shaped key."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
                   for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong_shape:
        parts = [f"{source} does not match {type(module).__name__}"]
        if missing:
            parts.append(f"{len(missing)} expected key(s) absent, first {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unknown key(s), first {unexpected[:3]}")
        if wrong_shape:
            parts.append(f"{len(wrong_shape)} shape mismatch(es), first {wrong_shape[:3]}")
        found = list(state)[:3]
        parts.append(f"the file's first keys are {found}; is it a checkpoint of this architecture and variant?")
        raise CheckpointMismatchError("; ".join(parts))
    module.load_state_dict(dict(state), strict=True)


def filter_keys(state: Mapping[str, torch.Tensor], strip_prefix: str = "",
                drop: Callable[[str], bool] = lambda key: False) -> StateDict:
    """Strip a prefix (e.g. 'module.' of DataParallel) and drop keys the encoder does not use."""
    out = {}
    for key, value in state.items():
        if strip_prefix and key.startswith(strip_prefix):
            key = key[len(strip_prefix):]
        if not drop(key):
            out[key] = value
    return out
