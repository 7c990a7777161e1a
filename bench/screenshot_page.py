"""The README's picture of the search page: the demo library, searched and playing, in headless Chromium.

    make screenshot                                  # = python bench/screenshot_page.py
    python bench/screenshot_page.py --query "rain falls" --out /tmp/page.png --width 390

Needs `make demo-sources` (the demo library's two Debian packages) and Debian's chromium. The demo
library is copied and indexed with the default model under --workdir the first time (as `audioret demo`
does; later runs reuse that index), then served on a free loopback port. The page searches --query,
plays the second result from its matched segment (so that the playing row shows) and is saved as PNG.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
MAX_BYTES = 300_000


def demo_index(workdir: Path, sources: Path) -> Path:
    """The demo library indexed with the default model (incremental: a second run embeds nothing)."""
    from audioret.models.loading import open_model
    from audioret.retrieval.demo import build_demo_library, demo_index_dir
    from audioret.retrieval.indexer import index_folder

    library, _ = build_demo_library(workdir / "library", sources)
    opened = open_model(None)
    index = demo_index_dir(workdir, opened.info)
    index_folder(library, index, opened.model, opened.info, show_progress=False)
    return index


def start_server(index: Path) -> tuple[str, object]:
    import uvicorn

    from audioret.retrieval.search import Searcher
    from audioret.retrieval.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Searcher.open(index)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start within 60 s")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def screenshot(url: str, query: str, out: Path, width: int, height: int) -> None:
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{url}/?q={quote(query)}")
        page.wait_for_selector("li.result")
        page.keyboard.press("ArrowDown")  # from the search box to the first result
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_selector("li.result.playing")
        page.wait_for_timeout(600)  # the play head moves off the segment's first pixel
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("audioret-demo"))
    parser.add_argument("--sources", type=Path, default=Path("data/demo-sources"))
    parser.add_argument("--query", default="thunder rumbles")
    parser.add_argument("--out", type=Path, default=Path("docs/search-page.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args(argv)
    url, server = start_server(demo_index(args.workdir, args.sources))
    try:
        screenshot(url, args.query, args.out, args.width, args.height)
    finally:
        server.should_exit = True
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1000:.0f} kB)")
    if size > MAX_BYTES:
        sys.exit(f"{args.out} is over {MAX_BYTES / 1000:.0f} kB; use a smaller --height")


if __name__ == "__main__":
    main()
