"""Inference-time query augmentation and ensembles (paper Sec. 4.3 and 5.2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from audioret.eval.paraphrases import Paraphrases


def augmented_queries(embed: Callable[[list[str]], np.ndarray], queries: Sequence[str], paraphrases: Paraphrases,
                      n: int) -> np.ndarray:
    """Each query's embedding averaged with those of its first `n` paraphrases, then re-normalised.

    All texts are embedded in one call; a query without paraphrases keeps its own embedding.
    """
    texts, owner = [], []
    for index, query in enumerate(queries):
        for text in [query, *paraphrases.get(query, n)]:
            texts.append(text)
            owner.append(index)
    vectors = embed(texts)
    summed = np.zeros((len(queries), vectors.shape[1]), dtype=np.float64)
    np.add.at(summed, np.array(owner), vectors)
    return (summed / np.linalg.norm(summed, axis=1, keepdims=True)).astype(np.float32)


def ensemble(similarities: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of the members' cosine-similarity matrices (queries x clips)."""
    if not similarities:
        raise ValueError("an ensemble needs at least one member")
    shapes = {s.shape for s in similarities}
    if len(shapes) != 1:
        raise ValueError(f"members scored different query/clip sets: shapes {sorted(shapes)}")
    return np.mean(np.stack(similarities), axis=0)
