"""ClothoV2-GPT: five GPT paraphrases per ClothoV2 development caption.

    SRC/  the ClothoV2 folder (see clotho.py), plus
    variations.json   [{"idx", "path", "caption", "variations": [5 strings], ...}, ...]
                      idx = audio index * 5 + caption index, in clotho_captions_development.csv order

Writes OUT/clotho-gpt_development.jsonl: the Clotho development records with `variations[c]` the
paraphrases of `captions[c]` (an empty list where none were published).
"""

from __future__ import annotations

import json
from pathlib import Path

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import (
    PrepareReport,
    finish,
    probe_records,
    read_csv_rows,
    require_file,
    write_split,
)
from audioret.data.recipes.clotho import clotho_folders, clotho_split_records
from audioret.data.text import normalize_caption
from audioret.utils.errors import DataFormatError

CAPTIONS_PER_CLIP = 5


def prepare_clotho_gpt(src: Path, out: Path, variations: Path | None = None, workers: int = 8) -> PrepareReport:
    """Attach ClothoV2-GPT paraphrases to the Clotho development manifest."""
    report = PrepareReport("clotho-gpt")
    variations_path = require_file(variations or src / "variations.json", "ClothoV2-GPT variations.json",
                                   "pass it with --variations if it lies elsewhere")
    records = clotho_split_records(src, "development", report, dataset="clotho-gpt")
    for record in records:
        record.variations = [[] for _ in record.captions]
    # idx counts rows of the captions file, including clips whose audio is missing here.
    by_name = {r.id: r for r in records}
    rows = read_csv_rows(clotho_folders(src)[0] / "clotho_captions_development.csv", ("file_name",))
    by_index = {i: by_name[row["file_name"]] for i, (_, row) in enumerate(rows) if row["file_name"] in by_name}
    mismatches = _attach(variations_path, by_index, report)
    if mismatches > len(records) * CAPTIONS_PER_CLIP // 2:
        raise DataFormatError(variations_path, f"{mismatches} entries do not match the Clotho caption at their idx; "
                              "is this the variations file of ClothoV2 (development order)?")
    write_split(out, report, "development", probe_records(records, report, workers, "clotho-gpt development"))
    return finish(out, report)


def _attach(path: Path, by_index: dict[int, ManifestRecord], report: PrepareReport) -> int:
    """Set `variations` on the records; returns how many entries disagree with Clotho's caption."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"not valid JSON: {err}") from None
    if not isinstance(entries, list):
        raise DataFormatError(path, f"expected a JSON list of entries, found {type(entries).__name__}")
    mismatches = 0
    for position, entry in enumerate(entries):
        where = f"entry {position}"
        if not isinstance(entry, dict) or not isinstance(entry.get("idx"), int):
            raise DataFormatError(path, f"{where}: needs an integer 'idx'")
        paraphrases = entry.get("variations")
        if not isinstance(paraphrases, list) or not all(isinstance(v, str) for v in paraphrases):
            raise DataFormatError(path, f"{where}: 'variations' must be a list of strings")
        clip, caption = divmod(entry["idx"], CAPTIONS_PER_CLIP)
        record = by_index.get(clip)
        if record is None or caption >= len(record.captions):
            report.notes.append(f"{path.name} {where}: idx {entry['idx']} has no Clotho caption (audio missing?)")
            continue
        published = entry.get("caption")
        if isinstance(published, str) and normalize_caption(published) != normalize_caption(record.captions[caption]):
            mismatches += 1
            if mismatches <= 5:
                report.notes.append(f"{path.name} {where}: caption differs from Clotho's at idx {entry['idx']}")
        record.variations[caption] = [v for v in paraphrases if v.strip()]
    return mismatches
