"""Audio files out of the archive formats some game packages ship their sounds in.

`make sfx-sources` unpacks each package with `dpkg -x`; a few keep their sounds inside archives, which
this module reads (read-only, nothing executed) and writes out as plain files under `<package>/extracted/`:

- OpenClonk groups (`.ocg`): gzip (magic 1E 8C instead of 1F 8B) around a header scrambled by XOR 237 and a
  swap of each byte triple's outer bytes; entries of 316 bytes (name, packed/child flags, size, offset);
  child groups nest in the same format, unzipped.
- OpenTTD sound catalogues (`.cat`): a table of (offset | 0x80000000, size) pairs, each entry a name
  length, a name and a RIFF WAV file. A sample is written as `NN_<title>.wav` (its quoted title).
- Qt resource bundles (`.rcc`, GCompris): a tree of named nodes over a data block; zlib-compressed files
  carry a 4-byte length first.
- Zip archives (`.wz` of Warzone 2100, `.pk3` of UFO: AI, Nexuiz and OpenArena).

    python -m audioret.data.recipes.archives PACKAGE_DIR   # unpacks every known archive inside it
"""

from __future__ import annotations

import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from audioret.utils.audio import AUDIO_EXTENSIONS
from audioret.utils.errors import DataFormatError
from audioret.utils.io import atomic_write

EXTRACTED = "extracted"
C4_MAGIC = b"RedWolf Design GrpFolder"
C4_HEADER, C4_ENTRY = 204, 316


def c4group_members(data: bytes, prefix: str) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in an OpenClonk group; `data` as stored on disk or as nested."""
    if data[:2] == b"\x1e\x8c":
        data = zlib.decompress(b"\x1f\x8b" + data[2:], 31)
    header = _c4_unscramble(data[:C4_HEADER])
    if header[: len(C4_MAGIC)] != C4_MAGIC:
        raise ValueError("not an OpenClonk group")
    (count,) = struct.unpack("<i", header[36:40])
    base = C4_HEADER + count * C4_ENTRY
    for i in range(count):
        entry = data[C4_HEADER + i * C4_ENTRY : C4_HEADER + (i + 1) * C4_ENTRY]
        name = entry[:260].split(b"\0")[0].decode("latin-1")
        _, child, size, _, offset = struct.unpack("<iiiii", entry[260:280])
        body = data[base + offset : base + offset + size]
        if child:
            yield from c4group_members(body, f"{prefix}/{name}")
        else:
            yield f"{prefix}/{name}", body


def _c4_unscramble(header: bytes) -> bytes:
    out = bytearray(b ^ 237 for b in header)
    for i in range(0, len(out) - 2, 3):
        out[i], out[i + 2] = out[i + 2], out[i]
    return bytes(out)


def catalogue_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(NN_title.wav, bytes) of every sample of an OpenTTD sound catalogue."""
    (first,) = struct.unpack("<I", data[:4])
    if not first & 0x80000000 or first & 0x7FFFFFFF < 8:  # every offset carries the flag bit
        raise ValueError("not an OpenTTD sound catalogue")
    for i in range((first & 0x7FFFFFFF) // 8):
        offset, size = struct.unpack("<II", data[i * 8 : i * 8 + 8])
        offset &= 0x7FFFFFFF
        length = data[offset]
        name = data[offset + 1 : offset + 1 + length].rstrip(b"\0").decode("latin-1")
        quoted = re.match(r'"([^"]*)"', name)
        title = quoted.group(1) if quoted else name[:40]
        safe = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")
        yield f"{i:02d}_{safe}.wav", data[offset + 1 + length : offset + size]


def qt_resource_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in a Qt resource bundle (.rcc)."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, block, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[node : node + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else prefix
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", data[node + 6 : node + 14])
            for child in range(first, first + count):
                yield from walk(child, path)
            return
        (offset,) = struct.unpack(">I", data[node + 10 : node + 14])
        (size,) = struct.unpack(">I", data[block + offset : block + offset + 4])
        body = data[block + offset + 4 : block + offset + 4 + size]
        if flags & 1:
            body = zlib.decompress(body[4:])
        elif flags & 4:  # zstd: no GCompris audio uses it
            return
        yield path, body

    yield from walk(0, "")


def zip_members(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith("/"):
                yield name, archive.read(name)


def archive_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """The files of one archive, by its kind (its extension)."""
    suffix = path.suffix.lower()
    if suffix in (".ocg", ".ocd", ".ocf"):
        return c4group_members(path.read_bytes(), path.name)
    if suffix == ".cat":
        return catalogue_members(path.read_bytes())
    if suffix == ".rcc":
        return qt_resource_members(path.read_bytes())
    if suffix in (".wz", ".zip", ".pk3"):
        return zip_members(path)
    raise DataFormatError(path, f"unknown archive kind {suffix!r}")


#: The archives that hold sounds, per unpacked package (globs relative to the package's root).
SOUND_ARCHIVES = ("usr/share/games/openclonk/Sound.ocg", "usr/share/games/openttd/baseset/opensfx/*.cat",
                  "usr/share/gcompris-qt/rcc/*.rcc", "usr/share/games/warzone2100/base.wz",
                  "usr/share/games/ufoai/base/0snd.pk3", "usr/share/games/nexuiz/data/data.pk3",
                  "usr/share/games/openarena/baseoa/pak0.pk3", "usr/share/games/openarena/missionpack/mp-pak0.pk3")


def unpack_sound_archives(package: Path) -> int:
    """Write the audio files of every sound archive inside `package` to `package/extracted/`; returns how many.

    Files already there are kept, so a second run does nothing.
    """
    written = 0
    for pattern in SOUND_ARCHIVES:
        for archive in sorted(package.glob(pattern)):
            try:
                for member, body in archive_members(archive):
                    if Path(member).suffix.lower() not in AUDIO_EXTENSIONS:
                        continue
                    target = package / EXTRACTED / member.lstrip("/")
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with atomic_write(target, "wb") as handle:
                            handle.write(body)
                        written += 1
            except (ValueError, struct.error, zlib.error, zipfile.BadZipFile) as err:
                raise DataFormatError(archive, f"cannot read this archive ({err})") from None
    return written


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(f"{folder}: {unpack_sound_archives(Path(folder))} audio files extracted")
