"""Query paraphrases for inference-time augmentation (paper Sec. 4.3).

Sources: a ClothoV2-GPT `variations.json` ([{"caption", "variations": [...]}]), a plain JSON mapping
{query: [paraphrases]}, or any OpenAI-compatible chat endpoint. Generated paraphrases are written to
a cache file in the plain format, so an evaluation repeats offline.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from audioret.utils.errors import AudioretError, DataFormatError, MissingFileError
from audioret.utils.io import atomic_write
from audioret.utils.text import normalize_caption

#: The instruction sent to a chat endpoint; as in the paper, the ClothoV2-GPT request without keywords.
PROMPT = ("Here is a caption that describes an audio recording: \"{caption}\"\n"
          "Write {n} different paraphrases of it. Keep every sound event and its order, use other words and "
          "sentence structures, do not add details that are not in the caption. "
          "Answer with one paraphrase per line and nothing else.")


class Paraphrases:
    """Paraphrases by query, looked up by the normalised query text."""

    def __init__(self, table: dict[str, list[str]] | None = None):
        self.table = {normalize_caption(k): list(v) for k, v in (table or {}).items()}

    def __len__(self) -> int:
        return len(self.table)

    def get(self, query: str, n: int) -> list[str]:
        return self.table.get(normalize_caption(query), [])[:n]

    @classmethod
    def load(cls, path: str | Path) -> Paraphrases:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(path, "paraphrase file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataFormatError(path, f"not valid JSON: {err}") from None
        if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            return cls(data)
        if isinstance(data, list):  # ClothoV2-GPT variations.json
            table: dict[str, list[str]] = {}
            for position, entry in enumerate(data):
                if not isinstance(entry, dict) or not isinstance(entry.get("caption"), str) \
                        or not isinstance(entry.get("variations"), list):
                    raise DataFormatError(path, f"entry {position} needs 'caption' and a 'variations' list")
                table.setdefault(entry["caption"], []).extend(entry["variations"])
            return cls(table)
        raise DataFormatError(path, "expected {query: [paraphrases]} or a ClothoV2-GPT variations list")

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as handle:
            json.dump(self.table, handle, ensure_ascii=False, indent=1)


def request_paraphrases(url: str, model: str, caption: str, n: int, api_key: str | None = None,
                        timeout: float = 60.0) -> list[str]:
    """Ask an OpenAI-compatible `/chat/completions` endpoint for `n` paraphrases of `caption`."""
    endpoint = url.rstrip("/") + ("" if url.rstrip("/").endswith("/chat/completions") else "/chat/completions")
    body = json.dumps({"model": model, "temperature": 0.7,
                       "messages": [{"role": "user", "content": PROMPT.format(caption=caption, n=n)}]}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, body, headers), timeout=timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
        text = answer["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise AudioretError(f"paraphrase endpoint {endpoint} unreachable: {err}") from None
    except (KeyError, IndexError, TypeError, json.JSONDecodeError):
        raise AudioretError(f"paraphrase endpoint {endpoint} answered without choices[0].message.content") from None
    lines = [line.strip().lstrip("-*0123456789.) ").strip().strip('"') for line in text.splitlines()]
    return [line for line in lines if line][:n]


def complete_paraphrases(paraphrases: Paraphrases, queries: Iterable[str], n: int, url: str, model: str,
                         cache: str | Path, api_key: str | None = None) -> Paraphrases:
    """Fill in the queries that have fewer than `n` paraphrases from the endpoint, saving the cache file
    after each answer so an interrupted run keeps what it paid for."""
    for query in queries:
        if len(paraphrases.get(query, n)) < n:  # checked each time: equal normalised queries share one answer
            paraphrases.table[normalize_caption(query)] = request_paraphrases(url, model, query, n, api_key)
            paraphrases.save(cache)
    return paraphrases
