"""The LightningModule of the paper's recipe: InfoNCE + Mixco over batches of one dataset, text token
masking in the data loader, AdamW with warm-up and per-step cosine decay, and validation mAP@10 on a
chosen manifest every fraction of an epoch."""

from __future__ import annotations

from typing import Any

import lightning as L  # noqa: N812
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from audioret.config import RecipeConfig
from audioret.data.manifest import ManifestRecord, read_manifest
from audioret.data.training import ClipSet, DatasetBatchSampler, TrainingClips, TrainingCollate, merge_same_audio
from audioret.eval.metrics import retrieval_metrics, targets_from_records
from audioret.losses import ContrastiveLoss
from audioret.models import AudioTextModel
from audioret.train.schedule import warmup_cosine
from audioret.utils.audio import load_audio

VAL_METRIC = "val/mAP@10"


class WholeClips(Dataset):
    """Validation clips decoded whole at the model's rate."""

    def __init__(self, records: list[ManifestRecord], sample_rate: int):
        self.records, self.sample_rate = records, sample_rate

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> np.ndarray:
        return load_audio(self.records[index].audio, self.sample_rate)


def _as_list(items: list[np.ndarray]) -> list[np.ndarray]:
    return items


def training_loader(dataset: Dataset, sampler: DatasetBatchSampler, collate: TrainingCollate, num_workers: int,
                    pin_memory: bool) -> DataLoader:
    """The training DataLoader: each worker builds whole batches (decode, crop, resample, tokenise).

    Workers persist across epochs (re-forking them stalls the first batches of every epoch), and on a
    GPU machine batches are pinned so that the 164 MB of a 128 x 10 s batch at 32 kHz copies to the
    device asynchronously. bench/loader.py measures what one worker delivers; README, Training
    throughput, says how many feed a GPU.
    """
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers,
                      persistent_workers=num_workers > 0, pin_memory=pin_memory)


class RetrievalModule(L.LightningModule):
    """Trains an `AudioTextModel` with the recipe in `config`."""

    def __init__(self, config: RecipeConfig, model: AudioTextModel):
        super().__init__()
        self.config, self.model = config, model
        self.model.train()  # transformers loads pretrained encoders in eval mode (dropout off)
        self.loss = ContrastiveLoss()
        self.val_records = list(read_manifest(config.data.val_manifest)) if config.data.val_manifest else []
        self._val_embeddings: list[torch.Tensor] = []
        self.sampler: DatasetBatchSampler | None = None
        self._resume_sampler: dict[str, int] | None = None

    # --- data ------------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        data, train = self.config.data, self.config.train
        sets = [ClipSet(entry.manifest, merge_same_audio(list(read_manifest(entry.manifest))), entry.variation_prob)
                for entry in data.train]
        clip_seconds = data.clip_seconds or self.model.audio.window_seconds
        dataset = TrainingClips(sets, self.model.sample_rate, int(clip_seconds * self.model.sample_rate),
                                self.config.seed)
        weights = [e.weight for e in data.train]
        self.sampler = DatasetBatchSampler(
            dataset.sizes, train.batch_size, None if all(w is None for w in weights) else [w or 0.0 for w in weights],
            seed=self.config.seed, rank=self.global_rank, world_size=self.trainer.world_size)
        if self._resume_sampler is not None:
            self.sampler.load_state_dict(self._resume_sampler)
        collate = TrainingCollate(self.model.text.tokenizer, self.model.text.max_length, train.text_mask_prob)
        return training_loader(dataset, self.sampler, collate, data.num_workers, pin_memory=torch.cuda.is_available())

    def val_dataloader(self) -> DataLoader:
        return DataLoader(WholeClips(self.val_records, self.model.sample_rate), batch_size=8, collate_fn=_as_list,
                          num_workers=self.config.data.num_workers)

    # --- training --------------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        # Lightning sets the epoch of a loader's sampler, not of a custom batch sampler: done here,
        # before the epoch's iterator (and its workers' prefetching) starts.
        if self.sampler is not None:
            self.sampler.set_epoch(self.current_epoch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        audio = batch["audio"]
        audio_emb = self.model.embed_audio(audio)
        text_emb = self.model.embed_text(batch["input_ids"], batch["attention_mask"])
        mixed = lam = partner = None
        if self.config.train.mixco:
            lam = torch.rand(len(audio), device=audio.device)
            partner = torch.randperm(len(audio), device=audio.device)
            mixed = self.model.embed_audio(lam[:, None] * audio + (1 - lam[:, None]) * audio[partner])
        out = self.loss(audio_emb, text_emb, self.model.temperature, batch["clip_ids"], mixed, lam, partner)
        self.log_dict({f"train/{k}": v for k, v in out.items() if k != "loss"}, batch_size=len(audio))
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=len(audio))
        self.log("train/temperature", self.model.temperature.detach(), batch_size=len(audio))
        return out["loss"]

    def configure_optimizers(self) -> dict[str, Any]:
        train = self.config.train
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
        total = int(self.trainer.estimated_stepping_batches)
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = int(round(train.warmup_epochs * total / epochs)) if train.max_steps < 0 else 0
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --- validation ------------------------------------------------------------------------------
    def validation_step(self, batch: list[np.ndarray], batch_idx: int) -> None:
        self._val_embeddings.append(self.model.embed_clips(batch).cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        audio = torch.cat(self._val_embeddings)
        self._val_embeddings = []
        if len(audio) != len(self.val_records):  # the sanity check runs on a few batches only
            return
        targets = targets_from_records(self.val_records)
        text = torch.from_numpy(self.model.encode_text(targets.queries)).to(audio)
        metrics = retrieval_metrics((text @ audio.T).numpy(), targets.relevant)
        # Every process validates the whole manifest, so averaging over processes changes nothing; it
        # gives each process's checkpoint callback the same value, as DDP requires.
        self.log(VAL_METRIC, metrics["mAP@10"], prog_bar=True, sync_dist=True)
        self.log_dict({f"val/{k}": metrics[k] for k in ("R@1", "R@5", "R@10")}, sync_dist=True)

    # --- checkpoints -----------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.sampler is not None:
            done = self.trainer.fit_loop.epoch_loop.batch_progress.current.completed
            checkpoint["sampler"] = self.sampler.state_dict(done)
        score = self.trainer.callback_metrics.get(VAL_METRIC)
        checkpoint["val_score"] = None if score is None else float(score)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resume_sampler = checkpoint.get("sampler")
