"""Training throughput (samples/s) and peak memory of one optimisation step of the recipe.

    python bench/train_step.py                       # CPU: the cpu-synth model, batch 32, fp32
    python bench/train_step.py --device cuda         # GPU: PaSST-S + RoBERTa-large, batch 128, bf16

A step is the training step of `audioret train`: audio and caption embeddings, Mixco's second
audio pass, InfoNCE + Mixco, backward, AdamW. Inputs are synthetic (random audio, 24-token captions)
and weights random (the published ones are not needed to time them); RoBERTa-large is built from its
architecture with a small stand-in tokenizer. Each configuration is timed with Mixco on and off in
the same run, so the ratio between them holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from audioret.losses import ContrastiveLoss
from audioret.models import AudioTextModel

CAPTION = "a dog barks while rain falls on the roof and birds sing loudly in the distance and a car passes"


def roberta_large_folder(folder: Path) -> str:
    """A randomly initialised RoBERTa-large (architecture only) with a word-level stand-in tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    words = sorted(set(CAPTION.split()))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, **{w: i + 5 for i, w in enumerate(words)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>", mask_token="<mask>").save_pretrained(folder)
    RobertaModel(RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                               intermediate_size=4096, max_position_embeddings=514, pad_token_id=1),
                 add_pooling_layer=False).save_pretrained(folder)
    return str(folder)


def model_config(preset: str, tmp: Path) -> dict:
    if preset == "paper":
        return {"audio": {"name": "passt-s-s16"}, "text": {"name": "roberta", "path": roberta_large_folder(tmp)},
                "embed_dim": 1024}
    return {"audio": {"name": "cnn-small", "widths": [16, 32, 64, 128], "n_mels": 40, "hop": 320,
                      "window_seconds": 5.0}, "text": {"name": "minilm"}, "embed_dim": 1024}


def time_steps(model: AudioTextModel, batch: int, steps: int, device: str, mixco: bool) -> dict:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    loss_fn = ContrastiveLoss()
    audio = torch.randn(batch, model.audio.window_samples, device=device) * 0.1
    tokens = {k: v.to(device) for k, v in model.tokenize([CAPTION] * batch).items()}
    clip_ids = torch.arange(batch, device=device)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")

    def step() -> None:
        with autocast:
            a, t = model.embed_audio(audio), model.embed_text(**tokens)
            mixed = lam = partner = None
            if mixco:
                lam = torch.rand(batch, device=device)
                partner = torch.randperm(batch, device=device)
                mixed = model.embed_audio(lam[:, None] * audio + (1 - lam[:, None]) * audio[partner])
            loss = loss_fn(a, t, model.temperature, clip_ids, mixed, lam, partner)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    step()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    return {"samples_per_s": batch * steps / elapsed, "peak_mb": peak, "step_s": elapsed / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", choices=["cpu-synth", "paper"], help="default: cpu-synth on CPU, paper on CUDA")
    parser.add_argument("--batch", type=int, help="default 32 on CPU, 128 on CUDA")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    preset = args.preset or ("paper" if args.device == "cuda" else "cpu-synth")
    batch = args.batch or (128 if args.device == "cuda" else 32)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        model = AudioTextModel(model_config(preset, Path(tmp))).to(args.device)
        name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
        rows = {label: time_steps(model, batch, args.steps, args.device, mixco)
                for label, mixco in (("mixco off", False), ("mixco on", True))}
    if args.json:
        print(json.dumps({"device": name, "preset": preset, "batch": batch, **rows}))
        return
    seconds = model.audio.window_seconds
    print(f"training step on {name}: {preset} ({model.audio.__class__.__name__} + "
          f"{model.text.model.config.model_type}), batch {batch} x {seconds:g} s, "
          f"{'bf16 autocast' if args.device == 'cuda' else 'fp32'}, {args.steps} timed steps")
    print(f"{'':<12}{'samples/s':>12}{'s/step':>10}{'peak MB':>10}")
    for label, row in rows.items():
        print(f"{label:<12}{row['samples_per_s']:>12.2f}{row['step_s']:>10.2f}{row['peak_mb']:>10.0f}")
    ratio = rows["mixco on"]["samples_per_s"] / rows["mixco off"]["samples_per_s"]
    print(f"mixco on / off throughput: {ratio:.3f}")


if __name__ == "__main__":
    main()
