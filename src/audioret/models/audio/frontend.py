"""Spectrogram front ends in plain torch (torchaudio does not load beside torch 2.13 here).

Each reproduces the features a published encoder was trained on, so its checkpoint sees the
inputs it expects; tests compare them with fixtures made once by the official code.

- `kaldi_mel_banks`: Kaldi's triangular mel filters (mel = 1127 ln(1 + f / 700), triangles spaced
  evenly in mel between low and high frequency, evaluated at the FFT bin frequencies).
- `kaldi_fbank`: Kaldi-compatible log mel filterbank energies (BEATs, CAV-MAE): 25 ms frames
  every 10 ms without edge padding, DC removal, pre-emphasis 0.97, Povey or Hann window, FFT
  size rounded up to a power of two, power spectrum, log of max(energy, float eps).
- `PasstMel`: PaSST's log-mel (pre-emphasis, centred STFT, Kaldi banks, log(x + 1e-5), (x + 4.5) / 5).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from audioret.utils.numeric import at_least_float32

FLOAT_EPS = torch.finfo(torch.float32).eps


def mel_scale(freq: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(freq / 700.0)


def kaldi_mel_banks(num_bins: int, n_fft: int, sample_rate: float, low_freq: float, high_freq: float) -> torch.Tensor:
    """Kaldi's mel filterbank as a [num_bins, n_fft // 2 + 1] matrix (the Nyquist column is zero).

    `high_freq` <= 0 counts down from the Nyquist frequency, as in Kaldi.
    """
    nyquist = sample_rate / 2
    if high_freq <= 0:
        high_freq += nyquist
    if not 0 <= low_freq < high_freq <= nyquist:
        raise ValueError(f"need 0 <= low_freq < high_freq <= {nyquist}, got {low_freq}, {high_freq}")
    mel_low, mel_high = mel_scale(torch.tensor(float(low_freq))), mel_scale(torch.tensor(float(high_freq)))
    delta = (mel_high - mel_low) / (num_bins + 1)
    index = torch.arange(num_bins, dtype=torch.float32).unsqueeze(1)
    left, centre, right = mel_low + index * delta, mel_low + (index + 1) * delta, mel_low + (index + 2) * delta
    fft_mel = mel_scale(sample_rate / n_fft * torch.arange(n_fft // 2, dtype=torch.float32)).unsqueeze(0)
    rising = (fft_mel - left) / (centre - left)
    falling = (right - fft_mel) / (right - centre)
    banks = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return nn.functional.pad(banks, (0, 1))


def kaldi_fbank(
    waveform: torch.Tensor,
    sample_rate: int = 16_000,
    num_mel_bins: int = 128,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    window: str = "povey",
    low_freq: float = 20.0,
    high_freq: float = 0.0,
    preemphasis: float = 0.97,
) -> torch.Tensor:
    """Log mel filterbank energies of a batch of waveforms, as Kaldi (and torchaudio.compliance.kaldi) compute them
    with dither 0 and no energy term.

    Args:
        waveform: [batch, samples] (or [samples]); the caller applies any scaling (BEATs uses x * 2**15).

    Returns:
        [batch, frames, num_mel_bins] with frames = 1 + (samples - frame_length) // frame_shift.
    """
    squeeze = waveform.dim() == 1
    if squeeze:
        waveform = waveform.unsqueeze(0)
    frame_length = int(sample_rate * frame_length_ms / 1000)
    frame_shift = int(sample_rate * frame_shift_ms / 1000)
    if waveform.shape[-1] < frame_length:
        raise ValueError(f"a waveform of {waveform.shape[-1]} samples is shorter than one frame ({frame_length})")
    n_fft = 1 << math.ceil(math.log2(frame_length))
    frames = waveform.unfold(-1, frame_length, frame_shift)  # [B, F, L]
    frames = frames - frames.mean(dim=-1, keepdim=True)
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
    frames = frames - preemphasis * previous
    frames = frames * _window(window, frame_length, waveform.device, waveform.dtype)
    power = torch.fft.rfft(frames, n=n_fft).abs().pow(2)
    banks = kaldi_mel_banks(num_mel_bins, n_fft, sample_rate, low_freq, high_freq).to(power)
    mel = torch.clamp(power @ banks.T, min=FLOAT_EPS).log()
    return mel.squeeze(0) if squeeze else mel


def _window(kind: str, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    hann = torch.hann_window(length, periodic=False, device=device, dtype=dtype)
    if kind == "povey":
        return hann.pow(0.85)
    if kind == "hanning":
        return hann
    raise ValueError(f"unknown window {kind!r}: use 'povey' or 'hanning'")


class PasstMel(nn.Module):
    """PaSST's log-mel front end (32 kHz, 128 bins, n_fft 1024, window 800, hop 320).

    The official module also randomises the mel band edges and masks time/frequency stripes
    while training; that augmentation is left out here, so features are the same in both modes.
    """

    def __init__(self, sample_rate: int = 32_000, n_mels: int = 128, n_fft: int = 1024, win_length: int = 800,
                 hop_length: int = 320, fmin: float = 0.0, fmax: float | None = None):
        super().__init__()
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        # The official default leaves 1 kHz below Nyquist (room for its band-edge augmentation).
        fmax = sample_rate // 2 - 1000 if fmax is None else fmax
        self.register_buffer("window", torch.hann_window(win_length, periodic=False), persistent=False)
        self.register_buffer("banks", kaldi_mel_banks(n_mels, n_fft, sample_rate, fmin, fmax), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """[batch, samples] -> [batch, n_mels, frames]."""
        emphasised = waveform[:, 1:] - 0.97 * waveform[:, :-1]
        spec = torch.stft(emphasised, self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window, center=True, return_complex=True)
        power = spec.real.pow(2) + spec.imag.pow(2)
        with torch.autocast(device_type=power.device.type, enabled=False):
            mel = at_least_float32(self.banks).to(at_least_float32(power).dtype) @ at_least_float32(power)
        return (torch.log(mel + 1e-5) + 4.5) / 5.0
