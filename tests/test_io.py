"""Atomic writes, checksums and escaped names."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from audioret.utils.io import (
    FILE_MODE,
    HASH_CHUNK,
    atomic_path,
    atomic_write,
    escape_name,
    file_sha256,
    open_file_sha256,
)


def test_atomic_path_replaces_only_on_success_with_the_ordinary_mode(tmp_path):
    target = tmp_path / "vectors.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"first")
    assert target.read_bytes() == b"first" and stat.S_IMODE(target.stat().st_mode) == FILE_MODE
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"first" and os.listdir(tmp_path) == ["vectors.bin"]
    with atomic_write(tmp_path / "a.txt") as handle:
        handle.write("text")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == FILE_MODE


def test_escaped_names_stay_on_one_line_valid_and_distinct():
    names = ["a\tb", "a\\tb", "c\nd", "c\\nd", os.fsdecode(b"caf\xe9"), "caf\\xe9", "café", "x\ud800y"]
    escaped = [escape_name(n) for n in names]
    assert len(set(escaped)) == len(names)
    for text in escaped:
        assert "\n" not in text and "\t" not in text and "\r" not in text
        text.encode("utf-8")  # no surrogates left
    assert escape_name(os.fsdecode(b"caf\xe9")) == "caf\\xe9" and escape_name("café") == "café"


def test_open_file_sha256_matches_hashlib_and_leaves_the_position_alone(tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(3 * HASH_CHUNK + 17)  # several chunks and a short last one
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == expected
    with open(path, "rb") as handle:
        handle.seek(5)
        assert open_file_sha256(handle, keep=True) == (expected, data)
        assert handle.tell() == 5 and handle.read(3) == data[5:8]  # another reader of the handle is undisturbed
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
