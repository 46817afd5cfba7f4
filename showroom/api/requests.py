"""Request bodies of the commerce routes: read (capped at `MAX_BODY_BYTES`), checked field by field, and turned
into the typed arguments of the use cases. Every refusal is `InvalidInput` naming the field (422)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from showroom import compliance
from showroom.errors import InvalidInput, ShowroomError
from showroom.finance import RepaymentMethod
from showroom.orders import OrderStatus
from showroom.ports import PAYMENT_METHODS
from showroom.pricing import to_fen
from showroom.services.finance import LoanTerms
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from showroom.services.shares import IssueShare

MAX_BODY_BYTES = 64 * 1024
DEFAULT_WALLET_TIER = 2

Body = dict[str, Any]


class PayloadTooLarge(ShowroomError):
    code = "payload_too_large"
    http_status = 413


async def read_raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    data = await request.content.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return data


async def read_json(request: web.Request) -> Body:
    """The JSON object of the body (`{}` when empty)."""
    raw = await read_raw(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


# -- fields -----------------------------------------------------------------------------------------------------


def text(body: Body, key: str, *, max_len: int = 200) -> str:
    value = optional_text(body, key, max_len=max_len)
    if value is None:
        raise InvalidInput(f"{key} is required")
    return value


def optional_text(body: Body, key: str, *, max_len: int = 200) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidInput(f"{key} must be a non-empty string of at most {max_len} characters")
    return value.strip()


def optional_decimal(body: Body, key: str) -> Decimal | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{key} must be a decimal number")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{key} must be a decimal number") from None
    if not out.is_finite():
        raise InvalidInput(f"{key} must be a finite number")
    return out


def integer(body: Body, key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer")
    return int(value)


def optional_object(body: Body, key: str, what: str) -> Body | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object{what}")
    return value


# -- use case arguments -----------------------------------------------------------------------------------------


def quote_args(body: Body) -> tuple[str, str | None, int]:
    product, variant, quantity = body.get("product"), body.get("variant"), body.get("quantity", 1)
    if not isinstance(product, str) or (variant is not None and not isinstance(variant, str)):
        raise InvalidInput("product (string) is required; variant is a string")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput("quantity must be an integer")
    return product, variant, quantity


def loan_terms(body: Body) -> LoanTerms:
    upfront, monthly = optional_decimal(body, "upfront_fee_cny"), optional_decimal(body, "monthly_fee_cny")
    try:
        method = RepaymentMethod(body.get("method", RepaymentMethod.EQUAL_INSTALLMENT.value))
    except ValueError:
        raise InvalidInput("method must be equal_installment or equal_principal") from None
    return LoanTerms(down_payment_ratio=optional_decimal(body, "down_payment_ratio"),
                     term_months=integer(body, "term_months", 36),
                     annual_rate=optional_decimal(body, "annual_rate"), method=method,
                     upfront_fee_cny=Decimal("0") if upfront is None else upfront,
                     monthly_fee_cny=Decimal("0") if monthly is None else monthly)


def plan_args(body: Body) -> tuple[str, str | None, LoanTerms]:
    return text(body, "product"), optional_text(body, "variant"), loan_terms(body)


def place_order(body: Body) -> PlaceOrder:
    quote_id = text(body, "quote_id")
    customer = body.get("customer") or {}
    if not isinstance(customer, dict):
        raise InvalidInput("customer must be an object")
    who = Customer(optional_text(customer, "name", max_len=100), optional_text(customer, "phone", max_len=32),
                   compliance.parse_kyc(customer.get("kyc_level")))
    view = optional_object(body, "product_view", " such as {\"view_set_hash\": ...}")
    finance = optional_object(body, "finance", "")
    return PlaceOrder(quote_id, who, channel=optional_text(body, "channel", max_len=32) or "web",
                      branch_id=optional_text(body, "branch", max_len=64), product_view=view,
                      share_token=optional_text(body, "share_token", max_len=1000),
                      finance=None if finance is None else loan_terms(finance))


def start_payment(order_id: str, body: Body) -> StartPayment:
    method = body.get("method")
    for known in PAYMENT_METHODS:
        if method == known:
            tier = integer(body, "wallet_tier", DEFAULT_WALLET_TIER) if known == "ecny_wallet" else None
            return StartPayment(order_id, known, tier)
    raise InvalidInput(f"method must be one of {', '.join(PAYMENT_METHODS)}")


def request_refund(order_id: str, body: Body) -> RequestRefund:
    amount_fen: int | None = None
    cny = optional_decimal(body, "amount_cny")
    if cny is not None:
        if cny != cny.quantize(Decimal("0.01")):
            raise InvalidInput("amount_cny has at most 2 decimal places")
        amount_fen = to_fen(cny)
    return RequestRefund(order_id, amount_fen, optional_text(body, "reason") or "customer_request")


def fulfilment_step(body: Body) -> OrderStatus:
    step = body.get("status")
    if step not in ("fulfilling", "completed"):
        raise InvalidInput("status must be fulfilling or completed")
    return OrderStatus(str(step))


def issue_share(body: Body) -> IssueShare:
    return IssueShare(text(body, "product"), optional_text(body, "variant"),
                      optional_text(body, "channel", max_len=32) or "web")
