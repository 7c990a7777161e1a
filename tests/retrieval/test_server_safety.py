"""The server against a changing library and a hostile browser: live reloads, files swapped under it,
foreign Host headers, bad ranges, and the page's content security policy."""

from __future__ import annotations

import os
import re
import socket
import stat

import pytest
from fastapi.testclient import TestClient

from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import allowed_hosts_for, create_app
from audioret.utils.io import FILE_MODE
from retrieval.conftest import write_sound


def build(library, out, model, model_dir):
    return index_folder(library, out, model, describe_model(model_dir, model), show_progress=False)


@pytest.fixture
def served(library_copy, tmp_path, model, model_dir):
    out = tmp_path / "idx"
    build(library_copy, out, model, model_dir)
    searcher = Searcher.open(out)
    return TestClient(create_app(searcher), base_url="http://127.0.0.1:8000"), searcher, library_copy, out


def paths(http, query="a sound", k=20) -> list[str]:
    return [r["path"] for r in http.get("/search", params={"q": query, "k": k}).json()["results"]]


def test_a_committed_re_index_is_served_without_a_restart(served, model, model_dir):
    http, searcher, library, out = served
    old = http.get("/search", params={"q": "birds", "k": 20}).json()["results"]
    write_sound(library / "new" / "bell.wav", 1.0, 880.0)
    (library / "water" / "drip.wav").unlink()
    build(library, out, model, model_dir)
    found = paths(http)
    assert "new/bell.wav" in found and "water/drip.wav" not in found and len(found) == 8
    assert http.get("/health").json()["files"] == 8
    # A result of the older commit is refused, not answered with whatever its id means now.
    stale = http.get(old[0]["audio"])
    assert stale.status_code == 409 and "search again" in stale.json()["detail"]
    assert http.get(old[0]["similar"]).status_code == 409
    fresh = http.get("/search", params={"q": "bell", "k": 20}).json()["results"]
    bell = next(r for r in fresh if r["path"] == "new/bell.wav")
    assert http.get(bell["audio"]).content == (library / "new" / "bell.wav").read_bytes()
    assert http.get(bell["similar"]).json()["path"] == "new/bell.wav"


def test_a_commit_that_does_not_check_out_keeps_the_last_good_one(served, model, model_dir):
    http, searcher, library, out = served
    (out / "index.json").write_text("{}")  # a damaged marker: the served state stays
    assert len(paths(http)) == 8 and http.get("/health").json()["files"] == 8


def item_url(http, name: str) -> str:
    results = http.get("/search", params={"q": "x", "k": 20}).json()["results"]
    return next(r["audio"] for r in results if r["path"] == name)


@pytest.mark.parametrize("swap", ["symlink-out", "symlink-in", "rewritten", "fifo", "deleted"])
def test_a_file_swapped_after_indexing_is_not_served(served, tmp_path, swap):
    http, _, library, _ = served
    url = item_url(http, "doors/slam.wav")
    target = library / "doors" / "slam.wav"
    target.unlink()
    if swap == "symlink-out":
        secret = tmp_path / "secret.txt"
        secret.write_text("root:x:0:0")
        os.symlink(secret, target)
    elif swap == "symlink-in":
        os.symlink(library / "doors" / "creak.wav", target)  # inside, but not the indexed file
    elif swap == "rewritten":
        write_sound(target, 3.0, 150.0)
    elif swap == "fifo":
        os.mkfifo(target)
    response = http.get(url)
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert "re-index" in response.json()["detail"]


def test_a_library_file_linked_to_a_system_file_is_refused(served):
    http, _, library, _ = served
    url = item_url(http, "birds/chirp.wav")
    (library / "birds" / "chirp.wav").unlink()
    os.symlink("/etc/passwd", library / "birds" / "chirp.wav")
    response = http.get(url)
    assert response.status_code == 404 and b"root:" not in response.content


def test_only_the_bound_host_names_are_answered(served):
    http, searcher, _, _ = served
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example"):
        response = http.get("/search", params={"q": "rain"}, headers={"Host": host})
        assert response.status_code == 421 and "--allowed-host" in response.json()["detail"]
        assert http.get("/", headers={"Host": host}).status_code == 421
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1"):
        assert http.get("/health", headers={"Host": host}).status_code == 200
    extra = TestClient(create_app(searcher, allowed_hosts_for("127.0.0.1", ["sounds.lan"])),
                       base_url="http://sounds.lan:8000")
    assert extra.get("/health").status_code == 200
    assert socket.gethostname().lower() in allowed_hosts_for("0.0.0.0")
    assert "sounds.lan" not in allowed_hosts_for("0.0.0.0")


def test_the_page_carries_a_content_security_policy_that_admits_only_its_own_script(served):
    http, *_ = served
    page = http.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert len(re.findall(r"'sha256-[A-Za-z0-9+/=]+'", policy)) == 2  # the page's one script and one style
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("bad", ["bytes=5-2", "bytes=abc", "bytes=999999999-", "bytes=-0", "items=0-1", "bytes=-"])
def test_bad_ranges_are_json_errors(served, bad):
    http, *_ = served
    response = http.get(item_url(http, "birds/song.flac"), headers={"Range": bad})
    assert response.status_code == 416 and response.headers["content-type"] == "application/json"
    assert "range" in response.json()["detail"] and response.headers["content-range"].startswith("bytes */")


def test_good_ranges_are_exact(served):
    http, _, library, _ = served
    data = (library / "birds" / "song.flac").read_bytes()
    url = item_url(http, "birds/song.flac")
    for header, expected in [("bytes=0-99", data[:100]), ("bytes=-10", data[-10:]), ("bytes=100-", data[100:]),
                             (f"bytes=5-{len(data) + 50}", data[5:])]:
        response = http.get(url, headers={"Range": header})
        assert response.status_code == 206 and response.content == expected, header
        assert response.headers["content-range"].endswith(f"/{len(data)}")
    whole = http.get(url)
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"


def test_index_files_share_one_file_mode(served):
    *_, out = served
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert {"items.jsonl", "vectors.faiss", "ids.json", "index.json", "model.json"} <= set(modes)
    assert set(modes.values()) == {FILE_MODE}, modes
