"""`audioret serve`: a JSON API and a web page over one index.

    GET /                   the search page (search box, results with inline players, "more like this")
    GET /search?q=&k=       text search
    GET /similar?id=&k=&v=  files that sound like indexed segment `id`
    GET /audio/{id}?v=      the audio file of indexed segment `id` (range requests, for seeking)
    GET /health             index and model summary

Only files listed in the index are ever read: a request names an integer id, never a path, and a file
is served only while it is still a regular file inside the library folder with the size and mtime it
was indexed with. `v` is the commit an id came from: after a re-index (picked up without a restart,
see `Searcher.current`) an id of an older commit is refused rather than answered with another file.
Requests must name one of the host names the server was bound for (against DNS rebinding). Every
error is a JSON body {"detail": ...} with a 4xx status.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import socket
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from stat import S_ISREG
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from audioret.retrieval.library import Hit, Item, Library
from audioret.retrieval.search import Searcher
from audioret.utils.errors import AudioretError
from audioret.utils.io import escape_name

MAX_QUERY_CHARS = 300
MAX_K = 100
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
               ".opus": "audio/ogg", ".mp3": "audio/mpeg", ".aif": "audio/aiff", ".aiff": "audio/aiff"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
STREAM_CHUNK = 1 << 16


def allowed_hosts_for(bind: str, extra: Iterable[str] = ()) -> list[str]:
    """The Host names a server bound to `bind` answers: the loopback names, the bound name, and for a
    wildcard bind this machine's names; `extra` adds more (e.g. a LAN address or DNS name), "*" any."""
    hosts = [*LOOPBACK_HOSTS, bind]
    if bind in ("0.0.0.0", "::", ""):
        hosts += [socket.gethostname(), socket.getfqdn()]
    return sorted({h.strip().lower().strip("[]") for h in [*hosts, *extra] if h.strip()})


def create_app(searcher: Searcher, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> FastAPI:
    """The API over `searcher`; requests whose Host header names none of `allowed_hosts` are refused."""
    app = FastAPI(title="audioret", summary="Search a sound library by text", version="1")
    page = resources.files("audioret.retrieval").joinpath("static/index.html").read_text(encoding="utf-8")
    hosts = {h.lower().strip("[]") for h in allowed_hosts}
    page_policy = content_security_policy(page)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = host_name(request.headers.get("host", ""))
        if "*" not in hosts and host not in hosts:
            return JSONResponse({"detail": f"this server does not answer for host {escape_name(host)!r}; "
                                           "start it with --allowed-host NAME to add a name"}, 421)
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path == "/":
            response.headers["Content-Security-Policy"] = page_policy
        return response

    def results(library: Library, hits: list[Hit]) -> list[dict[str, Any]]:
        version = f"v={library.commit}"
        return [{**hit.to_json(absolute=False), "path": escape_name(hit.item.path),
                 "audio": f"/audio/{hit.item.id}?{version}", "similar": f"/similar?id={hit.item.id}&{version}"}
                for hit in hits]

    def item_of(library: Library, item_id: int, version: str | None) -> Item:
        if version is not None and version != library.commit:
            raise HTTPException(409, "the index was updated since this result was found; search again")
        if not 0 <= item_id < len(library.items):
            raise HTTPException(404, f"no indexed segment with id {item_id}")
        return library.items[item_id]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index_page() -> str:
        return page

    @app.get("/health")
    def health() -> dict[str, Any]:
        library = searcher.current()
        return {"status": "ok", "files": library.n_files, "segments": len(library.items),
                "backend": library.index.backend, "model": library.model_info["fingerprint"],
                "model_source": library.model_info.get("source")}

    # Plain `def` endpoints run in FastAPI's thread pool; Searcher serialises the model calls. Each
    # request takes one snapshot of the index and answers from it alone.
    @app.get("/search")
    def search(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> dict[str, Any]:
        if not q.strip():
            raise HTTPException(400, "the query is empty; type at least one word")
        library = searcher.current()
        try:
            hits = searcher.text([q], k, library)[0]
        except AudioretError as err:
            raise HTTPException(400, str(err)) from None
        return {"query": q, "results": results(library, hits)}

    @app.get("/similar")
    def similar(id: Annotated[int, Query(ge=0)], k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,  # noqa: A002
                v: str | None = None) -> dict[str, Any]:
        library = searcher.current()
        item = item_of(library, id, v)
        hits = searcher.similar(id, k, library)
        return {"id": id, "path": escape_name(item.path), "results": results(library, hits)}

    @app.get("/audio/{item_id}")
    def audio(item_id: int, request: Request, v: str | None = None) -> StreamingResponse:
        library = searcher.current()
        item = item_of(library, item_id, v)
        fd, size = open_indexed_file(library, item)
        try:
            first, last = byte_range(request.headers.get("range"), size)
        except HTTPException:
            os.close(fd)
            raise
        path = Path(item.path)
        media = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1)}
        partial = request.headers.get("range") is not None
        if partial:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return StreamingResponse(read_span(fd, first, last + 1), 206 if partial else 200, headers,
                                 media_type=media or "application/octet-stream")

    return app


def host_name(header: str) -> str:
    """'Example.org:8000' -> 'example.org', '[::1]:80' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def content_security_policy(page: str) -> str:
    """Only the page's own inline script and style (by hash) run; it talks to this server alone."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                        for b in blocks)

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
            "connect-src 'self'; media-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def open_indexed_file(library: Library, item: Item) -> tuple[int, int]:
    """An open descriptor of the indexed file and its size, if it is still the file that was indexed."""
    gone = HTTPException(404, f"{escape_name(item.path)} is no longer the file that was indexed; re-index")
    real = os.path.realpath(library.root / item.path)
    if not Path(real).is_relative_to(os.path.realpath(library.root)):
        raise gone  # now a symlink (or inside a folder link) leading out of the library
    try:
        # O_NOFOLLOW: a symlink swapped in after realpath; O_NONBLOCK: a FIFO swapped in does not hang.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise gone from None
    stat = os.fstat(fd)
    if not S_ISREG(stat.st_mode) or (stat.st_size, stat.st_mtime_ns) != (item.size, item.mtime_ns):
        os.close(fd)
        raise gone
    return fd, stat.st_size


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """(first, last) byte of a single `bytes=` range (RFC 9110), the whole file without one."""
    if header is None:
        return 0, size - 1
    unsatisfiable = HTTPException(416, f"range {header!r} is not a byte range of this file (size {size}); "
                                       "ask for bytes=FIRST-LAST with FIRST <= LAST < size",
                                  headers={"Content-Range": f"bytes */{size}"})
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or not (match[1] or match[2]):
        raise unsatisfiable
    if not match[1]:  # the last N bytes
        first, last = max(0, size - int(match[2])), size - 1
        if int(match[2]) == 0:
            raise unsatisfiable
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
        if match[2] and int(match[2]) < first:
            raise unsatisfiable
    if first >= size or first > last:
        raise unsatisfiable
    return first, last


def read_span(fd: int, start: int, stop: int) -> Iterator[bytes]:
    """Bytes [start, stop) of an open file, in chunks; closes it when done or abandoned."""
    try:
        while start < stop:
            chunk = os.pread(fd, min(STREAM_CHUNK, stop - start), start)
            if not chunk:
                break
            start += len(chunk)
            yield chunk
    finally:
        os.close(fd)


def serve(searcher: Searcher, host: str = "127.0.0.1", port: int = 8000,
          allowed_hosts: Iterable[str] = ()) -> None:
    import uvicorn

    try:  # uvicorn reports a port in use by logging and exiting; say it as a message instead
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        raise AudioretError(f"cannot listen on {host}:{port} ({err.strerror or err}); choose another --port "
                            "or --host") from None
    uvicorn.run(create_app(searcher, allowed_hosts_for(host, allowed_hosts)), host=host, port=port,
                log_level="info")
