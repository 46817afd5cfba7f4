"""The `CustomerDirectory` port: who holds a mobile number, at which verification level, with which limits.

- `SandboxCustomerDirectory` answers from the register shipped with the package (`sandbox_customers.json`, the
  table in docs/commerce.md): a few L1/L2/L3 customers, one frozen account; any other number is unverified (L0).
- `HttpCustomerDirectory` asks the bank's customer-information service at `SHOWROOM_CUSTOMER_INFO_URL`:
  `GET {base}/customers/by-mobile/{phone}` (header `Accept: application/json`) ->
  200 `{"customer_id": str, "kyc_level": "L1"|"L2"|"L3", "status": "active"|"frozen",
  "single_order_limit_cny": "<decimal>"?}`, or 404 for a number the bank does not know (unverified, L0).
  Anything else (a timeout, a network error, 5xx, another status, a malformed body) is
  `CustomerInfoUnavailable` (503 `customer_info_unavailable`): no order is taken on an assumed level.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from showroom.compliance import KycLevel
from showroom.customers import (
    AccountStatus,
    CustomerFacts,
    CustomerInfoUnavailable,
    normalise_mobile,
    unverified,
)

log = logging.getLogger("showroom.adapters.customer_info")

REGISTER_FILE = "sandbox_customers.json"
SANDBOX_SOURCE = "sandbox-register"
MAX_REPLY_BYTES = 16 * 1024


def _facts(doc: Mapping[str, Any], source: str) -> CustomerFacts:
    """One customer record (the register's or the service's reply); `ValueError` naming what is wrong."""
    customer_id = doc.get("customer_id")
    if not isinstance(customer_id, str) or not 1 <= len(customer_id) <= 64:
        raise ValueError("customer_id must be a string of 1-64 characters")
    level = KycLevel(str(doc.get("kyc_level")))
    if level is KycLevel.L0:
        raise ValueError("a known customer has level L1, L2 or L3")
    status = AccountStatus(str(doc.get("status", "active")))
    raw_limit = doc.get("single_order_limit_cny")
    limit: Decimal | None = None
    if raw_limit is not None:
        try:
            limit = Decimal(str(raw_limit))
        except InvalidOperation:
            raise ValueError("single_order_limit_cny must be a decimal number") from None
        if not limit.is_finite() or limit < 0:
            raise ValueError("single_order_limit_cny must be a finite, non-negative number")
    return CustomerFacts(customer_id, level, status, limit, source)


def load_register(text: str | None = None) -> dict[str, CustomerFacts]:
    """The sandbox register, normalised mobile number -> facts (the packaged file unless `text` is given)."""
    if text is None:
        text = resources.files("showroom.adapters").joinpath(REGISTER_FILE).read_text(encoding="utf-8")
    register: dict[str, CustomerFacts] = {}
    for i, entry in enumerate(json.loads(text)["customers"]):
        try:
            register[normalise_mobile(str(entry["phone"]))] = _facts(entry, SANDBOX_SOURCE)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{REGISTER_FILE}: customers[{i}]: {exc}") from None
    return register


class SandboxCustomerDirectory:
    """The test customers of the sandbox register; every other number is unverified."""

    def __init__(self, register: Mapping[str, CustomerFacts] | None = None) -> None:
        self._register = dict(load_register() if register is None else register)

    async def lookup(self, phone: str) -> CustomerFacts:
        return self._register.get(phone) or unverified(phone, SANDBOX_SOURCE)


class HttpCustomerDirectory:
    """The bank's customer-information service at `base_url`, through the caller's `session`."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, *, timeout_s: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._source = f"customer-info:{urlsplit(self.base_url).netloc}"

    async def lookup(self, phone: str) -> CustomerFacts:
        url = f"{self.base_url}/customers/by-mobile/{quote(phone, safe='')}"
        try:
            async with self._session.get(url, headers={"Accept": "application/json"}, timeout=self._timeout,
                                         allow_redirects=False) as resp:
                if resp.status == 404:
                    return unverified(phone, self._source)
                if resp.status != 200:
                    raise CustomerInfoUnavailable(f"the customer-information service answered {resp.status}")
                raw = await resp.content.read(MAX_REPLY_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("customer-information service unreachable: %s", type(exc).__name__)
            raise CustomerInfoUnavailable("the customer-information service cannot be reached; try again") from None
        try:
            if len(raw) > MAX_REPLY_BYTES:
                raise ValueError("the reply is too large")
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("the reply is not a JSON object")
            return _facts(doc, self._source)
        except ValueError as exc:
            log.error("customer-information service sent a malformed reply: %s", exc)
            raise CustomerInfoUnavailable("the customer-information service sent a malformed answer") from None
