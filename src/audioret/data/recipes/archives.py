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

import io
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

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


#: General MIDI's 128 program names (bank 0), in program order; the file names of a soundfont's melodic samples.
GM_PROGRAMS = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano", "electric piano 1",
    "electric piano 2", "harpsichord", "clavinet", "celesta", "glockenspiel", "music box", "vibraphone", "marimba",
    "xylophone", "tubular bells", "dulcimer", "drawbar organ", "percussive organ", "rock organ", "church organ",
    "reed organ", "accordion", "harmonica", "tango accordion", "nylon guitar", "steel guitar", "jazz guitar",
    "clean electric guitar", "muted electric guitar", "overdriven guitar", "distortion guitar", "guitar harmonics",
    "acoustic bass", "fingered bass", "picked bass", "fretless bass", "slap bass 1", "slap bass 2", "synth bass 1",
    "synth bass 2", "violin", "viola", "cello", "contrabass", "tremolo strings", "pizzicato strings",
    "orchestral harp", "timpani", "string ensemble 1", "string ensemble 2", "synth strings 1", "synth strings 2",
    "choir aahs", "voice oohs", "synth voice", "orchestra hit", "trumpet", "trombone", "tuba", "muted trumpet",
    "french horn", "brass section", "synth brass 1", "synth brass 2", "soprano sax", "alto sax", "tenor sax",
    "baritone sax", "oboe", "english horn", "bassoon", "clarinet", "piccolo", "flute", "recorder", "pan flute",
    "blown bottle", "shakuhachi", "whistle", "ocarina", "square lead", "sawtooth lead", "calliope lead",
    "chiff lead", "charang lead", "voice lead", "fifths lead", "bass and lead", "new age pad", "warm pad",
    "polysynth pad", "choir pad", "bowed pad", "metallic pad", "halo pad", "sweep pad", "rain fx", "soundtrack fx",
    "crystal fx", "atmosphere fx", "brightness fx", "goblins fx", "echoes fx", "sci-fi fx", "sitar", "banjo",
    "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai", "tinkle bell", "agogo", "steel drums",
    "woodblock", "taiko drum", "melodic tom", "synth drum", "reverse cymbal", "guitar fret noise", "breath noise",
    "seashore", "bird tweet", "telephone ring", "helicopter", "applause", "gunshot")
#: General MIDI's percussion keys (bank 128), key -> name.
GM_DRUMS = dict(enumerate((
    "acoustic bass drum", "bass drum", "side stick", "acoustic snare", "hand clap", "electric snare",
    "low floor tom", "closed hi-hat", "high floor tom", "pedal hi-hat", "low tom", "open hi-hat", "low mid tom",
    "high mid tom", "crash cymbal 1", "high tom", "ride cymbal 1", "chinese cymbal", "ride bell", "tambourine",
    "splash cymbal", "cowbell", "crash cymbal 2", "vibraslap", "ride cymbal 2", "high bongo", "low bongo",
    "mute high conga", "open high conga", "low conga", "high timbale", "low timbale", "high agogo", "low agogo",
    "cabasa", "maracas", "short whistle", "long whistle", "short guiro", "long guiro", "claves",
    "high wood block", "low wood block", "mute cuica", "open cuica", "mute triangle", "open triangle"), start=35))
#: The keys a melodic program is sounded at (an octave apart, so multi-sampled instruments give three samples).
SOUNDFONT_KEYS = (48, 60, 72)
SOUNDFONT_SECONDS = 2.0  # looped samples are repeated up to this length
SOUNDFONT_RECORDS = {"phdr": 38, "pbag": 4, "pgen": 4, "inst": 22, "ibag": 4, "igen": 4, "shdr": 46}
# Generator numbers of the SoundFont 2.04 specification.
GEN_INSTRUMENT, GEN_KEY_RANGE, GEN_VEL_RANGE, GEN_SAMPLE, GEN_SAMPLE_MODES = 41, 43, 44, 53, 54
# Sample address offsets: (fine, coarse) generator pairs for start, end, loop start, loop end; coarse is x32768.
GEN_ADDRESS_OFFSETS = ((0, 4), (1, 12), (2, 45), (3, 50))


def soundfont_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(name.wav, WAV bytes) of the samples a General MIDI soundfont (.sf2) plays for each program and drum.

    Each melodic program of bank 0 is sounded at `SOUNDFONT_KEYS` (`violin-60.wav`), each percussion key of
    bank 128's first kit once (`drum-cowbell.wav`). A note is the sample its zones select at velocity 100,
    played at the pitch it was recorded at, its loop repeated up to `SOUNDFONT_SECONDS` and faded out;
    envelopes, filters and modulators are not applied, so the clips are the recordings the soundfont holds.
    """
    chunks = _riff_chunks(data)
    if "smpl" not in chunks or any(kind not in chunks for kind in SOUNDFONT_RECORDS):
        raise ValueError("not a SoundFont 2 file")
    font = {kind: _records(chunks[kind], size) for kind, size in SOUNDFONT_RECORDS.items()}
    pcm = np.frombuffer(chunks["smpl"], dtype="<i2")
    presets = {struct.unpack("<HH", r[20:24]): i for i, r in enumerate(font["phdr"][:-1])}
    notes = [(f"{name.replace(' ', '-')}-{key}.wav", (0, program), key)
             for program, name in enumerate(GM_PROGRAMS) for key in SOUNDFONT_KEYS]
    notes += [(f"drum-{name.replace(' ', '-')}.wav", (128, 0), key) for key, name in GM_DRUMS.items()]
    for name, (bank, program), key in notes:
        if (program, bank) in presets:
            zone = _note_zone(font, presets[(program, bank)], key)
            if zone is not None:
                yield name, _note_wav(font["shdr"][zone[GEN_SAMPLE]], zone, pcm)


def _riff_chunks(data: bytes) -> dict[str, bytes]:
    """The leaf chunks of a RIFF file by id, LIST chunks opened (the first of each id)."""
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        return {}
    chunks: dict[str, bytes] = {}

    def walk(start: int, end: int) -> None:
        while start + 8 <= end:
            kind, size = data[start : start + 4].decode("latin-1"), struct.unpack("<I", data[start + 4 : start + 8])[0]
            body = start + 8
            if kind == "LIST":
                walk(body + 4, min(body + size, end))
            else:
                chunks.setdefault(kind, data[body : body + size])
            start = body + size + (size & 1)

    walk(12, len(data))
    return chunks


def _records(chunk: bytes, size: int) -> list[bytes]:
    return [chunk[i : i + size] for i in range(0, len(chunk) - size + 1, size)]


def _zones(bags: list[bytes], gens: list[bytes], first: int, last: int) -> Iterator[dict[int, int]]:
    """The generator lists (number -> amount) of bags first..last-1; ranges as (low | high << 8)."""
    for bag in range(first, last):
        start, end = _u16_field(bags, bag, 0), _u16_field(bags, bag + 1, 0)
        yield {oper: amount for oper, amount in (struct.unpack("<Hh", gens[g]) for g in range(start, end))}


def _covers(zone: dict[int, int], generator: int, value: int) -> bool:
    if generator not in zone:
        return True
    low, high = zone[generator] & 0xFF, (zone[generator] >> 8) & 0xFF
    return low <= value <= high


def _u16_field(records: list[bytes], index: int, at: int) -> int:
    """The u16 at byte `at` of record `index`: a preset's or instrument's first bag, a bag's first generator."""
    return struct.unpack("<H", records[index][at : at + 2])[0]


def _note_zone(font: dict[str, list[bytes]], preset: int, key: int, velocity: int = 100) -> dict[int, int] | None:
    """The instrument zone (its generators) that `preset` sounds for `key`, or None."""
    presets = _u16_field(font["phdr"], preset, 24), _u16_field(font["phdr"], preset + 1, 24)
    for zone in _zones(font["pbag"], font["pgen"], *presets):
        if GEN_INSTRUMENT not in zone or not _covers(zone, GEN_KEY_RANGE, key):
            continue
        instrument = zone[GEN_INSTRUMENT]
        bags = _u16_field(font["inst"], instrument, 20), _u16_field(font["inst"], instrument + 1, 20)
        defaults: dict[int, int] = {}
        for index, inner in enumerate(_zones(font["ibag"], font["igen"], *bags)):
            if GEN_SAMPLE not in inner:
                defaults = inner if index == 0 else defaults  # a first zone without a sample is the global one
            elif _covers(inner, GEN_KEY_RANGE, key) and _covers(inner, GEN_VEL_RANGE, velocity):
                return {**defaults, **inner}
    return None


def _note_wav(header: bytes, zone: dict[int, int], pcm: np.ndarray) -> bytes:
    start, end, loop_start, loop_end, rate = struct.unpack("<IIIII", header[20:40])
    start, end, loop_start, loop_end = (
        address + zone.get(fine, 0) + 32768 * zone.get(coarse, 0)
        for address, (fine, coarse) in zip((start, end, loop_start, loop_end), GEN_ADDRESS_OFFSETS, strict=True))
    sound = pcm[start:end].astype(np.float32) / 32768
    length = int(SOUNDFONT_SECONDS * rate)
    if zone.get(GEN_SAMPLE_MODES, 0) & 1 and loop_end - loop_start > 32 and len(sound) < length:
        loop = pcm[loop_start:loop_end].astype(np.float32) / 32768
        repeats = -(-(length - (loop_end - start)) // len(loop))
        sound = np.concatenate([sound[: loop_end - start], np.tile(loop, repeats)])[:length]
    fade = min(len(sound), rate // 10)
    sound[len(sound) - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, sound, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


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
    if suffix == ".sf2":
        return soundfont_members(path.read_bytes())
    raise DataFormatError(path, f"unknown archive kind {suffix!r}")


#: The archives that hold sounds, per unpacked package (globs relative to the package's root).
SOUND_ARCHIVES = ("usr/share/games/openclonk/Sound.ocg", "usr/share/games/openttd/baseset/opensfx/*.cat",
                  "usr/share/gcompris-qt/rcc/*.rcc", "usr/share/games/warzone2100/base.wz",
                  "usr/share/games/ufoai/base/0snd.pk3", "usr/share/games/nexuiz/data/data.pk3",
                  "usr/share/games/openarena/baseoa/pak0.pk3", "usr/share/games/openarena/missionpack/mp-pak0.pk3",
                  "usr/share/sounds/sf2/FluidR3_GM.sf2")


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
