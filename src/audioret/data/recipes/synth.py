"""A synthetic audio-caption corpus, generated in numpy: the project's CPU test bed.

Each clip holds one or two sound events from eleven classes (low/high tones, rising/falling
chirps, noise bursts, slow/fast clicks, two/three/four beeps, a siren), alone, in sequence or
overlapping, quiet/normal/loud, with or without a fade, over a faint noise floor. Five captions per
clip are drawn from varied templates and synonyms, so that a model must learn the sounds and not
one fixed phrase per class.

The eval split holds out three combinations of event kinds (a tone with a siren, a chirp with
clicks, noise with beeps) that never occur in train or val; half of its clips use them
(`meta.held_out`). Every clip is a pure function of (seed, split, index), so the corpus is
identical on every machine and a subset can be regenerated alone.

Writes SRC/{train,val,eval}/*.flac (16 kHz) and OUT/synth_{train,val,eval}.jsonl.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audioret.data.manifest import ManifestRecord
from audioret.data.recipes.base import PrepareReport, finish, write_split
from audioret.utils.io import atomic_path
from audioret.utils.progress import progress_bar

SAMPLE_RATE = 16_000
DURATION = 5.0
SPLIT_SEEDS = {"train": 0, "val": 1, "eval": 2}

#: (kind, variant) -> noun phrases that describe the event.
EVENT_PHRASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("tone", "low"): ("a low hum", "a deep steady tone", "a low pitched drone", "a low tone"),
    ("tone", "high"): ("a high pitched whistle", "a shrill steady tone", "a high tone", "a piercing high note"),
    ("chirp", "rising"): ("a rising sweep", "a tone sliding up in pitch", "an upward chirp", "a pitch that climbs"),
    ("chirp", "falling"): ("a falling sweep", "a tone sliding down in pitch", "a downward chirp",
                           "a pitch that drops"),
    ("noise", "burst"): ("a burst of white noise", "a hiss of static", "a rush of noise", "a noisy whoosh"),
    ("clicks", "slow"): ("slow clicking", "a slow ticking", "clicks at a slow pace", "an unhurried ticking"),
    ("clicks", "fast"): ("rapid clicking", "fast ticking", "a quick rattle of clicks", "clicks in fast succession"),
    ("beeps", "two"): ("two short beeps", "a pair of beeps", "two beeps", "a double beep"),
    ("beeps", "three"): ("three short beeps", "three beeps in a row", "a triple beep", "three quick beeps"),
    ("beeps", "four"): ("four short beeps", "four beeps in a row", "a series of four beeps", "four quick beeps"),
    ("siren", "wail"): ("a wailing siren", "a siren going up and down", "an alarm siren", "a siren wail"),
}
EVENTS = tuple(EVENT_PHRASES)
KINDS = tuple(dict.fromkeys(kind for kind, _ in EVENTS))
HELD_OUT_PAIRS = frozenset({frozenset({"tone", "siren"}), frozenset({"chirp", "clicks"}),
                            frozenset({"noise", "beeps"})})

TEMPLATES = {
    "single": ("{a}", "there is {a}", "you can hear {a}", "{a} can be heard", "the sound of {a}"),
    "sequence": ("{a} followed by {b}", "first {a} then {b}", "{a} and then {b}", "{a} after which comes {b}",
                 "{a} and afterwards {b}"),
    "overlap": ("{a} mixed with {b}", "{a} together with {b}", "{a} on top of {b}", "{a} and {b} at the same time",
                "{a} accompanied by {b}"),
}
LOUDNESS = {"quiet": (0.05, ("heard faintly", "very quiet", "at low volume", "soft and distant")),
            "normal": (0.3, ("",)),
            "loud": (0.9, ("very loud", "at high volume", "loud and clear", "blaring"))}
FADES = {"none": ("",), "in": ("fading in", "slowly getting louder", "growing louder"),
         "out": ("fading out", "dying away", "slowly getting quieter")}
BEEP_COUNTS = {"two": 2, "three": 3, "four": 4}


@dataclass(frozen=True)
class ClipPlan:
    """Everything that defines one clip; the audio and captions are functions of it."""

    events: tuple[tuple[str, str], ...]
    arrangement: str
    loudness: str
    fade: str
    held_out: bool


def prepare_synth(src: Path, out: Path, size: int = 1000, seed: int = 0) -> PrepareReport:
    """Generate the corpus: `size` train clips, `size // 5` val and eval clips each.

    Args:
        src: folder that receives the audio (created).
        out: folder that receives the manifests.
        size: number of train clips (at least 5).
        seed: corpus seed; the same seed gives the same files, bit for bit.
    """
    if size < 5:
        raise ValueError(f"synth size must be at least 5, got {size}")
    report = PrepareReport("synth")
    counts = {"train": size, "val": max(1, size // 5), "eval": max(1, size // 5)}
    with progress_bar() as progress:
        for split, count in counts.items():
            task = progress.add_task(f"synth {split}", total=count)
            records = []
            for index in range(count):
                records.append(_write_clip(src, split, index, seed))
                progress.advance(task)
            write_split(out, report, split, records)
    return finish(out, report)


def plan_clip(rng: np.random.Generator, split: str) -> ClipPlan:
    """Draw a clip's content; train/val never use a held-out pair, eval uses one half of the time."""
    want_held_out = split == "eval" and rng.random() < 0.5
    while True:
        arrangement = str(rng.choice(("single", "sequence", "overlap"), p=(0.4, 0.3, 0.3)))
        if want_held_out:
            arrangement = str(rng.choice(("sequence", "overlap")))
        n = 1 if arrangement == "single" else 2
        picks = rng.choice(len(EVENTS), size=n, replace=False)
        events = tuple(EVENTS[i] for i in picks)
        held_out = n == 2 and frozenset(k for k, _ in events) in HELD_OUT_PAIRS
        if held_out == want_held_out:
            break
    loudness = str(rng.choice(tuple(LOUDNESS), p=(0.25, 0.5, 0.25)))
    fade = str(rng.choice(tuple(FADES), p=(0.6, 0.2, 0.2)))
    return ClipPlan(events, arrangement, loudness, fade, held_out)


def render_clip(plan: ClipPlan, rng: np.random.Generator) -> np.ndarray:
    """Synthesise the waveform of a plan: float32, SAMPLE_RATE, DURATION seconds, peak per loudness."""
    n = int(SAMPLE_RATE * DURATION)
    mix = np.zeros(n)
    spans = _spans(plan.arrangement, len(plan.events), rng)
    for event, (start, stop) in zip(plan.events, spans, strict=True):
        sound = _render_event(event, stop - start, rng)
        begin = int(start * SAMPLE_RATE)
        mix[begin : begin + len(sound)] += sound[: n - begin]
    mix *= LOUDNESS[plan.loudness][0] / max(np.abs(mix).max(), 1e-9)
    ramp = np.clip(np.linspace(0.0, 1.0 / 0.6, n), 0.0, 1.0)
    if plan.fade == "in":
        mix *= ramp
    elif plan.fade == "out":
        mix *= ramp[::-1]
    mix += rng.normal(0.0, 1e-3, n)
    return np.clip(mix, -1.0, 1.0).astype(np.float32)


def caption_clip(plan: ClipPlan, rng: np.random.Generator, count: int = 5) -> list[str]:
    """`count` distinct captions of a plan, each with its own template and wording."""
    templates = TEMPLATES[plan.arrangement]
    captions: list[str] = []
    order = rng.permutation(len(templates))
    attempts = 0
    while len(captions) < count and attempts < 100:
        template = templates[order[len(captions) % len(templates)]]
        phrases = [str(rng.choice(EVENT_PHRASES[e])) for e in plan.events]
        text = template.format(a=phrases[0], b=phrases[1] if len(phrases) > 1 else "")
        modifiers = [m for m in (str(rng.choice(LOUDNESS[plan.loudness][1])), str(rng.choice(FADES[plan.fade])))
                     if m]
        if modifiers:
            text += ", " + " and ".join(modifiers)
        if text not in captions:
            captions.append(text)
        attempts += 1
    return captions


def _write_clip(src: Path, split: str, index: int, seed: int) -> ManifestRecord:
    rng = np.random.default_rng([seed, SPLIT_SEEDS[split], index])
    plan = plan_clip(rng, split)
    wave = render_clip(plan, rng)
    captions = caption_clip(plan, rng)
    path = src / split / f"synth_{split}_{index:05d}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sf.write(tmp, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return ManifestRecord(
        id=f"{split}_{index:05d}", audio=str(path), captions=captions, dataset="synth", split=split,
        duration=DURATION,
        meta={"events": ["/".join(e) for e in plan.events], "arrangement": plan.arrangement,
              "loudness": plan.loudness, "fade": plan.fade, "held_out": plan.held_out,
              "licence": "CC0-1.0 (generated by audioret)"},
    )


def _spans(arrangement: str, n_events: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    if arrangement == "single":
        length = rng.uniform(2.0, 4.0)
        start = rng.uniform(0.2, DURATION - length - 0.2)
        return [(start, start + length)]
    if arrangement == "sequence":
        first = (rng.uniform(0.1, 0.4), rng.uniform(2.0, 2.3))
        second = (rng.uniform(2.6, 2.9), rng.uniform(4.5, 4.9))
        return [first, second]
    return [(rng.uniform(0.1, 0.3), rng.uniform(4.6, 4.9)), (rng.uniform(1.0, 1.5), rng.uniform(3.3, 4.0))]


def _render_event(event: tuple[str, str], seconds: float, rng: np.random.Generator) -> np.ndarray:
    kind, variant = event
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "tone":
        f = rng.uniform(150, 250) if variant == "low" else rng.uniform(1800, 2600)
        sound = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)
    elif kind == "chirp":
        f0, f1 = (300.0, 3000.0) if variant == "rising" else (3000.0, 300.0)
        f0, f1 = f0 * rng.uniform(0.8, 1.2), f1 * rng.uniform(0.8, 1.2)
        phase = 2 * np.pi * f0 * seconds / np.log(f1 / f0) * ((f1 / f0) ** (t / seconds) - 1)
        sound = np.sin(phase)
    elif kind == "noise":
        sound = rng.normal(0.0, 0.5, n)
    elif kind == "clicks":
        rate = rng.uniform(2, 3) if variant == "slow" else rng.uniform(10, 14)
        sound = _pulses(n, rate, 0.004, rng, lambda m: rng.normal(0, 1, m) * np.exp(-np.arange(m) / 12))
    elif kind == "beeps":
        sound = _beeps(n, BEEP_COUNTS[variant], rng)
    else:  # siren: a tone whose pitch swings slowly up and down
        rate, centre, depth = rng.uniform(0.5, 1.0), rng.uniform(800, 1000), rng.uniform(250, 350)
        freq = centre + depth * np.sin(2 * np.pi * rate * t)
        sound = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
    edge = min(n // 2, int(0.01 * SAMPLE_RATE))
    envelope = np.ones(n)
    envelope[:edge] = np.linspace(0, 1, edge)
    envelope[n - edge :] = np.linspace(1, 0, edge)
    return sound * envelope / max(np.abs(sound).max(), 1e-9)


def _pulses(n: int, rate: float, width: float, rng: np.random.Generator, shape) -> np.ndarray:
    sound = np.zeros(n)
    m = int(width * SAMPLE_RATE)
    for start in np.arange(0.0, n / SAMPLE_RATE, 1.0 / rate):
        begin = int((start + rng.uniform(0, 0.01)) * SAMPLE_RATE)
        chunk = shape(m)[: max(0, n - begin)]
        sound[begin : begin + len(chunk)] += chunk
    return sound


def _beeps(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    sound = np.zeros(n)
    freq = rng.uniform(900, 1200)
    beep = int(0.15 * SAMPLE_RATE)
    gap = int(min(0.2 * SAMPLE_RATE, max(0.05 * SAMPLE_RATE, (n - count * beep) / count)))
    t = np.arange(beep) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * freq * t) * np.hanning(beep)
    for i in range(count):
        begin = i * (beep + gap)
        if begin + beep > n:
            break
        sound[begin : begin + beep] = tone
    return sound
