"""InfoNCE and Mixco against the paper's equations written out term by term with Python floats."""

from __future__ import annotations

import math

import pytest
import torch

from audioret.losses import infonce_loss, mixco_loss
from tolerances import U64

TAU = 0.5
#: Both sides run in float64 (torch here, Python floats in the equations). Each loss is a mean of logsumexps
#: of logits at most 1 / TAU = 2, each through fewer than 50 operations: 50 x 2 x float64's unit roundoff.
TOL = 50 * 2 * U64
AUDIO = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.8, 0.0]]
TEXT = [[0.8, 0.6, 0.0], [0.0, 0.0, 1.0], [0.0, 0.6, 0.8]]


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def dot(u, v):
    return sum(a * b for a, b in zip(u, v, strict=True))


def ce(z, k, candidates):
    """Eq. 3: -log exp(S(z, z'_k)/tau) / sum_z' exp(S(z, z')/tau)."""
    return -math.log(math.exp(dot(z, candidates[k]) / TAU) / sum(math.exp(dot(z, c) / TAU) for c in candidates))


def test_infonce_matches_equations_3_to_6():
    a2t = sum(ce(AUDIO[i], i, TEXT) for i in range(3)) / 3  # Eq. 4, averaged over the batch
    t2a = sum(ce(TEXT[j], j, AUDIO) for j in range(3)) / 3  # Eq. 5
    out = infonce_loss(f64(AUDIO), f64(TEXT), f64(TAU))
    assert out["loss"].item() == pytest.approx(a2t + t2a, abs=TOL)  # Eq. 6
    assert out["infonce_a2t"].item() == pytest.approx(a2t, abs=TOL)


def test_captions_of_the_same_clip_are_all_positives():
    # Rows 0 and 1 are two captions of one clip: each audio row's target is uniform over both.
    audio = [AUDIO[0], AUDIO[0], AUDIO[2]]
    out = infonce_loss(f64(audio), f64(TEXT), f64(TAU), torch.tensor([7, 7, 9]))

    def soft(z, weights, candidates):
        return sum(w * ce(z, k, candidates) for k, w in weights.items())

    a2t = (soft(audio[0], {0: 0.5, 1: 0.5}, TEXT) + soft(audio[1], {0: 0.5, 1: 0.5}, TEXT) + ce(audio[2], 2, TEXT)) / 3
    t2a = (soft(TEXT[0], {0: 0.5, 1: 0.5}, audio) + soft(TEXT[1], {0: 0.5, 1: 0.5}, audio) + ce(TEXT[2], 2, audio)) / 3
    assert out["loss"].item() == pytest.approx(a2t + t2a, abs=TOL)


def test_mixco_matches_equations_10_to_12():
    lam = [0.3, 0.9, 0.6]
    phi = [2, 0, 1]
    mixed = [[0.0, 0.6, 0.8], [0.28, 0.96, 0.0], [1.0, 0.0, 0.0]]  # any unit vectors stand in for Z^(A')
    a2t = sum(lam[i] * ce(mixed[i], i, TEXT) + (1 - lam[i]) * ce(mixed[i], phi[i], TEXT) for i in range(3)) / 3
    t2a = sum(lam[j] * ce(TEXT[j], j, mixed) + (1 - lam[j]) * ce(TEXT[phi[j]], j, mixed) for j in range(3)) / 3
    out = mixco_loss(f64(mixed), f64(TEXT), f64(TAU), f64(lam),
                     torch.tensor(phi))
    assert out["mixco_a2t"].item() == pytest.approx(a2t, abs=TOL)
    assert out["mixco_t2a"].item() == pytest.approx(t2a, abs=TOL)
    assert out["loss"].item() == pytest.approx(a2t + t2a, abs=TOL)


def test_mixco_with_lambda_one_is_infonce():
    audio, text = f64(AUDIO), f64(TEXT)
    mixco = mixco_loss(audio, text, f64(TAU), torch.ones(3, dtype=torch.float64),
                       torch.tensor([1, 2, 0]))
    assert mixco["loss"].item() == pytest.approx(infonce_loss(audio, text, f64(TAU))["loss"].item(), abs=TOL)


def test_gradients_reach_the_temperature():
    tau = torch.tensor(0.07, requires_grad=True)
    infonce_loss(f64(AUDIO), f64(TEXT), tau)["loss"].backward()
    assert tau.grad is not None and tau.grad.item() != 0.0
