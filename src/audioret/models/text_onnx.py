"""Query vectors without torch: a model's whole text side (tokenizer, transformer, pooling, text head and a
prior's class weights) exported once to ONNX and run on onnxruntime with the `tokenizers` library.

A one-off `audioret search` spends seconds importing torch and transformers to embed one sentence; with
the export it imports neither. The export lives in a cache folder, one per model and text weights:

    $AUDIORET_CACHE/text-onnx/KEY/   (AUDIORET_CACHE defaults to ~/.cache/audioret)
        text.onnx       the graph, float32 (checked against torch within 1e-4 cosine when written), whose
        text.onnx.data  weights sit beside it: onnxruntime maps them instead of parsing them (a faster start)
        tokenizer.json  the encoder's own fast tokenizer
        meta.json       format, key, max_length, vector width, padding; written last

KEY is the model fingerprint, plus, for a model that stores only its heads, a digest of the size and
mtime of the text weights it loads from a package (a reinstalled package gets a fresh export).

`audioret index` writes the folder (torch is loaded there anyway), and so does the first search that
finds none. A folder is published whole by one rename, so a reader sees a complete folder or none;
readers never repair or delete one: a damaged folder is reported (what to delete) and the search falls
back to torch. AUDIORET_NO_ONNX=1 (or `--no-onnx`) always uses torch.

Example:
    >>> encoder = open_fast_text(folder, model_fingerprint(folder))  # None: no export yet
    >>> encoder.encode_text(["a door creaks"]).shape
    (1, 1545)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audioret.models.model_files import CONFIG_FILE, minilm_package_folder, stores_heads_only
from audioret.utils.errors import AudioretError
from audioret.utils.io import FILE_MODE, atomic_write, fsync_folder
from audioret.utils.text import normalize_caption

if TYPE_CHECKING:
    from audioret.models.audio_text import AudioTextModel

FORMAT = 1
GRAPH_FILE, WEIGHTS_DATA_FILE, TOKENIZER_FILE, META_FILE = "text.onnx", "text.onnx.data", "tokenizer.json", "meta.json"
NO_ONNX_ENV = "AUDIORET_NO_ONNX"
#: Text weight files whose size and mtime identify the weights of a heads-only model's text encoder.
TEXT_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: How far the export may stray from torch, as 1 - cosine of the query vectors; checked when written.
MAX_COSINE_GAP = 1e-4
#: Queries the export is checked on: short, one letter, longer than max_length, non-Latin scripts.
PROBE_QUERIES = ("a dog barks", "x", "rain on a tin roof while thunder rolls far away and a car passes " * 3,
                 "Café: crème brûlée — 日本語の音, ÄÖÜ!", "glass breaking")
BATCH_SIZE = 64


class TextCacheError(AudioretError):
    """An ONNX text export folder that cannot be used as it is."""


def onnx_disabled() -> bool:
    """AUDIORET_NO_ONNX is set to anything but '' or '0'."""
    return os.environ.get(NO_ONNX_ENV, "") not in ("", "0")


def cache_root() -> Path:
    """Where the exports live; read at each call, so that AUDIORET_CACHE can change within a process."""
    return Path(os.environ.get("AUDIORET_CACHE", Path.home() / ".cache" / "audioret")) / "text-onnx"


def cache_key(model_folder: str | Path, fingerprint: str) -> str | None:
    """The export folder's name for this model; None when its text weights cannot be identified without
    loading it (a heads-only model whose text encoder is a name in the Hugging Face cache)."""
    try:
        config = json.loads((Path(model_folder) / CONFIG_FILE).read_text(encoding="utf-8"))
        text = config["text"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not stores_heads_only(config):
        return fingerprint  # the folder's weights, which the fingerprint covers, include the text encoder's
    source = _external_text_source(text)
    if source is None:
        return None
    stats = [f"{name}:{(source / name).stat().st_size}:{(source / name).stat().st_mtime_ns}"
             for name in TEXT_WEIGHT_FILES if (source / name).is_file()]
    if not stats:
        return None
    return f"{fingerprint}-{hashlib.sha256(' '.join([str(source.resolve()), *stats]).encode()).hexdigest()[:12]}"


def _external_text_source(text: dict[str, Any]) -> Path | None:
    path = text.get("path")
    if path is None and text.get("name") == "minilm":
        try:
            return minilm_package_folder()
        except AudioretError:
            return None
    return Path(path).expanduser() if path is not None and Path(path).expanduser().is_dir() else None


class OnnxTextEncoder:
    """An export folder, loaded: `encode_text` gives the query vectors `AudioTextModel.encode_text` gives.

    Raises:
        TextCacheError: the folder is incomplete, of another format or model, or its graph does not load.
    """

    def __init__(self, folder: str | Path, key: str | None = None):
        self.folder = Path(folder)
        meta = self._read_meta(key)
        self.max_length, self.vector_dim = int(meta["max_length"]), int(meta["vector_dim"])
        self.tokenizer = self._load_tokenizer(meta)
        self.session = self._load_graph(meta)

    def _damaged(self, reason: str) -> TextCacheError:
        return TextCacheError(f"the ONNX text encoder in {self.folder} cannot be used ({reason}); delete that "
                              "folder: `audioret index` or the next search writes it again")

    def _read_meta(self, key: str | None) -> dict[str, Any]:
        try:
            meta = json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))
            fields = (meta["format"], meta["key"], meta["max_length"], meta["vector_dim"], meta["bytes"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise self._damaged(f"{META_FILE} unreadable: {type(err).__name__}") from None
        if fields[0] != FORMAT:
            raise self._damaged(f"format {fields[0]}, this audioret reads format {FORMAT}")
        if key is not None and fields[1] != key:
            raise self._damaged(f"written for {fields[1]}, not {key}")
        for name in (GRAPH_FILE, WEIGHTS_DATA_FILE):
            try:
                size = (self.folder / name).stat().st_size
            except OSError:
                raise self._damaged(f"{name} is missing") from None
            if not isinstance(fields[4], dict) or size != fields[4].get(name):
                raise self._damaged(f"{name} holds {size} bytes, {META_FILE} says {fields[4]}")
        return meta

    def _load_tokenizer(self, meta: dict[str, Any]) -> Any:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        except Exception as err:  # tokenizers raises a bare Exception for a missing or malformed file
            raise self._damaged(f"{TOKENIZER_FILE}: {str(err).splitlines()[0] if str(err) else 'unreadable'}") \
                from None
        # What transformers sets before each call of a fast tokenizer with truncation=True, padding=True.
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_length, stride=0, strategy="longest_first",
                                    direction=meta.get("truncation_side", "right"))
        tokenizer.enable_padding(direction=meta.get("padding_side", "right"), pad_id=int(meta.get("pad_id", 0)),
                                 pad_token=str(meta.get("pad_token", "[PAD]")))
        return tokenizer

    def _load_graph(self, meta: dict[str, Any]) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # onnxruntime's own warnings would read as audioret's
        # The raw graph loads fastest (a one-off search pays the load once) and answers as fast as the
        # optimised one for a query of a few tokens.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(self.folder / GRAPH_FILE), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception classes for a damaged graph
            raise self._damaged(f"{GRAPH_FILE}: {(str(err).splitlines() or ['unreadable'])[0][:200]}") from None

    def encode_text(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Query vectors [n, vector_dim]; empty or whitespace-only queries are an error, as in torch."""
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"query {i} is empty; a query needs at least one word")
        out = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch([normalize_caption(t) for t in texts[start : start + batch_size]])
            ids = np.array([e.ids for e in encodings], np.int64)
            mask = np.array([e.attention_mask for e in encodings], np.int64)
            out.append(self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros((0, self.vector_dim),
                                                                                       np.float32)


def open_fast_text(model_folder: str | Path, fingerprint: str) -> OnnxTextEncoder | None:
    """The model's export, loaded; None when there is none (or AUDIORET_NO_ONNX is set).

    Raises:
        TextCacheError: an export folder exists but is damaged (nothing is changed on disk).
    """
    if onnx_disabled():
        return None
    key = cache_key(model_folder, fingerprint)
    if key is None or not (cache_root() / key).is_dir():
        return None
    return OnnxTextEncoder(cache_root() / key, key)


def supports_export(model: AudioTextModel) -> bool:
    """A transformers text encoder with a fast (Rust) tokenizer, whose tokenizer.json the export copies."""
    from audioret.models.text import HFTextEncoder

    return isinstance(model.text, HFTextEncoder) and bool(getattr(model.text.tokenizer, "is_fast", False))


def export_text(model: AudioTextModel, model_folder: str | Path, fingerprint: str,
                replace_damaged: bool = False) -> Path | None:
    """Write the model's export into the cache unless a usable one is there; its folder, or None when the
    model's text side cannot be exported (see `supports_export`, `cache_key`) or AUDIORET_NO_ONNX is set.

    Args:
        replace_damaged: a writer (`audioret index`) replaces a damaged export; a search leaves it alone.

    Raises:
        TextCacheError: an export exists but is damaged, and `replace_damaged` is False.
        AudioretError: the export strays from torch by more than MAX_COSINE_GAP (nothing is written).
    """
    key = cache_key(model_folder, fingerprint)
    if onnx_disabled() or key is None or not supports_export(model):
        return None
    target = cache_root() / key
    damaged = False
    if target.is_dir():
        try:
            OnnxTextEncoder(target, key)
            return target
        except TextCacheError:
            if not replace_damaged:
                raise
            damaged = True
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=target.parent))
    os.chmod(staging, FILE_MODE | (FILE_MODE & 0o444) >> 2)  # what mkdir gives: other users may search too
    try:
        _write_export(model, staging, key)
        _publish(staging, target, damaged)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once published
    return target


def export_or_warn(model: AudioTextModel, model_folder: str | Path, fingerprint: str,
                   replace_damaged: bool = False) -> Path | None:
    """`export_text`, with any failure turned into a warning and None: the caller answers with torch."""
    try:
        return export_text(model, model_folder, fingerprint, replace_damaged)
    except AudioretError as err:
        warn(str(err))
    except Exception as err:  # torch.onnx fails in many ways on unusual graphs; torch still answers
        warn(f"cannot export the text encoder to ONNX ({type(err).__name__}: {str(err)[:200]}); searches use torch")
    return None


def _write_export(model: AudioTextModel, folder: Path, key: str) -> None:
    import onnx
    import torch

    model.eval()
    text = model.text
    wrapper = _text_side_module(model)
    device = next(model.parameters()).device  # `index --device cuda` traces there; the file holds CPU tensors
    # Two lengths, so that padding is part of the traced graph.
    probe = {k: v.to(device) for k, v in text.tokenize(list(PROBE_QUERIES[:2])).items()}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes, not the user's concern
        torch.onnx.export(wrapper, (probe["input_ids"], probe["attention_mask"]), str(folder / GRAPH_FILE),
                          input_names=["input_ids", "attention_mask"], output_names=["vectors"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "vectors": {0: "batch"}},
                          opset_version=17, dynamo=False)
    graph = onnx.load(str(folder / GRAPH_FILE))
    onnx.save_model(graph, str(folder / GRAPH_FILE), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=WEIGHTS_DATA_FILE, size_threshold=0)
    text.tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    meta = {"format": FORMAT, "key": key, "max_length": int(text.max_length), "vector_dim": int(model.vector_dim),
            "pad_id": int(text.tokenizer.pad_token_id or 0), "pad_token": str(text.tokenizer.pad_token),
            "padding_side": text.tokenizer.padding_side, "truncation_side": text.tokenizer.truncation_side,
            "bytes": {name: (folder / name).stat().st_size for name in (GRAPH_FILE, WEIGHTS_DATA_FILE)},
            "text_source": str(getattr(text, "source", ""))}
    with atomic_write(folder / META_FILE) as handle:
        json.dump(meta, handle, indent=2)
    gap = cosine_gap(OnnxTextEncoder(folder, key).encode_text(list(PROBE_QUERIES)),
                     model.encode_text(list(PROBE_QUERIES)))
    if gap > MAX_COSINE_GAP:
        raise AudioretError(f"the ONNX export of the text encoder strays from torch (1 - cosine {gap:.2e} > "
                            f"{MAX_COSINE_GAP:.0e}); searching with torch")
    for path in folder.iterdir():  # onnx writes its weights file private; the others are the usual mode
        with open(path, "rb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            os.fsync(handle.fileno())


def cosine_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The largest 1 - cosine between matching rows."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    return float((1.0 - cosine).max())


def _publish(staging: Path, target: Path, replace: bool) -> None:
    """Move a complete export into place with one rename; a process that got there first wins."""
    if replace and target.exists():
        trash = target.with_name(f".{target.name}.old.{os.getpid()}")
        os.rename(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    with contextlib.suppress(FileExistsError):
        try:
            os.rename(staging, target)
        except OSError as err:
            if not target.is_dir():  # ENOTEMPTY/EEXIST means another writer published it: keep theirs
                raise AudioretError(f"cannot write the ONNX text encoder to {target} ({err.strerror})") from None
    fsync_folder(target.parent)


def _text_side_module(model: AudioTextModel) -> Any:
    """The module that is exported; its class is defined here so that importing this file needs no torch."""
    from torch import nn

    class TextSide(nn.Module):
        """Token ids -> query vectors: what `AudioTextModel.encode_text` computes after tokenising."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model.text_search_vectors(self.model.text(input_ids, attention_mask)).float()

    return TextSide().eval()


def warn(message: str) -> None:
    """A one-line warning on stderr (searches go on, on torch)."""
    print(f"warning: {message}", file=sys.stderr)
