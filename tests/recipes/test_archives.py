"""Archive readers of the sfx sources, on a real published archive; damaged archives are named."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from audioret.data.recipes.archives import archive_members, qt_resource_members, unpack_sound_archives
from audioret.utils.errors import DataFormatError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "archives" / "hanoi.rcc"
#: What an independent reader found in the real bundle (tests/fixtures/archives/README.md).
HANOI = {
    "/gcompris/src/activities/hanoi/ActivityInfo.qml": (947, "5f2af345fb2e683215bc900a55e3b5c1d019fbf4"),
    "/gcompris/src/activities/hanoi/Hanoi.qml": (385, "b6cefc235deb499cb20598d82484883124960b29"),
    "/gcompris/src/activities/hanoi/hanoi.svg": (13778, "0c8025bbe2e42dd9a25d1b1cdbbb70a5f376e28d"),
}


def test_a_real_qt_resource_bundle_reads_exactly():
    found = {path: (len(body), hashlib.sha1(body).hexdigest())
             for path, body in qt_resource_members(FIXTURE.read_bytes())}
    assert found == HANOI


def test_only_audio_is_unpacked_and_a_second_run_writes_nothing(tmp_path):
    bundle = tmp_path / "usr/share/gcompris-qt/rcc/hanoi.rcc"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(FIXTURE.read_bytes())
    assert unpack_sound_archives(tmp_path) == 0  # no audio in this bundle
    assert not (tmp_path / "extracted").exists()


@pytest.mark.parametrize("name", ["Sound.ocg", "opensfx.cat", "broken.rcc", "base.wz"])
def test_a_damaged_archive_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 64)
    package = tmp_path / "pkg"
    target = package / {"Sound.ocg": "usr/share/games/openclonk/Sound.ocg",
                        "opensfx.cat": "usr/share/games/openttd/baseset/opensfx/opensfx.cat",
                        "broken.rcc": "usr/share/gcompris-qt/rcc/broken.rcc",
                        "base.wz": "usr/share/games/warzone2100/base.wz"}[name]
    target.parent.mkdir(parents=True)
    target.write_bytes(path.read_bytes())
    with pytest.raises(DataFormatError, match=f"{name}.*cannot read this archive"):
        unpack_sound_archives(package)


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="unknown archive kind"):
        archive_members(tmp_path / "sounds.rar")
