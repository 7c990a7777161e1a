"""How long a text query takes: a one-off `audioret search` in a fresh process, and one query to a running server,
each on the torch text path and on the ONNX export (`audioret.models.text_onnx`).

    python bench/query_latency.py                      # indexes arcade's CC0 sounds with the default model first
    python bench/query_latency.py --index my-index --repeats 5

One-off: wall time of `audioret search --index IDX "QUERY" --json` in a new interpreter (imports, model or
export load, one query, printing), median of --repeats runs after one unmeasured run that warms the disk
cache and writes the export if it is missing; CPU s is the same runs' user + system time (all threads), which a
busy machine inflates less than the wall time. Torch path: AUDIORET_NO_ONNX=1. Thread counts are left as
the environment sets them (the issue measured with OMP_NUM_THREADS unset).

Server: the search endpoint through FastAPI's TestClient in this process (no sockets), p50 and p90 of
--server-queries distinct captions, one request at a time, after a few unmeasured warm-up requests; then
requests/s with the same captions sent one at a time, and sent by --clients threads at once: each request
encoded in its own model call (MAX_JOINED_QUERIES set to 1, the baseline), and as served (the searcher joins
the text of requests that arrive while the model is busy into one call: `Searcher.text`).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CAPTIONS = Path(__file__).resolve().parents[1] / "src/audioret/data/recipes/sfx_captions.csv"
QUERY = "a laser gun fires twice"
WARMUP = 3


def audioret_command() -> list[str]:
    script = Path(sys.executable).with_name("audioret")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "audioret.cli"]


def arcade_index(workdir: Path) -> Path:
    spec = importlib.util.find_spec("arcade")
    if spec is None or spec.origin is None:
        raise SystemExit("no --index given and arcade's CC0 sounds are not installed (make install)")
    sounds = Path(spec.origin).parent / "resources/assets/sounds"
    out = workdir / "arcade-index"
    subprocess.run([*audioret_command(), "index", str(sounds), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def one_off_seconds(index: Path, torch_path: bool, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system, all threads) of a one-off search."""
    env = {k: v for k, v in os.environ.items() if k != "AUDIORET_NO_ONNX"}
    if torch_path:
        env["AUDIORET_NO_ONNX"] = "1"
    command = [*audioret_command(), "search", "--index", str(index), QUERY, "--json"]
    times, cpu = [], []
    for run in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run:  # the first run warms the disk cache (and writes a missing export)
            times.append(time.perf_counter() - start)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu)


def server_figures(index: Path, torch_path: bool, queries: list[str], clients: int) -> dict[str, float]:
    """p50 and p90 ms of one request at a time, and requests/s sequentially and from `clients` threads."""
    from fastapi.testclient import TestClient

    from audioret.retrieval import search
    from audioret.retrieval.server import create_app

    searcher = search.Searcher.open(index, fast_text=not torch_path)
    if not torch_path and not searcher.prepare_fast_text():
        raise SystemExit("the model's text side has no ONNX export")
    client = TestClient(create_app(searcher), base_url="http://127.0.0.1")

    def ask(query: str) -> float:
        start = time.perf_counter()
        client.get("/search", params={"q": query}).raise_for_status()
        return 1000 * (time.perf_counter() - start)

    for query in queries[:WARMUP]:
        ask(query)
    measured = queries[WARMUP:]
    start = time.perf_counter()
    times = sorted(ask(query) for query in measured)
    sequential = len(measured) / (time.perf_counter() - start)
    figures = {"p50": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))],
               "sequential": sequential}
    served = search.MAX_JOINED_QUERIES
    try:
        for name, joined in (("separate", 1), ("joined", served)):  # 1: one request per model call
            search.MAX_JOINED_QUERIES = joined
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(ask, measured))
            figures[name] = len(measured) / (time.perf_counter() - start)
    finally:
        search.MAX_JOINED_QUERIES = served
    return figures


def captions(count: int) -> list[str]:
    with open(CAPTIONS, newline="", encoding="utf-8") as handle:
        found = sorted({row["caption"] for row in csv.DictReader(handle) if row["caption"].strip()})
    return found[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index folder (default: arcade's sounds, indexed now)")
    parser.add_argument("--repeats", type=int, default=3, help="measured one-off runs per path (median)")
    parser.add_argument("--server-queries", type=int, default=50, help="measured server requests per path")
    parser.add_argument("--clients", type=int, default=8, help="threads sending requests at once")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="audioret-latency-"))
    try:
        index = args.index or arcade_index(workdir)
        queries = captions(args.server_queries + WARMUP)
        print(f"index {index}; {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        print(f"{'text path':<10} {'one-off wall s':>15} {'one-off CPU s':>14} {'server p50 ms':>14} "
              f"{'server p90 ms':>14} {'req/s 1 client':>15} {f'{args.clients} clients, separate':>20} "
              f"{f'{args.clients} clients, joined':>18}")
        for name, torch_path in (("torch", True), ("onnx", False)):
            seconds, cpu = one_off_seconds(index, torch_path, args.repeats)
            server = server_figures(index, torch_path, queries, args.clients)
            print(f"{name:<10} {seconds:>15.2f} {cpu:>14.2f} {server['p50']:>14.1f} {server['p90']:>14.1f} "
                  f"{server['sequential']:>15.1f} {server['separate']:>20.1f} {server['joined']:>18.1f}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
