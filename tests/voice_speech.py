"""Spoken commands for the voice tests: espeak-ng speaks a phrase to a WAV file (a test-only tool; the node's
recogniser needs nothing but its pip package), and small WAV builders for noise, silence and odd formats."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.conftest import service_unreachable


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and speed: `name` is what the results table calls it."""

    name: str
    espeak: str
    words_per_minute: int = 175


VOICES = (Voice("en-us", "en-us"), Voice("en-us slow", "en-us", 120), Voice("en-gb", "en-gb"),
          Voice("en-us female", "en-us+f3"))
"""The voices every English command is spoken in: espeak-ng's American and British English, a slower rate
(120 words a minute; 175 is espeak's default) and a female variant."""


def require_espeak() -> str:
    """The espeak-ng binary (scripts/setup --dev installs it); skips locally, fails in CI, without it."""
    path = shutil.which("espeak-ng")
    if path is None:
        service_unreachable("espeak-ng", "not installed (scripts/setup --dev installs it)")
    return path


def speak(text: str, voice: Voice) -> bytes:
    """`text` spoken by espeak-ng as a WAV file (22050 Hz mono PCM 16-bit)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([require_espeak(), "-v", voice.espeak, "-s", str(voice.words_per_minute), "-w", str(path),
                        text], check=True, capture_output=True, timeout=60)
        return path.read_bytes()


def speak_streamed(text: str, voice: Voice) -> bytes:
    """`text` as espeak-ng writes it to a pipe: the RIFF and data sizes are placeholders (0x7ffff000), as a
    streaming recorder writes them."""
    return subprocess.run([require_espeak(), "-v", voice.espeak, "--stdout", text], check=True,
                          capture_output=True, timeout=60).stdout


def wav_bytes(samples: npt.NDArray[np.int16], rate_hz: int) -> bytes:
    """A PCM 16-bit WAV of `samples`: (n,) mono or (n, channels)."""
    frames = samples.reshape(samples.shape[0], -1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(frames.astype("<i2").tobytes())
    return buf.getvalue()


def read_samples(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """(samples (n, channels) int16, rate) of a WAV file written by espeak-ng or `wav_bytes`."""
    with wave.open(io.BytesIO(data)) as w:
        channels, rate = w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, "<i2").reshape(-1, channels), rate


def noise(seconds: float, rate_hz: int = 16000, level: float = 8000.0, seed: int = 1) -> bytes:
    """White noise, `level` int16 units RMS."""
    rng = np.random.default_rng(seed)
    samples = np.clip(rng.normal(0.0, level, int(seconds * rate_hz)), -32768, 32767).astype(np.int16)
    return wav_bytes(samples, rate_hz)


def silence(seconds: float, rate_hz: int = 16000) -> bytes:
    return wav_bytes(np.zeros(int(seconds * rate_hz), np.int16), rate_hz)


def tone(seconds: float, frequency_hz: float = 440.0, rate_hz: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return wav_bytes((np.sin(2 * np.pi * frequency_hz * t) * 10000).astype(np.int16), rate_hz)
