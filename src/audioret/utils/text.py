"""Caption normalisation and plain tokenisation: shared by training (data/) and inference (models/).

The paper lower-cases captions and removes punctuation before tokenising, at training and at query
time alike; both sides call this one function so they can never drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_SPACES = re.compile(r"\s+")


def normalize_caption(text: str) -> str:
    """Lower-case a caption and strip its punctuation.

    Apostrophes join their neighbours ("dog's" -> "dogs"); every other punctuation or symbol
    character becomes a space, so "high-pitched" -> "high pitched". Whitespace is collapsed.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES.sub("", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def tokenize_normalized(tokenizer: Any, captions: list[str], max_length: int = 32) -> dict:
    """Normalise and tokenise captions: at most `max_length` tokens, padded, as PyTorch tensors,
    with `special_tokens_mask` included for masking."""
    return tokenizer(
        [normalize_caption(c) for c in captions],
        max_length=max_length,
        truncation=True,
        padding=True,
        return_tensors="pt",
        return_special_tokens_mask=True,
    )
