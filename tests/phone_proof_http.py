"""Proof of the phone for tests: ask the node for a code, read it from the payment sandbox's SMS outbox, verify it
(docs/commerce.md, "Proof of the phone"). `phone_proof` over aiohttp, `phone_proof_sync` for the browser tests."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import aiohttp


async def sandbox_code(http: aiohttp.ClientSession, sandbox: str, phone: str, *, after: str | None = None,
                       timeout_s: float = 10.0) -> str:
    """The code of the newest SMS to `phone` in the sandbox outbox (newer than message id `after`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while True:
        async with http.get(f"{sandbox}/sms/messages", params={"to": phone}) as r:
            assert r.status == 200, await r.text()
            messages = (await r.json())["messages"]
        if messages and messages[0]["id"] != after:
            return str(messages[0]["params"]["code"])
        assert loop.time() < end, f"no SMS reached {phone}"
        await asyncio.sleep(0.05)


async def newest_sms_id(http: aiohttp.ClientSession, sandbox: str, phone: str) -> str | None:
    async with http.get(f"{sandbox}/sms/messages", params={"to": phone}) as r:
        messages = (await r.json())["messages"]
    return str(messages[0]["id"]) if messages else None


async def phone_proof(http: aiohttp.ClientSession, base: str, sandbox: str, phone: str) -> str:
    """A fresh proof token for `phone` (send, read the SMS, verify)."""
    before = await newest_sms_id(http, sandbox, phone)
    async with http.post(f"{base}/api/phone/codes", json={"customer": {"phone": phone}}) as r:
        assert r.status == 202, await r.text()
    code = await sandbox_code(http, sandbox, phone, after=before)
    async with http.post(f"{base}/api/phone/verify", json={"customer": {"phone": phone}, "code": code}) as r:
        body = await r.json()
        assert r.status == 200, body
    return str(body["phone_proof"])


def proof_headers(token: str) -> dict[str, str]:
    return {"X-Phone-Proof": token}


def _json(url: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def sandbox_code_sync(sandbox: str, phone: str, *, after: str | None = None, timeout_s: float = 15.0) -> str:
    end = time.monotonic() + timeout_s
    while True:
        messages = _json(f"{sandbox}/sms/messages?to={phone}")["messages"]
        if messages and messages[0]["id"] != after:
            return str(messages[0]["params"]["code"])
        assert time.monotonic() < end, f"no SMS reached {phone}"
        time.sleep(0.1)


def newest_sms_id_sync(sandbox: str, phone: str) -> str | None:
    messages = _json(f"{sandbox}/sms/messages?to={phone}")["messages"]
    return str(messages[0]["id"]) if messages else None


def phone_proof_sync(base: str, sandbox: str, phone: str) -> str:
    before = newest_sms_id_sync(sandbox, phone)
    _json(f"{base}/api/phone/codes", {"customer": {"phone": phone}})
    code = sandbox_code_sync(sandbox, phone, after=before)
    return str(_json(f"{base}/api/phone/verify", {"customer": {"phone": phone}, "code": code})["phone_proof"])
