"""The guide's speech over real HTTP: `POST /api/guide/speech` answers the WAV and, on the same clock, the viseme
track, words and captions in one reply; an empty, too long or unknown-language request is a clear 4xx JSON; synthesis
runs on the speech thread, and a client past the `guide_speech` limit gets 429."""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import wave
from typing import Any

import aiohttp
import pytest

from render_node.guide.routes import SPEECH_ENGINE
from render_node.guide.speech import MAX_TEXT_CHARS, Lang, Speech
from render_node.guide.visemes import VISEMES
from render_node.ratelimit import LIMITS
from tests.e2e.conftest import Node

pytestmark = pytest.mark.asyncio


async def post(node: Node, body: Any, *, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(
            f"{node.base}/api/guide/speech", data=data, headers={"Content-Type": content_type}) as r:
        return r.status, await r.json()


@pytest.fixture(autouse=True)
def _espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")


@pytest.mark.parametrize(("lang", "text"), [("en", "Welcome to the bank. The panda coin is here."),
                                            ("zh", "欢迎光临，熊猫金币在这里。")])
async def test_speech_comes_back_as_audio_and_visemes_in_one_reply(node: Node, lang: str, text: str) -> None:
    status, body = await post(node, {"text": text, "lang": lang})
    assert status == 200, body
    audio = body["audio"]
    with wave.open(io.BytesIO(base64.b64decode(audio["base64"]))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, audio["sample_rate"])
        assert w.getnframes() * 1000 / w.getframerate() == pytest.approx(audio["duration_ms"], abs=0.1)
    assert audio["format"] == "wav" and audio["duration_ms"] > 1000
    visemes = body["visemes"]
    assert all(name in VISEMES and 0 <= weight <= 1 for _t, name, weight in visemes)
    assert [t for t, _n, _w in visemes] == sorted(t for t, _n, _w in visemes)
    assert abs(visemes[-1][0] - audio["duration_ms"]) <= 50
    assert "PP" in {name for _t, name, _w in visemes}
    assert body["words"] and body["captions"] == text and body["lang"] == lang


@pytest.mark.parametrize(("body", "code"), [
    ({"text": "", "lang": "en"}, "invalid_text"),
    ({"text": " \n\t ", "lang": "zh"}, "invalid_text"),
    ({"text": "a" * (MAX_TEXT_CHARS["en"] + 1), "lang": "en"}, "invalid_text"),
    ({"text": "金" * (MAX_TEXT_CHARS["zh"] + 1), "lang": "zh"}, "invalid_text"),
    ({"text": "bonjour", "lang": "fr"}, "unsupported_language"),
    ({"lang": "en"}, "invalid_text"),
    (b"{not json", "invalid_text"),
])
async def test_empty_too_long_or_unknown_language_requests_are_a_clear_422(node: Node, body: Any,
                                                                          code: str) -> None:
    status, reply = await post(node, body)
    assert (status, reply["error"]["code"]) == (422, code)
    assert reply["error"]["message"]


async def test_a_wrong_content_type_or_an_oversized_body_is_a_clear_4xx(node: Node) -> None:
    status, reply = await post(node, b"text=hi", content_type="application/x-www-form-urlencoded")
    assert (status, reply["error"]["code"]) == (415, "unsupported_media_type")
    status, reply = await post(node, {"text": "x" * 5000, "lang": "en"})
    assert (status, reply["error"]["code"]) == (413, "payload_too_large")


async def test_synthesis_runs_on_the_speech_thread_not_the_event_loop(node: Node) -> None:
    threads: list[str] = []
    engine = node.app[SPEECH_ENGINE]
    real = engine._synthesize

    def recording(text: str, lang: Lang) -> Speech:
        threads.append(threading.current_thread().name)
        return real(text, lang)

    engine._synthesize = recording  # type: ignore[method-assign]
    status, _body = await post(node, {"text": "hello", "lang": "en"})
    assert status == 200 and threads and all(name.startswith("guide-speech") for name in threads)


async def test_a_client_over_the_speech_rate_limit_gets_429_before_any_synthesis(node: Node) -> None:
    burst = next(limit.burst for limit in LIMITS if limit.name == "guide_speech")
    statuses = [(await post(node, {"text": "", "lang": "en"}))[0] for _ in range(burst + 1)]
    assert statuses[:burst] == [422] * burst and statuses[-1] == 429
