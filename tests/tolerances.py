"""Tolerances for float32 equivalence tests, derived from the arithmetic instead of from one CPU's output.

Two float32 implementations of the same computation (ours and an official one, on another CPU, with
other BLAS/FFT kernels and thread counts) differ by their rounding errors, not by a fixed number.
Standard error analysis bounds those errors (Higham, *Accuracy and Stability of Numerical Algorithms*):

- a float32 sum or dot product of n terms is the exact result for inputs perturbed by at most
  gamma_n = n u / (1 - n u) relative, u = 2**-24 (Thm 3.5); a radix-2 FFT of length N errs by at most
  about 6.7 u log2(N) relative to the norm of its input (Thm 24.2), less than gamma_N;
- how far such perturbations move an output depends on the computation's condition, which for a log
  of a small filterbank energy, or a deep network, is not 1 and not known in closed form.

The reference is always the same computation in float64 (its rounding is 2**29 times smaller), and both
float32 implementations are compared with it:

- spectrogram front ends: `filterbank_energy_bound` works the FFT's bound through each band energy, per
  element (the log of a band far below its frame's energy is ill-conditioned);
- networks: `rounding_bound` measures the condition instead of guessing it, running the float64 network
  again with every input and weight perturbed by random relative noise of size u, and scales the largest
  response by the probabilistic factor for the longest reduction n of the network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

#: float32's unit roundoff: the largest relative error of one correctly rounded operation.
U32 = 2.0**-24
#: float64's unit roundoff, for references computed in float64.
U64 = 2.0**-53
#: Confidence of the probabilistic rounding bound used for networks (see `rounding_bound`).
PROBABILISTIC_LAMBDA = 8.0


def rounding_bound(compute: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...], reduction: int,
                   module: torch.nn.Module | None = None, draws: int = 4,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The float64 result of a network and a bound on float32 rounding around it.

    Args:
        compute: the computation; called with float64 inputs (and `module` in float64).
        inputs: its float tensors (any dtype; converted to float64).
        reduction: the longest sum n in the network (the largest inner dimension of its layers). Rounding errors
            of a long computation are independent enough for the probabilistic bound of Higham and Mary (SIAM
            J. Sci. Comput. 41(5), 2019): lambda sqrt(n) u, which fails with probability below 2n exp(-lambda^2/2);
            lambda = 8 makes that below 1e-10 per operation.
        module: the network, whose parameters and floating buffers are perturbed too (then left in float64).
        draws: independent perturbations.

    Returns:
        (reference, bound) as float64 arrays of the output's shape. Attention, convolution and normalisation
        mix every element with many others, so rounding anywhere reaches every output: the bound takes the
        largest response over the whole output, times lambda sqrt(n), plus the final rounding of each element.
    """
    inputs = tuple(x.double() for x in inputs)
    tensors = []
    if module is not None:
        module.double()
        tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    with torch.no_grad():
        reference = compute(*inputs).double()
        originals = [t.clone() for t in tensors]
        generator = torch.Generator().manual_seed(seed)
        response = 0.0
        for _ in range(draws):
            for t, original in zip(tensors, originals, strict=True):
                t.copy_(original * (1 + U32 * _unit_noise(original, generator)))
            perturbed = tuple(x * (1 + U32 * _unit_noise(x, generator)) for x in inputs)
            response = max(response, (compute(*perturbed).double() - reference).abs().max().item())
        for t, original in zip(tensors, originals, strict=True):
            t.copy_(original)
    return reference.numpy(), PROBABILISTIC_LAMBDA * np.sqrt(reduction) * response + U32 * reference.abs().numpy()


def frame_norms(signal: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Euclidean norm of each analysis frame of a float64 signal (as framed, before window and FFT)."""
    return np.linalg.norm(np.lib.stride_tricks.sliding_window_view(signal, length)[::hop], axis=-1)


def bank_condition(mel_low: float, mel_high: float, n_bands: int) -> float:
    """Relative float32 error of triangular mel weights, in units of u.

    A weight is (mel(f) - left) / (centre - left): a few roundings of numbers as large as mel_high, divided
    by a triangle's width in mel. An implementation that computes its banks in float32 (torchaudio does)
    carries that error into every band energy.
    """
    return 4 * mel_high / ((mel_high - mel_low) / (n_bands + 1))


def filterbank_energy_bound(norms: np.ndarray, energies: np.ndarray, banks: np.ndarray, n_fft: int, power: int,
                            condition: float, preemphasis: float = 0.0) -> np.ndarray:
    """Bound on float32 rounding of band energies E[f, b] = sum_k banks[b, k] |X[f, k]|**power.

    The FFT's error is relative to the whole frame, not to the band (Higham Thm 24.2: 6.7 u log2 N of the
    spectrum's norm, plus a few u for framing, DC removal, pre-emphasis and window). So a band far below its
    frame's energy is ill-conditioned, and the bound is per element:
    |dE| <= 2 e sum_k w|X_k| + e^2 sum_k w (power 2), e sum_k w (power 1), with e = bound on every |dX_k| and
    sum_k w|X_k| <= sqrt(sum_k w * E) (Cauchy-Schwarz); plus the band sum (n bins, gamma_n) and the weights.

    Args:
        norms: [frames] norms of the raw frames (`frame_norms`); pre-emphasis can grow them by 1 + coefficient.
        energies: [frames, bands] exact (float64) band energies.
        banks: [bands, bins] the filterbank.
    """
    spectrum_error = U32 * (6.7 * np.log2(n_fft) + 8) * np.sqrt(n_fft) * (1 + preemphasis) * norms[:, None]
    weight_sums = banks.sum(axis=1)[None, :]
    if power == 2:
        spread = 2 * spectrum_error * np.sqrt(weight_sums * energies) + spectrum_error**2 * weight_sums
    else:
        spread = spectrum_error * weight_sums
    return spread + U32 * (banks.shape[1] + condition) * energies


def _unit_noise(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(like.shape, generator=generator, dtype=torch.float64) * 2 - 1


def assert_within_rounding(actual, reference: np.ndarray, bound: np.ndarray, what: str) -> None:
    """|actual - reference| <= bound elementwise; the message names the worst element and its bound."""
    actual = np.asarray(actual.detach() if isinstance(actual, torch.Tensor) else actual, dtype=np.float64)
    assert actual.shape == reference.shape, (what, actual.shape, reference.shape)
    excess = np.abs(actual - reference) / bound
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess[worst] <= 1.0, (
        f"{what}: element {tuple(int(i) for i in worst)} differs from the float64 reference by "
        f"{abs(actual[worst] - reference[worst]):.3g}, beyond float32 rounding ({bound[worst]:.3g}); "
        f"{int((excess > 1).sum())} of {excess.size} elements exceed it")


def longest_reduction(module: torch.nn.Module, *others: int) -> int:
    """The longest sum a network computes: the largest inner dimension of its linear and convolution layers,
    or any of `others` (a sequence length that attention sums over, an FFT length)."""
    lengths = list(others)
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            lengths.append(layer.in_features)
        elif isinstance(layer, torch.nn.modules.conv._ConvNd):
            lengths.append(layer.in_channels // layer.groups * int(np.prod(layer.kernel_size)))
    return max(lengths)
