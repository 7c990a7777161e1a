"""An index folder used by several processes at once: one writer, readers that never see a mixed state."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from audioret.cli import main
from audioret.retrieval.library import (
    JOURNAL_FILE,
    LOCK_FILE,
    PENDING_DIR,
    STAGING_DIR,
    IndexBusyError,
    IndexIntegrityError,
    IndexStore,
    Library,
)
from retrieval.conftest import write_sound
from retrieval.test_indexer import KILLABLE_RUN, build, snapshot

# Commits, one after another, of two libraries of the same size (so that only the checksums, not the
# counts, tell their files apart): different names and vectors.
COMMITTING_WRITER = """
import sys
from pathlib import Path
import numpy as np
from audioret.retrieval.library import IndexStore, Item, StructureOptions
out, rounds, backend = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
info = {"fingerprint": "f" * 32, "embed_dim": 8, "sample_rate": 16000, "source": "none"}
with IndexStore(out).writing() as store:
    store.claim(info, Path("/library"))
    for r in range(rounds):
        n, name, seed = (7, "a", 1) if r % 2 else (7, "b", 2)
        vectors = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = [Item(i, f"{name}{i}.wav", 100 + i, 1, 0.0, 1.0) for i in range(n)]
        store.add_pending(items, vectors)
        store.commit(items, vectors, Path("/library"), StructureOptions(backend))
"""

# Opens the folder again and again until the writer is done; every state it sees must be whole.
CHECKING_READER = """
import sys
from pathlib import Path
import numpy as np
from audioret.retrieval.library import Library
out, done, ready, seen = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), 0
while True:
    finished = done.exists()
    library = Library.open(out)
    names = {item.path[0] for item in library.items}
    assert len(names) == 1 and len(library.items) == 7, "mixed items"
    expected = np.random.default_rng({"a": 1, "b": 2}[names.pop()]).standard_normal((7, 8)).astype(np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    # an IVF folder keeps its rows as float16 (relative rounding 2**-11)
    np.testing.assert_allclose(library.vectors, expected, atol=2**-11, err_msg="embeddings of another commit")
    scores, ids = library.index.search(expected, 1)
    assert [row[0] for row in ids] == list(range(7)), "search structure of another commit"
    seen += 1
    ready.touch()
    if finished:
        break
print(seen)
"""


@pytest.mark.parametrize("backend", ["flat", "ivf"])  # ivf: every commit replaces the row segment of the last
def test_readers_see_only_whole_commits_while_a_writer_commits(tmp_path, backend):
    out, done = tmp_path / "idx", tmp_path / "writer-done"
    subprocess.run([sys.executable, "-c", COMMITTING_WRITER, str(out), "1", backend], check=True)
    ready = [tmp_path / f"reader-{i}-ready" for i in range(2)]
    readers = [subprocess.Popen([sys.executable, "-c", CHECKING_READER, str(out), str(done), str(flag)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for flag in ready]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready):  # both read in a loop before the commits start
        assert all(r.poll() is None for r in readers) and time.monotonic() < deadline, "a reader did not start"
        time.sleep(0.05)
    writer = subprocess.run([sys.executable, "-c", COMMITTING_WRITER, str(out), "30", backend],
                            capture_output=True, text=True)
    done.touch()
    results = [reader.communicate() for reader in readers]
    assert writer.returncode == 0, writer.stderr
    for reader, (stdout, stderr) in zip(readers, results, strict=True):
        assert reader.returncode == 0, stderr
        assert int(stdout) >= 1
    assert not (out / STAGING_DIR).exists() and not (out / JOURNAL_FILE).exists()
    assert not list((out / PENDING_DIR).glob("*.npz"))  # every commit dropped its batch: none was lost
    assert {item.path[0] for item in Library.open(out).items} == {"a"}  # the last of 31 commits (round 29)
    assert len(list(out.glob("rows-*.npy"))) == (backend == "ivf")  # the 30 replaced segments are gone


def test_a_second_writer_is_refused_with_the_holders_name_until_the_first_is_gone(
        sound_library, tmp_path, model_dir, capsys):
    out = tmp_path / "idx"
    slow_run = KILLABLE_RUN.replace("time.sleep(0.4)", "time.sleep(3)")  # it is killed long before its end
    first = subprocess.Popen([sys.executable, "-c", slow_run, str(sound_library), str(model_dir), str(out)])
    try:
        deadline = time.monotonic() + 120
        while not list((out / PENDING_DIR).glob("*.npz")):
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended too soon"
            time.sleep(0.05)
        assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 2
        err = capsys.readouterr().err
        assert "is being updated by another run" in err and f"pid {first.pid} " in err
        with pytest.raises(IndexBusyError), IndexStore(out).writing():
            pass
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The lock died with its holder: the next run takes over and resumes from the kept batches.
    assert (out / LOCK_FILE).exists()
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    assert "8 files, 10 segments" in capsys.readouterr().out


def test_a_commit_half_moved_into_place_is_refused_until_a_writer_repairs_it(
        library_copy, tmp_path, model, model_dir, monkeypatch, capsys):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir)
    (library_copy / "water" / "drip.wav").unlink()
    monkeypatch.setattr(IndexStore, "roll_forward", lambda self: None)
    build(library_copy, out, model, model_dir)
    monkeypatch.undo()
    for name in ("items.jsonl", "vectors.faiss"):  # the writer died after moving two of five files
        shutil.move(out / STAGING_DIR / name, out / name)
    with pytest.raises(IndexIntegrityError, match="cut short.*repair it with `audioret index"):
        Library.open(out)
    assert main(["search", "--index", str(out), "--like", str(library_copy / "doors" / "slam.wav")]) == 2
    err = capsys.readouterr().err
    assert f"audioret index {library_copy.resolve()} --out {out}" in err and "Traceback" not in err
    assert (out / STAGING_DIR / "ids.json").exists()  # the reader left the writer's files alone
    report = build(library_copy, out, model, model_dir)
    assert (report.files, report.embedded) == (7, 0)
    assert "water/drip.wav" not in [row[0] for row in snapshot(out)[0]]


def test_files_from_another_commit_are_refused_and_re_indexing_repairs_them(
        library_copy, tmp_path, model, model_dir, capsys):
    out, older = tmp_path / "idx", tmp_path / "older"
    build(library_copy, out, model, model_dir)
    shutil.copytree(out, older)
    (library_copy / "birds" / "chirp.wav").unlink()
    build(library_copy, out, model, model_dir)
    shutil.copy(older / "vectors.faiss", out / "vectors.faiss")  # 10 rows, the items now 9
    shutil.copy(older / "ids.json", out / "ids.json")
    with pytest.raises(IndexIntegrityError, match="vectors.faiss is not the one index.json describes"):
        Library.open(out)
    assert main(["search", "--index", str(out), "rain"]) == 2
    assert "repair it with" in capsys.readouterr().err
    build(library_copy, out, model, model_dir)  # the writer ignores what does not check out and embeds again
    library = Library.open(out)
    scores, ids = library.index.search(np.asarray(library.vectors), 1)
    assert [library.items[row[0]].path for row in ids] == [item.path for item in library.items]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert library.n_files == 7


# "More like this" for every indexed file, as `search --like` does it: its own vectors must find it first.
LIKE_READER = """
import sys
from pathlib import Path
from audioret.retrieval.library import Library
out, done, ready, seen = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), 0
while True:
    finished = done.exists()
    library = Library.open(out)
    for path in sorted({item.path for item in library.items}):
        hit = library.search(library.file_vector(path)[None], k=1)[0][0]
        assert hit.item.path == path and hit.score > 0.99, f"{path} found {hit.item.path} at {hit.score}"
    seen += 1
    ready.touch()
    if finished:
        break
print(seen)
"""


def test_ordinary_index_runs_beside_a_reader_never_fail_or_mislead_it(
        library_copy, tmp_path, model, model_dir):
    out, done, ready = tmp_path / "idx", tmp_path / "done", tmp_path / "ready"
    build(library_copy, out, model, model_dir)
    reader = subprocess.Popen([sys.executable, "-c", LIKE_READER, str(out), str(done), str(ready)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert reader.poll() is None and time.monotonic() < deadline, reader.stderr.read()
            time.sleep(0.05)
        extra = library_copy / "extra" / "bell.wav"
        for run in range(6):  # every run changes the library: files come and go, so ids move
            if run % 2 == 0:
                write_sound(extra, 1.0 + run / 10, 880.0 + run)
            else:
                extra.unlink()
            report = build(library_copy, out, model, model_dir)
            assert report.files == (9 if run % 2 == 0 else 8)
    finally:
        done.touch()
        stdout, stderr = reader.communicate(timeout=120)
    assert reader.returncode == 0, stderr
    assert int(stdout) >= 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_row_segment_is_named_by_its_checksum(tmp_path, damage):
    out = tmp_path / "idx"
    subprocess.run([sys.executable, "-c", COMMITTING_WRITER, str(out), "1", "ivf"], check=True)
    segment, = out.glob("rows-*.npy")
    data = bytearray(segment.read_bytes())
    if damage == "truncate":  # the header promises rows the file no longer holds: it cannot be mapped
        del data[len(data) // 2:]
    else:  # one bit of the last row: the file still maps, only its checksum tells
        data[-1] ^= 1
    segment.write_bytes(bytes(data))
    with pytest.raises(IndexIntegrityError, match=f"{segment.name} is not the one ids.json describes.*repair it"):
        Library.open(out)
