"""Tiny randomly initialised transformers models with real tokenizers, saved as local folders."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizerFast,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaModel,
    RobertaTokenizerFast,
    T5Config,
    T5EncoderModel,
)

WORDS = "a dog barks while rain falls on the roof and birds sing loudly in distance three beeps".split()
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def make_text_model(folder: Path, family: str) -> Path:
    """Write a tiny `family` model ('bert', 'roberta', 't5') with its tokenizer into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if family == "bert":
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
        (folder / "vocab.txt").write_text("\n".join(vocab))
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
        model = BertModel(BertConfig(vocab_size=len(vocab), max_position_embeddings=64, **SIZE),
                          add_pooling_layer=False)
    elif family == "roberta":
        tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + ["Ġ" + w for w in WORDS] + WORDS
        (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
        (folder / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = RobertaTokenizerFast(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"))
        model = RobertaModel(RobertaConfig(vocab_size=len(tokens), max_position_embeddings=66, pad_token_id=1,
                                           **SIZE), add_pooling_layer=False)
    elif family == "t5":
        vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
        vocab["<extra_id_0>"] = len(vocab)
        core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
        core.pre_tokenizer = pre_tokenizers.Whitespace()
        core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                            unk_token="<unk>", additional_special_tokens=["<extra_id_0>"])
        model = T5EncoderModel(T5Config(vocab_size=len(vocab), d_model=32, d_ff=64, d_kv=8, num_layers=2,
                                        num_heads=4))
    else:
        raise ValueError(family)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def save_tiny_model(root: Path) -> Path:
    """A tiny random audio-text model (cnn-tiny + tiny BERT, 16-d) saved under root/model, seed 0."""
    import torch

    from audioret.models import AudioTextModel

    torch.manual_seed(0)
    model = AudioTextModel({"audio": {"name": "cnn-tiny", "window_seconds": 5.0},
                            "text": {"name": "bert", "path": str(make_text_model(root / "bert", "bert"))},
                            "embed_dim": 16})
    return model.save_pretrained(root / "model")
