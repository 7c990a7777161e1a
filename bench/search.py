"""Search latency and recall at a million vectors: the ANN backend vs exact search vs plain numpy.

    python bench/search.py                         # 1,000,000 x 1024, the backend `auto` picks (IVF)
    python bench/search.py --n 200000 --backends ivf hnsw --effort 16 63 200

All three are timed in one run on the same vectors, one query at a time (what a search box sends):
  numpy   scores = base @ query, then argpartition: the baseline with no index at all
  exact   audioret's flat FAISS index (what `auto` uses up to 100k vectors)
  ivf     audioret's IVF index at its default nprobe, and at each --effort value
Recall@10 is measured against the exact top 10 for two query sets:
  uniform   random unit vectors: no structure at all, the worst case for any ANN index
  near      a stored vector plus noise (cosine 0.8 to it): a query with one true close match;
            `found` is how often that planted match is in the top 10 (its other 9 places are
            noise-level ties that no approximate index can be expected to reproduce)
Needs about 3x n x dim x 4 bytes of memory (12 GB at the default size).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from audioret.retrieval.vectors import Index

K = 10


def unit_vectors(rng: np.random.Generator, n: int, dim: int, chunk: int = 100_000) -> np.ndarray:
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def near_queries(rng: np.random.Generator, base: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries at cosine ~0.8 from `count` stored vectors, and the rows of those vectors."""
    planted = rng.choice(len(base), count, replace=False)
    noise = unit_vectors(rng, count, base.shape[1])
    noise -= (noise * base[planted]).sum(axis=1, keepdims=True) * base[planted]  # orthogonal to the match
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (0.8 * base[planted] + 0.6 * noise).astype(np.float32), planted


def time_queries(search, queries: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Results and per-query latencies (ms), one query per call."""
    search(queries[:1])  # warm-up
    found, latencies = [], []
    for query in queries:
        start = time.perf_counter()
        found.append(search(query[None]))
        latencies.append((time.perf_counter() - start) * 1000)
    return found, np.array(latencies)


def numpy_search(base: np.ndarray):
    def search(query: np.ndarray) -> list[int]:
        scores = base @ query[0]
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top], kind="stable")].tolist()
    return search


def index_search(index: Index):
    return lambda query: index.search(query, K)[1][0]


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["auto"], help="auto, ivf, hnsw")
    parser.add_argument("--effort", type=int, nargs="*", default=[], help="extra nprobe / efSearch values")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    tick = time.perf_counter()
    base = unit_vectors(rng, args.n, args.dim)
    query_sets = {"uniform": (unit_vectors(rng, args.queries, args.dim), None),
                  "near": near_queries(rng, base, args.queries)}
    print(f"{args.n:,} random unit vectors x {args.dim} ({base.nbytes / 2**30:.1f} GiB), {args.queries} queries "
          f"per set, k={K}, {os.cpu_count()} CPUs; generated in {time.perf_counter() - tick:.0f} s")

    tick = time.perf_counter()
    exact = Index.build(base, backend="flat")
    print(f"exact (flat) index built in {time.perf_counter() - tick:.1f} s")
    truth = {}
    rows = []

    def add_row(label: str, name: str, found: list[list[int]], latencies: np.ndarray) -> None:
        planted = query_sets[name][1]
        hit = None if planted is None else float(np.mean([p in f for p, f in zip(planted, found, strict=True)]))
        rows.append((label, name, latencies, recall(found, truth[name]), hit))

    for name, (queries, _) in query_sets.items():
        truth[name], lat = time_queries(index_search(exact), queries)
        found, base_lat = time_queries(numpy_search(base), queries)
        add_row("numpy  base @ q", name, found, base_lat)
        add_row("exact  flat", name, truth[name], lat)

    for backend in args.backends:
        tick = time.perf_counter()
        ann = Index.build(base, backend=backend)
        build_s = time.perf_counter() - tick
        default = ann.search_effort
        if default is None:
            print(f"{backend}: {args.n:,} vectors is within the exact limit; nothing approximate to measure")
            continue
        knob = "nprobe" if ann.backend == "ivf" else "efSearch"
        print(f"{ann.backend} index built in {build_s:.1f} s (default {knob}={default})")
        for effort in [default, *[e for e in args.effort if e != default]]:
            ann.set_search_effort(effort)
            for name, (queries, _) in query_sets.items():
                found, lat = time_queries(index_search(ann), queries)
                add_row(f"{ann.backend:6} {knob}={effort}", name, found, lat)
        del ann

    numpy_p50 = {name: np.percentile(lat, 50) for label, name, lat, *_ in rows if label.startswith("numpy")}
    print(f"\n{'method':22} {'queries':8} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10} {'found':>6} "
          f"{'speed-up vs numpy (p50)':>24}")
    for label, name, lat, rec, hit in rows:
        p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
        found = "-" if hit is None else f"{hit:.3f}"
        print(f"{label:22} {name:8} {p50:8.2f} {p99:8.2f} {rec:10.3f} {found:>6} {numpy_p50[name] / p50:23.1f}x")


if __name__ == "__main__":
    main()
