"""Caption normalisation and token masking with real tokenizers built in the test."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertTokenizerFast, PreTrainedTokenizerFast, RobertaTokenizerFast

from audioret.data.text import mask_token_id, mask_tokens, normalize_caption, tokenize_captions
from audioret.utils.errors import AudioretError

WORDS = "a dog barks while rain falls on the roof and birds sing loudly in distance".split()


@pytest.mark.parametrize(("raw", "clean"), [
    ("A dog barks, while rain falls!", "a dog barks while rain falls"),
    ("The dog's bark -- loud.", "the dogs bark loud"),
    ("high-pitched   BEEP\t(twice)", "high pitched beep twice"),
    ("  “Quoted” … text  ", "quoted text"),
    ("Café noise; 3 people", "café noise 3 people"),
])
def test_normalize_caption(raw, clean):
    assert normalize_caption(raw) == clean


@pytest.fixture
def bert_tokenizer(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    return BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))


@pytest.fixture
def roberta_tokenizer(tmp_path):
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + ["Ġ" + w for w in WORDS] + WORDS
    (tmp_path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    return RobertaTokenizerFast(vocab_file=str(tmp_path / "vocab.json"), merges_file=str(tmp_path / "merges.txt"))


@pytest.fixture
def t5_like_tokenizer():
    """A tokenizer with no mask token but T5's first sentinel, as T5's own is."""
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}, "<extra_id_0>": 99}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   additional_special_tokens=["<extra_id_0>"])


def test_mask_token_ids_follow_each_tokenizer(bert_tokenizer, roberta_tokenizer, t5_like_tokenizer):
    assert bert_tokenizer.convert_ids_to_tokens(mask_token_id(bert_tokenizer)) == "[MASK]"
    assert roberta_tokenizer.convert_ids_to_tokens(mask_token_id(roberta_tokenizer)) == "<mask>"
    assert mask_token_id(t5_like_tokenizer) == 99


def test_tokenizer_without_any_mask_token_is_an_error():
    core = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>"))
    with pytest.raises(AudioretError, match="no mask token"):
        mask_token_id(PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>"))


def test_masking_rate_and_special_tokens():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (2000, 32))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False  # [CLS] ... [SEP]
    maskable[:1000, 20:] = False  # padding
    masked = mask_tokens(ids, maskable, mask_id=4, prob=0.15, generator=generator)
    changed = masked != ids
    assert not changed[~maskable].any()
    assert torch.equal(masked[changed], torch.full_like(masked[changed], 4))
    rate = changed.sum().item() / maskable.sum().item()
    assert rate == pytest.approx(0.15, abs=0.005)  # 50k maskable tokens: std of the rate ~0.0016
    assert torch.equal(mask_tokens(ids, maskable, 4, 0.0), ids)
    with pytest.raises(ValueError, match="probability"):
        mask_tokens(ids, maskable, 4, 1.5)


@pytest.mark.parametrize("fixture", ["bert_tokenizer", "roberta_tokenizer", "t5_like_tokenizer"])
def test_tokenize_captions_never_masks_special_or_padding(fixture, request):
    tokenizer = request.getfixturevalue(fixture)
    captions = ["A dog barks, while rain falls on the roof!", "Birds sing."] * 50
    batch = tokenize_captions(tokenizer, captions, max_length=8, mask_prob=1.0,
                              generator=torch.Generator().manual_seed(1))
    plain = tokenize_captions(tokenizer, captions, max_length=8)
    assert batch["input_ids"].shape[1] <= 8
    mask_id = mask_token_id(tokenizer)
    # An unknown-word token stands for a real word, so it may be masked like any other.
    special = set(tokenizer.all_special_ids) - {mask_id, tokenizer.unk_token_id}
    for row, original, attention in zip(batch["input_ids"], plain["input_ids"], batch["attention_mask"], strict=True):
        for token, before, real in zip(row.tolist(), original.tolist(), attention.tolist(), strict=True):
            if before in special or not real:
                assert token == before  # special tokens and padding survive p = 1
            else:
                assert token == mask_id  # every ordinary token is masked at p = 1
