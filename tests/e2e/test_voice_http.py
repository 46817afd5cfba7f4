"""Voice commands over real HTTP: espeak-ng's spoken commands posted as WAV files to a node on a loopback port come
back as the hall's commands; typed text (English and Chinese) through the same grammar; and every bad body is a
clear 4xx JSON error, never a 500 or a hang (a 50 MB body is refused before it is sent)."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from typing import Any

import aiohttp
import numpy as np
import pytest

from render_node.voice.recognizer import Recognition, VoiceWorkers
from render_node.voice.routes import VOICE_WORKERS
from tests.e2e.conftest import Node
from tests.voice_speech import VOICES, noise, silence, speak, speak_streamed, wav_bytes

pytestmark = pytest.mark.asyncio

SPOKEN = {
    "go to the gold counter": {"intent": "go", "target": "gold_counter"},
    "take me to the car studio": {"intent": "go", "target": "car_studio"},
    "show the 100 gram bar": {"intent": "show", "target": "bar-au9999-100g"},
    "show me the panda coin": {"intent": "show", "target": "coin-panda-au999-1oz"},
    "how much is this": {"intent": "price"},
    "buy this": {"intent": "buy"},
    "call an advisor": {"intent": "call_advisor"},
    "go back": {"intent": "back"},
}


async def post_wav(node: Node, body: bytes, *, content_type: str = "audio/wav", lang: str = "en"
                   ) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{node.base}/api/voice/commands", params={"lang": lang}, data=body,
            headers={"Content-Type": content_type}) as r:
        return r.status, await r.json()


async def post_text(node: Node, body: Any, *, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(
            f"{node.base}/api/voice/text", data=data, headers={"Content-Type": content_type}) as r:
        return r.status, await r.json()


async def test_spoken_commands_posted_as_wav_come_back_as_the_halls_commands(node: Node) -> None:
    for phrase, command in SPOKEN.items():
        for voice in (VOICES[0], VOICES[2]):
            status, body = await post_wav(node, speak(phrase, voice))
            assert status == 200, body
            assert body["command"] == command, (phrase, voice.name, body)
            assert body["lang"] == "en" and body["text"]


async def test_a_streamed_wav_and_the_x_wav_type_are_taken(node: Node) -> None:
    status, body = await post_wav(node, speak_streamed("go back", VOICES[0]), content_type="audio/x-wav")
    assert (status, body["command"]) == (200, {"intent": "back"})


async def test_recognition_runs_on_a_voice_thread_not_the_event_loop(node: Node) -> None:
    workers: VoiceWorkers = node.app[VOICE_WORKERS]
    threads: list[str] = []
    recognise = workers.recognise

    def recording(audio: Any) -> Recognition:
        threads.append(threading.current_thread().name)
        return recognise(audio)

    workers.recognise = recording  # type: ignore[method-assign]
    status, body = await post_wav(node, speak("buy this", VOICES[0]))
    assert (status, body["command"]) == (200, {"intent": "buy"})
    assert threads and all(name.startswith("voice") for name in threads)
    assert threading.main_thread().name not in threads


@pytest.mark.parametrize("wav", [silence(2.0), noise(2.0)], ids=["silence", "noise"])
async def test_silence_and_noise_are_a_200_with_no_command(node: Node, wav: bytes) -> None:
    status, body = await post_wav(node, wav)
    assert (status, body) == (200, {"lang": "en", "text": "", "command": None})


async def test_typed_text_in_english_and_chinese_goes_through_the_same_grammar(node: Node) -> None:
    cases = [({"text": "Take me to the car studio", "lang": "en"}, {"intent": "go", "target": "car_studio"}),
             ({"text": "show the 100g bar"}, {"intent": "show", "target": "bar-au9999-100g"}),
             ({"text": "去黄金柜台", "lang": "zh"}, {"intent": "go", "target": "gold_counter"}),
             ({"text": "看一百克金条", "lang": "zh"}, {"intent": "show", "target": "bar-au9999-100g"}),
             ({"text": "这个多少钱", "lang": "zh"}, {"intent": "price"}),
             ({"text": "买这个", "lang": "zh"}, {"intent": "buy"}),
             ({"text": "呼叫顾问", "lang": "zh"}, {"intent": "call_advisor"}),
             ({"text": "返回", "lang": "zh"}, {"intent": "back"}),
             ({"text": "what a lovely day", "lang": "en"}, None)]
    for request, command in cases:
        status, body = await post_text(node, request)
        assert status == 200 and body["command"] == command, (request, body)
        assert body["text"] == request["text"].strip() and body["lang"] == request.get("lang", "en")


def _riff(fmt: bytes, data: bytes) -> bytes:
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


BAD_WAVS = {
    "empty body": (b"", 400, "bad_request"),
    "not RIFF (an MP3 frame)": (b"\xff\xfb\x90\x64" + b"\0" * 400, 415, "unsupported_media_type"),
    "RIFF but float32": (_riff(struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32), b"\0" * 6400), 400, "bad_wav"),
    "RIFF but 8-bit": (_riff(struct.pack("<HHIIHH", 1, 1, 16000, 16000, 1, 8), b"\0" * 1600), 400, "bad_wav"),
    "0 channels": (_riff(struct.pack("<HHIIHH", 1, 0, 16000, 0, 0, 16), b"\0" * 3200), 400, "bad_wav"),
    "a truncated header": (b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0", 400, "bad_wav"),
    "30 s (too long)": (wav_bytes(np.zeros(30 * 16000, np.int16), 16000), 400, "audio_too_long"),
}


@pytest.mark.parametrize("case", BAD_WAVS, ids=list(BAD_WAVS))
async def test_a_bad_wav_is_a_clear_4xx(node: Node, case: str) -> None:
    wav, status, code = BAD_WAVS[case]
    got, body = await post_wav(node, wav)
    assert got == status and body["error"]["code"] == code and body["error"]["message"], body


async def test_a_wrong_content_type_or_language_is_a_clear_4xx(node: Node) -> None:
    wav = speak("go back", VOICES[0])
    status, body = await post_wav(node, wav, content_type="application/octet-stream")
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    assert "audio/wav" in body["error"]["message"]
    status, body = await post_wav(node, wav, lang="zh")
    assert (status, body["error"]["code"]) == (422, "language_not_recognised")
    assert "/api/voice/text" in body["error"]["message"]
    status, body = await post_wav(node, wav, lang="fr")
    assert (status, body["error"]["code"]) == (400, "bad_request") and "lang" in body["error"]["message"]


async def test_bad_text_bodies_are_a_clear_4xx(node: Node) -> None:
    for body, status, code in [(b"not json", 422, "invalid_input"), ({"text": 5}, 422, "invalid_input"),
                               ({"text": "go back", "lang": "fr"}, 422, "invalid_input"),
                               ({"text": "go back", "extra": 1}, 422, "invalid_input"),
                               ({"text": "x" * 201}, 422, "invalid_input"),
                               (b"{\"text\": \"" + b"x" * 5000 + b"\"}", 413, "payload_too_large")]:
        got, reply = await post_text(node, body)
        assert (got, reply["error"]["code"]) == (status, code), body
    got, reply = await post_text(node, {"text": "go back"}, content_type="text/plain")
    assert (got, reply["error"]["code"]) == (415, "unsupported_media_type")


async def test_a_50_mb_body_is_refused_before_it_is_sent(node: Node) -> None:
    host, port = node.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /api/voice/commands?lang=en HTTP/1.1\r\nHost: node\r\nContent-Type: audio/wav\r\n"
                     b"Content-Length: 52428800\r\n\r\n" + b"RIFF" + b"\0" * 65532)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        assert head.startswith(b"HTTP/1.1 413 "), head
    finally:
        writer.close()


async def test_a_chunked_body_past_2_mb_is_cut_off_at_the_cap(node: Node) -> None:
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        yield b"RIFF" + b"\0" * (64 * 1024 - 4)
        for _ in range(200):  # 12.8 MB if it were all read
            sent += 64 * 1024
            yield b"\0" * (64 * 1024)

    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(f"{node.base}/api/voice/commands", data=chunks(),
                                 headers={"Content-Type": "audio/wav"}) as r:
                status, body = r.status, await r.json()
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            pytest.fail("the node closed the connection instead of answering 413")
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
