"""The one reader of WAV files the node accepts: RIFF/WAVE, PCM 16-bit, mono or stereo, 8-48 kHz, <= 15 s.

`read_wav` walks the RIFF chunks (`fmt ` then `data`; others skipped), refuses with the field named, and returns
the samples as 16 kHz mono (`to_16k_mono`: stereo averaged, resampled with a polyphase filter), the rate the
recogniser's acoustic model was trained on. A body that is not RIFF/WAVE at all is `NotWav` (415); a WAV this
reader does not take (another encoding, 0 channels, a truncated header, too long) is `WavInvalid` (400).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from render_node.errors import BadRequest, NodeError

MAX_WAV_BYTES = 2 * 1024 * 1024
MAX_DURATION_S = 15.0
MIN_RATE_HZ = 8000
MAX_RATE_HZ = 48000
MODEL_RATE_HZ = 16000
_PCM = 1
_EXTENSIBLE = 0xFFFE
_PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
"""KSDATAFORMAT_SUBTYPE_PCM after its first two bytes (the format tag, 1)."""


class NotWav(NodeError):
    code = "unsupported_media_type"
    http_status = 415


class WavInvalid(BadRequest):
    code = "bad_wav"


class AudioTooLong(BadRequest):
    code = "audio_too_long"


@dataclass(frozen=True)
class Wav:
    """A decoded WAV: `samples` (n, channels) int16, as in the file."""

    rate_hz: int
    channels: int
    samples: npt.NDArray[np.int16]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.rate_hz


def read_wav(data: bytes, *, max_duration_s: float = MAX_DURATION_S) -> Wav:
    """Parses a WAV file (see the module's docstring); raises `NotWav` or `WavInvalid`/`AudioTooLong`."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NotWav("the body is not a WAV file (RIFF/WAVE); send PCM 16-bit audio as audio/wav")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8:pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _format(body)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavInvalid("the WAV's 'data' chunk comes before its 'fmt ' chunk")
            return _samples(fmt, body, max_duration_s)
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise WavInvalid("the WAV has no 'fmt ' chunk")
    raise WavInvalid("the WAV has no 'data' chunk")


def _format(body: bytes) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits) of a 'fmt ' chunk; only PCM 16-bit, 1-2 channels, 8-48 kHz pass."""
    if len(body) < 16:
        raise WavInvalid(f"the WAV's 'fmt ' chunk is {len(body)} bytes; at least 16")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _PCM_GUID_TAIL or struct.unpack_from("<H", body, 24)[0] != _PCM:
            raise WavInvalid("the WAV's encoding (WAVE_FORMAT_EXTENSIBLE) is not PCM; send PCM 16-bit")
        tag = _PCM
    if tag != _PCM:
        raise WavInvalid(f"the WAV's encoding is format {tag}, not PCM (1); send PCM 16-bit")
    if bits != 16:
        raise WavInvalid(f"the WAV has {bits} bits per sample; send PCM 16-bit")
    if channels not in (1, 2):
        raise WavInvalid(f"the WAV has {channels} channels; send mono or stereo")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise WavInvalid(f"the WAV's sample rate is {rate} Hz; send {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz")
    if block_align != channels * 2:
        raise WavInvalid(f"the WAV's block align is {block_align}; {channels * 2} for {channels} x 16 bit")
    return tag, channels, rate, bits


def _samples(fmt: tuple[int, int, int, int], body: bytes, max_duration_s: float) -> Wav:
    _tag, channels, rate, _bits = fmt
    frames = len(body) // (2 * channels)  # a data size past the end (a stream's placeholder) reads what is there
    if frames == 0:
        raise WavInvalid("the WAV has no samples")
    duration_s = frames / rate
    if duration_s > max_duration_s:
        raise AudioTooLong(f"the audio is {duration_s:.1f} s; at most {max_duration_s:g} s")
    samples = np.frombuffer(body, dtype="<i2", count=frames * channels).reshape(frames, channels)
    return Wav(rate, channels, samples.astype(np.int16))


def to_16k_mono(wav: Wav) -> npt.NDArray[np.float32]:
    """The audio as 16 kHz mono float32 in int16 units: `(n,)`, channels averaged, polyphase resampling."""
    mono: npt.NDArray[np.float32] = wav.samples.astype(np.float32).mean(axis=1, dtype=np.float32)
    if wav.rate_hz == MODEL_RATE_HZ:
        return mono
    g = math.gcd(wav.rate_hz, MODEL_RATE_HZ)
    out: npt.NDArray[np.float32] = resample_poly(mono, MODEL_RATE_HZ // g, wav.rate_hz // g).astype(np.float32)
    return out
