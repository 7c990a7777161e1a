"""`audioret serve`: a JSON API and a web page over one index.

    GET /                   the search page (search box, results with inline players, "more like this")
    GET /search?q=&k=       text search
    GET /similar?id=&k=     files that sound like indexed segment `id`
    GET /audio/{id}         the audio file of indexed segment `id` (range requests, for seeking)
    GET /health             index and model summary

Only files listed in the index are ever read: a request names an integer id, never a path. Every
error is a JSON body {"detail": ...} with a 4xx status.
"""

from __future__ import annotations

import mimetypes
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse

from audioret.retrieval.library import Hit
from audioret.retrieval.search import Searcher

MAX_QUERY_CHARS = 300
MAX_K = 100
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
               ".opus": "audio/ogg", ".mp3": "audio/mpeg", ".aif": "audio/aiff", ".aiff": "audio/aiff"}


def create_app(searcher: Searcher) -> FastAPI:
    library = searcher.library
    app = FastAPI(title="audioret", summary="Search a sound library by text", version="1")
    page = resources.files("audioret.retrieval").joinpath("static/index.html").read_text(encoding="utf-8")

    def results(hits: list[Hit]) -> list[dict[str, Any]]:
        return [{**hit.to_json(absolute=False), "audio": f"/audio/{hit.item.id}"} for hit in hits]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index_page() -> str:
        return page

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "files": library.n_files, "segments": len(library.items),
                "backend": library.index.backend, "model": library.model_info["fingerprint"],
                "model_source": library.model_info.get("source")}

    # Plain `def` endpoints run in FastAPI's thread pool; Searcher serialises the model calls.
    @app.get("/search")
    def search(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> dict[str, Any]:
        if not q.strip():
            raise HTTPException(400, "the query is empty; type at least one word")
        return {"query": q, "results": results(searcher.text([q], k)[0])}

    @app.get("/similar")
    def similar(id: Annotated[int, Query(ge=0)], k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> dict[str, Any]:  # noqa: A002
        try:
            hits = searcher.similar(id, k)
        except KeyError:
            raise HTTPException(404, f"no indexed segment with id {id}") from None
        return {"id": id, "path": library.items[id].path, "results": results(hits)}

    @app.get("/audio/{item_id}")
    def audio(item_id: int) -> FileResponse:
        if not 0 <= item_id < len(library.items):
            raise HTTPException(404, f"no indexed segment with id {item_id}")
        path = library.root / library.items[item_id].path  # from the index, never from the request
        if not path.is_file():
            raise HTTPException(404, f"{library.items[item_id].path} is no longer in the library; re-index")
        media = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return FileResponse(path, media_type=media or "application/octet-stream")

    return app


def serve(searcher: Searcher, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(searcher), host=host, port=port, log_level="info")
