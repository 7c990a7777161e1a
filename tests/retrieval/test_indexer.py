"""Indexing a folder: contents, segments, incremental updates, resume after a kill, bad files, shards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audioret import AudioretError
from audioret.retrieval import indexer as indexer_module
from audioret.retrieval.indexer import index_folder, merge_shards, parse_shard, shard_folder, split_segments
from audioret.retrieval.library import JOURNAL_FILE, PENDING_DIR, STAGING_DIR, IndexStore, Library, StructureOptions
from audioret.retrieval.search import Searcher, describe_model
from audioret.utils.audio import load_audio
from retrieval.conftest import write_sound

STRUCTURE_OPTIONS = ("backend", "row_storage", "rebuild")


def build(library: Path, out: Path, model, model_dir, **options):
    """index_folder with `backend=`, `row_storage=`, `rebuild=` given as the CLI gives them."""
    structure = StructureOptions(**{key: options.pop(key) for key in STRUCTURE_OPTIONS if key in options})
    return index_folder(library, out, model, describe_model(model_dir, model), structure=structure,
                        show_progress=False, **options)


def snapshot(folder: Path) -> tuple[list[tuple], np.ndarray]:
    library = Library.open(folder)
    rows = [(i.path, i.start, i.end, i.size) for i in library.items]
    return rows, np.asarray(library.vectors)


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.5, [(0.0, 0.5)]),
    (10.0, [(0.0, 10.0)]),
    (10.5, [(0.0, 10.5)]),  # a 0.5 s tail joins the segment before it
    (25.0, [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]),
])
def test_long_files_become_ten_second_segments(seconds, expected):
    wave = np.zeros(int(seconds * 100), np.float32)
    segments = split_segments(wave, 100)
    assert [(a, b) for a, b, _ in segments] == expected
    assert sum(len(w) for *_, w in segments) == len(wave)


def test_index_holds_every_segment_with_the_models_own_vectors(sound_library, tmp_path, model, model_dir):
    report = build(sound_library, tmp_path / "idx", model, model_dir, batch_size=3)
    assert (report.files, report.segments, report.embedded) == (8, 10, 8)  # idle.wav: 25 s = 3 segments
    library = Library.open(tmp_path / "idx")
    idle = [i for i in library.items if i.path == "engines/idle.wav"]
    assert [(i.start, i.end) for i in idle] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    # Each stored vector equals the model applied to that segment alone (no batch effects).
    for item in library.items:
        wave = load_audio(sound_library / item.path, model.sample_rate)
        segment = wave[int(item.start * model.sample_rate): int(item.end * model.sample_rate)]
        np.testing.assert_allclose(library.vectors[item.id], model.encode_audio([segment])[0], atol=1e-5)
    recorded = json.loads((tmp_path / "idx" / "model.json").read_text())
    assert recorded["fingerprint"] == library.model_info["fingerprint"]


def test_text_search_ranks_by_cosine_with_the_query(sound_library, tmp_path, model, model_dir):
    build(sound_library, tmp_path / "idx", model, model_dir)
    searcher = Searcher.open(tmp_path / "idx")  # the model recorded in model.json
    hits = searcher.text(["birds sing loudly"], k=8)[0]
    library = searcher.library
    query = model.encode_text(["birds sing loudly"])[0]
    best = {}
    for item in library.items:  # per file: its best segment
        best[item.path] = max(best.get(item.path, -2.0), float(library.vectors[item.id] @ query))
    expected = sorted(best, key=lambda p: -best[p])
    assert [h.item.path for h in hits] == expected
    np.testing.assert_allclose([h.score for h in hits], [best[p] for p in expected], atol=1e-5)
    assert all(str(h.path).startswith(str(sound_library)) for h in hits)


def test_search_by_example_finds_the_same_sound_first(sound_library, tmp_path, model, model_dir):
    build(sound_library, tmp_path / "idx", model, model_dir)
    searcher = Searcher.open(tmp_path / "idx", model_dir)
    copy = write_sound(tmp_path / "outside" / "copy.wav", 2.5, 700.0)  # the same signal as doors/creak.wav
    assert searcher.like(copy, k=1)[0].item.path == "doors/creak.wav"
    # An indexed file is left out of its own results.
    assert "doors/creak.wav" not in [h.item.path for h in searcher.like(sound_library / "doors/creak.wav", k=8)]


def test_reindexing_embeds_only_new_and_changed_files(library_copy, tmp_path, model, model_dir):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir)
    before = snapshot(out)
    write_sound(library_copy / "doors" / "slam.wav", 1.2, 151.0)  # changed
    write_sound(library_copy / "new" / "bell.wav", 1.0, 880.0)  # new
    os.unlink(library_copy / "water" / "drip.wav")  # removed
    calls = []
    original = model.embed_clips
    model.embed_clips = lambda waves, *a, **k: calls.append(len(waves)) or original(waves, *a, **k)
    try:
        report = build(library_copy, out, model, model_dir)
    finally:
        del model.embed_clips
    assert (report.embedded, report.unchanged, report.removed) == (2, 6, 1)
    assert sum(calls) == 2  # two one-segment files, nothing else re-embedded
    rows, vectors = snapshot(out)
    old = {row[0]: vec for row, vec in zip(before[0], before[1], strict=True) if row[0] != "engines/idle.wav"}
    new = {row[0]: vec for row, vec in zip(rows, vectors, strict=True) if row[0] != "engines/idle.wav"}
    assert "water/drip.wav" not in new and "new/bell.wav" in new
    np.testing.assert_array_equal(new["birds/chirp.wav"], old["birds/chirp.wav"])
    assert not np.allclose(new["doors/slam.wav"], old["doors/slam.wav"])
    # Nothing changed: nothing embedded.
    assert build(library_copy, out, model, model_dir).embedded == 0


def test_a_killed_run_resumes_and_ends_with_the_same_index(sound_library, tmp_path, model, model_dir, monkeypatch):
    build(sound_library, tmp_path / "whole", model, model_dir, batch_size=2)
    original, calls = indexer_module._persist, []

    def crash_on_third_batch(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises; a SIGKILL leaves the same files behind
        original(*args)

    monkeypatch.setattr(indexer_module, "_persist", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        build(sound_library, tmp_path / "resumed", model, model_dir, batch_size=2)
    assert len(list((tmp_path / "resumed" / PENDING_DIR).glob("*.npz"))) == 2
    # A write cut short by the kill leaves only a temporary file, which is ignored.
    (tmp_path / "resumed" / PENDING_DIR / ".partial.npz.tmp").write_bytes(b"\x00" * 10)
    monkeypatch.setattr(indexer_module, "_persist", original)
    report = build(sound_library, tmp_path / "resumed", model, model_dir, batch_size=2)
    assert report.unchanged > 0 and report.embedded + report.unchanged == 8
    whole, resumed = snapshot(tmp_path / "whole"), snapshot(tmp_path / "resumed")
    assert whole[0] == resumed[0]
    np.testing.assert_allclose(whole[1], resumed[1], atol=1e-6)
    assert not list((tmp_path / "resumed" / PENDING_DIR).glob("*.npz"))


def test_a_commit_cut_short_is_rolled_forward_by_the_next_writer_never_by_a_reader(
        library_copy, tmp_path, model, model_dir, monkeypatch):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir)
    before = snapshot(out)
    write_sound(library_copy / "new" / "bell.wav", 1.0, 880.0)
    monkeypatch.setattr(IndexStore, "roll_forward", lambda self: None)  # die right after the journal
    build(library_copy, out, model, model_dir)
    assert (out / JOURNAL_FILE).exists() and (out / STAGING_DIR).is_dir()
    monkeypatch.undo()
    staged = sorted(p.name for p in (out / STAGING_DIR).iterdir())
    # A reader sees the last complete commit and leaves the writer's staging, journal and batches alone.
    during = snapshot(out)
    assert during[0] == before[0]
    np.testing.assert_array_equal(during[1], before[1])
    assert sorted(p.name for p in (out / STAGING_DIR).iterdir()) == staged and (out / JOURNAL_FILE).exists()
    # The next writer finishes that commit first, then finds nothing left to embed.
    report = build(library_copy, out, model, model_dir)
    assert report.embedded == 0 and report.files == 9
    assert not (out / JOURNAL_FILE).exists() and not (out / STAGING_DIR).exists()
    assert not list((out / PENDING_DIR).glob("*.npz"))
    assert "new/bell.wav" in [row[0] for row in snapshot(out)[0]]


def test_corrupt_empty_and_non_audio_files_are_reported_and_skipped(library_copy, tmp_path, model, model_dir):
    (library_copy / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    (library_copy / "empty.flac").write_bytes(b"")
    (library_copy / "notes.wav").write_text("this is a text file with an audio name")
    (library_copy / "readme.txt").write_text("not audio")
    report = build(library_copy, tmp_path / "idx", model, model_dir)
    assert sorted(p for p, _ in report.unreadable) == ["broken.wav", "empty.flac", "notes.wav"]
    assert "0 bytes" in dict(report.unreadable)["empty.flac"]
    assert report.ignored == ["readme.txt"]
    assert report.files == 8
    problems = (tmp_path / "idx" / "problems.txt").read_text()
    assert "broken.wav\t" in problems and "notes.wav\t" in problems


def test_shards_merge_into_the_same_index_as_one_run(sound_library, tmp_path, model, model_dir):
    build(sound_library, tmp_path / "one", model, model_dir)
    out = tmp_path / "sharded"
    with pytest.raises(AudioretError, match="missing"):
        build(sound_library, shard_folder(out, (1, 3)), model, model_dir, shard=(1, 3))
        merge_shards(out)
    sizes = []
    for i in (2, 3):
        sizes.append(build(sound_library, shard_folder(out, (i, 3)), model, model_dir, shard=(i, 3)).files)
    merge_shards(out)
    one, merged = snapshot(tmp_path / "one"), snapshot(out)
    assert one[0] == merged[0] and sum(sizes) + Library.open(shard_folder(out, (1, 3))).n_files == 8
    np.testing.assert_allclose(one[1], merged[1], atol=1e-6)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "a/b"):
        with pytest.raises(AudioretError):
            parse_shard(bad)


def test_another_model_cannot_update_or_search_an_index(sound_library, tmp_path, model, model_dir):
    import torch

    from audioret.models import AudioTextModel

    build(sound_library, tmp_path / "idx", model, model_dir)
    torch.manual_seed(1)
    other = AudioTextModel({**model.config, "text": {**model.config["text"], "path": str(model_dir / "text"),
                                                    "random_init": True}})
    other_dir = other.save_pretrained(tmp_path / "other")
    with pytest.raises(AudioretError, match="was built with model"):
        build(sound_library, tmp_path / "idx", other, other_dir)
    with pytest.raises(AudioretError, match="different model"):
        Searcher.open(tmp_path / "idx", other_dir)


KILLABLE_RUN = """
import sys, time
from audioret.models import AudioTextModel
from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import describe_model
model = AudioTextModel.from_pretrained(sys.argv[2])
embed = model.embed_clips
def slow(*args, **kwargs):
    time.sleep(0.4)  # time for the test to kill the process between batches
    return embed(*args, **kwargs)
model.embed_clips = slow
index_folder(sys.argv[1], sys.argv[3], model, describe_model(sys.argv[2], model), batch_size=1,
             show_progress=False)
"""


def test_a_sigkilled_run_resumes_to_the_same_index(sound_library, tmp_path, model, model_dir):
    import signal
    import subprocess
    import sys
    import time

    build(sound_library, tmp_path / "whole", model, model_dir, batch_size=1)
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, str(sound_library), str(model_dir), str(out)])
    deadline = time.monotonic() + 120
    while len(list((out / PENDING_DIR).glob("*.npz"))) < 3:
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = len(list((out / PENDING_DIR).glob("*.npz")))
    assert 3 <= kept < 8 and not (out / "items.jsonl").exists()
    report = build(sound_library, out, model, model_dir, batch_size=1)
    assert report.unchanged == kept and report.embedded == 8 - kept
    whole, resumed = snapshot(tmp_path / "whole"), snapshot(out)
    assert whole[0] == resumed[0]
    np.testing.assert_allclose(whole[1], resumed[1], atol=1e-6)


def hostile_names(library: Path) -> dict[str, str]:
    """Files that used to abort a run: what each must be reported as (None: indexed normally)."""
    os.symlink(library / "gone.wav", library / "dangling.wav")
    os.symlink(library / "loop.wav", library / "loop.wav")
    os.mkfifo(library / "pipe.wav")  # would block a reader forever
    (library / "tab\there\nnewline.wav").write_bytes(b"not audio at all")
    os.rename(write_sound(library / "latin.wav", 1.0, 330.0), bytes(library) + b"/caf\xe9 latin-1.wav")  # readable
    return {"dangling.wav": "target is missing", "loop.wav": "loop", "pipe.wav": "not a regular file",
            "tab\there\nnewline.wav": ""}


def test_dangling_looping_odd_and_vanishing_files_are_listed_and_the_run_goes_on(
        library_copy, tmp_path, model, model_dir, monkeypatch):
    expected = hostile_names(library_copy)
    vanishing = write_sound(library_copy / "vanishing.wav", 1.0, 500.0)
    walk = indexer_module.walk_audio

    def walk_then_delete(*args):
        found = walk(*args)
        vanishing.unlink()  # deleted between the walk and the stat
        return found

    monkeypatch.setattr(indexer_module, "walk_audio", walk_then_delete)
    report = build(library_copy, tmp_path / "idx", model, model_dir)
    reasons = dict(report.unreadable)
    assert sorted(reasons) == sorted([*expected, "vanishing.wav"])
    for name, reason in expected.items():
        assert reason in reasons[name]
    assert "deleted" in reasons["vanishing.wav"]
    latin1 = os.fsdecode(b"caf\xe9 latin-1.wav")
    assert report.files == 9 and latin1 in [i.path for i in Library.open(tmp_path / "idx").items]
    lines = (tmp_path / "idx" / "problems.txt").read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 5 and all(line.count("\t") == 1 for line in lines)
    assert "tab\\there\\nnewline.wav\t" in "\n".join(lines)


def test_prepare_folder_lists_the_same_files_and_goes_on(library_copy, tmp_path):
    from audioret.data.recipes.folder import prepare_folder

    expected = hostile_names(library_copy)
    report = prepare_folder(library_copy, tmp_path / "manifests", workers=2)
    listed = (tmp_path / "manifests" / "folder_problems.txt").read_bytes().decode("utf-8")
    reasons = {Path(path).name: reason for path, reason in report.unreadable}
    assert sorted(reasons) == sorted(expected)
    assert "loop" in reasons["loop.wav"] and "target is missing" in reasons["dangling.wav"]
    assert "tab\\there\\nnewline.wav\t" in listed and len(listed.splitlines()) == 4
    assert report.manifests["all"][1] == 9  # eight clips and the one whose name is not UTF-8


def test_a_long_file_is_read_segment_by_segment_into_ordinary_batches(
        sound_library, tmp_path, model, model_dir, monkeypatch):
    build(sound_library, tmp_path / "whole", model, model_dir, batch_size=2)
    monkeypatch.setattr(indexer_module, "WHOLE_FILE_MAX_BYTES", 1_000_000)  # idle.wav (25 s, 1.6 MB) is long
    whole_reads, block_reads, embedded = [], [], []
    load_audio_, load_frames_ = indexer_module.load_audio, indexer_module.load_frames
    monkeypatch.setattr(indexer_module, "load_audio", lambda path, *a: whole_reads.append(path.name) or
                        load_audio_(path, *a))
    monkeypatch.setattr(indexer_module, "load_frames", lambda path, start, frames, *a: block_reads.append(frames)
                        or load_frames_(path, start, frames, *a))
    original = model.embed_clips
    monkeypatch.setattr(model, "embed_clips", lambda waves, *a: embedded.append(len(waves)) or original(waves, *a),
                        raising=False)
    build(sound_library, tmp_path / "streamed", model, model_dir, batch_size=2)
    assert "idle.wav" not in whole_reads and len(whole_reads) == 7
    assert block_reads == [160_000, 160_000, 80_000]  # one 10 s segment at a time (16 kHz)
    assert max(embedded) <= 2 and sum(embedded) == 10
    whole, streamed = snapshot(tmp_path / "whole"), snapshot(tmp_path / "streamed")
    assert whole[0] == streamed[0]
    np.testing.assert_allclose(whole[1], streamed[1], atol=1e-6)


def test_runs_killed_inside_a_long_file_keep_making_progress(sound_library, tmp_path, model, model_dir, monkeypatch):
    build(sound_library, tmp_path / "whole", model, model_dir, batch_size=1)
    monkeypatch.setattr(indexer_module, "WHOLE_FILE_MAX_BYTES", 1_000_000)
    original, calls = indexer_module._persist, []

    def killed_after_two_batches(*args):
        calls.append(1)
        if len(calls) % 3 == 0:
            raise KeyboardInterrupt
        original(*args)

    monkeypatch.setattr(indexer_module, "_persist", killed_after_two_batches)
    out, kept = tmp_path / "killed", [0]
    # Ten one-segment batches, two per run: the third run is killed inside idle.wav (after its first two
    # segments), the fourth resumes at its third; the fifth finishes. No run starts a file over.
    for _ in range(6):
        try:
            build(sound_library, out, model, model_dir, batch_size=1)
            break
        except KeyboardInterrupt:
            kept.append(len(list((out / PENDING_DIR).glob("*.npz"))))
    assert kept == [0, 2, 4, 6, 8]
    whole, resumed = snapshot(tmp_path / "whole"), snapshot(out)
    assert whole[0] == resumed[0]
    np.testing.assert_allclose(whole[1], resumed[1], atol=1e-6)


def test_files_are_decoded_ahead_only_within_the_memory_budget(sound_library, tmp_path, model, model_dir,
                                                               monkeypatch):
    assert indexer_module.decode_ahead(1) == 2 and indexer_module.decode_ahead(64) == 8  # 256 MB / 32 MB
    monkeypatch.setattr(indexer_module, "DECODE_BUDGET_BYTES", 2 * indexer_module.WHOLE_FILE_MAX_BYTES)
    decoded, seen_at_embed = [], []
    load_audio_ = indexer_module.load_audio
    monkeypatch.setattr(indexer_module, "load_audio", lambda path, *a: decoded.append(path) or load_audio_(path, *a))
    original = model.embed_clips
    monkeypatch.setattr(model, "embed_clips", lambda waves, *a: seen_at_embed.append(len(decoded)) or
                        original(waves, *a), raising=False)
    build(sound_library, tmp_path / "idx", model, model_dir, batch_size=1, workers=16)
    # However many threads, at most two files wait decoded beside the one being embedded.
    assert all(seen <= batch + 3 for batch, seen in enumerate(seen_at_embed)) and len(decoded) == 8


def test_a_shard_that_never_committed_is_named_at_merge(sound_library, tmp_path, model, model_dir):
    out = tmp_path / "sharded"
    build(sound_library, shard_folder(out, (1, 2)), model, model_dir, shard=(1, 2))
    shard_folder(out, (2, 2)).mkdir(parents=True)  # a run killed before its first batch leaves this
    with pytest.raises(AudioretError, match="2-of-2 is unfinished"):
        merge_shards(out)


def by_path(folder: Path) -> dict[tuple, np.ndarray]:
    """Each segment's vector, keyed by (path, start, end, size): the state independent of row order."""
    library = Library.open(folder)
    return {(i.path, i.start, i.end, i.size): np.asarray(library.vectors[i.id]) for i in library.items}


@pytest.mark.parametrize("backend", ["auto", "ivf"])
def test_an_update_changes_the_index_in_place_and_equals_indexing_from_scratch(
        library_copy, tmp_path, model, model_dir, backend):
    out, fresh = tmp_path / "idx", tmp_path / "fresh"
    assert build(library_copy, out, model, model_dir, backend=backend).structure == "built"
    (library_copy / "water" / "drip.wav").unlink()
    write_sound(library_copy / "doors" / "slam.wav", 1.5, 990.0)  # changed
    write_sound(library_copy / "aaa-new" / "chime.wav", 2.0, 1500.0)  # sorts before every old path
    report = build(library_copy, out, model, model_dir, backend=backend)
    assert report.structure == "updated" and (report.embedded, report.removed) == (2, 1)
    library = Library.open(out)
    assert [i.path for i in library.items][-2:] == ["aaa-new/chime.wav", "doors/slam.wav"]  # appended
    assert library.index.backend == ("flat" if backend == "auto" else "ivf")
    build(library_copy, fresh, model, model_dir, backend=backend)
    updated, scratch = by_path(out), by_path(fresh)
    assert updated.keys() == scratch.keys()
    for key, vector in scratch.items():
        np.testing.assert_allclose(updated[key], vector, atol=1e-5)
    # Search over the updated rows ranks exactly as over the rebuilt ones (every cell scanned).
    queries = model.encode_text(["a door", "water", "an engine idling"])
    ranked = []
    for folder in (out, fresh):
        opened = Library.open(folder)
        opened.index.set_search_effort(10**6)
        ranked.append([[(h.item.path, h.item.start) for h in hits] for hits in opened.search(queries, k=5)])
    assert ranked[0] == ranked[1]


def segment_stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("rows-*.npy")}


def test_an_ivf_update_adds_one_row_segment_and_leaves_the_others_untouched(library_copy, tmp_path, model,
                                                                            model_dir):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir, backend="ivf")
    first = segment_stamps(out)
    assert len(first) == 1
    (library_copy / "water" / "drip.wav").unlink()
    write_sound(library_copy / "new" / "chime.wav", 2.0, 1500.0)
    assert build(library_copy, out, model, model_dir, backend="ivf").structure == "updated"
    second = segment_stamps(out)
    assert len(second) == 2 and {name: second[name] for name in first} == first  # not rewritten
    record = json.loads((out / "ids.json").read_text())["rows"]
    assert [s["name"] for s in record["segments"]][0] in first and len(record["dead"]) == 1
    assert build(library_copy, out, model, model_dir, backend="ivf", rebuild=True).structure == "built"
    rebuilt = segment_stamps(out)
    assert len(rebuilt) == 1 and not rebuilt.keys() & second.keys()  # replaced segments are deleted
    build(library_copy, out, model, model_dir, backend="flat")
    assert not segment_stamps(out) and Library.open(out).index.backend == "flat"


def test_a_damaged_row_segment_is_refused_by_readers_and_repaired_by_indexing(library_copy, tmp_path, model,
                                                                              model_dir):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir, backend="ivf")
    before = by_path(out)
    (segment,) = out.glob("rows-*.npy")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(AudioretError, match=f"{segment.name} is not the one ids.json describes"):
        Library.open(out)
    segment.unlink()
    with pytest.raises(AudioretError, match=f"{segment.name} is missing"):
        Library.open(out)
    build(library_copy, out, model, model_dir, backend="ivf")
    repaired = by_path(out)
    assert repaired.keys() == before.keys()
    for key, vector in before.items():
        np.testing.assert_array_equal(repaired[key], vector)


def test_rebuild_trains_the_structure_afresh(library_copy, tmp_path, model, model_dir):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir, backend="ivf")
    assert build(library_copy, out, model, model_dir, backend="ivf").structure == "updated"
    assert build(library_copy, out, model, model_dir, backend="ivf", rebuild=True).structure == "built"
    assert build(library_copy, out, model, model_dir, backend="hnsw").structure == "built"  # another backend


def test_a_folder_with_the_old_second_copy_of_the_vectors_opens_and_loses_it_at_the_next_commit(
        library_copy, tmp_path, model, model_dir):
    import hashlib

    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir)
    before = by_path(out)
    np.save(out / "embeddings.npy", np.asarray(Library.open(out).vectors))  # what older versions wrote
    marker = json.loads((out / "index.json").read_text())
    marker["sha256"]["embeddings.npy"] = hashlib.sha256((out / "embeddings.npy").read_bytes()).hexdigest()
    (out / "index.json").write_text(json.dumps(marker))
    assert by_path(out).keys() == before.keys()
    (out / "embeddings.npy").write_bytes(b"damaged")
    with pytest.raises(AudioretError, match="embeddings.npy is not the one"):
        Library.open(out)
    build(library_copy, out, model, model_dir)  # repairs: the damaged copy is not needed
    assert not (out / "embeddings.npy").exists() and by_path(out).keys() == before.keys()


def test_a_batch_of_queries_ranks_as_each_query_alone(sound_library, tmp_path, model, model_dir):
    build(sound_library, tmp_path / "idx", model, model_dir)
    library = Library.open(tmp_path / "idx")
    queries = model.encode_text(["an engine", "water dripping", "a door slams", "birds"])
    skips = [None, "water/drip.wav", None, "engines/idle.wav"]
    admit = lambda path: not path.startswith("doors/")  # noqa: E731 - a filter, as the server passes one
    together = library.search(queries, k=3, exclude=skips, admit=admit)
    alone = [library.search(q[None], k=3, exclude=[s], admit=admit)[0] for q, s in zip(queries, skips, strict=True)]
    as_rows = lambda results: [[(h.item.id, round(h.score, 6)) for h in hits] for hits in results]  # noqa: E731
    assert as_rows(together) == as_rows(alone)
    assert all(len({h.item.path for h in hits}) == len(hits) == 3 for hits in together)  # one segment per file


@settings(max_examples=60, deadline=None)
@given(path=st.text(min_size=1, max_size=40), start=st.floats(0, 1e6), size=st.integers(0, 2**62))
def test_items_are_written_as_json_dumps_writes_them(tmp_path_factory, path, start, size):
    from dataclasses import asdict

    from audioret.retrieval.library import Item, read_items, write_items

    items = [Item(0, path, size, 1_700_000_000_123_456_789, start, start + 10.0), Item(1, "a/b.wav", 1, 2, 0.0, 5)]
    target = tmp_path_factory.mktemp("items") / "items.jsonl"
    write_items(target, items)
    assert target.read_text() == "".join(json.dumps(asdict(i)) + "\n" for i in [items[0], Item(1, "a/b.wav", 1, 2,
                                                                                                 0.0, 5.0)])
    assert read_items(target) == items


def test_a_second_merge_updates_the_merged_index_in_place(library_copy, tmp_path, model, model_dir):
    out = tmp_path / "sharded"
    for i in (1, 2):
        build(library_copy, shard_folder(out, (i, 2)), model, model_dir, shard=(i, 2))
    assert merge_shards(out).structure == "built"
    write_sound(library_copy / "new" / "chime.wav", 2.0, 1500.0)
    (library_copy / "water" / "drip.wav").unlink()
    for i in (1, 2):  # only the shard that holds a changed file embeds anything
        build(library_copy, shard_folder(out, (i, 2)), model, model_dir, shard=(i, 2))
    report = merge_shards(out)
    assert report.structure == "updated" and report.files == 8
    assert merge_shards(out, StructureOptions(rebuild=True)).structure == "built"  # --merge --rebuild
    build(library_copy, tmp_path / "one", model, model_dir)
    assert by_path(out).keys() == by_path(tmp_path / "one").keys()
    for key, vector in by_path(tmp_path / "one").items():
        np.testing.assert_allclose(by_path(out)[key], vector, atol=1e-5)


def test_the_row_storage_is_kept_by_updates_and_changed_on_request(library_copy, tmp_path, model, model_dir):
    out, exact = tmp_path / "idx", tmp_path / "exact"
    build(library_copy, exact, model, model_dir, backend="flat")
    build(library_copy, out, model, model_dir)
    assert build(library_copy, out, model, model_dir, row_storage="int8").structure == "updated"  # noted only
    assert json.loads((out / "index.json").read_text())["row_storage"] == "int8"
    assert Library.open(out).index.backend == "flat"  # small: flat, the choice waits

    def storage_after_update(**options) -> tuple[str, str]:
        write_sound(library_copy / "new" / f"tone{len(list(library_copy.rglob('*.wav')))}.wav", 1.0, 700.0)
        report = build(library_copy, out, model, model_dir, **options)
        return report.structure, Library.open(out).index.store.storage

    assert storage_after_update(backend="ivf") == ("built", "int8")  # grown into an IVF: int8 as asked before
    assert storage_after_update(backend="ivf") == ("updated", "int8")
    segments = sorted(out.glob("rows-*.npy"))
    assert len(segments) == 2 and all(np.load(s, mmap_mode="r").dtype.names == ("scale", "code") for s in segments)
    # the int8 rows are the exact ones to within half a step of 1/127 of each group's largest coordinate
    stored, truth = by_path(out), by_path(exact)
    for key, vector in truth.items():
        assert np.max(np.abs(stored[key] - vector)) <= np.max(np.abs(vector)) / 254 + 1e-5  # + embedding noise
    assert storage_after_update(backend="ivf", row_storage="float16") == ("built", "float16")


def test_a_first_merge_stores_rows_as_its_shards_were_told_to(sound_library, tmp_path, model, model_dir):
    out = tmp_path / "sharded"
    for i in (1, 2):
        build(sound_library, shard_folder(out, (i, 2)), model, model_dir, shard=(i, 2), row_storage="int8")
    merge_shards(out, StructureOptions(backend="ivf"))
    assert Library.open(out).index.store.storage == "int8"
    merge_shards(out, StructureOptions(backend="ivf", row_storage="float16"))
    assert Library.open(out).index.store.storage == "float16"
    mixed = tmp_path / "mixed"
    for i, storage in ((1, "int8"), (2, "float16")):
        build(sound_library, shard_folder(mixed, (i, 2)), model, model_dir, shard=(i, 2), row_storage=storage)
    with pytest.raises(AudioretError, match="different row storages .1-of-2: int8, 2-of-2: float16"):
        merge_shards(mixed)
    assert merge_shards(mixed, StructureOptions(row_storage="int8")).structure == "built"


def test_an_index_record_naming_an_unknown_row_storage_is_refused_when_read(tmp_path):
    from audioret.retrieval.library import IndexIntegrityError, parse_library_info

    record = {"root": "/library", "items": 0, "sha256": {}}
    assert parse_library_info(dict(record), tmp_path / "index.json")["dim"] is None  # older records: fine
    with pytest.raises(IndexIntegrityError, match="row_storage 'int4' is none of float16, int8"):
        parse_library_info(record | {"row_storage": "int4"}, tmp_path / "index.json")
