"""The search page in a real browser: Debian's headless chromium driven by Playwright.

Playwright's own browser download is never used (it needs the network); the test launches the
system chromium, and the accessibility check injects axe-core from tests/web/node_modules
(`make web-test-deps`). CI installs both (.ci/run, `make test`); elsewhere a missing chromium or axe-core
skips, unless AUDIORET_REQUIRE_BROWSER=1 makes that a failure.

Screenshots of the result list (desktop and phone widths) are written to AUDIORET_WEB_ARTIFACTS, by default
a pytest temporary folder; the test prints where.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np
import pytest
import soundfile as sf
import uvicorn

from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import create_app
from retrieval.conftest import RATE, write_sound

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--autoplay-policy=no-user-gesture-required"]
AXE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"
REQUIRED = os.environ.get("AUDIORET_REQUIRE_BROWSER") == "1"
FILES = 24  # the library below: more than one page of 20

if CHROMIUM is None and not REQUIRED:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


def write_long_recording(path: Path, seconds: float = 40.0) -> None:
    """Four unlike 10 s stretches (hum, whistle, noise bursts, sweep), so that its segments embed apart."""
    t = np.arange(int(10 * RATE)) / RATE
    rng = np.random.default_rng(7)
    parts = [0.3 * np.sin(2 * np.pi * 60 * t), 0.3 * np.sin(2 * np.pi * 2500 * t),
             0.5 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0.6),
             0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)]
    wave = np.concatenate(parts)[: int(seconds * RATE)].astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, RATE)


@pytest.fixture(scope="module")
def server_url(sound_library, tmp_path_factory, model, model_dir):
    library = tmp_path_factory.mktemp("web") / "library"
    shutil.copytree(sound_library, library)
    write_sound(library / "<b>bold</b> & 'quotes'.wav", 1.0, 440.0)  # a folder and a name: text, not markup
    write_long_recording(library / "field" / "recording.wav")
    for i in range(FILES - 10):
        write_sound(library / "clips" / f"clip{i:02d}.wav", 0.3 + 0.05 * i, 300.0 + 150 * i)
    out = library.parent / "idx"
    index_folder(library, out, model, describe_model(model_dir, model), show_progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Searcher.open(out)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "AUDIORET_REQUIRE_BROWSER=1 but chromium is not installed"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    # Anything the page's Content-Security-Policy refused (an inline style attribute, a script) is a bug.
    page.add_init_script("window.refused = []; document.addEventListener('securitypolicyviolation',"
                         " (e) => window.refused.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));")
    yield page
    refused = page.evaluate("window.refused") if not page.is_closed() else []
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not refused, f"the page's Content-Security-Policy refused: {refused}"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("AUDIORET_WEB_ARTIFACTS") or tmp_path_factory.mktemp("web-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nsearch page screenshots: {folder}")
    return folder


def api(server_url: str, path: str) -> dict:
    with urllib.request.urlopen(server_url + path, timeout=10) as response:
        return json.loads(response.read())


def search(page, server_url: str, query: str, filters: str = "") -> None:
    page.goto(f"{server_url}/?q={quote(query)}{filters}")
    page.wait_for_selector("li.result")


def names(page) -> list[str]:
    return page.locator("li.result button.play").all_inner_texts()


def focused_row(page) -> int:
    return page.evaluate("() => { const r = document.activeElement.closest('li.result');"
                         " return r ? Number(r.dataset.index) : -1; }")


def player_state(page) -> dict:
    return page.evaluate("() => { const a = document.getElementById('player');"
                         " return {src: a.currentSrc || a.src, paused: a.paused, time: a.currentTime}; }")


def wait_playing(page) -> None:
    page.wait_for_function("() => { const a = document.getElementById('player');"
                           " return !a.paused && a.currentTime > 0; }")


def test_results_show_facts_waveforms_and_escaped_names(page, server_url):
    search(page, server_url, "a door creaks")
    assert page.locator("li.result").count() == 20
    assert f"results 1–20 of {FILES}" in page.inner_text("#status")
    rows = page.locator("li.result")
    for i in range(rows.count()):
        facts = rows.nth(i).locator(".facts").inner_text()
        assert " s · " in facts and "kHz" in facts and ("mono" in facts or "stereo" in facts), facts
        assert rows.nth(i).locator("svg.wave path").count() >= 1
    search(page, server_url, "a door creaks", "&folder=doors")  # files of one segment: no band
    assert sorted(names(page)) == ["creak.wav", "slam.wav"]
    assert page.locator("li.result svg.wave path").count() >= 2 and page.locator("svg.wave rect.band").count() == 0
    search(page, server_url, "a door creaks", "&folder=field")  # the 40 s file: its matched segment on a band
    long_row = page.locator("li.result")
    assert long_row.count() == 1 and long_row.locator("button.play").inner_text() == "recording.wav"
    assert long_row.locator("svg.wave rect.band").count() == 1
    assert "match 0:" in long_row.locator(".facts").inner_text()
    search(page, server_url, "a door creaks", "&folder=water")
    stereo = page.locator("li.result", has=page.locator("button.play", has_text="stream.wav"))
    assert stereo.locator(".facts").inner_text().startswith("water · 4.00 s · 16 kHz · stereo · WAV")
    # The file "<b>bold</b> & 'quotes'.wav" is "b> & 'quotes'.wav" in the folder "<b>bold<": both as text.
    search(page, server_url, "a door creaks", f"&folder={quote('<b>bold<')}")
    bold = page.locator("li.result", has=page.locator("button.play", has_text="b> & 'quotes'.wav"))
    assert bold.locator("button.folder").inner_text() == "<b>bold<"
    assert page.locator("li.result b").count() == 0
    assert "<b>bold< (1)" in page.locator("#folder option").all_inner_texts()


def test_keyboard_only(page, server_url):
    page.goto(server_url)
    page.keyboard.type("engine idling")  # the search box has the focus on load
    page.keyboard.press("Enter")
    page.wait_for_selector("li.result")
    for _ in range(12):  # Tab from the search box through the filters to the first result
        page.keyboard.press("Tab")
        if focused_row(page) >= 0:
            break
    assert focused_row(page) == 0
    assert page.evaluate("document.activeElement.className") == "play"
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused_row(page) == 2
    page.keyboard.press("Enter")
    wait_playing(page)
    second = names(page)[2]
    row = page.locator("li.result").nth(2)
    assert "playing" in row.get_attribute("class") and row.get_attribute("aria-current") == "true"
    assert row.locator(".badge").is_visible()
    assert page.inner_text("#now-playing").startswith("Playing: ")
    assert second in page.inner_text("#now-playing")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('player').paused")
    assert "playing" not in row.get_attribute("class")
    page.keyboard.press(" ")
    wait_playing(page)
    page.keyboard.press("m")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('sounds like')")
    assert second not in names(page)
    assert "like=" in page.url
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "query"


def segment_hit(server_url: str) -> tuple[str, dict]:
    """A query whose first page has a hit that starts past 0 s (a later segment of a long file ranked
    best): the random model decides which, so a few queries are tried, in a fixed order."""
    for query in ["a low hum", "a whistle", "bursts of noise", "a rising tone", "engine idling", "wind",
                  "static", "a field recording", "machine", "birds"]:
        for hit in api(server_url, f"/search?q={quote(query)}&k=20")["results"]:
            if hit["start"] > 0:
                return query, hit
    raise AssertionError("no query put a later segment of a long file on the first page")


def test_playback_starts_at_the_matched_segment(page, server_url):
    query, hit = segment_hit(server_url)
    search(page, server_url, query)
    row = page.locator(f"li.result[data-id='{hit['id']}']")
    row.locator("button.play").focus()
    page.keyboard.press("Enter")
    wait_playing(page)
    state = player_state(page)
    assert f"/audio/{hit['id']}?" in state["src"]
    assert hit["start"] - 0.05 <= state["time"] < hit["start"] + 3.0, (state, hit)
    # A click on another result plays that one, from its own segment, in the same player.
    other = page.locator("li.result").nth(0 if row.get_attribute("data-index") != "0" else 1)
    other_start = api(server_url, f"/search?q={quote(query)}&k=20")["results"][
        int(other.get_attribute("data-index"))]["start"]
    other.locator(".facts").click()
    page.wait_for_function(f"() => !document.getElementById('player').src.includes('/audio/{hit['id']}?')")
    wait_playing(page)
    assert page.locator("audio").count() == 1
    assert other_start - 0.05 <= player_state(page)["time"] < other_start + 3.0
    assert "playing" in other.get_attribute("class") and "playing" not in row.get_attribute("class")


def test_drag_out_download_and_copy_path(page, server_url):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    search(page, server_url, "a door creaks")
    first = api(server_url, "/search?q=a%20door%20creaks&k=20")["results"][0]
    data = page.evaluate("""() => {
        const transfer = new DataTransfer();
        document.querySelector('li.result').dispatchEvent(
            new DragEvent('dragstart', {dataTransfer: transfer, bubbles: true}));
        return {download: transfer.getData('DownloadURL'), uri: transfer.getData('text/uri-list'),
                text: transfer.getData('text/plain')};
    }""")
    assert page.locator("li.result").first.get_attribute("draggable") == "true"
    url = f"{server_url}{first['download']}"
    assert data["download"] == f"{first['media_type']}:{first['name'].replace(':', '_')}:{url}"
    assert data["uri"] == url and data["text"] == first["full_path"]
    link = page.locator("li.result a.download").first
    assert link.get_attribute("href") == first["download"] and link.get_attribute("download") == first["name"]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Disposition"].startswith("attachment;")
    page.locator("li.result button.copy").first.click()
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('copied ')")
    assert page.evaluate("navigator.clipboard.readText()") == first["full_path"]


def test_filters_pages_url_and_back(page, server_url):
    search(page, server_url, "a bird sings")
    assert len(names(page)) == 20 and page.is_visible("#pager")
    page.click("#next")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('results 21–24')")
    assert len(names(page)) == FILES - 20 and "offset=20" in page.url
    assert focused_row(page) == 0
    assert page.is_disabled("#next") and not page.is_disabled("#prev")
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 20")
    assert "offset" not in page.url
    page.select_option("#folder", "birds")
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 2")
    assert sorted(names(page)) == ["chirp.wav", "song.flac"] and "folder=birds" in page.url
    assert page.is_hidden("#pager")
    page.fill("#min-duration", "2")
    page.press("#min-duration", "Enter")
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 1")
    assert names(page) == ["song.flac"] and "min=2" in page.url
    shared = page.url  # a shared link restores query and filters
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 2")
    assert page.input_value("#min-duration") == "" and page.input_value("#folder") == "birds"
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 20")
    assert page.input_value("#folder") == "" and page.input_value("#query") == "a bird sings"
    page.goto(shared)
    page.wait_for_selector("li.result")
    assert names(page) == ["song.flac"] and page.input_value("#folder") == "birds"
    assert page.input_value("#min-duration") == "2" and page.input_value("#query") == "a bird sings"
    page.fill("#max-duration", "2.5")  # min 2, max 2.5: nothing is that long in birds/
    page.press("#max-duration", "Tab")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('no results')")
    # Filters carry into "more like this"; the durations shown all lie in the range.
    page.click("#clear-filters")
    page.wait_for_function("() => document.querySelectorAll('li.result').length === 20")
    page.fill("#min-duration", "1")
    page.fill("#max-duration", "3")
    page.press("#max-duration", "Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('max') === '3'"
                           " && document.getElementById('status').textContent.includes('1–3 s')")
    page.locator("li.result button.more").first.click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('sounds like')")
    shown = parse_qs(urlsplit(page.url).query)
    body = api(server_url, f"/similar?id={shown['like'][0]}&v={shown['v'][0]}&min_duration=1&max_duration=3&k=20")
    assert names(page) == [hit["name"] for hit in body["results"]]
    assert all(1 <= hit["duration"] <= 3 for hit in body["results"]) and body["results"]


def test_accessibility_and_screenshots(page, server_url, artifacts):
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE}: run `make web-test-deps`"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    search(page, server_url, "a door creaks")
    page.locator("li.result button.play").nth(1).click()
    wait_playing(page)
    page.locator("li.result button.play").nth(1).focus()
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the driver, so the page's CSP allows it
    for width, height, name in [(1280, 800, "desktop"), (390, 844, "phone")]:
        page.set_viewport_size({"width": width, "height": height})
        found = page.evaluate("async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact,"
                              " help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        assert found == [], f"accessibility violations at {name} width: {json.dumps(found, indent=1)}"
        path = artifacts / f"search-page-{name}.png"
        page.screenshot(path=str(path))  # the viewport: the player bar stays where a person sees it
        assert path.stat().st_size > 10_000
    # axe measured the text of the playing row on its highlight; it was highlighted all along
    assert page.evaluate("getComputedStyle(document.querySelector('li.result.playing')).backgroundColor") \
        == "rgb(255, 244, 204)"


def test_errors_are_shown(page, server_url):
    search(page, server_url, "engine")
    page.evaluate("document.getElementById('query').value = 'y'.repeat(400)")  # past the input's maxlength
    page.click("button[type=submit]")
    page.wait_for_selector("#status.error")
    assert "error 422" in page.inner_text("#status")
    page.fill("#query", "")
    page.click("button[type=submit]")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('type a few words')")
