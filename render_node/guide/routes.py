"""Route of the guide's speech: `POST /api/guide/speech {"text", "lang"}` -> the audio (WAV, base64) and the
viseme track and word timings of that same audio, in one reply, so the client plays sound and lips from one
clock (t = 0 is the WAV's first sample). Thin: the body is capped and validated here; synthesis runs on the
speech engine's own thread (`SpeechEngine`), never on the event loop. Nothing is stored or logged."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from render_node.guide.speech import (
    MAX_TEXT_CHARS,
    LanguageUnsupported,
    SpeechEngine,
    TextInvalid,
    clean_text,
)
from render_node.guide.visemes import VISEMES, track
from render_node.request_body import first_error, read_capped, require_json
from showroom.http_schema import Operation, Reply, operation

MAX_BODY_BYTES = 4 * 1024
SPEECH_ENGINE: web.AppKey[SpeechEngine] = web.AppKey("guide_speech_engine")
"""espeak-ng behind one worker thread (the library is not thread-safe)."""


class SpeechRequest(BaseModel):
    """Body of `POST /api/guide/speech`."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=max(MAX_TEXT_CHARS.values()),
                      description=f"what to say: at most {MAX_TEXT_CHARS['en']} characters in English, "
                                  f"{MAX_TEXT_CHARS['zh']} in Mandarin")
    lang: Literal["en", "zh"] = "zh"


class SpeechAudio(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["wav"] = "wav"
    sample_rate: int = Field(description="samples a second (mono PCM 16-bit)")
    duration_ms: float
    base64: str = Field(description="the WAV file, base64")


class SpeechReply(BaseModel):
    """The audio and, on the same clock (ms from its first sample), the visemes and words."""

    model_config = ConfigDict(extra="forbid")
    lang: Literal["en", "zh"]
    audio: SpeechAudio
    visemes: list[list[float | str]] = Field(description=f"keyframes [t_ms, viseme, weight]; a viseme's "
                                                                f"weight is linear between its own keys, 0 outside "
                                                                f"them. Visemes: {', '.join(VISEMES)}")
    words: list[list[float | str]] = Field(description="[t_ms, word] as each word starts")
    captions: str


def _request(raw: bytes) -> SpeechRequest:
    try:
        return SpeechRequest.model_validate(json.loads(raw))
    except ValidationError as exc:
        where, message = first_error(exc)
        if where == "lang":
            raise LanguageUnsupported(f"lang must be en or zh ({message})") from None
        raise TextInvalid(f"{where}: {message}") from None
    except (ValueError, RecursionError):
        raise TextInvalid("the body is not valid JSON") from None


@operation(Operation(
    "Guide speech: text (en or zh) -> WAV audio plus the viseme track and word timings of that audio",
    ("guide",), body=SpeechRequest,
    replies={200: Reply("the audio (WAV, base64) and its visemes, words and captions", SpeechReply)},
    description="Synthesised on the node with espeak-ng (no cloud); the visemes follow the engine's phoneme "
                "timings. The viseme table: docs/guide.md.",
    errors={413: "the body is larger than 4 KiB", 415: "the body is not sent as application/json",
            422: "invalid_text (not JSON, empty, or too long for its language) or unsupported_language",
            503: "speech_unavailable: espeak-ng is not installed on this node"}))
async def guide_speech(request: web.Request) -> web.Response:
    """POST /api/guide/speech {"text", "lang"}: the spoken text and its viseme track, together."""
    require_json(request, '{"text": ..., "lang": "en" | "zh"}')
    body = _request(await read_capped(request, MAX_BODY_BYTES))
    text = clean_text(body.text, body.lang)
    speech = await request.app[SPEECH_ENGINE].synthesize(text, body.lang)
    keys = track(speech.phonemes, body.lang, speech.duration_ms)
    reply = SpeechReply(
        lang=body.lang,
        audio=SpeechAudio(sample_rate=speech.sample_rate, duration_ms=round(speech.duration_ms, 1),
                          base64=base64.b64encode(speech.wav()).decode("ascii")),
        visemes=[[round(t, 1), name, round(weight, 2)] for t, name, weight in keys],
        words=[[round(word.start_ms, 1), word.text] for word in speech.words],
        captions=speech.text)
    return web.json_response(reply.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SPEECH_ENGINE] = SpeechEngine()
    try:
        yield
    finally:
        app[SPEECH_ENGINE].close()


def setup(app: web.Application) -> None:
    """Adds the guide's speech route (and its engine thread) to the node's app."""
    app.cleanup_ctx.append(_engine_ctx)
    app.router.add_post("/api/guide/speech", guide_speech, name="guide_speech")
