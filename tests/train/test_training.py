"""Training end to end on a small synth corpus: it learns (validation far above chance), writes the run
folder, averages its best checkpoints, and a run killed midway resumes with the same data order."""

from __future__ import annotations

import csv

import lightning as L  # noqa: N812
import pytest

from audioret.config import DataConfig, DatasetEntry, ModelConfig, RecipeConfig, TrainConfig, run_config
from audioret.data.manifest import read_manifest
from audioret.data.recipes import prepare
from audioret.eval.evaluator import evaluate
from audioret.eval.metrics import chance_map_at_k, retrieval_metrics, targets_from_records
from audioret.models import AudioTextModel
from audioret.train.averaging import average_run
from audioret.train.run import train


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    prepare("synth", root / "audio", root, size=160, seed=3)
    return root


def recipe(synth, out, name, epochs=4, **train) -> RecipeConfig:
    return RecipeConfig(
        name=name, seed=0, output_dir=str(out),
        data=DataConfig(train=[DatasetEntry(str(synth / "synth_train.jsonl"))],
                        val_manifest=str(synth / "synth_val.jsonl"), num_workers=0),
        model=ModelConfig(audio={"name": "cnn-small", "widths": [8, 16, 32, 64], "n_mels": 32, "hop": 320,
                                 "window_seconds": 5.0},
                          text={"name": "minilm"}, embed_dim=128, temperature=0.05),
        train=TrainConfig(**{"epochs": epochs, "batch_size": 16, "lr": 5e-4, "warmup_epochs": 0.5, "val_every": 0.5,
                             "keep_top": 3, **train}),
    )


class ClipRecorder(L.Callback):
    def __init__(self, crash_at_step: int | None = None):
        self.batches: list[list[int]] = []
        self.crash_at_step = crash_at_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches.append(batch["clip_ids"].tolist())
        if self.crash_at_step is not None and trainer.global_step == self.crash_at_step:
            raise SimulatedCrash(f"killed at step {trainer.global_step}")


class SimulatedCrash(RuntimeError):
    pass


def test_smoke_run_learns_and_averages(synth, tmp_path):
    config = recipe(synth, tmp_path, "smoke")
    folder = train(config, resume=False)
    run = config.run_dir
    assert (run / "config.yaml").is_file()
    rows = list(csv.DictReader(open(run / "logs" / "version_0" / "metrics.csv")))
    assert any(r["val/mAP@10"] for r in rows) and any(r["train/mixco_a2t"] for r in rows)
    assert len(list((run / "checkpoints").glob("epoch*.ckpt"))) == 3 and (run / "checkpoints" / "last.ckpt").exists()

    model = AudioTextModel.from_pretrained(folder)
    assert len(model.config["provenance"]["averaged_checkpoints"]) == 3
    val = list(read_manifest(synth / "synth_val.jsonl"))
    targets = targets_from_records(val)
    scores = model.encode_text(targets.queries) @ model.encode_audio([r.audio for r in val]).T
    metrics = retrieval_metrics(scores, targets.relevant)
    chance = chance_map_at_k(len(val))
    assert metrics["mAP@10_ci_low"] > 2.5 * chance, (metrics, chance)

    # `audioret eval` on the best checkpoint reproduces the validation figure training logged for it.
    best, ranked = average_run(run, run_config(run), top=1, out=tmp_path / "best")
    (row,) = evaluate(synth / "synth_val.jsonl", [best], cache_root=tmp_path / "cache")
    assert row.metrics["mAP@10"] == pytest.approx(ranked[0][0], abs=1e-5)


def test_killed_run_resumes_with_the_same_data_order(synth, tmp_path):
    reference = ClipRecorder()
    train(recipe(synth, tmp_path, "whole", epochs=2, mixco=False), resume=False, callbacks=[reference])

    crashing = ClipRecorder(crash_at_step=7)  # 10 steps per epoch, last.ckpt written at step 5
    config = recipe(synth, tmp_path, "killed", epochs=2, mixco=False)
    with pytest.raises(SimulatedCrash):
        train(config, resume=False, callbacks=[crashing])
    assert crashing.batches == reference.batches[:7]
    resumed = ClipRecorder()
    train(config, resume=True, callbacks=[resumed])
    assert resumed.batches == reference.batches[5:]
    assert reference.batches[:10] != reference.batches[10:]  # each epoch has its own order
    assert (config.run_dir / "logs" / "version_1" / "metrics.csv").is_file()  # the first attempt's log is kept
