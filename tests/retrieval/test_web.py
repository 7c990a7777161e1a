"""The search page in a real browser: Debian's headless chromium driven by Playwright.

Playwright's own browser download is never used (it needs the network); the test launches the
system chromium. CI installs it (.ci/run); elsewhere the test is skipped when chromium is absent,
unless AUDIORET_REQUIRE_BROWSER=1 makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn

from audioret.retrieval.indexer import index_folder
from audioret.retrieval.search import Searcher, describe_model
from audioret.retrieval.server import create_app
from retrieval.conftest import write_sound

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--autoplay-policy=no-user-gesture-required"]

if CHROMIUM is None and os.environ.get("AUDIORET_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server_url(sound_library, tmp_path_factory, model, model_dir):
    library = tmp_path_factory.mktemp("web") / "library"
    shutil.copytree(sound_library, library)
    write_sound(library / "<b>bold</b> & 'quotes'.wav", 1.0, 440.0)  # must show as text, not markup
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


@pytest.fixture
def page(server_url, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "AUDIORET_REQUIRE_BROWSER=1 but chromium is not installed"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        yield page
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def test_search_shows_results_and_plays_one(page, server_url):
    page.goto(server_url)
    page.fill("#query", "a door creaks")
    page.click("button[type=submit]")
    page.wait_for_selector("li.result")
    assert page.locator("li.result").count() == 9
    assert "9 results" in page.inner_text("#status")
    assert page.locator("text=<b>bold</b> & 'quotes'.wav").count() == 1  # escaped, shown literally
    assert page.locator("li.result b").count() == 0
    player = page.locator("li.result audio").first
    player.evaluate("audio => audio.play()")
    page.wait_for_function(
        "() => { const a = document.querySelector('li.result audio'); return a.currentTime > 0 || a.ended; }")
    assert player.evaluate("audio => audio.error") is None


def test_more_like_this_and_errors(page, server_url):
    page.goto(f"{server_url}/?q=engine")  # a shared link runs its query
    page.wait_for_selector("li.result")
    first = page.locator("li.result .name").first.inner_text()
    page.locator("li.result button.more").first.click()
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('8 results for sounds')")
    names = page.locator("li.result .name").all_inner_texts()
    assert first not in names and len(names) == 8
    page.fill("#query", "x" * 300)
    page.evaluate("document.getElementById('query').value = 'y'.repeat(400)")  # past the input's maxlength
    page.click("button[type=submit]")
    page.wait_for_selector("#status.error")
    assert "error 422" in page.inner_text("#status")
