"""Caption preprocessing (lower-case, punctuation removed) and text token masking.

Masking follows the paper: every ordinary token is replaced by the tokenizer's mask token with
probability p (0.15); special tokens (`<s>`, `</s>`, `[CLS]`, padding ...) never are. T5 has no
mask token of its own, so its first sentinel `<extra_id_0>` stands in.
"""

from __future__ import annotations

from typing import Any

import torch

from audioret.utils.errors import AudioretError
from audioret.utils.text import normalize_caption, tokenize_normalized

__all__ = ["mask_token_id", "mask_tokens", "normalize_caption", "tokenize_captions"]

#: Mask tokens of tokenizers that define none (T5 uses its first sentinel, as in the paper).
FALLBACK_MASK_TOKENS = ("<extra_id_0>",)


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
    batch = tokenize_normalized(tokenizer, captions, max_length)
    special = batch.pop("special_tokens_mask").bool()
    if mask_prob > 0:
        maskable = ~special & batch["attention_mask"].bool()
        batch["input_ids"] = mask_tokens(batch["input_ids"], maskable, mask_token_id(tokenizer), mask_prob, generator)
    return dict(batch)
