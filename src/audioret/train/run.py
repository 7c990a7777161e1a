"""`audioret train`: one run folder per recipe, resumable, ending with the averaged model.

    RUN_DIR/config.yaml            the merged recipe (file + --set overrides)
    RUN_DIR/logs/version_N/        metrics.csv of every logged value, one folder per (re)start
    RUN_DIR/checkpoints/*.ckpt     the `keep_top` best validations, and last.ckpt for resuming
    RUN_DIR/model/                 the average of the best checkpoints (config.json + model.safetensors)
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import lightning as L  # noqa: N812
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from audioret.config import RecipeConfig, model_config, to_dict
from audioret.data.manifest import read_manifest
from audioret.models import AudioTextModel
from audioret.models.registry import check_encoder_options
from audioret.train.averaging import average_run
from audioret.train.module import VAL_METRIC, RetrievalModule
from audioret.utils.errors import AudioretError, MissingFileError
from audioret.utils.io import atomic_write


def check_inputs(config: RecipeConfig) -> None:
    """Fail before any weight loads when an encoder option is unknown, a manifest is missing or nothing
    would be validated."""
    for side in ("audio", "text"):
        options = dict(getattr(config.model, side))
        check_encoder_options(options.pop("name", ""), options, f"model.{side}")
    if not config.data.train:
        raise AudioretError("the recipe lists no training manifest (data.train)")
    for entry in config.data.train:
        if not Path(entry.manifest).is_file():
            raise MissingFileError(entry.manifest, "training manifest", "create it with `audioret prepare`")
    if not config.data.val_manifest or not Path(config.data.val_manifest).is_file():
        raise MissingFileError(config.data.val_manifest or "data.val_manifest", "validation manifest",
                               "validation selects the checkpoints that are averaged")
    for manifest in [e.manifest for e in config.data.train] + [config.data.val_manifest]:
        missing = [r.audio for r in read_manifest(manifest) if not Path(r.audio).is_file()]
        if missing:
            raise MissingFileError(missing[0], f"audio file listed in {manifest} ({len(missing)} missing in all)",
                                   "re-run `audioret prepare`, which lists only files it found")


def build_trainer(config: RecipeConfig, callbacks: list | None = None) -> tuple[L.Trainer, ModelCheckpoint]:
    train = config.train
    checkpoints = ModelCheckpoint(
        dirpath=config.run_dir / "checkpoints", monitor=VAL_METRIC, mode="max", save_top_k=train.keep_top,
        save_last=True, filename="epoch{epoch}-step{step}-map{val/mAP@10:.4f}", auto_insert_metric_name=False)
    multi = train.num_nodes > 1 or (train.devices not in (1, "1", "auto"))
    trainer = L.Trainer(
        max_epochs=train.epochs, max_steps=train.max_steps, precision=train.precision,
        accumulate_grad_batches=train.accumulate_grad_batches, val_check_interval=train.val_every,
        devices=train.devices, num_nodes=train.num_nodes, accelerator=train.accelerator,
        strategy="ddp" if multi else "auto", use_distributed_sampler=False, gradient_clip_val=train.gradient_clip,
        # One metrics file per (re)start: logs/version_N/metrics.csv, so resuming never overwrites history.
        logger=CSVLogger(config.run_dir, name="logs"), callbacks=[checkpoints, *(callbacks or [])],
        default_root_dir=config.run_dir, num_sanity_val_steps=0, enable_model_summary=False, log_every_n_steps=1)
    return trainer, checkpoints


def train(config: RecipeConfig, resume: bool = True, callbacks: list | None = None) -> Path | None:
    """Train, validate, keep the best checkpoints, average them; returns the model folder (None on
    processes other than rank 0, which leave averaging to it)."""
    check_inputs(config)
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_dir / "config.yaml") as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False)
    if config.heads is not None:
        from audioret.train.heads import train_heads

        return train_heads(config)
    L.seed_everything(config.seed, workers=True, verbose=False)
    module = RetrievalModule(config, AudioTextModel(model_config(config)))
    trainer, _ = build_trainer(config, callbacks)
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt_path = str(last) if resume and last.is_file() else None
    if ckpt_path:
        logging.getLogger("audioret").warning("resuming from %s", last)
    with warnings.catch_warnings():
        # Lightning warns on mid-epoch resumption; the batch sampler restores its position itself.
        warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(module, ckpt_path=ckpt_path)
    if trainer.global_rank != 0:
        return None
    folder, _ = average_run(run_dir, config, config.train.keep_top)
    return folder
