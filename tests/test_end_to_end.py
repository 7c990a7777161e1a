"""The research path in one run, through the real entry point: the six training datasets in their
published layouts (real rows where a real file could be copied: Clotho evaluation captions,
aac-datasets' AudioCaps CSV and Clotho blacklist, WavCaps' sb_final.json), `audioret prepare` on
each, one training step over all six, `audioret eval` with DCASE 2025 relevance judgments and a
submission file, which the DCASE 2022 scorer's logic re-scores to the figures eval printed."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import yaml

from audioret.cli import main
from conftest import write_tone
from eval.test_challenge_scorers import PUBLISHED, TOLERANCE, dcase2022_rescore
from models.tiny import make_text_model
from recipes import layouts
from recipes.test_published import make_aac_audiocaps, make_shared_id_wavcaps


def make_clotho_with_published_evaluation(root):
    """Zenodo layout; the evaluation split is the published rows, with audio of their names."""
    layouts.make_clotho_gpt(root)  # development (with variations.json), validation, evaluation
    shutil.rmtree(root / "evaluation")
    (root / "clotho_metadata_evaluation.csv").unlink()
    shutil.copy(PUBLISHED / "clotho_captions_evaluation.csv", root / "clotho_captions_evaluation.csv")
    with open(root / "clotho_captions_evaluation.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for i, row in enumerate(rows):
        write_tone(root / "evaluation" / row["file_name"], 12.0, rate=44_100, freq=300.0 + 150 * i)
    return root, rows


def write_relevance(path, rows):
    """Judgments in metadata_eval.csv's format (a one-element list unquoted, longer ones quoted, as the
    published file writes them); the published rows themselves are scored in test_challenge_scorers."""
    names = [r["file_name"] for r in rows]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["query", "audio_filenames"])
        writer.writerow([rows[0]["caption_1"], repr([names[0]])])
        writer.writerow([rows[1]["caption_2"], repr([names[1], names[2]])])
        writer.writerow([rows[2]["caption_3"], repr(names[2:8])])
    return path


def test_published_layouts_to_prepare_train_eval_and_submission(tmp_path, capsys):
    sources, data = tmp_path / "sources", tmp_path / "data"
    clotho, eval_rows = make_clotho_with_published_evaluation(sources / "clotho")
    make_aac_audiocaps(sources / "aac")
    make_shared_id_wavcaps(sources / "aac" / "WavCaps", soundbible_audio=("287", "370", "1038", "1748", "1960"))
    layouts.make_macs(sources / "macs")
    layouts.make_auto_acd(sources / "auto-acd")
    prepares = [["clotho", clotho, data / "clotho"], ["clotho-gpt", clotho, data / "clotho-gpt"],
                ["audiocaps", sources / "aac", data / "audiocaps"],
                ["wavcaps", sources / "aac", data / "wavcaps", "--exclude",
                 sources / "aac" / "WavCaps" / "blacklist_clotho.full.v2.csv"],
                ["macs", sources / "macs", data / "macs"], ["auto-acd", sources / "auto-acd", data / "auto-acd"]]
    for args in prepares:
        assert main(["prepare", *map(str, args)]) == 0, args
    capsys.readouterr()
    wavcaps = [json.loads(line)["id"] for line in open(data / "wavcaps" / "wavcaps_train.jsonl")]
    assert sorted(wavcaps) == sorted(f"SoundBible/{i}" for i in ("287", "370", "1038", "1748", "1960"))

    text = make_text_model(tmp_path / "bert", "bert")
    train_manifests = ["clotho/clotho_development.jsonl", "clotho-gpt/clotho-gpt_development.jsonl",
                       "audiocaps/audiocaps_train.jsonl", "wavcaps/wavcaps_train.jsonl", "macs/macs_train.jsonl",
                       "auto-acd/auto-acd_train.jsonl"]
    recipe = {
        "name": "e2e", "output_dir": str(tmp_path / "runs"),
        "data": {"train": [{"manifest": str(data / m)} for m in train_manifests],
                 "val_manifest": str(data / "clotho" / "clotho_validation.jsonl"), "num_workers": 0},
        "model": {"audio": {"name": "cnn-tiny", "window_seconds": 5.0},
                  "text": {"name": "bert", "path": str(text)}, "embed_dim": 16},
        # Batches of 2 (the smallest sets, MACS and Auto-ACD, hold two clips); 8 batches per epoch, so
        # val_every 1/8 validates after the single step that max_steps allows.
        "train": {"batch_size": 2, "epochs": 1, "max_steps": 1, "val_every": 0.125, "keep_top": 1,
                  "lr": 1e-4, "accelerator": "cpu"},
    }
    (tmp_path / "e2e.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(tmp_path / "e2e.yaml")]) == 0
    model = tmp_path / "runs" / "e2e" / "model"
    assert (model / "config.json").is_file()
    provenance = json.loads((model / "config.json").read_text())["provenance"]
    assert len(provenance["training_data"]) == 6 and len(provenance["averaged_checkpoints"]) == 1
    capsys.readouterr()

    relevance = write_relevance(tmp_path / "metadata_eval.csv", eval_rows)
    submission = tmp_path / "submission.csv"
    assert main(["eval", "--manifest", str(data / "clotho" / "clotho_evaluation.jsonl"), "--model", str(model),
                 "--relevance", str(relevance), "--submission", str(submission), "--cache", str(tmp_path / "cache"),
                 "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert (row["kind"], row["model"], row["paraphrases"]) == ("member", "e2e", 0)
    assert (row["n_queries"], row["n_clips"], row["n_judged_queries"]) == (60, 12, 3)
    assert 0 <= row["mAP@10_dcase2025"] <= 1
    lines = submission.read_text().splitlines()
    assert lines[0] == "caption," + ",".join(f"fname_{i}" for i in range(1, 11)) and len(lines) == 61
    rescored = dcase2022_rescore(PUBLISHED / "clotho_captions_evaluation.csv", submission)
    for key, value in rescored.items():
        assert row[key] == pytest.approx(value, abs=TOLERANCE), key
