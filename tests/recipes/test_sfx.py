"""The `sfx` recipe: weak captions from a reviewed table, held-out sources, duplicates, licences."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import soundfile as sf
import soxr

from audioret.data.manifest import read_manifest
from audioret.data.recipes import prepare
from audioret.data.recipes.sfx import (
    CATEGORIES,
    HELD_OUT,
    SOURCES,
    Caption,
    keep_only,
    name_stem,
    read_caption_table,
    table_key,
)
from audioret.utils.errors import DataFormatError
from conftest import write_tone


@pytest.mark.parametrize(("name", "stem"), [
    ("orc-hit-2.ogg", "orc-hit"), ("Orc_Hit2.wav", "orc-hit"), ("behemoth_attack1c.wav", "behemoth-attack"),
    ("pull-up.wav", "pull-up"), ("altitude-2500.wav", "altitude"), ("R-1535Slow.wav", "r-1535slow"), ("7.ogg", "7"),
    ("default_sand_footstep.2.ogg", "default-sand-footstep"),
])
def test_name_stems_drop_take_numbers_and_variant_letters(name, stem):
    assert name_stem(name) == stem


def test_table_keys_can_include_parent_folders():
    assert table_key("weapons/shotgun/primary2.ogg", 1) == "shotgun/primary"
    assert table_key("weapons/shotgun/primary2.ogg") == "primary"


def test_the_packaged_table_is_complete_and_well_formed():
    table = read_caption_table()
    assert len(table) > 700 and {source for source, _ in table} == set(SOURCES)
    assert table[("wesnoth", "orc-hit")] == Caption("an orc grunts in pain when hit", "people")
    assert all(c.text == c.text.strip() and c.text[0].islower() and not c.text.endswith(".") for c in table.values())
    for split in HELD_OUT:  # every category of what people search for is represented in each held-out split
        held_out = {c.category for (source, _), c in table.items() if SOURCES[source].split == split}
        assert held_out == set(CATEGORIES), (split, set(CATEGORIES) - held_out)


def test_keep_only_keeps_exactly_the_listed_paths():
    exclude = keep_only("moo.wav", "sub/a+b.ogg")
    assert not re.search(exclude, "moo.wav") and not re.search(exclude, "sub/a+b.ogg")
    assert all(re.search(exclude, path) for path in ("moo.wav.bak", "sub/aab.ogg", "other/moo.wav", "oo.wav"))


def write_layout(root: Path) -> Path:
    scratch = root / "scratch" / SOURCES["scratch"].folder / "Animal"
    write_tone(scratch / "Dog1.wav", 0.5, freq=300)
    write_tone(scratch / "Dog2.wav", 0.5, freq=320)
    write_tone(scratch / "Mystery7.wav", 0.5, freq=500)  # no caption in the table: left out, listed
    glest = root / "megaglest" / SOURCES["megaglest"].folder / "techs" / "units"
    write_tone(glest / "swordman" / "swordman_die1.wav", 0.5, freq=200)
    shutil.copy(glest / "swordman" / "swordman_die1.wav", root / "copy.wav")
    (glest / "berserk").mkdir(parents=True)
    shutil.copy(root / "copy.wav", glest / "berserk" / "swordman_die1.wav")  # byte-identical: kept once
    write_tone(glest / "swordman" / "swordman_ack1.wav", 0.5, freq=210)  # voice line: excluded by the source
    # Another package's copy of a development clip (resampled, quieter): left out of training.
    dog, rate = sf.read(scratch / "Dog1.wav")
    sf.write(glest / "swordman" / "swordman_hit1.wav", 0.5 * soxr.resample(dog, rate, 22_050), 22_050)
    tuxpaint = root / "tuxpaint" / SOURCES["tuxpaint"].folder / "animals"
    write_tone(tuxpaint / "cat.ogg", 0.6, freq=1500, format="OGG")
    write_tone(tuxpaint / "cat_desc.ogg", 0.3, freq=1400, format="OGG")  # a spoken description: excluded
    robots = root / "gnome-robots" / SOURCES["gnome-robots"].folder  # a test source
    write_tone(robots / "yahoo.ogg", 0.6, freq=150, format="OGG")
    write_tone(robots / "walrus.wav", 0.6, freq=180)  # not among the files the source keeps
    (robots / "splat.ogg").symlink_to(robots / "missing.ogg")  # packages ship dangling links: listed, skipped
    return root


def test_prepare_sfx_splits_by_source_with_licences(tmp_path):
    src = write_layout(tmp_path / "src")
    table = tmp_path / "table.csv"
    table.write_text("source,stem,caption,category\nscratch,dog,a dog barks,animals\n"
                     "megaglest,swordman-die,a man dies,people\nmegaglest,swordman-ack,a man says yes,people\n"
                     "megaglest,swordman-hit,a man is hit,people\ntuxpaint,cat,a cat meows,animals\n"
                     "gnome-robots,yahoo,someone shouts yahoo,people\ngnome-robots,splat,something splats,people\n")
    report = prepare("sfx", src, tmp_path / "out", captions=table)
    dev = list(read_manifest(report.manifests["dev"][0]))
    train = list(read_manifest(report.manifests["train"][0]))
    test = list(read_manifest(report.manifests["test"][0]))
    assert [r.captions for r in dev] == [["a dog barks"], ["a dog barks"]]
    assert [r.captions for r in train] == [["a man dies"], ["a cat meows"]]
    assert [r.captions for r in test] == [["someone shouts yahoo"]]
    digest = train[0].meta.pop("digest")
    assert train[0].meta == {"source": "megaglest", "package": SOURCES["megaglest"].package,
                             "licence": "CC-BY-SA-3.0", "stem": "swordman-die", "category": "people"}
    assert digest == hashlib.sha1(Path(train[0].audio).read_bytes()).hexdigest()
    assert dev[0].meta["licence"] == "CC-BY-SA-3.0" and test[0].meta["category"] == "people"
    # Held-out clips are copies under their digest: neither path nor id names the sound.
    for record in dev + test:
        assert Path(record.audio).name == record.id == record.meta["digest"][:20] + Path(record.audio).suffix
        assert Path(record.audio).parent.name in ("sfx_dev_audio", "sfx_test_audio")
        assert Path(record.audio).read_bytes() == (src / record.meta["original"].split("/", 1)[0]
                                                   / SOURCES[record.meta["source"]].folder
                                                   / record.meta["original"].split("/", 1)[1]).read_bytes()
    assert any("Mystery7.wav" in m and "no caption" in m for m in report.missing)
    assert not any("cat_desc" in m or "walrus" in m for m in report.missing)
    assert any("hedgewars: not found" in note for note in report.notes)
    problems = (tmp_path / "out" / "sfx_problems.txt").read_text()
    assert "Mystery7.wav" in problems
    [(unreadable, reason)] = report.unreadable
    assert unreadable.endswith("splat.ogg") and "cannot be read" in reason and "splat.ogg" in problems
    [(copy, why)] = report.duplicates
    assert copy.endswith("swordman_hit1.wav") and "copies dev clip scratch/Animal/Dog1.wav" in why
    assert "duplicate\t" in problems and "swordman_hit1.wav" in problems


def test_a_test_clip_that_copies_a_dev_clip_is_left_out_of_test(tmp_path):
    src = write_layout(tmp_path / "src")
    dog, rate = sf.read(src / "scratch" / SOURCES["scratch"].folder / "Animal" / "Dog2.wav")
    splat = src / "gnome-robots" / SOURCES["gnome-robots"].folder / "splat.ogg"
    splat.unlink()
    sf.write(splat, 0.7 * soxr.resample(dog, rate, 32_000), 32_000, format="OGG")  # another package's copy
    table = tmp_path / "table.csv"
    table.write_text("source,stem,caption,category\nscratch,dog,a dog barks,animals\n"
                     "gnome-robots,yahoo,someone shouts yahoo,people\ngnome-robots,splat,a dog barks,animals\n")
    report = prepare("sfx", src, tmp_path / "out", captions=table)
    test = list(read_manifest(report.manifests["test"][0]))
    assert [r.captions for r in test] == [["someone shouts yahoo"]]
    [(copy, why)] = report.duplicates
    assert copy.endswith("splat.ogg") and "copies dev clip scratch/Animal/Dog2.wav" in why


@pytest.mark.parametrize(("text", "message"), [
    ("source,stem,caption\nwesnoth,x,a\n", "expected columns"),
    ("source,stem,caption,category\nwesnoth,x,a,people\nwesnoth,x,b,people\n", "listed twice"),
    ("source,stem,caption,category\nquake,x,a,people\n", "unknown source"),
    ("source,stem,caption,category\nwesnoth,x,,people\n", "incomplete"),
    ("source,stem,caption,category\nwesnoth,x,a,monsters\n", "none of animals"),
])
def test_a_malformed_table_names_its_line(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        read_caption_table(path)
