"""Lip sync measured from the audio itself: the PP (bilabial) viseme closes the lips within one video frame
(33 ms) of the bilabial's sound, for words whose only consonants are bilabials (bob, mama, 爸爸, ...).

The audio side does not look at the engine's events: `bilabial_onsets` finds, in the waveform's energy, where
each consonant's sound starts: after silence, the first sound (a nasal's murmur, a stop's burst); after a vowel,
the fall of the energy into the closure (the lips shutting dampens the sound). The viseme side is the time the
track brings PP to full weight. bench/guide_speech.py reports the same offsets.
"""

from __future__ import annotations

import shutil

import numpy as np
import numpy.typing as npt
import pytest

from render_node.guide.speech import Espeak, Lang, Speech
from render_node.guide.visemes import VisemeKey, track

FRAME_MS = 1000.0 / 30
SHORT_WINDOW_MS, LONG_WINDOW_MS, HOP_MS = 5.0, 20.0, 2.5
SILENT_DB = 30.0
"""Energy of a 5 ms window (dB of the int16 RMS) below which it is silence."""
BAND_HZ = (1000.0, 5000.0)
VOWEL_BELOW_PEAK_DB, CLOSURE_FALL_DB, LOOK_BACK_MS = 12.0, 15.0, 50.0
"""A vowel's band is within 12 dB of the loudest; a closure starts where the band falls 15 dB below its
loudest of the last 50 ms (the lips shutting), once a vowel has sounded for REARM_MS."""
MIN_PAUSE_MS, REARM_MS, MIN_CLOSURE_MS = 12.5, 20.0, 30.0
"""Silence before a fresh onset; a vowel before the next closure; sound after a closure (not the last decay)."""

BILABIAL_WORDS: tuple[tuple[Lang, str], ...] = (("en", "bob"), ("en", "mama"), ("en", "baby"), ("zh", "爸爸"),
                                                ("zh", "妈妈"), ("zh", "拜拜"), ("zh", "八百"))
"""Words whose only consonants are bilabials: every consonant onset in their audio is a bilabial's."""


def _samples(speech: Speech) -> npt.NDArray[np.float64]:
    return np.frombuffer(speech.pcm, dtype="<i2").astype(np.float64)


def _windows(speech: Speech, window_ms: float) -> tuple[int, npt.NDArray[np.int64]]:
    width = int(speech.sample_rate * window_ms / 1000)
    hop = int(speech.sample_rate * HOP_MS / 1000)
    return width, np.arange(0, max(1, len(speech.pcm) // 2 - width), hop)


def energy_db(speech: Speech) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(window start times in ms, dB of the int16 RMS) of 5 ms windows every 2.5 ms."""
    samples = _samples(speech)
    width, starts = _windows(speech, SHORT_WINDOW_MS)
    energy = np.array([10 * np.log10(np.mean(samples[s:s + width] ** 2) + 1.0) for s in starts])
    return starts * 1000.0 / speech.sample_rate, energy


def band_db(speech: Speech) -> npt.NDArray[np.float64]:
    """dB of the 1-5 kHz band (F2 and up) of 20 ms Hann windows, at the same 2.5 ms steps as `energy_db`."""
    samples = _samples(speech)
    width, starts = _windows(speech, LONG_WINDOW_MS)
    freqs = np.fft.rfftfreq(width, 1.0 / speech.sample_rate)
    band, hann = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1]), np.hanning(width)
    power = [np.sum(np.abs(np.fft.rfft(samples[s:s + width] * hann))[band] ** 2) for s in starts]
    db: npt.NDArray[np.float64] = 10 * np.log10(np.array(power) + 1.0)
    return db


def bilabial_onsets(speech: Speech) -> list[float]:
    """Times (ms) where a consonant's sound starts, from the audio alone (see the module's docstring): the
    first sound after silence, or where a vowel's 1-5 kHz band falls 15 dB (the lips shutting leave a
    low murmur or voice bar) while the audio goes on sounding."""
    times, energy = energy_db(speech)
    band = band_db(speech)
    band = np.concatenate([band, np.full(max(0, len(energy) - len(band)), band[-1])])
    vowel_db = float(band.max()) - VOWEL_BELOW_PEAK_DB
    pause, look_back, rearm, closure = (int(ms / HOP_MS) for ms in (MIN_PAUSE_MS, LOOK_BACK_MS, REARM_MS,
                                                                    MIN_CLOSURE_MS))
    onsets: list[float] = []
    silent_run, vowel_run, armed = pause, 0, False  # the file starts after silence
    for i, t in enumerate(times):
        if energy[i] < SILENT_DB:
            silent_run, vowel_run, armed = silent_run + 1, 0, False
            continue
        if silent_run >= pause:
            onsets.append(float(t))
        silent_run = 0
        vowel_run = vowel_run + 1 if band[i] >= vowel_db else 0
        armed = armed or vowel_run >= rearm
        centre = float(t) + LONG_WINDOW_MS / 2
        if armed and band[i] < band[max(0, i - look_back):i + 1].max() - CLOSURE_FALL_DB:
            sounding = energy[i:i + closure].min() >= SILENT_DB
            if sounding and speech.duration_ms - centre >= MIN_CLOSURE_MS:  # a closure, not a pause or the end
                onsets.append(centre)
            armed = False
    return onsets


def lips_closed_at(keys: list[VisemeKey]) -> list[float]:
    """Times the track brings PP to full weight (from 0 or at the start)."""
    own = [(t, w) for t, name, w in keys if name == "PP"]
    return [t for i, (t, w) in enumerate(own) if w > 0 and (i == 0 or own[i - 1][1] == 0)]


def lip_offsets(speech: Speech) -> list[float]:
    """Lips closed minus sound onset (ms) for each bilabial, paired in order."""
    closed = lips_closed_at(track(speech.phonemes, speech.lang, speech.duration_ms))
    onsets = bilabial_onsets(speech)
    assert len(closed) == len(onsets), f"PP closes at {closed} ms, bilabials sound at {onsets} ms"
    return [c - o for c, o in zip(closed, onsets, strict=True)]


@pytest.fixture(scope="module")
def espeak() -> Espeak:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")
    return Espeak()


@pytest.mark.parametrize(("lang", "word"), BILABIAL_WORDS)
def test_the_bilabial_viseme_closes_the_lips_within_one_frame_of_its_sound(espeak: Espeak, lang: Lang,
                                                                           word: str) -> None:
    offsets = lip_offsets(espeak.synthesize(word, lang))
    assert offsets
    assert max(abs(o) for o in offsets) <= FRAME_MS, offsets


def test_the_audio_measure_finds_each_bilabial_of_a_word_and_nothing_in_a_vowel(espeak: Espeak) -> None:
    assert len(bilabial_onsets(espeak.synthesize("bob", "en"))) == 2
    assert len(bilabial_onsets(espeak.synthesize("爸爸", "zh"))) == 2
    assert len(bilabial_onsets(espeak.synthesize("ah", "en"))) == 1  # only the sound's start
