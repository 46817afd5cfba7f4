"""The node's one WAV reader: what it takes, what it refuses (with the field named), and the 16 kHz mono it gives."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from render_node.voice.wav import AudioTooLong, NotWav, WavInvalid, read_wav, to_16k_mono
from tests.voice_speech import wav_bytes


def _wav(fmt_tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, data: bytes = b"\0\0" * 1600,
         extra_chunks: bytes = b"") -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_a_mono_wav_is_read_as_it_is() -> None:
    samples = (np.arange(1600) % 200 - 100).astype(np.int16)
    wav = read_wav(wav_bytes(samples, 16000))
    assert (wav.rate_hz, wav.channels, wav.duration_s) == (16000, 1, 0.1)
    assert np.array_equal(wav.samples[:, 0], samples)
    assert np.array_equal(to_16k_mono(wav), samples.astype(np.float32))


def test_stereo_is_averaged_and_44_1_khz_resampled_to_16_khz() -> None:
    t = np.arange(44100) / 44100
    left = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    stereo = np.stack([left, left], axis=1)
    audio = to_16k_mono(read_wav(wav_bytes(stereo, 44100)))
    assert audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # 1 s at 16 kHz: bin n is n Hz


def test_unknown_chunks_and_an_odd_sized_chunk_are_skipped() -> None:
    wav = read_wav(_wav(extra_chunks=b"LIST" + struct.pack("<I", 3) + b"abc\0"))
    assert wav.samples.shape == (1600, 1)


def test_a_streamed_wav_whose_data_size_is_a_placeholder_reads_what_is_there() -> None:
    data = bytearray(_wav())
    struct.pack_into("<I", data, data.index(b"data") + 4, 0x7FFFF000)
    assert read_wav(bytes(data)).samples.shape == (1600, 1)


@pytest.mark.parametrize("body", [b"", b"RIFF", b"ID3\x03" + b"\0" * 100, b"RIFF\0\0\0\0AVI LIST",
                                  b"OggS" + b"\0" * 60])
def test_what_is_not_riff_wave_is_not_a_wav(body: bytes) -> None:
    with pytest.raises(NotWav):
        read_wav(body)


@pytest.mark.parametrize(("wav", "named"), [
    (_wav(fmt_tag=3, bits=32), "not PCM"),
    (_wav(fmt_tag=85), "format 85"),
    (_wav(bits=8), "8 bits"),
    (_wav(bits=24), "24 bits"),
    (_wav(channels=0), "0 channels"),
    (_wav(channels=6), "6 channels"),
    (_wav(rate=4000), "4000 Hz"),
    (_wav(rate=96000), "96000 Hz"),
    (_wav(data=b""), "no samples"),
    (_wav()[:36], "no 'data' chunk"),
    (b"RIFF\x04\0\0\0WAVE", "no 'fmt ' chunk"),
    (b"RIFF\x10\0\0\0WAVEfmt \x04\0\0\0\x01\0\x01\0", "at least 16"),
])
def test_a_wav_this_node_does_not_take_is_refused_naming_why(wav: bytes, named: str) -> None:
    with pytest.raises(WavInvalid, match=named):
        read_wav(wav)


def test_more_than_15_seconds_is_too_long() -> None:
    with pytest.raises(AudioTooLong, match="30.0 s; at most 15 s"):
        read_wav(wav_bytes(np.zeros(30 * 8000, np.int16), 8000))
    assert read_wav(wav_bytes(np.zeros(15 * 8000, np.int16), 8000)).duration_s == 15.0
