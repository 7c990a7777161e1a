"""`audioret serve`: a JSON API and a web page over one index.

    GET /                      the search page (waveforms, one player, keyboard use, filters, pages)
    GET /search?q=&k=&offset=  text search: results offset..offset+k-1 of the ranking, `has_more`
    GET /similar?id=&k=&v=     files that sound like indexed segment `id` (offset too)
                               both take folder=, min_duration=, max_duration= (seconds) filters
    GET /peaks/{id}?v=         the waveform thumbnail of the file of segment `id`
    GET /folders               every folder holding indexed files, with how many
    GET /audio/{id}?v=         the audio file of indexed segment `id` (range requests, for seeking;
                               download=1: as an attachment under its own name)
    GET /health                index and model summary

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
import logging
import mimetypes
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from stat import S_ISREG
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from audioret.retrieval.fileinfo import FileInfo
from audioret.retrieval.library import Hit, Item, Library
from audioret.retrieval.search import Searcher
from audioret.utils.errors import AudioretError
from audioret.utils.io import escape_name

_log = logging.getLogger("audioret.serve")

MAX_QUERY_CHARS = 300
MAX_K = 100
MAX_OFFSET = 10_000  # pages reach this far down a ranking
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


class ResultFilter:
    """The folder= / min_duration= / max_duration= query parameters of /search and /similar."""

    def __init__(self, folder: Annotated[str, Query(max_length=4096)] = "",
                 min_duration: Annotated[float | None, Query(ge=0)] = None,
                 max_duration: Annotated[float | None, Query(ge=0)] = None):
        if min_duration is not None and max_duration is not None and min_duration > max_duration:
            raise HTTPException(400, f"min_duration {min_duration} is above max_duration {max_duration}")
        self.folder = folder.strip("/")
        self.min_duration, self.max_duration = min_duration, max_duration

    @property
    def active(self) -> bool:
        return bool(self.folder) or self.min_duration is not None or self.max_duration is not None

    def admits(self, info: FileInfo | None) -> bool:
        if info is None:
            return False
        if self.folder and not (info.folder == self.folder or info.folder.startswith(self.folder + "/")):
            return False
        if self.min_duration is not None and info.duration < self.min_duration:
            return False
        return self.max_duration is None or info.duration <= self.max_duration

    def check(self, library: Library) -> None:
        if self.folder and self.folder not in dict(library.files.folders()):
            raise HTTPException(400, f"no indexed folder {escape_name(self.folder)!r}; GET /folders lists them")

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "min_duration": self.min_duration, "max_duration": self.max_duration}


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

    def result_page(library: Library, offset: int, k: int, filters: ResultFilter, skip: str | None,
                    ranked: Any) -> dict[str, Any]:
        """Results offset..offset+k-1 of a ranking; `ranked(n, admit)` gives its first n hits."""
        filters.check(library)
        admit = (lambda path: filters.admits(library.files.info(path))) if filters.active else None
        hits = ranked(offset + k + 1, admit)
        admitted = sum(filters.admits(row) for row in library.files.rows) if filters.active else len(library.files)
        return {"offset": offset, "k": k, "has_more": len(hits) > offset + k,
                "files": admitted - (skip is not None and (admit is None or admit(skip))),
                "filters": filters.to_json(),
                "results": [result_json(library, hit) for hit in hits[offset:offset + k]]}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index_page() -> str:
        return page

    @app.get("/health")
    def health() -> dict[str, Any]:
        library = searcher.current()
        return {"status": "ok", "files": library.n_files, "segments": len(library.items),
                "backend": library.index.backend, "model": library.model_info["fingerprint"],
                "model_source": library.model_info.get("source"), "waveforms": library.has_waveforms}

    @app.get("/folders")
    def folders() -> dict[str, Any]:
        library = searcher.current()
        return {"files": library.n_files,
                "folders": [{"path": escape_name(path), "files": n} for path, n in library.files.folders()]}

    # Plain `def` endpoints run in FastAPI's thread pool; Searcher serialises the model calls. Each
    # request takes one snapshot of the index and answers from it alone.
    @app.get("/search")
    def search(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
               filters: Annotated[ResultFilter, Depends()] = None) -> dict[str, Any]:
        if not q.strip():
            raise HTTPException(400, "the query is empty; type at least one word")
        library = searcher.current()

        def ranked(n: int, admit: Any) -> list[Hit]:
            try:
                return searcher.text([q], n, library, admit)[0]
            except AudioretError as err:
                raise HTTPException(400, str(err)) from None

        return {"query": q, **result_page(library, offset, k, filters, None, ranked)}

    @app.get("/similar")
    def similar(id: Annotated[int, Query(ge=0)], k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,  # noqa: A002
                v: str | None = None, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                filters: Annotated[ResultFilter, Depends()] = None) -> dict[str, Any]:
        library = searcher.current()
        item = item_of(library, id, v)
        page = result_page(library, offset, k, filters, item.path,
                           lambda n, admit: searcher.similar(id, n, library, admit))
        return {"id": id, "path": escape_name(item.path), **page}

    @app.get("/peaks/{item_id}")
    def peaks(item_id: int, v: str | None = None) -> dict[str, Any]:
        library = searcher.current()
        item = item_of(library, item_id, v)
        values = library.files.peaks_of(item.path)
        if values is None:
            raise HTTPException(404, f"no waveform is stored for {escape_name(item.path)}; run `audioret index "
                                     f"{escape_name(str(library.root))} --out {escape_name(str(library.folder))}` "
                                     "to add waveforms")
        return {"id": item_id, "path": escape_name(item.path), "duration": library.files.info(item.path).duration,
                "peaks": peaks_json(values)}

    def item_of(library: Library, item_id: int, version: str | None) -> Item:
        if version is not None and version != library.commit:
            raise HTTPException(409, "the index was updated since this result was found; search again")
        if not 0 <= item_id < len(library.items):
            raise HTTPException(404, f"no indexed segment with id {item_id}")
        return library.items[item_id]

    @app.get("/audio/{item_id}")
    def audio(item_id: int, request: Request, v: str | None = None, download: bool = False) -> StreamingResponse:
        library = searcher.current()
        item = item_of(library, item_id, v)
        fd, size = open_indexed_file(library, item)
        try:
            first, last = byte_range(request.headers.get("range"), size)
        except HTTPException:
            os.close(fd)
            raise
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1)}
        if download:
            headers["Content-Disposition"] = attachment_header(Path(item.path).name)
        partial = request.headers.get("range") is not None
        if partial:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return StreamingResponse(read_span(fd, first, last + 1), 206 if partial else 200, headers,
                                 media_type=media_type(item.path))

    return app


def result_json(library: Library, hit: Hit) -> dict[str, Any]:
    """One result as the API gives it: the segment, its file's facts, waveform and links."""
    path, item_id = hit.item.path, hit.item.id
    info = library.files.info(path)
    version = f"v={library.commit}"
    values = library.files.peaks_of(path)
    return {**hit.to_json(absolute=False), "path": escape_name(path), "name": escape_name(path.rpartition("/")[2]),
            "folder": escape_name(info.folder), "full_path": escape_name(str(library.root / path)),
            "duration": info.duration, "sample_rate": info.sample_rate, "channels": info.channels,
            "format": info.format, "media_type": media_type(path),
            "audio": f"/audio/{item_id}?{version}", "download": f"/audio/{item_id}?{version}&download=1",
            "similar": f"/similar?id={item_id}&{version}", "peaks": None if values is None else peaks_json(values)}


def peaks_json(values: Any) -> list[list[float]]:
    return [[round(float(low), 3), round(float(high), 3)] for low, high in values]


def media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return AUDIO_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"


def attachment_header(name: str) -> str:
    """Content-Disposition for saving under the file's own name (RFC 6266: an ASCII fallback and the
    UTF-8 name; a name that is not UTF-8 is saved under its escaped form)."""
    name = escape_name(name)
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


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
    # Opening left the item and file records to first use; read them while the server starts answering.
    threading.Thread(target=_warm, args=(searcher.library,), name="audioret-warm", daemon=True).start()
    uvicorn.run(create_app(searcher, allowed_hosts_for(host, allowed_hosts)), host=host, port=port,
                log_level="info")


def _warm(library: Library) -> None:
    try:
        library.warm()
    except AudioretError as err:  # a request that reads the bad record reports it too
        _log.warning("%s", err)
