"""Caption preprocessing (lower-case, punctuation removed) and text token masking.

Masking follows the paper: every ordinary token is replaced by the tokenizer's mask token with
probability p (0.15); special tokens (`<s>`, `</s>`, `[CLS]`, padding ...) never are. T5 has no
mask token of its own, so its first sentinel `<extra_id_0>` stands in.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import torch

from audioret.utils.errors import AudioretError

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_SPACES = re.compile(r"\s+")

#: Mask tokens of tokenizers that define none (T5 uses its first sentinel, as in the paper).
FALLBACK_MASK_TOKENS = ("<extra_id_0>",)


def normalize_caption(text: str) -> str:
    """Lower-case a caption and strip its punctuation.

    Apostrophes join their neighbours ("dog's" -> "dogs"); every other punctuation or symbol
    character becomes a space, so "high-pitched" -> "high pitched". Whitespace is collapsed.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES.sub("", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def mask_token_id(tokenizer: Any) -> int:
    """The id that token masking writes: the tokenizer's mask token, else T5's `<extra_id_0>`.

    Raises:
        AudioretError: the tokenizer has neither.
    """
    if getattr(tokenizer, "mask_token", None) is not None and tokenizer.mask_token_id is not None:
        return int(tokenizer.mask_token_id)
    vocab = tokenizer.get_vocab()
    for token in FALLBACK_MASK_TOKENS:
        if token in vocab:
            return int(vocab[token])
    raise AudioretError(
        f"tokenizer {type(tokenizer).__name__} has no mask token and no {FALLBACK_MASK_TOKENS[0]}; "
        "disable text masking for it (text_mask_prob=0)"
    )


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    mask_id: int,
    prob: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Replace each maskable token by `mask_id` independently with probability `prob`.

    Args:
        input_ids: [batch, length] token ids.
        maskable: boolean [batch, length], True for ordinary tokens (not special, not padding).
        mask_id: the replacement id (see `mask_token_id`).
        prob: replacement probability, 0 disables masking.
        generator: optional torch generator for reproducible masks.

    Returns:
        A new tensor; `input_ids` is left unchanged.
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"mask probability must lie in [0, 1], got {prob}")
    if prob == 0.0:
        return input_ids.clone()
    draws = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    replace = (draws < prob) & maskable.bool()
    return torch.where(replace, torch.full_like(input_ids, mask_id), input_ids)


def tokenize_captions(
    tokenizer: Any,
    captions: list[str],
    max_length: int = 32,
    mask_prob: float = 0.0,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Normalise, tokenise (at most `max_length` tokens, padded) and optionally mask captions.

    Returns:
        The tokenizer's tensors (`input_ids`, `attention_mask`, ...), with `input_ids` masked.
    """
    batch = tokenizer(
        [normalize_caption(c) for c in captions],
        max_length=max_length,
        truncation=True,
        padding=True,
        return_tensors="pt",
        return_special_tokens_mask=True,
    )
    special = batch.pop("special_tokens_mask").bool()
    if mask_prob > 0:
        maskable = ~special & batch["attention_mask"].bool()
        batch["input_ids"] = mask_tokens(batch["input_ids"], maskable, mask_token_id(tokenizer), mask_prob, generator)
    return dict(batch)
