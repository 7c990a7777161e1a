"""Averaging the weights of a run's best checkpoints into the final model (the paper keeps the ten
best of its validations, by ClothoV2 validation mAP@10)."""

from __future__ import annotations

from pathlib import Path

import torch

from audioret.config import RecipeConfig, model_config
from audioret.models import AudioTextModel
from audioret.models.checkpoints import read_checkpoint
from audioret.utils.errors import AudioretError, MissingFileError

MODEL_PREFIX = "model."


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating-point tensors; integer buffers (BatchNorm counters) from the first."""
    if not states:
        raise ValueError("nothing to average")
    keys = list(states[0])
    for i, state in enumerate(states[1:], start=1):
        if list(state) != keys:
            raise AudioretError(f"checkpoint {i} has other keys than checkpoint 0; they come from different models")
    out = {}
    for key in keys:
        tensors = [s[key] for s in states]
        if tensors[0].is_floating_point():
            out[key] = torch.stack([t.float() for t in tensors]).mean(0).to(tensors[0].dtype)
        else:
            out[key] = tensors[0].clone()
    return out


def ranked_checkpoints(run_dir: Path) -> list[tuple[float, Path]]:
    """(validation score, path) of every scored checkpoint of a run, best first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        raise MissingFileError(folder, "checkpoint folder", "train first with `audioret train RECIPE`")
    scored = []
    for path in sorted(folder.glob("*.ckpt")):
        if path.name.startswith("last"):
            continue
        # Mapped, not read: only the score is needed here, and training checkpoints carry optimiser state.
        score = read_checkpoint(path, "training checkpoint", trusted=True, mmap=True).get("val_score")
        if score is not None:
            scored.append((float(score), path))
    return sorted(scored, key=lambda item: -item[0])


def average_run(run_dir: str | Path, config: RecipeConfig, top: int = 10,
                out: str | Path | None = None) -> tuple[Path, list]:
    """Average the `top` best checkpoints of `run_dir` and save the model folder (default RUN_DIR/model).

    Args:
        run_dir: the run's folder (its checkpoints/ are read).
        config: the settings the run was trained with: the caller's loaded recipe, or
            `audioret.config.run_config(run_dir)` for a finished run.

    Returns:
        (model folder, [(score, checkpoint path), ...] that were averaged)
    """
    run_dir = Path(run_dir)
    ranked = ranked_checkpoints(run_dir)[:top]
    if not ranked:
        raise AudioretError(f"no validated checkpoint in {run_dir / 'checkpoints'}; training must run at least "
                            "one validation")
    states = []
    for _, path in ranked:
        state = read_checkpoint(path, "training checkpoint", trusted=True)["state_dict"]
        states.append({k[len(MODEL_PREFIX):]: v for k, v in state.items() if k.startswith(MODEL_PREFIX)})
    built = model_config(config)
    built["audio"].pop("checkpoint", None)  # the averaged weights replace any published ones
    model = AudioTextModel(built)
    model.load_state_dict(average_state_dicts(states), strict=True)
    model.config = {**model_config(config), "provenance": {
        "recipe": config.name, "seed": config.seed, "training_data": [e.manifest for e in config.data.train],
        "validation_manifest": config.data.val_manifest,
        "averaged_checkpoints": [{"path": p.name, "val_mAP@10": s} for s, p in ranked],
    }}
    folder = Path(out) if out else run_dir / "model"
    model.save_pretrained(folder)
    return folder, ranked
