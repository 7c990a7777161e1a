"""Search speed, recall and size of the index backends, on realistic and on uniform random vectors.

    python bench/search.py --n 100000                        # both data sets, the backend `auto` picks
    python bench/search.py --n 1000000 --backends ivf hnsw --effort 16 63 200
    python bench/search.py --n 1000000 --data realistic --row-storage float16 int8   # IVF rows both ways

Data sets (generated here, deterministic for a --seed):
  realistic  vectors drawn around real search vectors of the shipped default model: its audio
             vectors of the CC0 arcade sounds (packaged with `make install`), mixed two clips at a
             time (lam ~ U(0,1)) plus noise shaped by the real vectors' own principal components;
             queries are real captions of src/audioret/data/recipes/sfx_captions.csv embedded by
             the model's text encoder. Width: the model's search vectors (1,545 for the default:
             1,024 joint space + 521 prior part).
  uniform    random unit vectors (--dim, 1,024) and random unit queries: no neighbourhoods at all,
             the worst case for any approximate index (its recall says nothing about real use).

For every data set, in one run: numpy (`base @ q` + argpartition, no index), exact (audioret's flat
index, the truth for recall@10), then each backend at its default effort (marked `*`) and each
--effort value. Columns: build s, p50/p99 ms of one query per call (what a search box sends),
batched q/s (every query in one call, what `search --queries` sends), recall@10 against exact,
and disk / RAM per million vectors: the files `Index.save` writes, and what a loaded index holds
in memory (FAISS structures plus the vectors it keeps in RAM; the IVF's row segments, float16 or
int8 (--row-storage), are memory-mapped and count only as disk: re-scoring reads 50 of their rows
per query).
Memory: about 3 x n x dim x 4 bytes (2 GB at 100k x 1,545; 18 GB at 1M).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from audioret.retrieval.rowstore import DEFAULT_ROW_STORAGE, ROW_STORAGES, is_segment_name
from audioret.retrieval.vectors import Index, choose_backend

K = 10
CAPTIONS = Path(__file__).resolve().parents[1] / "src/audioret/data/recipes/sfx_captions.csv"
NOISE_SCALE = 0.5  # noise std along each principal axis, relative to the real vectors' own spread there
PRINCIPAL_AXES = 32
CHUNK = 50_000


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, CHUNK):
        block = rng.standard_normal((min(CHUNK, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def arcade_sounds() -> list[Path]:
    spec = importlib.util.find_spec("arcade")
    if spec is None or spec.origin is None:
        raise SystemExit("the realistic set needs arcade's CC0 sounds: run `make install` (pip install --no-deps "
                         "arcade==3.3.3)")
    folder = Path(spec.origin).parent / "resources/assets/sounds"
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):  # one file per sound: laser1.wav, not also laser1.ogg/.mp3
        if path.suffix in (".wav", ".ogg", ".mp3") and (path.stem not in by_stem or path.suffix == ".wav"):
            by_stem[path.stem] = path
    return sorted(by_stem.values())


def caption_queries(rng: np.random.Generator, count: int) -> list[str]:
    with open(CAPTIONS, newline="", encoding="utf-8") as handle:
        captions = sorted({row["caption"] for row in csv.DictReader(handle) if row["caption"].strip()})
    return [captions[i] for i in np.sort(rng.choice(len(captions), min(count, len(captions)), replace=False))]


def realistic_vectors(rng: np.random.Generator, real: np.ndarray, joint_dim: int, n: int) -> np.ndarray:
    """Mixtures of two real vectors plus principal-axis noise, shaped like the model's search vectors:
    the joint part re-normalised to unit length, the prior part (scaled posteriors) kept >= 0."""
    centred = real - real.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    axes, spread = axes[:PRINCIPAL_AXES], singular[:PRINCIPAL_AXES] / np.sqrt(len(real))
    out = np.empty((n, real.shape[1]), np.float32)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        first = rng.integers(len(real), size=size)
        second = (first + rng.integers(1, len(real), size=size)) % len(real)  # another clip
        lam = rng.random(size, dtype=np.float32)[:, None]
        block = lam * real[first] + (1 - lam) * real[second]
        block += (rng.standard_normal((size, len(axes)), dtype=np.float32) * spread * NOISE_SCALE) @ axes
        block[:, :joint_dim] /= np.linalg.norm(block[:, :joint_dim], axis=1, keepdims=True)
        np.maximum(block[:, joint_dim:], 0, out=block[:, joint_dim:])
        out[start : start + size] = block
    return out


def realistic_set(rng: np.random.Generator, n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray, str]:
    import audioret

    model = audioret.load_model()
    sounds = arcade_sounds()
    tick = time.perf_counter()
    real = model.encode_audio(sounds)
    texts = caption_queries(rng, n_queries)
    queries = model.encode_text(texts)
    joint = model.audio_projection.out_features
    embed_s = time.perf_counter() - tick
    base = realistic_vectors(rng, real.astype(np.float32), joint, n)
    return base, queries.astype(np.float32), (
        f"realistic: {n:,} x {base.shape[1]} around {len(real)} real default-model vectors (arcade), "
        f"{len(texts)} caption queries (embedding them took {embed_s:.0f} s)")


def uniform_set(rng: np.random.Generator, n: int, n_queries: int, dim: int) -> tuple[np.ndarray, np.ndarray, str]:
    return unit_vectors(rng, n, dim), unit_vectors(rng, n_queries, dim), f"uniform: {n:,} x {dim} random unit"


def time_single(search, queries: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Results and per-query latencies (ms), one query per call."""
    search(queries[:1])  # warm-up
    found, latencies = [], []
    for query in queries:
        start = time.perf_counter()
        found.extend(search(query[None]))
        latencies.append((time.perf_counter() - start) * 1000)
    return found, np.array(latencies)


def time_batched(search, queries: np.ndarray) -> float:
    """Queries per second when all of them go in one call."""
    start = time.perf_counter()
    search(queries)
    return len(queries) / (time.perf_counter() - start)


def numpy_search(base: np.ndarray):
    def search(queries: np.ndarray) -> list[list[int]]:
        scores = queries @ base.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1).tolist()
    return search


def index_search(index: Index):
    return lambda queries: index.search(queries, K)[1]


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def folder_sizes(index: Index) -> tuple[int, int]:
    """Bytes of the files `Index.save` writes, and of those a loaded index holds in RAM (all but the
    IVF's row segments, which are memory-mapped)."""
    with tempfile.TemporaryDirectory() as tmp:
        index.save(tmp)
        sizes = {p.name: p.stat().st_size for p in Path(tmp).iterdir()}
    return sum(sizes.values()), sum(size for name, size in sizes.items() if not is_segment_name(name))


def bench_data_set(base: np.ndarray, queries: np.ndarray, backends: list[str], efforts: list[int],
                   storages: list[str]) -> list[tuple]:
    per_million = 1e6 / len(base) / 2**30
    rows = []
    numpy = numpy_search(base)
    found, lat = time_single(numpy, queries)
    rows.append(("numpy base @ q", "-", lat, time_batched(numpy, queries), recall(found, found), None, None))
    tick = time.perf_counter()
    exact = Index.build(base, backend="flat")
    build_s = time.perf_counter() - tick
    truth, lat = time_single(index_search(exact), queries)
    disk, ram = (size * per_million for size in folder_sizes(exact))
    rows.append(("exact flat", f"{build_s:.1f}", lat, time_batched(index_search(exact), queries), 1.0, disk, ram))
    del exact
    for backend in backends:
        # only an IVF index has a row storage to choose; the others are measured once
        kinds = storages if choose_backend(len(base), backend) == "ivf" else [DEFAULT_ROW_STORAGE]
        for storage in kinds:
            rows.extend(bench_backend(base, queries, truth, backend, storage, efforts, per_million))
    return rows


def bench_backend(base: np.ndarray, queries: np.ndarray, truth: list[list[int]], backend: str, storage: str,
                  efforts: list[int], per_million: float) -> list[tuple]:
    tick = time.perf_counter()
    ann = Index.build(base, backend=backend, row_storage=storage)
    build_s = time.perf_counter() - tick
    default = ann.search_effort
    if default is None:
        print(f"  {backend}: {len(base):,} vectors is within the exact limit; nothing approximate to measure")
        return []
    knob = "nprobe" if ann.backend == "ivf" else "efSearch"
    name = f"{ann.backend} {storage}" if ann.backend == "ivf" else ann.backend
    disk, ram = (size * per_million for size in folder_sizes(ann))
    rows = []
    for effort in [default, *[e for e in efforts if e != default]]:
        ann.set_search_effort(effort)
        found, lat = time_single(index_search(ann), queries)
        mark = "*" if effort == default and backend == "auto" and storage == DEFAULT_ROW_STORAGE else ""
        rows.append((f"{name} {knob}={effort}{mark}", f"{build_s:.1f}", lat,
                     time_batched(index_search(ann), queries), recall(found, truth), disk, ram))
    return rows


def print_rows(rows: list[tuple]) -> None:
    print(f"  {'method':28} {'build s':>8} {'p50 ms':>8} {'p99 ms':>8} {'batch q/s':>10} {'recall@10':>10} "
          f"{'disk GB/M':>10} {'RAM GB/M':>9}")
    for label, build, lat, qps, rec, disk, ram in rows:
        size = "-" if disk is None else f"{disk:.2f}"
        memory = "-" if ram is None else f"{ram:.2f}"
        print(f"  {label:28} {build:>8} {np.percentile(lat, 50):8.2f} {np.percentile(lat, 99):8.2f} {qps:10.0f} "
              f"{rec:10.3f} {size:>10} {memory:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors per data set")
    parser.add_argument("--data", nargs="+", default=["realistic", "uniform"], choices=["realistic", "uniform"])
    parser.add_argument("--dim", type=int, default=1024, help="width of the uniform set")
    parser.add_argument("--queries", type=int, default=488)
    parser.add_argument("--backends", nargs="+", default=["auto"], help="auto, ivf, hnsw")
    parser.add_argument("--effort", type=int, nargs="*", default=[], help="extra nprobe / efSearch values")
    parser.add_argument("--row-storage", nargs="+", default=[DEFAULT_ROW_STORAGE], choices=ROW_STORAGES,
                        help="how the IVF index stores the rows it re-scores (each one measured)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"k={K}, {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          "* = the default (backend auto at its default effort)")
    for name in args.data:
        rng = np.random.default_rng(args.seed)
        tick = time.perf_counter()
        if name == "realistic":
            base, queries, what = realistic_set(rng, args.n, args.queries)
        else:
            base, queries, what = uniform_set(rng, args.n, args.queries, args.dim)
        print(f"\n{what}, {len(queries)} queries; generated in {time.perf_counter() - tick:.0f} s")
        print_rows(bench_data_set(base, queries, args.backends, args.effort, args.row_storage))
        del base


if __name__ == "__main__":
    main()
