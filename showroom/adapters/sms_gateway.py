"""`HttpSmsSender`: the `SmsSender` port over the bank's SMS service (the payment sandbox's `sms.py` speaks it).

`POST {base}/sms/messages` with `Idempotency-Key: <message id>` (a retry sends nothing twice),
`Authorization: Bearer <SHOWROOM_SMS_API_KEY>` when one is configured, and the JSON body
`{"to": "<11-digit mobile>", "template": "showroom_otp", "params": {"code": "123456", "ttl_min": 5},
"text": "<the message as sent>"}` -> 201/202 `{"id", "status"}`. A timeout (5 s), a network error or any other
status is `SmsUnavailable` (503 `sms_unavailable`): the customer asks again.
"""

from __future__ import annotations

import logging

import aiohttp

from showroom.phone_ports import SmsUnavailable

log = logging.getLogger("showroom.adapters.sms")

TEMPLATE = "showroom_otp"


def message_text(code: str, ttl_min: int) -> str:
    return (f"【华锦银行】您的验证码为 {code}，{ttl_min} 分钟内有效，请勿告诉他人。"
            f" Huajin Bank: your code is {code}, valid for {ttl_min} min. Never share it.")


class HttpSmsSender:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, *, api_key: str | None = None,
                 timeout_s: float = 5.0) -> None:
        self._url = base_url.rstrip("/") + "/sms/messages"
        self._session = session
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send_code(self, phone: str, code: str, *, message_id: str, ttl_min: int) -> None:
        headers = {"Idempotency-Key": message_id, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {"to": phone, "template": TEMPLATE, "params": {"code": code, "ttl_min": ttl_min},
                "text": message_text(code, ttl_min)}
        try:
            async with self._session.post(self._url, json=body, headers=headers, timeout=self._timeout,
                                          allow_redirects=False) as r:
                if r.status in (200, 201, 202):
                    return
                log.warning("the SMS service answered %s to message %s", r.status, message_id)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("the SMS service could not be reached for message %s: %s", message_id, exc)
        raise SmsUnavailable("the bank's SMS service cannot send the code now; try again in a minute")
