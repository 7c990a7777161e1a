"""Bad input, damaged index folders and failing disks: a one-line message and exit code 2, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from audioret.cli import main
from audioret.retrieval.library import IndexStore, Library
from audioret.retrieval.vectors import Index
from retrieval.conftest import write_sound


@pytest.fixture(scope="module")
def built(sound_library, model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "idx"
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    return out


@pytest.fixture
def index_copy(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "idx"))


def fails(capsys, argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def index_argv(library: Path, out: Path, model_dir: Path, *extra: str) -> list[str]:
    return ["index", str(library), "--out", str(out), "--model", str(model_dir), *extra]


@pytest.mark.parametrize(("extra", "words"), [
    (["--batch-size", "0"], ["--batch-size must be at least 1"]),
    (["--batch-size", "-4"], ["--batch-size must be at least 1"]),
    (["--workers", "0"], ["--workers must be at least 1"]),
    (["--backend", "bogus"], ["unknown index backend 'bogus'", "flat"]),
    (["--row-storage", "int4"], ["unknown row storage 'int4'", "float16, int8"]),
    (["--device", "gpu9"], ["--device 'gpu9' is not a device", "cuda:N"]),
    (["--device", "meta"], ["only cpu and cuda are supported"]),
    (["--precision", "float16"], ["--precision float16", "auto, float32, bfloat16"]),
    *([(["--device", "cuda"], ["no CUDA GPU", "--device cpu"])] if not torch.cuda.is_available() else []),
])
def test_bad_options_are_refused_before_any_work(sound_library, tmp_path, model_dir, capsys, extra, words):
    out = tmp_path / "idx"
    fails(capsys, index_argv(sound_library, out, model_dir, *extra), *words)
    assert not out.exists()  # nothing embedded, nothing written


def test_out_that_is_a_file_or_not_writable(sound_library, tmp_path, model_dir, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    fails(capsys, index_argv(sound_library, tmp_path / "a-file", model_dir), "is a file", "another --out")
    locked = tmp_path / "read-only"
    locked.mkdir()
    real_open = os.open

    def refuse(path, *args, **kwargs):  # what a read-only folder does (root ignores chmod, so it is faked)
        if str(path).startswith(str(locked)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    fails(capsys, index_argv(sound_library, locked, model_dir), f"cannot write to {locked}", "writable")


def test_a_full_disk_keeps_what_was_done_and_says_so(library_copy, tmp_path, model_dir, capsys, monkeypatch):
    out = tmp_path / "idx"
    assert main(index_argv(library_copy, out, model_dir, "--batch-size", "1")) == 0
    capsys.readouterr()
    write_sound(library_copy / "new" / "one.wav", 1.0, 310.0)
    write_sound(library_copy / "new" / "two.wav", 1.0, 410.0)
    save, calls = IndexStore.add_pending, []

    def full_on_second_batch(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.folder / "pending" / "x.npz"))
        return save(self, *args)

    monkeypatch.setattr(IndexStore, "add_pending", full_on_second_batch)
    fails(capsys, index_argv(library_copy, out, model_dir, "--batch-size", "1"), "disk is full", "intact", "resume")
    monkeypatch.undo()
    assert Library.open(out).n_files == 8  # the last commit still serves
    monkeypatch.setattr(Index, "save", lambda *a, **kw: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))
    fails(capsys, index_argv(library_copy, out, model_dir, "--batch-size", "1"), "disk is full")
    monkeypatch.undo()
    assert Library.open(out).n_files == 8
    assert main(index_argv(library_copy, out, model_dir, "--batch-size", "1")) == 0
    assert "(0 embedded now, 10 unchanged, 0 removed)" in capsys.readouterr().out  # both batches were kept


@pytest.mark.parametrize(("name", "damage", "words"), [
    ("vectors.faiss", "delete", ["vectors.faiss is missing"]),
    ("ids.json", "truncate", ["ids.json is not the one"]),
    ("ids.json", "delete", ["ids.json is missing"]),
    ("vectors.faiss", "truncate", ["vectors.faiss is not the one index.json describes"]),
    ("items.jsonl", "delete", ["items.jsonl is missing"]),
    ("items.jsonl", "truncate", ["items.jsonl is not the one index.json describes"]),
    ("peaks.npy", "truncate", ["peaks.npy is not the one index.json describes"]),
    ("model.json", "truncate", ["model.json: not a valid model record"]),
    ("model.json", "delete", ["model.json is missing"]),
    ("model.json", "{}", ["model.json: not a model record"]),
    ("index.json", "truncate", ["index.json: not a valid index record"]),
    ("index.json", "delete", ["index.json", "audioret index"]),
    ("index.json", '{"root": "/elsewhere", "items": 10, "sha256": 5}', ["index.json: not an index record"]),
])
def test_damaged_index_files_are_named_and_re_indexing_repairs_them(
        index_copy, sound_library, model_dir, capsys, name, damage, words):
    path = index_copy / name
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text(damage)
    err = fails(capsys, ["search", "--index", str(index_copy), "rain"], *words)
    if name != "index.json":
        assert f"audioret index {sound_library} --out {index_copy}" in err
    assert main(index_argv(sound_library, index_copy, model_dir)) == 0
    assert main(["search", "--index", str(index_copy), "rain", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out.splitlines()[-1])["results"]) == 8


def test_a_damaged_journal_does_not_stop_readers_or_writers(index_copy, sound_library, model_dir, capsys):
    (index_copy / "commit.json").write_text('{"files": ["items.js')
    assert main(["search", "--index", str(index_copy), "rain"]) == 0
    assert main(index_argv(sound_library, index_copy, model_dir)) == 0
    assert not (index_copy / "commit.json").exists()


def test_a_foreign_file_in_pending_is_named(index_copy, sound_library, model_dir, capsys):
    (index_copy / "pending").mkdir(exist_ok=True)
    (index_copy / "pending" / "0001-garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    fails(capsys, index_argv(sound_library, index_copy, model_dir), "0001-garbage.npz", "delete it")


def test_queries_that_are_not_utf8(built, tmp_path, capsys):
    fails(capsys, ["search", "--index", str(built), os.fsdecode(b"rain on \xff roof")], "not valid UTF-8")
    queries = tmp_path / "queries.txt"
    queries.write_bytes(b"rain\nd\xe9j\xe0 vu\n")
    fails(capsys, ["search", "--index", str(built), "--queries", str(queries)], str(queries), "UTF-8")


def test_serve_port_out_of_range_or_taken(built, capsys):
    import socket

    fails(capsys, ["serve", "--index", str(built), "--port", "99999"], "--port", "65535")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        fails(capsys, ["serve", "--index", str(built), "--port", str(port)], f"cannot listen on 127.0.0.1:{port}",
              "another --port")


def test_eval_manifests_without_audio_text_or_captions(sound_library, tmp_path, model_dir, capsys):
    manifest = tmp_path / "m.jsonl"
    rows = [{"id": "a", "audio": str(sound_library / "birds" / "chirp.wav"), "captions": ["birds"],
             "dataset": "d", "split": "eval"},
            {"id": "b", "audio": str(tmp_path / "gone.wav"), "captions": ["gone"], "dataset": "d", "split": "eval"}]
    manifest.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    fails(capsys, ["eval", "--manifest", str(manifest), "--model", str(model_dir)], f"{manifest}:3", "gone.wav",
          "missing")
    manifest.write_bytes(json.dumps(rows[0]).encode() + b"\n" + b'{"id": "caf\xe9"}\n')
    fails(capsys, ["eval", "--manifest", str(manifest), "--model", str(model_dir)], f"{manifest}:2", "UTF-8")
    out = tmp_path / "manifests"
    assert main(["prepare", "folder", str(sound_library), str(out)]) == 0
    capsys.readouterr()
    fails(capsys, ["eval", "--manifest", str(out / "folder_all.jsonl"), "--model", str(model_dir)],
          "has no captions", "--captions")
