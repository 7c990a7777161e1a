"""Atomic writes and escaped names."""

from __future__ import annotations

import os
import stat

import pytest

from audioret.utils.io import FILE_MODE, atomic_path, atomic_write, escape_name


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
