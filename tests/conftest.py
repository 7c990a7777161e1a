"""Shared fixtures. The whole suite runs offline: any attempt to open a connection to anything but
this machine's loopback fails the test that made it."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

_real_connect = socket.socket.connect
#: Connections refused during the current test; a library that swallows the error cannot hide one.
NETWORK_ATTEMPTS: list[object] = []


def _loopback_only(self: socket.socket, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            is_local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            is_local = host == "localhost"
        if not is_local:
            NETWORK_ATTEMPTS.append(address)
            raise RuntimeError(f"test tried to reach the network ({address}); audioret must work offline")
    return _real_connect(self, address, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """AUDIORET_TEST_TORCH_THREADS=N runs the suite under torch.set_num_threads(N): another split of every
    parallel sum, so another float32 rounding, which the tolerances (tests/tolerances.py) must absorb."""
    threads = os.environ.get("AUDIORET_TEST_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    yield


@pytest.fixture(autouse=True, scope="session")
def _torch_text_path():
    """Searches and indexing in tests embed text with torch and write no ONNX export into the user's cache;
    the tests of the ONNX path (tests/models/test_text_onnx.py, tests/retrieval/test_fast_search.py) lift this."""
    previous = os.environ.get("AUDIORET_NO_ONNX")
    os.environ["AUDIORET_NO_ONNX"] = "1"
    yield
    if previous is None:
        os.environ.pop("AUDIORET_NO_ONNX", None)
    else:
        os.environ["AUDIORET_NO_ONNX"] = previous


@pytest.fixture(autouse=True, scope="session")
def _offline_session():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def _no_network_attempt():
    NETWORK_ATTEMPTS.clear()
    yield
    if NETWORK_ATTEMPTS:
        attempts = list(NETWORK_ATTEMPTS)
        NETWORK_ATTEMPTS.clear()
        pytest.fail(f"the test tried to reach the network: {attempts}")


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16_000, freq: float = 440.0, channels: int = 1,
               **kwargs) -> Path:
    """Write a sine tone; the helper tests use to make real audio files of any format."""
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, rate, **kwargs)
    return path
