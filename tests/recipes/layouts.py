"""Tiny copies of each dataset's published layout, built in a temp dir by the tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from conftest import write_tone

CLOTHO_SPLITS = {"development": ["dev one.wav", "dev_two.wav", "dev3.wav"], "validation": ["val1.wav"],
                 "evaluation": ["eval1.wav", "eval2.wav"]}


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def clotho_caption(name: str, i: int) -> str:
    return f"Caption {i} of {name}, with punctuation!"


def make_clotho(root: Path) -> Path:
    for split, names in CLOTHO_SPLITS.items():
        rows = [[name, *[clotho_caption(name, i) for i in range(1, 6)]] for name in names]
        _write_csv(root / f"clotho_captions_{split}.csv", ["file_name", *[f"caption_{i}" for i in range(1, 6)]], rows)
        meta = [[name, "rain;wind; city", "12345", "https://freesound.org/s/12345", "[0, 100]", "Zoë",
                 "http://creativecommons.org/licenses/by/3.0/"] for name in names]
        _write_csv(root / f"clotho_metadata_{split}.csv", ["file_name", "keywords", "sound_id", "sound_link",
                                                            "start_end_samples", "manufacturer", "license"],
                   meta, encoding="ISO-8859-1")
        for name in names:
            write_tone(root / split / name, seconds=0.5, rate=44_100)
    return root


def make_clotho_gpt(root: Path) -> Path:
    make_clotho(root)
    entries = []
    for clip, name in enumerate(CLOTHO_SPLITS["development"]):
        for caption in range(5):
            idx = clip * 5 + caption
            entries.append({"idx": idx, "path": name, "caption": clotho_caption(name, caption + 1),
                            "variations": [f"paraphrase {v} of {idx}" for v in range(5)]})
    (root / "variations.json").write_text(json.dumps(entries))
    return root


AUDIOCAPS = {
    "train": [("1", "abcdefghijk", "30", "A man speaks"), ("2", "Zyxwvutsrqp", "0", "Birds chirp"),
              ("3", "missingid00", "10", "Gone from YouTube")],
    "val": [("4", "valclip0001", "5", "Rain falls"), ("5", "valclip0001", "5", "Heavy rain on a roof")],
    "test": [("6", "testclip001", "0", "An engine idles")],
}


def make_audiocaps(root: Path) -> Path:
    for split, rows in AUDIOCAPS.items():
        _write_csv(root / f"{split}.csv", ["audiocap_id", "youtube_id", "start_time", "caption"],
                   [list(r) for r in rows])
    write_tone(root / "audio" / "train" / "Yabcdefghijk.wav", 0.5)  # AudioSet 'Y' prefix
    write_tone(root / "audio" / "train" / "Zyxwvutsrqp.flac", 0.5, format="FLAC")  # no prefix
    write_tone(root / "audio" / "val" / "Yvalclip0001.wav", 0.5)
    write_tone(root / "audio" / "test" / "testclip001.wav", 0.5)
    return root


WAVCAPS = {
    "FreeSound": ("FreeSound", "fsd_final.json", [("1001", "A door creaks open."), ("1002", "Clotho overlap.")]),
    "BBC_Sound_Effects": ("BBC_Sound_Effects", "bbc_final.json", [("07070146", "Crowd cheering in a stadium.")]),
    "SoundBible": ("SoundBible", "sb_final.json", [("1001", "A dog barks twice.")]),
    "AudioSet_SL": ("AudioSet_SL", "as_final.json", [("Yb0RFKhbpFJA.wav", "Music plays.")]),
}


def make_wavcaps(root: Path) -> Path:
    for folder, file_name, entries in WAVCAPS.values():
        data = [{"id": i, "caption": c, "audio": "wav_path", "duration": 0.5, "tags": []} for i, c in entries]
        path = root / "json_files" / folder / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"num_captions_per_audio": 1, "data": data}))
        for clip_id, _ in entries:
            stem = clip_id.removesuffix(".wav")
            # FreeSound and SoundBible share id 1001: the source folder tells them apart.
            write_tone(root / "audio" / f"{folder}_flac" / f"{stem}.flac", 0.5, format="FLAC")
    (root / "dcase2024_task6_excluded_freesound_ids.csv").write_text("sound_id\n1002\n")
    return root


def make_macs(root: Path) -> Path:
    files = [
        {"filename": "street_traffic-lyon-1162-44650-a.wav",
         "annotations": [{"annotator_id": 1, "sentence": "Cars pass by on a busy road.", "tags": ["car"]},
                         {"annotator_id": 2, "sentence": "Traffic noise with a horn.", "tags": ["horn"]}]},
        {"filename": "park-helsinki-241-7198-a.wav",
         "annotations": [{"annotator_id": 3, "sentence": "Birds sing in a park.", "tags": ["birds"]}]},
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "MACS.yaml").write_text(yaml.safe_dump({"files": files}))
    for item in files:
        write_tone(root / "TAU-urban-acoustic-scenes-2019-development" / "audio" / item["filename"], 0.5)
    return root


def make_auto_acd(root: Path) -> Path:
    _write_csv(root / "train.csv", ["youtube_id", "caption"], [
        ["---g-f_I2yQ_000001", "A train horn blares as it passes."],
        ["--0PQM4-hqg_000030", "Water flows in a stream."],
        ["--0PQM4-hqg_000030", "A stream babbles."],
        ["absent_clip_000000", "Not downloaded."],
    ])
    write_tone(root / "vggsound" / "---g-f_I2yQ_000001.flac", 0.5, format="FLAC")
    write_tone(root / "vggsound" / "--0PQM4-hqg_000030.wav", 0.5)
    return root


def make_folder(root: Path) -> Path:
    write_tone(root / "doors" / "creak.wav", 0.5)
    write_tone(root / "doors" / "slam.ogg", 0.5, format="OGG")
    write_tone(root / "rain.mp3", 0.5)
    (root / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    (root / "empty.flac").write_bytes(b"")
    (root / "readme.txt").write_text("not audio, not listed")
    _write_csv(root / "captions.csv", ["path", "caption"], [
        ["doors/creak.wav", "A wooden door creaks."], ["doors/creak.wav", "A slow creak."],
        ["rain.mp3", "Rain on a window."], ["gone.wav", "A file that is not there."],
    ])
    return root
