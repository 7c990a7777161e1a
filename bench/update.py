"""What an update of a large library costs: commit time of a few changed files, in place vs built afresh;
and what opening it costs a reader.

    python bench/update.py --n 1000000 --changed 100
    python bench/update.py --n 1000000 --changed 100 --row-storage int8   # the IVF's rows as int8

An index folder of --n segments (one per file, vectors from bench/search.py's realistic set around
real default-model vectors) is committed once (built: IVF trained), read back the way a writer
does, then --changed files are replaced (their old rows removed, new vectors appended) and
committed again: in place (the trained cells kept) and, for the ratio, rebuilt from scratch.
Embedding is excluded: the new vectors are given. Then a reader opens the folder (`Library.open`, as
`audioret search` does) and parses every record (as `audioret serve` does in the background).
Printed: seconds for each step, and disk.
Memory: about 3 x n x dim x 4 bytes (18 GB at 1M x 1,545).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import realistic_set  # noqa: E402  (the bench's own data set)

from audioret.retrieval.fileinfo import PEAKS_PER_FILE, FileInfo, FileTable  # noqa: E402
from audioret.retrieval.library import IndexStore, Item, Library, StructureOptions  # noqa: E402
from audioret.retrieval.rowstore import DEFAULT_ROW_STORAGE, ROW_STORAGES  # noqa: E402

ROOT = Path("/library")


def items_for(paths: list[str]) -> list[Item]:
    return [Item(i, path, 1000, 1, 0.0, 5.0) for i, path in enumerate(paths)]


def files_for(paths: list[str]) -> FileTable:
    """The facts and (flat) waveforms the indexer stores beside the items, one file per item."""
    rows = [FileInfo(path, 1000, 1, 5.0, 44_100, 2, "WAV", "PCM_16") for path in paths]
    return FileTable(rows, np.zeros((len(paths), PEAKS_PER_FILE, 2), np.int8))


def timed(what: str, action):
    tick = time.perf_counter()
    result = action()
    print(f"  {what:58} {time.perf_counter() - tick:8.2f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="segments (one file each)")
    parser.add_argument("--changed", type=int, default=100, help="files replaced by the update")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the rebuild that gives the ratio")
    parser.add_argument("--row-storage", default=DEFAULT_ROW_STORAGE, choices=ROW_STORAGES,
                        help="how the IVF index stores its rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    tick = time.perf_counter()
    every, _, what = realistic_set(rng, args.n + args.changed, 1)
    base, fresh = every[: args.n], every[args.n :]
    del every
    print(f"{what}; generated in {time.perf_counter() - tick:.0f} s; {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    paths = [f"recordings/set{i // 1000:04d}/take {i:07d}.wav" for i in range(args.n)]
    model_info = {"fingerprint": "bench", "embed_dim": int(base.shape[1]), "sample_rate": 16000}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        store = IndexStore(Path(tmp) / "idx")
        with store.writing():
            store.claim(model_info, ROOT)
            how = timed(f"first commit of {args.n:,} segments",
                        lambda base=base: store.commit(items_for(paths), base, ROOT,
                                                       StructureOptions(row_storage=args.row_storage),
                                                       files=files_for(paths)))
            info = store.library_info()
            print(f"    ({how}; backend {info['backend']}, rows {info['row_storage']})")
        del base
        tick = time.time()
        size = sum(p.stat().st_size for p in store.folder.iterdir() if p.is_file())
        print(f"  index folder: {size / 2**30:.2f} GB ({size / args.n * 1e6 / 2**30:.2f} GB per million)")
        changed = set(rng.choice(args.n, args.changed, replace=False).tolist())
        kept_rows = [i for i in range(args.n) if i not in changed]
        new_paths = [paths[i] for i in kept_rows] + [paths[i] for i in sorted(changed)]
        kept = kept_rows + [-1] * args.changed
        for label, rebuild in [("in place", False), ("rebuilt", True)][: 1 if args.no_rebuild else 2]:
            # The indexer's item list and file table, made before it commits (from what the writer read and
            # what it embedded): not timed, as the embedding is not.
            new_items, new_files = items_for(new_paths), files_for(new_paths)
            with store.writing():
                timed("writer reads the committed state (checksums included)", store.committed_snapshot)
                how = timed(f"commit of {args.changed} changed files, {label}",
                            lambda rebuild=rebuild, new_items=new_items, new_files=new_files: store.commit(
                                new_items, fresh, ROOT, StructureOptions(rebuild=rebuild), kept=kept, files=new_files))
                print(f"    ({how})")
            written = [p for p in store.folder.iterdir() if p.is_file() and p.stat().st_mtime > tick]
            print(f"    files written by it: {sum(p.stat().st_size for p in written) / 2**20:,.0f} MB")
            tick = time.time()
        library = timed("a reader opens it (checksums; records parsed on first use)",
                        lambda: Library.open(store.folder))
        timed("the reader parses every item and file record", library.warm)


if __name__ == "__main__":
    main()
