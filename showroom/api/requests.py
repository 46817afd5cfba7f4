"""Request bodies of the commerce routes: read (capped at `MAX_BODY_BYTES`), validated by typed pydantic models
(bounded strings, decimals with bounded digits and ranges, bounded integers, enums), and turned into the typed
arguments of the use cases. Every refusal is `InvalidInput` (422 `invalid_input`) naming the field.

Facts that limit money are the bank's, never the request's: a body that still sends a customer's verification
level, an e-CNY wallet tier, or a loan's rate or fees is refused with the field named (`BANK_FACTS`), so a client
that relied on them notices.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from showroom.customers import normalise_mobile
from showroom.errors import InvalidInput, ShowroomError
from showroom.finance import MAX_TERM_MONTHS, MIN_TERM_MONTHS, RepaymentMethod
from showroom.orders import OrderStatus
from showroom.pricing import to_fen
from showroom.services.finance import LoanTerms
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from showroom.services.shares import IssueShare

MAX_BODY_BYTES = 64 * 1024
MAX_QUANTITY = 100
MAX_PRODUCT_VIEW_CHARS = 2000
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)

BANK_FACTS: dict[str, str] = {
    "kyc_level": "the customer's verification level comes from the bank's customer-information service",
    "wallet_tier": "the e-CNY wallet's tier comes from the payment backend",
    "annual_rate": "the loan's rate comes from the bank's rate table",
    "upfront_fee_cny": "the loan's fees come from the bank's rate table",
    "monthly_fee_cny": "the loan's fees come from the bank's rate table",
}
"""Fields that once came from the request and now come from the bank: sending them is a 422 naming them."""

Body = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


class PayloadTooLarge(ShowroomError):
    code = "payload_too_large"
    http_status = 413


class Channel(StrEnum):
    """Where the customer ordered or shared from."""

    WEB = "web"
    KIOSK = "kiosk"
    PHONE = "phone"
    VR = "vr"
    SHARE = "share"
    API = "api"
    BENCH = "bench"
    """Load tests (`bench/commerce.py`)."""


async def read_raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    data = await request.content.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return data


async def read_json(request: web.Request) -> Body:
    """The JSON object of the body (`{}` when empty). Money and rates are never kept as float: the models read a
    JSON number through its shortest decimal form into `Decimal` and refuse what has too many digits."""
    raw = await read_raw(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


# -- field types ------------------------------------------------------------------------------------------------

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
TermMonths = Annotated[int, Field(strict=True, ge=MIN_TERM_MONTHS, le=MAX_TERM_MONTHS)]
Ratio = Annotated[Decimal, Field(ge=0, lt=1, max_digits=5, decimal_places=4, allow_inf_nan=False)]
AmountCny = Annotated[Decimal, Field(gt=0, le=Decimal("10000000"), max_digits=12, decimal_places=2,
                                     allow_inf_nan=False)]


class BodyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class QuoteBody(BodyModel):
    product: Id
    variant: Id | None = None
    quantity: Quantity = 1


_SEP = r"[\s\-()]*"
PHONE_PATTERN = rf"^{_SEP}(?:\+{_SEP}8{_SEP}6{_SEP}|0{_SEP}0{_SEP}8{_SEP}6{_SEP})?1{_SEP}[3-9]{_SEP}(?:[0-9]{_SEP}){{9}}$"
"""What `normalise_mobile` accepts, for the document (it stays the one reader): an 11-digit mainland mobile
number, spaces, dashes and brackets anywhere, a +86 / 0086 prefix."""


class CustomerBody(BodyModel):
    name: Name | None = None
    phone: Annotated[str, Field(min_length=1, max_length=32, json_schema_extra={"pattern": PHONE_PATTERN})]

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        if not value.isascii():  # `\d` would also take full-width and other scripts' digits: one number, many spellings
            raise ValueError("must be a mainland mobile number (11 digits starting with 1)")
        try:
            return normalise_mobile(value)
        except InvalidInput as exc:
            raise ValueError("must be a mainland mobile number (11 digits starting with 1)") from exc


class LoanBody(BodyModel):
    """The customer's choice of a loan: the down payment, the term and the repayment method; nothing else."""

    down_payment_ratio: Ratio | None = None
    term_months: TermMonths = 36
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT

    def terms(self) -> LoanTerms:
        return LoanTerms(self.down_payment_ratio, self.term_months, self.method)


class PlanBody(LoanBody):
    product: Id
    variant: Id | None = None


class OrderBody(BodyModel):
    quote_id: Id
    customer: CustomerBody
    channel: Channel = Channel.WEB
    branch: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] | None = None
    product_view: dict[str, Any] | None = None
    share_token: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    finance: LoanBody | None = None
    coupon: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\- ]+$")] | None = None
    """A coupon id (`cpn_...`) of this customer's or a campaign code: at most one coupon per order."""
    points: Annotated[int, Field(strict=True, ge=0, le=100_000_000)] = 0
    pickup_slot: AwareDatetime | None = None
    """A branch pick-up: the start of a slot of `branch` (`GET /api/branches/{id}/slots`), taken with the order."""

    @field_validator("product_view")
    @classmethod
    def _small_view(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value, default=str)) > MAX_PRODUCT_VIEW_CHARS:
            raise ValueError(f"is at most {MAX_PRODUCT_VIEW_CHARS} characters of JSON")
        return value


class PaymentBody(BodyModel):
    method: Literal["card", "mobile_banking", "ecny_wallet", "qr"]


class RefundBody(BodyModel):
    amount_cny: AmountCny | None = None
    reason: Reason | None = None


class FulfilmentBody(BodyModel):
    status: Literal["fulfilling", "completed"]


class ShareChannel(StrEnum):
    """Where a share is posted (attribution): the showroom's own pages or a social network."""

    WEB = "web"
    KIOSK = "kiosk"
    PHONE = "phone"
    VR = "vr"
    WECHAT = "wechat"
    WEIBO = "weibo"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    QQ = "qq"
    EMAIL = "email"
    SMS = "sms"
    OTHER = "other"


class ShareBody(BodyModel):
    product: Id
    variant: Id | None = None
    channel: ShareChannel = ShareChannel.WEB


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _message(exc: ValidationError) -> str:
    """`field: what is wrong` for the first problem (a bank fact says where the fact comes from instead)."""
    first = exc.errors(include_url=False)[0]
    where = _where(first["loc"])
    field = str(first["loc"][-1]) if first["loc"] else ""
    if first["type"] == "extra_forbidden":
        if field in BANK_FACTS:
            return f"{where} is not accepted: {BANK_FACTS[field]}"
        return f"{where} is not a field of this request"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def parse(model: type[M], body: Body) -> M:
    """The body as `model`, or `InvalidInput` naming the field (never a 500)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(_message(exc)) from None


# -- use case arguments -----------------------------------------------------------------------------------------


def quote_args(body: Body) -> tuple[str, str | None, int]:
    q = parse(QuoteBody, body)
    return q.product, q.variant, q.quantity


def loan_terms(body: Body) -> LoanTerms:
    return parse(LoanBody, body).terms()


def plan_args(body: Body) -> tuple[str, str | None, LoanTerms]:
    p = parse(PlanBody, body)
    return p.product, p.variant, p.terms()


def place_order(body: Body) -> PlaceOrder:
    o = parse(OrderBody, body)
    return PlaceOrder(o.quote_id, Customer(o.customer.name, o.customer.phone), channel=o.channel.value,
                      branch_id=o.branch, product_view=o.product_view, share_token=o.share_token,
                      finance=None if o.finance is None else o.finance.terms(), coupon=o.coupon, points=o.points,
                      pickup_slot=o.pickup_slot)


def start_payment(order_id: str, body: Body) -> StartPayment:
    return StartPayment(order_id, parse(PaymentBody, body).method)


def request_refund(order_id: str, body: Body) -> RequestRefund:
    r = parse(RefundBody, body)
    return RequestRefund(order_id, None if r.amount_cny is None else to_fen(r.amount_cny),
                         r.reason or "customer_request")


def fulfilment_step(body: Body) -> OrderStatus:
    return OrderStatus(parse(FulfilmentBody, body).status)


def issue_share(body: Body) -> IssueShare:
    s = parse(ShareBody, body)
    return IssueShare(s.product, s.variant, s.channel.value)


def day(raw: str) -> date:
    """A calendar day `YYYY-MM-DD` between `EARLIEST_DAY` and `LATEST_DAY` (e.g. a settlement day)."""
    if len(raw) != 10:
        raise InvalidInput("the date is YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("the date is YYYY-MM-DD") from None
    if not EARLIEST_DAY <= parsed <= LATEST_DAY:
        raise InvalidInput(f"the date must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return parsed
