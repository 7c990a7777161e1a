"""Throughput and peak memory of every registered audio encoder on 10 s clips.

    python bench/encoders.py                      # CPU, batch 8, fp32
    python bench/encoders.py --device cuda        # GPU, batch 128, bf16 autocast
    python bench/encoders.py --encoders passt-s-s16 beats --repeats 5

Encoders are built at their published size with random weights (speed does not depend on the
values). Each runs in its own subprocess so that its peak memory is its own: resident set size on
CPU, torch's peak allocation on CUDA. The last column is the throughput relative to the small CNN
measured in the same run, which is steadier across noisy shared machines than clips/s itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

BASELINE = "cnn-small"


def measure(name: str, device: str, batch: int, repeats: int, seconds: float, prepared: bool = False) -> dict:
    import torch

    from audioret.models import create_model

    torch.manual_seed(0)
    encoder = create_model(name).to(device).eval()
    if prepared:
        encoder.prepare_for_inference()  # what `load_model_folder` does for index and search
    params = sum(p.numel() for p in encoder.parameters())
    wave = torch.randn(batch, int(seconds * encoder.sample_rate), device=device) * 0.1
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(), autocast:
        encoder(wave)  # warm-up: allocator, kernels, lazily built buffers
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            encoder(wave)
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    if device == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"encoder": name + (", prepared" if prepared else ""), "params_m": params / 1e6,
            "clips_per_s": batch * repeats / elapsed, "peak_mb": peak_mb, "rss_before_mb": rss_before / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=None, help="default 8 on CPU, 128 on CUDA")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--encoders", nargs="*", default=None, help="default: every registered audio encoder")
    parser.add_argument("--prepared", action="store_true",
                        help="also measure each encoder after prepare_for_inference(), in the same run")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one encoder and print JSON
    args = parser.parse_args()
    batch = args.batch or (128 if args.device == "cuda" else 8)
    if args.one:
        print(json.dumps(measure(args.one, args.device, batch, args.repeats, args.seconds, args.prepared)))
        return

    from audioret.models import list_models

    names = args.encoders or [n for n in list_models("audio") if n != "cnn-tiny"]
    names = [BASELINE] + [n for n in names if n != BASELINE]
    device_name = "CPU"
    if args.device == "cuda":
        import torch

        device_name = torch.cuda.get_device_name()
    print(f"audio encoders on {device_name}: batch {batch} x {args.seconds:g} s, {args.repeats} timed batches, "
          f"{'bf16 autocast' if args.device == 'cuda' else 'fp32'}")
    print(f"{'encoder':<20}{'params (M)':>12}{'clips/s':>10}{'peak MB':>10}{'vs ' + BASELINE:>14}")
    baseline = None
    runs = [(name, flags) for name in names for flags in ([[], ["--prepared"]] if args.prepared else [[]])]
    for name, flags in runs:
        command = [sys.executable, __file__, "--one", name, "--device", args.device, "--batch", str(batch),
                   "--repeats", str(args.repeats), "--seconds", str(args.seconds), *flags]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{name:<20} failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        baseline = baseline or row["clips_per_s"]
        print(f"{row['encoder']:<20}{row['params_m']:>12.1f}{row['clips_per_s']:>10.2f}{row['peak_mb']:>10.0f}"
              f"{row['clips_per_s'] / baseline:>13.3f}x")


if __name__ == "__main__":
    main()
