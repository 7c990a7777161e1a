"""The `sfx` recipe: weak captions from a reviewed table, held-out sources, duplicates, licences."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audioret.data.manifest import read_manifest
from audioret.data.recipes import prepare
from audioret.data.recipes.sfx import SOURCES, name_stem, read_caption_table, table_key
from audioret.utils.errors import DataFormatError
from conftest import write_tone


@pytest.mark.parametrize(("name", "stem"), [
    ("orc-hit-2.ogg", "orc-hit"), ("Orc_Hit2.wav", "orc-hit"), ("behemoth_attack1c.wav", "behemoth-attack"),
    ("pull-up.wav", "pull-up"), ("altitude-2500.wav", "altitude"), ("R-1535Slow.wav", "r-1535slow"), ("7.ogg", "7"),
])
def test_name_stems_drop_take_numbers_and_variant_letters(name, stem):
    assert name_stem(name) == stem


def test_table_keys_can_include_parent_folders():
    assert table_key("weapons/shotgun/primary2.ogg", 1) == "shotgun/primary"
    assert table_key("weapons/shotgun/primary2.ogg") == "primary"


def test_the_packaged_table_is_complete_and_well_formed():
    table = read_caption_table()
    assert len(table) > 700 and {source for source, _ in table} == set(SOURCES)
    assert table[("wesnoth", "orc-hit")] == "an orc grunts in pain when hit"
    assert all(caption == caption.strip() and caption[0].islower() for caption in table.values())


def write_layout(root: Path) -> Path:
    wesnoth = root / "wesnoth" / SOURCES["wesnoth"].folder / "data" / "core" / "sounds"
    write_tone(wesnoth / "orc-hit-1.ogg", 0.5, freq=300, format="OGG")
    write_tone(wesnoth / "orc-hit-2.ogg", 0.5, freq=320, format="OGG")
    write_tone(wesnoth / "mystery-7.wav", 0.5, freq=500)  # no caption in the table: left out, listed
    glest = root / "megaglest" / SOURCES["megaglest"].folder / "techs" / "units"
    write_tone(glest / "swordman" / "swordman_die1.wav", 0.5, freq=200)
    shutil.copy(glest / "swordman" / "swordman_die1.wav", root / "copy.wav")
    (glest / "berserk").mkdir(parents=True)
    shutil.copy(root / "copy.wav", glest / "berserk" / "swordman_die1.wav")  # byte-identical: kept once
    write_tone(glest / "swordman" / "swordman_ack1.wav", 0.5, freq=210)  # voice line: excluded by the source
    arcade = root / "arcade" / SOURCES["arcade"].folder
    write_tone(arcade / "coin1.wav", 0.3, freq=1500)
    return root


def test_prepare_sfx_splits_by_source_with_licences(tmp_path):
    src = write_layout(tmp_path / "src")
    table = tmp_path / "table.csv"
    table.write_text("source,stem,caption\nwesnoth,orc-hit,an orc grunts\nmegaglest,swordman-die,a man dies\n"
                     "megaglest,swordman-ack,a man says yes\narcade,coin,a coin chime\n")
    report = prepare("sfx", src, tmp_path / "out", captions=table)
    dev = list(read_manifest(report.manifests["dev"][0]))
    train = list(read_manifest(report.manifests["train"][0]))
    test = list(read_manifest(report.manifests["test"][0]))
    assert [r.captions for r in dev] == [["an orc grunts"], ["an orc grunts"]]
    assert [r.captions for r in train] == [["a man dies"]] and [r.captions for r in test] == [["a coin chime"]]
    assert train[0].meta == {"source": "megaglest", "package": SOURCES["megaglest"].package,
                             "licence": "CC-BY-SA-3.0", "stem": "swordman-die"}
    assert dev[0].meta["licence"] == "GPL-2.0-or-later" and test[0].meta["licence"] == "CC0-1.0"
    assert any("mystery-7.wav" in m and "no caption" in m for m in report.missing)
    assert any("hedgewars: not found" in note for note in report.notes)
    assert "mystery-7.wav" in (tmp_path / "out" / "sfx_problems.txt").read_text()


@pytest.mark.parametrize(("text", "message"), [
    ("source,stem\nwesnoth,x\n", "expected columns"),
    ("source,stem,caption\nwesnoth,x,a\nwesnoth,x,b\n", "listed twice"),
    ("source,stem,caption\nquake,x,a\n", "unknown source"),
    ("source,stem,caption\nwesnoth,x,\n", "incomplete"),
])
def test_a_malformed_table_names_its_line(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        read_caption_table(path)
