"""Records of a JSON-lines file read on demand: the same records as parsing every line, bad lines named."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest

from audioret.retrieval import jsonlines
from audioret.retrieval.indexer import index_folder
from audioret.retrieval.jsonlines import JsonLines
from audioret.retrieval.library import IndexStore, Library
from audioret.retrieval.search import describe_model
from audioret.utils.errors import DataFormatError

PATH = Path("records.jsonl")


class Counted:
    """A `make` that records how many records it built."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, fields, line_no):
        with self.lock:
            self.calls += 1
        if "id" in fields and fields["id"] != line_no - 1:
            raise DataFormatError(PATH, f"id {fields['id']} out of order", line_no)
        return fields


def blob(rows, trailing_newline=True) -> bytes:
    text = "\n".join(json.dumps(row) for row in rows)
    return (text + "\n" if trailing_newline else text).encode()


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_records_are_those_of_a_line_by_line_parse(trailing_newline):
    rows = [{"id": i, "path": f"a/{'é' * (i % 3)}{i}.wav", "end": i / 7} for i in range(50)]
    data = blob(rows, trailing_newline)
    reference = [json.loads(line) for line in data.decode().splitlines()]
    lines = JsonLines(data, PATH, Counted())
    assert len(lines) == 50
    assert [lines[i] for i in (0, 17, 49, -1, -50)] == [reference[i] for i in (0, 17, 49, -1, -50)]
    assert lines[10:13] == reference[10:13]
    assert list(lines) == reference
    with pytest.raises(IndexError):
        lines[50]
    assert len(JsonLines(b"", PATH, Counted())) == 0


def test_a_bad_line_is_named_when_read_and_the_others_still_read():
    rows = [json.dumps({"id": i}) for i in range(10)]
    rows[6] = '{"id": 6, "path": '  # cut short
    lines = JsonLines(("\n".join(rows) + "\n").encode(), PATH, Counted())
    assert lines[5] == {"id": 5}
    with pytest.raises(DataFormatError, match=r"records.jsonl:7: not a JSON object"):
        lines[6]
    with pytest.raises(DataFormatError, match=r"records.jsonl:7: not a JSON object"):
        lines.records()
    out_of_order = JsonLines(blob([{"id": 0}, {"id": 2}]), PATH, Counted())
    with pytest.raises(DataFormatError, match=r"records.jsonl:2: id 2 out of order"):
        list(out_of_order)


def test_many_single_reads_turn_into_one_parse_of_everything(monkeypatch):
    monkeypatch.setattr(jsonlines, "ONE_BY_ONE_FRACTION", 2)
    make = Counted()
    lines = JsonLines(blob([{"id": i} for i in range(4000)]), PATH, make)
    for i in range(2000):  # up to n / 2 lines one by one
        assert lines[i] == {"id": i}
    assert make.calls == 2000
    assert lines[3999] == {"id": 3999}  # the next read parses all 4,000
    assert make.calls == 6000
    assert [lines[i]["id"] for i in range(0, 4000, 97)] == list(range(0, 4000, 97))
    assert make.calls == 6000  # and keeps them


def test_threads_that_ask_for_every_record_at_once_parse_them_once():
    make = Counted()
    lines = JsonLines(blob([{"id": i} for i in range(20_000)]), PATH, make)
    results = []
    threads = [threading.Thread(target=lambda: results.append(len(lines.records()))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [20_000] * 4 and make.calls == 20_000


def rewrite_with_checksum(folder: Path, name: str, text: str) -> None:
    """Change a committed file and record its new checksum, as a faulty writer would."""
    (folder / name).write_text(text)
    marker = json.loads((folder / "index.json").read_text())
    marker["sha256"][name] = hashlib.sha256(text.encode()).hexdigest()
    (folder / "index.json").write_text(json.dumps(marker))


def test_a_reader_reads_only_the_records_it_needs_and_a_writer_checks_them_all(sound_library, tmp_path, model,
                                                                                model_dir, capsys):
    out = tmp_path / "idx"
    info = describe_model(model_dir, model)
    index_folder(sound_library, out, model, info, show_progress=False)
    lines = (out / "items.jsonl").read_text().splitlines()
    bad = len(lines) - 1
    lines[bad] = lines[bad].replace('"id": ', '"ident": ')
    rewrite_with_checksum(out, "items.jsonl", "\n".join(lines) + "\n")

    library = Library.open(out)  # opening parses no item
    assert library.items[0].id == 0 and len(library.items) == len(lines)
    with pytest.raises(DataFormatError, match=rf"items.jsonl:{bad + 1}: not an index item"):
        library.items[bad]

    store = IndexStore(out)
    with store.writing():
        assert store.committed()[0] == []  # the writer reads every line: the state is damaged
    assert f"items.jsonl:{bad + 1}" in capsys.readouterr().err
    # and the run that repairs it embeds everything again
    report = index_folder(sound_library, out, model, info, show_progress=False)
    assert report.embedded == report.files and Library.open(out).items[bad].id == bad


def test_files_that_disagree_with_the_items_are_caught_by_the_writer(sound_library, tmp_path, model, model_dir,
                                                                     capsys):
    out = tmp_path / "idx"
    index_folder(sound_library, out, model, describe_model(model_dir, model), show_progress=False)
    rows = (out / "files.jsonl").read_text().splitlines()
    rewrite_with_checksum(out, "files.jsonl", "\n".join([rows[1], rows[0], *rows[2:]]) + "\n")
    assert Library.open(out).n_files == len(rows)  # a reader trusts what the checksums vouch for
    copy = shutil.copytree(out, tmp_path / "copy")
    store = IndexStore(copy)
    with store.writing():
        assert store.committed_snapshot() is None
    assert "files.jsonl does not list the indexed files" in capsys.readouterr().err


@dataclasses.dataclass(frozen=True)
class Take:
    path: str
    seconds: float
    rate: int | None = None


def test_records_built_from_their_dict_are_the_records_the_constructor_makes():
    build = jsonlines.record_builder(Take)
    for fields in ({"path": "a.wav", "seconds": 1.5, "rate": 8000}, {"rate": None, "seconds": 0.0, "path": "b"}):
        record, reference = build(dict(fields)), Take(**fields)
        assert record == reference and hash(record) == hash(reference) and repr(record) == repr(reference)
        assert dataclasses.asdict(record) == dataclasses.asdict(reference)
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.path = "changed"
    assert build({"path": "c", "seconds": 2.0}) == Take("c", 2.0)  # a default filled, as by the constructor
    for bad in ({"path": "d"}, {"path": "d", "seconds": 1.0, "rate": 1, "extra": 0}):
        with pytest.raises(TypeError):
            build(bad)


def test_record_builder_refuses_classes_whose_constructor_does_more():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        path: str

    @dataclasses.dataclass(frozen=True)
    class Checked:
        path: str

        def __post_init__(self):
            assert self.path

    for cls in (Slotted, Checked):
        with pytest.raises(TypeError, match="slots or __post_init__"):
            jsonlines.record_builder(cls)
