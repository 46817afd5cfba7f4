"""The bank's SMS service in test mode: it sends nothing; it keeps every message in an outbox a tester, a demo
and the tests read (docs/commerce.md, "Proof of the phone").

- `POST /sms/messages` `{"to", "template", "params", "text"}` (header `Idempotency-Key`: a replay answers the
  first message and keeps no second one) -> 201 `{"id", "status": "delivered"}`; a number that is not an 11-digit
  mainland mobile number is 400 `bad_request`.
- `GET /sms/messages?to=<mobile>` -> `{"messages": [{"id", "to", "template", "params", "text", "sent_at"}]}`, newest
  first (the tests read the code from `params.code`).
- `GET /sms/phone/<mobile>`: the test "phone" page, the messages of that number as a phone's inbox shows them.

The outbox lives in this process's memory (the last `KEEP_PER_NUMBER` messages of each of the last
`KEEP_NUMBERS` numbers): a restart empties it, as a test phone's inbox may be.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from showroom.payment_sandbox import errors
from showroom.payment_sandbox._http import read_json

MOBILE = re.compile(r"^1[3-9]\d{9}$")
KEEP_PER_NUMBER = 20
KEEP_NUMBERS = 5000


@dataclass
class Outbox:
    by_number: OrderedDict[str, deque[dict[str, Any]]] = field(default_factory=OrderedDict)
    by_key: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    def add(self, key: str | None, message: dict[str, Any]) -> dict[str, Any]:
        if key and key in self.by_key:
            return self.by_key[key]
        box = self.by_number.pop(message["to"], None) or deque(maxlen=KEEP_PER_NUMBER)
        box.appendleft(message)
        self.by_number[message["to"]] = box
        while len(self.by_number) > KEEP_NUMBERS:
            self.by_number.popitem(last=False)
        if key:
            self.by_key[key] = message
            while len(self.by_key) > KEEP_NUMBERS * 2:
                self.by_key.popitem(last=False)
        return message

    def of(self, number: str) -> list[dict[str, Any]]:
        return list(self.by_number.get(number, ()))


OUTBOX_KEY = web.AppKey("sandbox_sms_outbox", Outbox)


def _number(value: object) -> str:
    number = str(value or "").strip()
    if not MOBILE.fullmatch(number):
        raise errors.BadRequestBody("to: an 11-digit mainland mobile number (1[3-9]XXXXXXXXX) is required")
    return number


async def send_message(request: web.Request) -> web.Response:
    body = await read_json(request)
    number = _number(body.get("to"))
    text, params = body.get("text", ""), body.get("params", {})
    if not isinstance(text, str) or not text or len(text) > 500:
        raise errors.BadRequestBody("text: the message (1-500 characters) is required")
    if not isinstance(params, dict):
        raise errors.BadRequestBody("params must be an object")
    message = {"id": "sms_" + secrets.token_hex(10), "to": number, "template": str(body.get("template", ""))[:64],
               "params": {str(k)[:32]: str(v)[:64] for k, v in list(params.items())[:10]}, "text": text,
               "sent_at": datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")}
    kept = request.app[OUTBOX_KEY].add(request.headers.get("Idempotency-Key"), message)
    return web.json_response({"id": kept["id"], "status": "delivered"}, status=201)


async def list_messages(request: web.Request) -> web.Response:
    number = _number(request.query.get("to"))
    return web.json_response({"messages": request.app[OUTBOX_KEY].of(number)})


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="5">
<title>测试手机 {number} · Test phone</title><style>
body{{margin:0;font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",Arial,sans-serif;background:#e9ebef}}
.phone{{max-width:420px;margin:16px auto;background:#fff;border-radius:28px;border:10px solid #1f2329;min-height:600px;
 overflow:hidden}}
header{{background:#f7f8fa;padding:14px 18px;border-bottom:1px solid #e5e6eb}}
header b{{font-size:17px}}header small{{display:block;color:#8f959e;font-size:12px;margin-top:2px}}
.test{{background:#f4c542;color:#5a3b00;font-size:12px;text-align:center;padding:4px}}
ul{{list-style:none;margin:0;padding:12px}}
li{{background:#f2f3f5;border-radius:14px 14px 14px 4px;padding:10px 12px;margin:0 0 12px;font-size:15px;
 line-height:1.5;max-width:88%}}
time{{display:block;color:#8f959e;font-size:11px;margin-top:4px}}
.empty{{color:#8f959e;text-align:center;padding:40px 12px}}
</style></head><body><div class="phone"><div class="test">测试环境 · Sandbox: no SMS is really sent</div>
<header><b>短信 Messages</b><small>{number}</small></header><ul>{items}</ul></div></body></html>"""


async def phone_page(request: web.Request) -> web.Response:
    number = _number(request.match_info["number"])
    items = "".join(f"<li>{html.escape(m['text'])}<time>{html.escape(m['sent_at'])}</time></li>"
                    for m in request.app[OUTBOX_KEY].of(number))
    page = _PAGE.format(number=html.escape(number),
                        items=items or '<li class="empty">没有短信 No messages yet</li>')
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    """The SMS test service on the sandbox app (one call in `create_sandbox_app`)."""
    app[OUTBOX_KEY] = Outbox()
    app.router.add_post("/sms/messages", send_message)
    app.router.add_get("/sms/messages", list_messages)
    app.router.add_get("/sms/phone/{number}", phone_page)
