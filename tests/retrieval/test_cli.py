"""`audioret index` and `audioret search` through the real entry point."""

from __future__ import annotations

import json

from audioret.cli import main


def test_index_then_search_text_queries_and_example(sound_library, tmp_path, capsys, model_dir):
    out = tmp_path / "idx"
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "8 files, 10 segments (8 embedded now, 0 unchanged, 0 removed)" in printed
    assert "search structure built" in printed

    assert main(["search", "--index", str(out), "rain falls", "-k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["query"] == "rain falls" and len(answer["results"]) == 3
    assert set(answer["results"][0]) == {"id", "path", "score", "start", "end"}

    queries = tmp_path / "queries.txt"
    queries.write_text("a dog barks\nbirds sing\n")
    assert main(["search", "--index", str(out), "--queries", str(queries), "-k", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == ["a dog barks", "birds sing"]
    assert all(len(line["results"]) == 2 for line in lines)

    assert main(["search", "--index", str(out), "--like", str(sound_library / "doors" / "slam.wav")]) == 0
    table = capsys.readouterr().out
    assert "sounds like" in table and "doors/slam.wav" not in table.split("files")[-1]


def test_search_errors_are_messages_not_tracebacks(sound_library, tmp_path, capsys, model_dir):
    out = tmp_path / "idx"
    assert main(["index", str(sound_library), "--out", str(out), "--model", str(model_dir)]) == 0
    capsys.readouterr()
    blank = tmp_path / "blank.txt"
    blank.write_text("rain\n\nwind\n")
    assert main(["search", "--index", str(out), "--queries", str(blank)]) == 2
    assert f"{blank}:2" in capsys.readouterr().err
    assert main(["search", "--index", str(out), "   "]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["search", "--index", str(tmp_path / "nowhere"), "rain"]) == 2
    assert "audioret index" in capsys.readouterr().err
    assert main(["search", "--index", str(out)]) == 2
    assert main(["index", "--out", str(out)]) == 2
    assert main(["index", str(sound_library), "--out", str(tmp_path / "s"), "--model", str(model_dir),
                 "--shard", "5/4"]) == 2
