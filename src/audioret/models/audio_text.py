"""`AudioTextModel`: an audio encoder and a text encoder, each with a linear projection into one
D-dimensional space (1024 in the paper), L2-normalised, plus a trainable temperature.

A model is a folder: `config.json` (architecture, preprocessing, provenance) + `model.safetensors`,
and `text/` with the text encoder's tokenizer and config so that it rebuilds offline.

Example:
    >>> model = create_model("cnn-minilm")
    >>> model.encode_text(["a dog barks"]).shape
    (1, 1024)
    >>> model.save_pretrained("./runs/my-model")
    >>> same = AudioTextModel.from_pretrained("./runs/my-model")  # a local folder; nothing is downloaded
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F  # noqa: N812

from audioret.models.checkpoints import load_state_dict_strict
from audioret.models.model_files import CONFIG_FILE, TEXT_FOLDER, WEIGHTS_FILE, stores_heads_only
from audioret.models.registry import check_encoder_options, create_encoder, encoder_kind
from audioret.utils.audio import load_audio, split_windows
from audioret.utils.errors import AudioretError, ConfigError, DataFormatError, MissingFileError
from audioret.utils.io import atomic_path, atomic_write

# Options that point at published weights; a saved model carries its own weights instead.
BASE_WEIGHT_OPTIONS = ("checkpoint",)
# config["stored_weights"]: "all" (default) saves every parameter; "heads" saves only the projections
# and temperature, for models whose encoders are frozen pretrained weights that installed packages
# carry (the default model): its folder stays a few MB and the encoders load from their packages.
HEAD_PREFIXES = ("audio_projection.", "text_projection.", "log_temperature", "prior_class_vectors")
#: The temperature a model starts from (the paper's initial value), unless its config names another.
DEFAULT_TEMPERATURE = 0.02


PRIOR_KEYS = {"weight", "tau", "prompts"}


def check_prior(prior: dict[str, Any]) -> None:
    """A prior's settings, checked before any class vector is computed (a misspelt key would be ignored)."""
    if unknown := set(prior) - PRIOR_KEYS:
        raise ConfigError(f"model.prior: unknown setting(s) {sorted(unknown)}; known: {sorted(PRIOR_KEYS)}")
    if missing := {"weight", "tau"} - set(prior):
        raise ConfigError(f"model.prior needs {sorted(missing)} (e.g. {{weight: 1.0, tau: 0.1}})")
    for prompt in prior.get("prompts") or []:
        if not isinstance(prompt, str) or prompt.count("{}") != 1:
            raise ConfigError(f"model.prior.prompts: {prompt!r} must be text with one {{}} where the class "
                              f"name goes, e.g. 'the sound of {{}}'")


class AudioTextModel(nn.Module):
    """Dual encoder for text-to-audio retrieval.

    Args:
        config: {"audio": {"name": ..., **options}, "text": {"name": ..., **options},
                 "embed_dim": 1024, "temperature": 0.02, "prior": {"weight": ..., "tau": ..., "prompts": [...]}
                 (optional),
                 "provenance": {...}}

    A model with a `prior` (its audio encoder must report class posteriors, as YAMNet does) adds a
    training-free score to the cosine similarity: sum_c softmax_c(cos(query, class name c) / tau) p(c | clip),
    times `weight`. Its search vectors (`encode_audio`, `encode_text`) are [unit embedding ; sqrt(weight) x
    class part], so that their inner product is the fused score; they are not unit rows. A class's text
    vector is its name's features, or with `prompts` (templates such as "the sound of {}") the mean of the
    unit features of the name written into each template: a prompt ensemble, as in CLIP's zero-shot
    classifiers.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = copy.deepcopy(config)
        for side in ("audio", "text"):
            kind = encoder_kind(config[side]["name"])
            if kind != side:
                raise AudioretError(f"{config[side]['name']!r} is a {kind} encoder and cannot be "
                                    f"the model's {side} encoder")
            options = {k: v for k, v in config[side].items() if k != "name"}
            check_encoder_options(config[side]["name"], options, f"model.{side}")
        self.audio = create_encoder(**config["audio"])
        self.text = create_encoder(**config["text"])
        dim = int(config.get("embed_dim", 1024))
        self.audio_projection = nn.Linear(self.audio.output_dim, dim)
        self.text_projection = nn.Linear(self.text.output_dim, dim)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(self.initial_temperature)))
        self.prior = config.get("prior")
        if self.prior is not None:
            check_prior(self.prior)
            span, names = self.audio.class_posteriors()
            self.prior_span = span
            # The class names' text features, unit rows; computed by `reset_heads`, stored with the heads.
            self.register_buffer("prior_class_vectors", torch.zeros(len(names), self.text.output_dim))

    @property
    def initial_temperature(self) -> float:
        return float(self.config.get("temperature", DEFAULT_TEMPERATURE))

    @property
    def vector_dim(self) -> int:
        """Width of the search vectors: the joint space, plus the class part of a prior."""
        return self.audio_projection.out_features + (0 if self.prior is None else len(self.prior_class_vectors))

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp()

    # --- differentiable paths, used by training -------------------------------------------------
    def embed_audio(self, waveform: torch.Tensor) -> torch.Tensor:
        """[batch, samples] at `sample_rate` -> unit-norm [batch, D]."""
        return self.project_audio(self.audio(waveform))

    def embed_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids from `tokenize` -> unit-norm [batch, D]."""
        return self.project_text(self.text(input_ids, attention_mask))

    def tokenize(self, captions: list[str]) -> dict[str, torch.Tensor]:
        return self.text.tokenize(captions)

    # --- heads on encoder features (frozen-encoder training and every search vector) -----------------
    @torch.no_grad()
    def reset_heads(self) -> None:
        """Fresh projections, the initial temperature and (with a prior) the class names' text vectors."""
        self.audio_projection.reset_parameters()
        self.text_projection.reset_parameters()
        self.log_temperature.fill_(math.log(self.initial_temperature))
        if self.prior is not None:
            self.prior_class_vectors.copy_(self.class_text_vectors())

    def class_text_vectors(self) -> torch.Tensor:
        """Unit text vectors [classes, text dim] of the audio encoder's class names, prompt-ensembled."""
        _, names = self.audio.class_posteriors()
        prompts = self.prior.get("prompts") or ["{}"]
        per_prompt = [F.normalize(self.text_features([p.format(n) for n in names]), dim=-1) for p in prompts]
        return F.normalize(torch.stack(per_prompt).mean(dim=0), dim=-1)

    @torch.no_grad()
    def lock_text_head(self, seed: int) -> None:
        """Set the text head to a fixed map with orthonormal columns and zero bias: an isometry of the text
        encoder's space (as in LiT), so caption similarities stay exactly the encoder's."""
        weight = self.text_projection.weight  # [D, text dim], D >= text dim
        if weight.shape[0] < weight.shape[1]:
            raise AudioretError(f"a locked text head needs embed_dim >= the text encoder's {weight.shape[1]} "
                                f"dimensions, got {weight.shape[0]}")
        generator = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(weight.shape, generator=generator))
        weight.copy_(q)
        self.text_projection.bias.zero_()

    def head_parameters(self, text: bool = True) -> list[nn.Parameter]:
        """What frozen-encoder training learns: the audio head, the temperature and (unless locked) the text head."""
        heads = [self.audio_projection.weight, self.audio_projection.bias, self.log_temperature]
        return heads + ([self.text_projection.weight, self.text_projection.bias] if text else [])

    def project_audio(self, features: torch.Tensor) -> torch.Tensor:
        """Audio encoder features -> unit-norm joint-space embeddings (differentiable)."""
        return F.normalize(self.audio_projection(features), dim=-1)

    def project_text(self, features: torch.Tensor) -> torch.Tensor:
        """Text encoder features -> unit-norm joint-space embeddings (differentiable)."""
        return F.normalize(self.text_projection(features), dim=-1)

    def audio_search_vectors(self, features: torch.Tensor) -> torch.Tensor:
        """Audio encoder features -> the vectors an index stores (the embedding, plus a prior's class part)."""
        embedding = self.project_audio(features.to(self.audio_projection.weight.dtype))
        if self.prior is None:
            return embedding
        posteriors = features[:, self.prior_span[0] : self.prior_span[1]].to(embedding.dtype)
        return torch.cat([embedding, math.sqrt(self.prior["weight"]) * posteriors], dim=1)

    def text_search_vectors(self, features: torch.Tensor) -> torch.Tensor:
        """Text encoder features -> query vectors (the embedding, plus a prior's class weights)."""
        embedding = self.project_text(features)
        if self.prior is None:
            return embedding
        similarity = F.normalize(features, dim=-1) @ self.prior_class_vectors.T
        weights = torch.softmax(similarity / self.prior["tau"], dim=1)
        return torch.cat([embedding, math.sqrt(self.prior["weight"]) * weights], dim=1)

    # --- inference on whole clips and strings ----------------------------------------------------
    @torch.no_grad()
    def encode_audio(self, inputs: Sequence[str | Path | np.ndarray], batch_size: int = 8) -> np.ndarray:
        """Clip search vectors [n, vector_dim] (unit rows unless the model has a prior) for files (decoded and
        resampled) or waveforms (1-D, at
        `sample_rate`). Clips longer than the encoder's window are cut into windows whose embeddings
        are averaged, weighted by how much real audio each holds."""
        waves = []
        for index, item in enumerate(inputs):
            wave = load_audio(item, self.sample_rate) if isinstance(item, str | Path) else np.asarray(item, np.float32)
            if wave.ndim != 1 or len(wave) == 0:
                raise ValueError(f"input {index}: expected a non-empty 1-D waveform, got shape {wave.shape}")
            waves.append(wave)
        self.eval()
        return self.embed_clips(waves, batch_size).cpu().numpy()

    @torch.no_grad()
    def embed_clips(self, waves: Sequence[np.ndarray], batch_size: int = 8) -> torch.Tensor:
        """Search vectors [n, vector_dim] for whole clips at `sample_rate`, in the current train/eval mode."""
        pooled = self.audio_features(waves, batch_size)
        device = next(self.parameters()).device
        return self.audio_search_vectors(pooled.to(device)).float()

    @torch.no_grad()
    def audio_features(self, waves: Sequence[np.ndarray], batch_size: int = 8) -> torch.Tensor:
        """The audio encoder's clip features [n, encoder dim] (CPU), before the projection: window
        outputs averaged with weights proportional to the real audio each window holds."""
        windows, owners, weights, valid = [], [], [], []
        for index, wave in enumerate(waves):
            clip_windows, mask = split_windows(wave, self.audio.window_samples)
            windows.extend(clip_windows)
            owners.extend([index] * len(clip_windows))
            valid.extend(mask.sum(axis=1))
            weights.extend((mask.sum(axis=1) / mask.shape[1]).astype(np.float32))
        device = next(self.parameters()).device
        features = []
        for i in range(0, len(windows), batch_size):
            batch = torch.from_numpy(np.stack(windows[i : i + batch_size])).to(device)
            lengths = torch.tensor(valid[i : i + batch_size], device=device)
            features.append(self.audio(batch, lengths).float().cpu())
        weight = torch.tensor(np.array(weights, dtype=np.float32))
        owner = torch.tensor(owners)
        weighted = torch.cat(features) * weight[:, None]
        pooled = torch.zeros(len(waves), weighted.shape[1]).index_add_(0, owner, weighted)
        return pooled / torch.zeros(len(waves)).index_add_(0, owner, weight).unsqueeze(1)

    @torch.no_grad()
    def text_features(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """The text encoder's features [n, encoder dim] (CPU), before the projection."""
        device = next(self.parameters()).device
        out = []
        for start in range(0, len(texts), batch_size):
            batch = {k: v.to(device) for k, v in self.tokenize(list(texts[start : start + batch_size])).items()}
            out.append(self.text(**batch).float().cpu())
        return torch.cat(out)

    @property
    def stores_heads_only(self) -> bool:
        return stores_heads_only(self.config)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Query vectors [n, vector_dim] (unit rows unless the model has a prior). Empty or whitespace-only
        queries are an error."""
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"query {i} is empty; a query needs at least one word")
        self.eval()
        device = next(self.parameters()).device
        out = []
        for start in range(0, len(texts), batch_size):
            batch = {k: v.to(device) for k, v in self.tokenize(list(texts[start : start + batch_size])).items()}
            out.append(self.text_search_vectors(self.text(**batch)).float().cpu())
        return torch.cat(out).numpy()

    # --- model folders ---------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write config.json, model.safetensors and text/ atomically into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if hasattr(self.text, "save_architecture") and not self.stores_heads_only:
            self.text.save_architecture(folder / TEXT_FOLDER)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                 if not self.stores_heads_only or k.startswith(HEAD_PREFIXES)}
        with atomic_path(folder / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})
        with atomic_write(folder / CONFIG_FILE) as handle:
            json.dump(self.config, handle, indent=2)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> AudioTextModel:
        """Rebuild a model saved by `save_pretrained`; weights must match its architecture exactly."""
        folder = Path(folder)
        config_path = folder / CONFIG_FILE
        if not config_path.is_file():
            raise MissingFileError(config_path, "model config",
                                   "a model folder holds config.json and model.safetensors")
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as err:
            raise DataFormatError(config_path, f"invalid JSON ({err.msg})", err.lineno) from None
        build = copy.deepcopy(config)
        heads_only = stores_heads_only(config)
        for option in BASE_WEIGHT_OPTIONS if not heads_only else ():
            build["audio"].pop(option, None)
        if (folder / TEXT_FOLDER).is_dir() and not heads_only:
            build["text"] = {**build["text"], "path": str(folder / TEXT_FOLDER), "random_init": True}
        model = cls(build)
        model.config = config
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise MissingFileError(weights, "model weights")
        try:
            state = load_file(str(weights))
        except Exception as err:  # safetensors raises its own error types for truncated files
            raise AudioretError(f"cannot read {weights}: {err} (truncated or not a safetensors file?)") from None
        if heads_only:  # the encoders came from their packages; the file must hold exactly the heads
            expected = {k for k in model.state_dict() if k.startswith(HEAD_PREFIXES)}
            if set(state) != expected:
                raise AudioretError(f"{weights} should hold exactly the projection heads {sorted(expected)}, "
                                    f"found {sorted(state)}")
            model.load_state_dict(state, strict=False)
        else:
            load_state_dict_strict(model, state, weights)
        return model
