"""Routes of voice commands: `POST /api/voice/commands` (a spoken command as WAV) and `POST /api/voice/text`.

Thin: check the query and the content type, stream the body with a cap (413 as soon as it is past 2 MB, from
Content-Length before a byte is read), then hand WAV parsing, resampling and recognition to the voice worker
threads (`VoiceWorkers`, one recogniser each): nothing of it runs on the event loop. Both routes answer the same
shape, `{"lang", "text", "command": null | {"intent", "target"?}}`; no command is a 200 with `"command": null`
(silence, noise, or a phrase outside the grammar), never an error. Audio is not stored or logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from render_node.errors import BadRequest, NodeError, UnsupportedMediaType
from render_node.request_body import read_capped, read_model
from render_node.voice.commands import MAX_TEXT_CHARS, Intent, Lang, parse
from render_node.voice.recognizer import Recognition, VoiceWorkers
from render_node.voice.wav import MAX_DURATION_S, MAX_WAV_BYTES, read_wav, to_16k_mono
from showroom.http_schema import Operation, Reply, operation

WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})
MAX_TEXT_BODY_BYTES = 4 * 1024

VOICE_WORKERS: web.AppKey[VoiceWorkers] = web.AppKey("voice_workers")
"""Threads that parse WAVs and run the recognisers (one pocketsphinx decoder per thread)."""


class LanguageNotRecognised(NodeError):
    code = "language_not_recognised"
    http_status = 422


class VoiceQuery(BaseModel):
    """Query of `POST /api/voice/commands`."""

    model_config = ConfigDict(extra="ignore")
    lang: Literal["en", "zh"] = Field("en", description="the language spoken; only en is recognised offline "
                                                        "(zh: 422, send the text to /api/voice/text)")


class VoiceText(BaseModel):
    """Body of `POST /api/voice/text`: typed text, or what the browser's own recogniser heard."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    lang: Literal["en", "zh"] = "en"


class CommandReply(BaseModel):
    intent: Intent
    target: str | None = Field(None, description="a zone id (go) or a product id (show; price and buy when "
                                                 "a product is named, else the focused one)")


class VoiceReply(BaseModel):
    """What was heard and the command it is (null: no command of the grammar)."""

    model_config = ConfigDict(extra="forbid")
    lang: Literal["en", "zh"]
    text: str = Field(description="the grammar's sentence that was heard (empty when none), or the text sent")
    command: CommandReply | None


def _reply(lang: Lang, text: str, recognition: Recognition | None = None) -> web.Response:
    command = recognition.command if recognition is not None else parse(text, lang)
    body: dict[str, Any] = {"lang": lang, "text": text, "command": command.as_json() if command else None}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _query(request: web.Request) -> VoiceQuery:
    try:
        return VoiceQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequest(f"{'.'.join(str(x) for x in first['loc']) or 'query'}: {first['msg']}") from None


def _recognise(workers: VoiceWorkers, data: bytes) -> Recognition:
    """In a voice thread: parse the WAV, resample it to 16 kHz mono, recognise it."""
    return workers.recognise(to_16k_mono(read_wav(data)))


_VOICE_REPLY = {200: Reply("what was heard and its command (null: none of the grammar)", VoiceReply)}


@operation(Operation(
    "Voice command: a spoken English command (audio/wav) -> the hall's command, recognised offline", ("voice",),
    query=VoiceQuery, replies=_VOICE_REPLY,
    description=f"The body is a WAV file sent as `audio/wav`: PCM 16-bit, mono or stereo, 8-48 kHz, at most "
                f"{MAX_DURATION_S:g} s and {MAX_WAV_BYTES} bytes. Silence, noise or a phrase outside the grammar "
                f"is a 200 with `\"command\": null`. The grammar: docs/voice.md.",
    errors={400: "an empty body, a WAV this node does not take (not PCM 16-bit, 0 or more than 2 channels, a "
                 "rate outside 8-48 kHz, truncated: bad_wav) or longer than 15 s (audio_too_long), a bad lang",
            413: "the body is larger than 2 MB (answered before it is read)",
            415: "the body is not sent as audio/wav, or is not a RIFF/WAVE file",
            422: "lang=zh: spoken Mandarin is not recognised offline (send the text to /api/voice/text)"}))
async def voice_command(request: web.Request) -> web.Response:
    """POST /api/voice/commands?lang=en: a WAV body -> the recognised command."""
    lang = _query(request).lang
    if lang == "zh":
        raise LanguageNotRecognised("spoken Mandarin is not recognised offline on this node (no offline Mandarin "
                                    "model ships in a package); send the text to POST /api/voice/text")
    if request.content_type not in WAV_TYPES:
        sent = request.content_type or "no content type"
        raise UnsupportedMediaType(f"send the audio as audio/wav (PCM 16-bit), not {sent}")
    data = await read_capped(request, MAX_WAV_BYTES)
    if not data:
        raise BadRequest("the body is empty: send a WAV file (PCM 16-bit, mono or stereo, 8-48 kHz)")
    workers = request.app[VOICE_WORKERS]
    recognition = await workers.run(_recognise, workers, data)
    return _reply("en", recognition.text, recognition)


@operation(Operation(
    "Voice command from text: typed or browser-recognised text (en or zh) -> the hall's command", ("voice",),
    body=VoiceText, replies=_VOICE_REPLY,
    errors={413: "the body is larger than 4 KiB", 415: "the body is not sent as application/json",
            422: "invalid_input: not JSON, or a field named"}))
async def voice_text(request: web.Request) -> web.Response:
    """POST /api/voice/text {"text", "lang"}: the command the text says, through the same grammar."""
    body = await read_model(request, VoiceText, MAX_TEXT_BODY_BYTES, '{"text": ..., "lang": "en" | "zh"}')
    return _reply(body.lang, body.text.strip())


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    app[VOICE_WORKERS] = VoiceWorkers()
    try:
        yield
    finally:
        await asyncio.get_running_loop().run_in_executor(None, app[VOICE_WORKERS].close)


def setup(app: web.Application) -> None:
    """Adds the voice routes (and their worker threads) to the node's app."""
    app.cleanup_ctx.append(_workers_ctx)
    app.router.add_post("/api/voice/commands", voice_command, name="voice_commands")
    app.router.add_post("/api/voice/text", voice_text, name="voice_text")
