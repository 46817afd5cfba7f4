"""Text to speech on the node with libespeak-ng (a Debian package), through ctypes: 16-bit mono PCM plus the
engine's phoneme and word events, each at its audio position, so visemes can follow the sound exactly.

The library is synchronous and not thread-safe (one global state): every call goes through one lock, and
`SpeechEngine` runs synthesis on one worker thread so the event loop never waits on it. Positions come from the
events' `sample` field (the sample count at which the event occurs; `audio_position` is the same in whole ms).

Voices: English is `en-us`; Mandarin is `cmn-latn-pinyin`, because espeak-ng 1.51's `cmn` voice ("latin as
English") speaks the tone digits of its own pinyin transcription as English words (爸 -> "ba four"); the pinyin
voice reads the same characters correctly (docs/guide.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import threading
import unicodedata
import wave
from concurrent.futures import ThreadPoolExecutor
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    Union,
    c_char,
    c_char_p,
    c_int,
    c_short,
    c_size_t,
    c_uint,
    c_void_p,
)
from dataclasses import dataclass
from typing import ClassVar, Literal

from render_node.errors import NodeError

Lang = Literal["en", "zh"]
VOICES: dict[str, str] = {"en": "en-us", "zh": "cmn-latn-pinyin"}
MAX_TEXT_CHARS: dict[str, int] = {"en": 400, "zh": 150}
"""At most this many characters a request (about 25 s of English, 40 s of Mandarin)."""
MAX_AUDIO_S = 60.0
"""Synthesis stops past this much audio (a guard; the text caps keep real requests well under it)."""
LIBRARY = "libespeak-ng.so.1"
_LOCK = threading.Lock()
"""libespeak-ng has one global state per process: every call into it, from any `Espeak`, holds this lock."""

# speak_lib.h (API revision 12)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_SENTENCE, _EVENT_END, _EVENT_PHONEME = 0, 1, 2, 5, 7


class GuideError(NodeError):
    """Base of the guide's errors (answered as JSON by the node's error middleware)."""

    code = "guide_error"
    http_status = 400


class TextInvalid(GuideError):
    code = "invalid_text"
    http_status = 422


class LanguageUnsupported(GuideError):
    code = "unsupported_language"
    http_status = 422


class SpeechUnavailable(GuideError):
    """libespeak-ng is not installed on this node, or failed."""

    code = "speech_unavailable"
    http_status = 503


class _EventId(Union):
    _fields_: ClassVar = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(Structure):
    _fields_: ClassVar = [("type", c_int), ("unique_identifier", c_uint), ("text_position", c_int), ("length", c_int),
                ("audio_position", c_int), ("sample", c_int), ("user_data", c_void_p), ("id", _EventId)]


_CALLBACK = CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


@dataclass(frozen=True)
class Phoneme:
    """An espeak-ng phoneme mnemonic (`"p"`, `"aI"`, `"_:"` a pause) starting at `start_ms` of the audio."""

    start_ms: float
    name: str


@dataclass(frozen=True)
class Word:
    start_ms: float
    text: str


@dataclass(frozen=True)
class Speech:
    """Synthesised speech: mono PCM 16-bit little-endian at `sample_rate`, and its timed phonemes and words."""

    lang: Lang
    text: str
    pcm: bytes
    sample_rate: int
    phonemes: tuple[Phoneme, ...]
    words: tuple[Word, ...]

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) / 2 * 1000.0 / self.sample_rate

    def wav(self) -> bytes:
        """The audio as a WAV file."""
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self.pcm)
        return out.getvalue()


def clean_text(text: str, lang: str) -> str:
    """The text to speak: whitespace and control characters collapsed; refused when empty, too long or of an
    unknown language."""
    if lang not in VOICES:
        raise LanguageUnsupported(f"lang must be one of {', '.join(sorted(VOICES))}, not {lang!r}")
    cleaned = " ".join("".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text).split())
    if not cleaned:
        raise TextInvalid("the text is empty: send something to say")
    if len(cleaned) > MAX_TEXT_CHARS[lang]:
        raise TextInvalid(f"the text is {len(cleaned)} characters; at most {MAX_TEXT_CHARS[lang]} for {lang}")
    return cleaned


class Espeak:
    """libespeak-ng in synchronous mode; `synthesize` may be called from any thread and from several instances
    (one process-wide lock; each call installs its own callback)."""

    def __init__(self, library: str = LIBRARY) -> None:
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as exc:
            raise SpeechUnavailable(f"speech is not available on this node ({library}: {exc}); install the "
                                    f"Debian package espeak-ng") from None
        self._lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [c_char_p]
        self._lib.espeak_Synth.argtypes = [c_char_p, c_size_t, c_uint, c_int, c_uint, c_uint, c_void_p, c_void_p]
        self._lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        with _LOCK:
            self.sample_rate = int(self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                                               _INITIALIZE_PHONEME_EVENTS))
        if self.sample_rate <= 0:
            raise SpeechUnavailable("espeak-ng did not initialise (its data files are missing?)")
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._samples = 0
        self._callback = _CALLBACK(self._on_synth)  # kept referenced: the library holds the pointer

    def _on_synth(self, wav: ctypes._Pointer[c_short], count: int,
                  events: ctypes._Pointer[_Event]) -> int:
        if count > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, count * 2))
            self._samples += count
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            name = bytes(ev.id.string).split(b"\0", 1)[0] if ev.type == _EVENT_PHONEME else b""
            self._events.append((ev.type, ev.sample, ev.text_position, ev.length, name))
            i += 1
        return 1 if self._samples > MAX_AUDIO_S * self.sample_rate else 0  # 1 aborts the synthesis

    def synthesize(self, text: str, lang: Lang) -> Speech:
        text = clean_text(text, lang)
        data = text.encode("utf-8") + b"\0"
        with _LOCK:
            self._lib.espeak_SetSynthCallback(self._callback)  # the library's one callback: this instance's
            self._chunks, self._events, self._samples = [], [], 0
            if self._lib.espeak_SetVoiceByName(VOICES[lang].encode()) != 0:
                raise SpeechUnavailable(f"espeak-ng has no voice {VOICES[lang]}")
            status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise SpeechUnavailable(f"espeak-ng failed to synthesise (error {status})")
            pcm, events = b"".join(self._chunks), list(self._events)
        return _speech(lang, text, pcm, self.sample_rate, events)


def _speech(lang: Lang, text: str, pcm: bytes, rate: int, events: list[tuple[int, int, int, int, bytes]]) -> Speech:
    """Speech from the raw events: phonemes (language switches like `(en)` left out) and words."""
    ms = 1000.0 / rate
    phonemes = [Phoneme(sample * ms, name.decode("utf-8", "replace")) for kind, sample, _p, _l, name in events
                if kind == _EVENT_PHONEME and name and not name.startswith(b"(")]
    words = [Word(sample * ms, text[pos - 1:pos - 1 + length]) for kind, sample, pos, length, _n in events
             if kind == _EVENT_WORD and length > 0 and pos >= 1]
    return Speech(lang, text, pcm, rate, tuple(phonemes), tuple(words))


class SpeechEngine:
    """Async front of `Espeak`: synthesis runs on one worker thread (the library is not thread-safe)."""

    def __init__(self, library: str = LIBRARY) -> None:
        self._library = library
        self._espeak: Espeak | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guide-speech")

    def _synthesize(self, text: str, lang: Lang) -> Speech:
        if self._espeak is None:
            self._espeak = Espeak(self._library)
        return self._espeak.synthesize(text, lang)

    async def synthesize(self, text: str, lang: Lang) -> Speech:
        clean_text(text, lang)  # refuse bad requests before they queue
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._synthesize, text, lang)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
