"""Audio decoding, resampling, cropping and windowing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioret.utils.audio import DECODE_BLOCK, audio_duration, decoded_duration, load_audio, resample, split_windows
from audioret.utils.errors import AudioDecodeError
from conftest import write_tone


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_decodes_every_supported_format_to_mono_float(tmp_path, suffix):
    path = write_tone(tmp_path / f"tone{suffix}", seconds=1.0, rate=16_000, channels=2)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 16_000) <= 1152  # mp3 frames may pad
    assert audio_duration(path) == pytest.approx(1.0, abs=0.08)
    # A 440 Hz tone stays a 440 Hz tone through each codec.
    spectrum = np.abs(np.fft.rfft(wave[:16_000] if len(wave) >= 16_000 else np.pad(wave, (0, 16_000 - len(wave)))))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)


def test_stereo_is_averaged_not_summed(tmp_path):
    import soundfile as sf

    left = np.full(1000, 0.5, dtype=np.float32)
    right = np.full(1000, -0.1, dtype=np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "s.wav"), 0.2, atol=1e-6)


def test_resampling_preserves_a_tone_against_the_analytic_signal():
    orig, target, freq = 44_100, 32_000, 1000.0
    t = np.arange(orig) / orig
    out = resample(np.sin(2 * np.pi * freq * t).astype(np.float32), orig, target)
    assert len(out) == target
    expected = np.sin(2 * np.pi * freq * np.arange(target) / target)
    # Away from the edges (filter warm-up) the resampled signal is the analytic one.
    np.testing.assert_allclose(out[500:-500], expected[500:-500], atol=2e-3)


def test_load_resamples_to_requested_rate(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=2.0, rate=44_100)
    assert len(load_audio(path, 16_000)) == 32_000


def test_random_crop_from_file_is_in_bounds_and_reaches_every_start(tmp_path):
    import soundfile as sf

    from audioret.utils.audio import load_random_crop

    wave = np.arange(100, dtype=np.float32) / 1000  # exact in 32-bit float WAV
    sf.write(tmp_path / "ramp.wav", wave, 8000, subtype="FLOAT")
    starts = set()
    for seed in range(200):
        crop, valid = load_random_crop(tmp_path / "ramp.wav", 8000, 30, np.random.default_rng(seed))
        assert valid == 30 and len(crop) == 30
        start = int(round(crop[0] * 1000))
        np.testing.assert_array_equal(crop, wave[start : start + 30])  # a contiguous slice of the file
        starts.add(start)
    assert min(starts) == 0 and max(starts) == 70  # every start position is reachable


def test_split_windows_covers_the_clip_and_masks_padding():
    wave = np.arange(1, 26, dtype=np.float32)  # 25 samples, windows of 10
    windows, mask = split_windows(wave, 10)
    assert windows.shape == mask.shape == (3, 10)
    np.testing.assert_array_equal(windows[mask], wave)
    assert mask.sum(axis=1).tolist() == [10, 10, 5]
    assert not windows[2, 5:].any()
    windows, mask = split_windows(wave[:10], 10)
    assert windows.shape == (1, 10) and mask.all()


def test_empty_file_names_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty.wav.*empty"):
        load_audio(path)
    with pytest.raises(AudioDecodeError, match="empty.wav"):
        audio_duration(path)


def test_corrupt_and_non_audio_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    text = tmp_path / "notes.flac"
    text.write_text("this is not audio")
    for path in (corrupt, text):
        with pytest.raises(AudioDecodeError, match=path.name):
            load_audio(path)
        with pytest.raises(AudioDecodeError, match=path.name):
            audio_duration(path)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        load_audio(tmp_path / "absent.wav")


def test_random_crop_from_file_reads_the_same_samples_as_decoding_all(tmp_path):
    from audioret.utils.audio import load_random_crop

    rate = 16_000
    t = np.arange(rate * 6) / rate
    signal = (0.5 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, len(t))).astype(np.float32)
    import soundfile as sf

    sf.write(tmp_path / "long.wav", signal, rate, subtype="FLOAT")
    starts = set()
    for seed in range(20):
        window, valid = load_random_crop(tmp_path / "long.wav", rate, rate * 2, np.random.default_rng(seed))
        assert valid == rate * 2
        # The signal's envelope rises monotonically, so its first sample locates the window; the whole
        # window must then be that exact slice of the file.
        start = int(np.flatnonzero(signal == window[0])[0]) if window[0] != 0 else 0
        assert np.array_equal(signal[start : start + rate * 2], window)
        starts.add(start)
    assert len(starts) > 10  # the crop position varies with the generator
    again, _ = load_random_crop(tmp_path / "long.wav", rate, rate * 2, np.random.default_rng(3))
    first, _ = load_random_crop(tmp_path / "long.wav", rate, rate * 2, np.random.default_rng(3))
    assert np.array_equal(again, first)


def test_random_crop_from_file_resamples_and_pads(tmp_path):
    from audioret.utils.audio import load_random_crop

    path = write_tone(tmp_path / "short.wav", seconds=1.0, rate=44_100, channels=2)
    window, valid = load_random_crop(path, 16_000, 32_000, np.random.default_rng(0))
    assert len(window) == 32_000 and valid == 16_000 and not window[valid:].any()
    spectrum = np.abs(np.fft.rfft(window[:16_000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)
    whole = load_audio(path, 16_000)
    np.testing.assert_allclose(window[:valid], whole, atol=1e-6)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty.wav"):
        load_random_crop(empty, 16_000, 100, np.random.default_rng(0))


def test_a_header_that_promises_more_than_the_stream_decodes_is_caught_by_a_full_decode():
    # A real WAV of MP3 data (tests/fixtures/audio/README.md): its header passes, its stream stops early.
    path = Path(__file__).parent / "fixtures" / "audio" / "qgo_doorbell.wav"
    assert audio_duration(path) == pytest.approx(46_257 / 22_050)
    # 34,816 frames decode (read 1,024 at a time); the error names the last whole block before that.
    decodes = 34_816 // DECODE_BLOCK * DECODE_BLOCK / 22_050
    with pytest.raises(AudioDecodeError, match=rf"qgo_doorbell.wav.*fails after about {decodes:.2f} s of the 2\.10 s"):
        decoded_duration(path)
    with pytest.raises(AudioDecodeError, match="qgo_doorbell.wav"):
        load_audio(path, 16_000)


def test_a_full_decode_gives_the_header_duration_of_a_sound_file(tmp_path):
    path = tmp_path / "tone.ogg"
    sf.write(path, np.sin(np.linspace(0, 2000, 70_000)).astype(np.float32), 22_050, format="OGG")
    assert decoded_duration(path) == pytest.approx(audio_duration(path))
