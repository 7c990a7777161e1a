"""The synthetic corpus: deterministic, captions that describe the audio, held-out combinations,
and learnable (a fitted baseline beats chance clearly)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from audioret.data.manifest import read_manifest
from audioret.data.recipes import prepare
from audioret.data.recipes.synth import (
    DURATION,
    EVENT_PHRASES,
    HELD_OUT_PAIRS,
    SAMPLE_RATE,
    ClipPlan,
    render_clip,
)
from audioret.eval.baseline import CaptionTransferBaseline
from audioret.eval.metrics import chance_map_at_k, retrieval_metrics, targets_from_records


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    prepare("synth", root / "audio", root, size=300, seed=7)
    return {split: list(read_manifest(root / f"synth_{split}.jsonl")) for split in ("train", "val", "eval")}


def _digest(records):
    h = hashlib.sha256()
    for r in records:
        h.update(r.to_json().split('"audio"')[0].encode())
        h.update(" ".join(r.captions).encode())
        h.update(open(r.audio, "rb").read())
    return h.hexdigest()


def test_same_seed_same_corpus_bit_for_bit(tmp_path, corpus):
    prepare("synth", tmp_path / "a", tmp_path, size=300, seed=7)
    again = list(read_manifest(tmp_path / "synth_val.jsonl"))
    assert _digest(again) == _digest(corpus["val"])
    prepare("synth", tmp_path / "b", tmp_path / "other", size=300, seed=8)
    assert _digest(list(read_manifest(tmp_path / "other" / "synth_val.jsonl"))) != _digest(corpus["val"])


def test_split_sizes_and_audio_format(corpus):
    assert [len(corpus[s]) for s in ("train", "val", "eval")] == [300, 60, 60]
    info = sf.info(corpus["train"][0].audio)
    assert info.samplerate == SAMPLE_RATE and info.frames == int(SAMPLE_RATE * DURATION) and info.channels == 1


def test_eval_holds_out_combinations_never_seen_in_training(corpus):
    def kinds(record):
        return frozenset(e.split("/")[0] for e in record.meta["events"])

    for split in ("train", "val"):
        assert not any(kinds(r) in HELD_OUT_PAIRS for r in corpus[split])
    held_out = [r for r in corpus["eval"] if r.meta["held_out"]]
    assert all(kinds(r) in HELD_OUT_PAIRS for r in held_out)
    assert 0.3 < len(held_out) / len(corpus["eval"]) < 0.7


def test_five_distinct_captions_that_name_every_event(corpus):
    for record in corpus["train"]:
        assert len(record.captions) == 5 and len(set(record.captions)) == 5
        for caption in record.captions:
            for event in record.meta["events"]:
                phrases = EVENT_PHRASES[tuple(event.split("/"))]
                assert any(p in caption for p in phrases), (caption, event)
        if record.meta["loudness"] == "normal" and record.meta["fade"] == "none":
            assert not any("," in c for c in record.captions)


def _envelope(wave, frame=160):
    return np.abs(wave[: len(wave) // frame * frame]).reshape(-1, frame).max(axis=1)


@pytest.mark.parametrize(("variant", "count"), [("two", 2), ("three", 3), ("four", 4)])
def test_counted_beeps_are_heard_that_many_times(variant, count):
    wave = render_clip(ClipPlan((("beeps", variant),), "single", "normal", "none", False), np.random.default_rng(3))
    loud = _envelope(wave) > 0.1
    onsets = np.count_nonzero(loud[1:] & ~loud[:-1]) + int(loud[0])
    assert onsets == count


@pytest.mark.parametrize("variant", ["rising", "falling"])
def test_chirps_move_in_the_direction_their_captions_say(variant):
    wave = render_clip(ClipPlan((("chirp", variant),), "single", "normal", "none", False), np.random.default_rng(4))
    active = np.flatnonzero(_envelope(wave) > 0.05) * 160
    early, late = wave[active[0] : active[0] + 4000], wave[active[-1] - 4000 : active[-1]]
    pitch = [np.argmax(np.abs(np.fft.rfft(x))) for x in (early, late)]
    assert (pitch[1] > pitch[0]) == (variant == "rising")


def test_loudness_and_fades_shape_the_signal():
    rng = np.random.default_rng(5)
    peaks = {level: np.abs(render_clip(ClipPlan((("noise", "burst"),), "single", level, "none", False), rng)).max()
             for level in ("quiet", "normal", "loud")}
    assert peaks["quiet"] < peaks["normal"] < peaks["loud"]
    tone = (("tone", "low"), ("siren", "wail"))
    fade_in = _envelope(render_clip(ClipPlan(tone, "overlap", "normal", "in", False), rng))
    fade_out = _envelope(render_clip(ClipPlan(tone, "overlap", "normal", "out", False), rng))
    third = len(fade_in) // 3
    assert fade_in[:third].mean() < fade_in[-third:].mean()
    assert fade_out[:third].mean() > fade_out[-third:].mean()


def test_a_fitted_baseline_beats_chance_clearly(corpus):
    baseline = CaptionTransferBaseline().fit(corpus["train"])
    targets = targets_from_records(corpus["eval"])
    metrics = retrieval_metrics(baseline.score(targets.queries, corpus["eval"]), targets.relevant)
    chance = chance_map_at_k(len(corpus["eval"]))
    assert metrics["mAP@10_ci_low"] > 3 * chance, (metrics, chance)
