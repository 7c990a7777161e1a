"""Archive readers of the sfx sources, on a real published archive; damaged archives are named."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audioret.data.recipes.archives import (
    SOUNDFONT_SECONDS,
    archive_members,
    qt_resource_members,
    soundfont_members,
    unpack_sound_archives,
)
from audioret.utils.errors import DataFormatError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "archives" / "hanoi.rcc"
SOUNDFONT = Path(__file__).parents[1] / "fixtures" / "archives" / "basic.sf2"
#: The sample each key of the soundfont's one preset selects, as sf2utils read it (fixtures README):
#: (start, end, loop start, loop end) in the sample data, all absolute.
SOUNDFONT_NOTES = {48: (0, 511, 97, 498), 60: (0, 511, 97, 498), 72: (557, 841, 596, 796)}
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


def _sample_data(font: bytes) -> np.ndarray:
    """The soundfont's 16-bit sample data, found by its chunk id (independent of the reader under test)."""
    at = font.index(b"smpl")
    size = int.from_bytes(font[at + 4 : at + 8], "little")
    return np.frombuffer(font[at + 8 : at + 8 + size], dtype="<i2")


def test_a_real_soundfont_sounds_each_key_with_the_sample_its_zone_selects_looped():
    font = SOUNDFONT.read_bytes()
    pcm = _sample_data(font)
    notes = dict(soundfont_members(font))
    # Its one preset is bank 0 program 0, so it is written under General MIDI's name for that program.
    assert sorted(notes) == [f"acoustic-grand-piano-{key}.wav" for key in (48, 60, 72)]
    for key, (start, _end, loop_start, loop_end) in SOUNDFONT_NOTES.items():
        audio, rate = soundfile.read(io.BytesIO(notes[f"acoustic-grand-piano-{key}.wav"]), dtype="int16")
        assert rate == 44100 and len(audio) == int(SOUNDFONT_SECONDS * 44100)
        loop = pcm[loop_start:loop_end]
        expected = np.concatenate([pcm[start:loop_end], np.tile(loop, len(audio) // len(loop) + 1)])[: len(audio)]
        body = len(audio) - 44100 // 10  # the last 0.1 s fades out
        np.testing.assert_array_equal(audio[:body], expected[:body])
        assert abs(int(audio[-1])) <= 1


@pytest.mark.parametrize("name", ["Sound.ocg", "opensfx.cat", "broken.rcc", "base.wz", "FluidR3_GM.sf2"])
def test_a_damaged_archive_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 64)
    package = tmp_path / "pkg"
    target = package / {"Sound.ocg": "usr/share/games/openclonk/Sound.ocg",
                        "opensfx.cat": "usr/share/games/openttd/baseset/opensfx/opensfx.cat",
                        "broken.rcc": "usr/share/gcompris-qt/rcc/broken.rcc",
                        "base.wz": "usr/share/games/warzone2100/base.wz",
                        "FluidR3_GM.sf2": "usr/share/sounds/sf2/FluidR3_GM.sf2"}[name]
    target.parent.mkdir(parents=True)
    target.write_bytes(path.read_bytes())
    with pytest.raises(DataFormatError, match=f"{name}.*cannot read this archive"):
        unpack_sound_archives(package)


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="unknown archive kind"):
        archive_members(tmp_path / "sounds.rar")
