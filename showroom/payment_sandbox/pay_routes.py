"""The customer's side: the pay page and its forms (card, approve, decline)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
from collections.abc import Callable

from aiohttp import web

from showroom.payment_sandbox import errors
from showroom.payment_sandbox._http import SETTINGS_KEY, STORE_KEY, clock_s, finish_payment
from showroom.payment_sandbox.page import render_pay_page
from showroom.payment_sandbox.records import Completion, PaymentRow, new_id
from showroom.payment_sandbox.rules import (
    Outcome,
    amount_outcome,
    card_for_number,
    day_bounds_s,
    luhn_valid,
    normalise_card_number,
    settlement_day,
    wallet_outcome,
)
from showroom.payment_sandbox.settings import SandboxSettings
from showroom.payment_sandbox.store import SandboxStore


def _page_response(
    request: web.Request, p: PaymentRow, error: tuple[str, str] | None = None, status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    nonce = secrets.token_urlsafe(16)
    html_text = render_pay_page(
        p,
        settings,
        now_s=clock_s(request),
        qr_png_url=f"/payments/{p.id}/qr.png",  # relative: same origin as the page, whatever its public URL
        status_url=f"/payments/{p.id}",
        nonce=nonce,
        error=error,
    )
    csp = (
        f"default-src 'self'; img-src 'self' data:; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return web.Response(
        text=html_text,
        content_type="text/html",
        charset="utf-8",
        status=status,
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def pay_page(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    p = await store.run(store.db.payment, request.match_info["payment_id"])
    return _page_response(request, p)


def _customer_decision(
    settings: SandboxSettings, store: SandboxStore, completion: Completion, first: Outcome = "approved"
) -> Callable[[PaymentRow], Outcome]:
    """The outcome of a customer's approval: the card's own outcome, then the test-amount rule, then the e-CNY
    wallet tier limits (runs in the store's transaction)."""

    def decide(p: PaymentRow) -> Outcome:
        if first != "approved":
            return first
        if settings.amount_rules:
            by_amount = amount_outcome(p.amount_fen)
            if by_amount != "approved":
                return by_amount
        if p.method == "ecny_wallet" and completion.wallet_tier is not None and completion.wallet_id:
            limits = settings.wallet_limits[completion.wallet_tier]
            start_s, end_s = day_bounds_s(
                settlement_day(settings.clock(), settings.settlement_utc_offset_h),
                settings.settlement_utc_offset_h,
            )
            spent = store.db.wallet_spent_fen(completion.wallet_id, start_s, end_s)
            return wallet_outcome(p.amount_fen, limits, spent)
        return "approved"

    return decide


async def _form(request: web.Request) -> dict[str, str]:
    limit = request.app[SETTINGS_KEY].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise errors.BodyTooLarge(f"form is over {limit} bytes")
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def _after_customer(request: web.Request, payment_id: str) -> web.StreamResponse:
    """Post/redirect/get: back to the pay page, which now shows the result."""
    raise web.HTTPSeeOther(f"/pay/{payment_id}")


async def pay_approve(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    form = await _form(request)
    p = await store.run(store.db.payment, payment_id)
    if p.method == "card":
        return _page_response(request, p, ("请填写银行卡信息", "Enter the card details"), status=422)
    completion = Completion(outcome="approved")
    if p.method == "ecny_wallet" and p.wallet_id is not None and p.wallet_tier is not None:
        # the wallet registered to the payer's number was fixed when the payment was created
        completion = Completion(outcome="approved", wallet_id=p.wallet_id, wallet_tier=p.wallet_tier)
    elif p.method == "ecny_wallet":
        try:
            tier = int(form.get("wallet_tier", str(settings.default_wallet_tier)))
        except ValueError:
            tier = -1
        if tier not in settings.wallet_limits:
            return _page_response(request, p, ("钱包等级无效", "Unknown wallet tier"), status=422)
        wallet_id = re.sub(r"\s+", "", form.get("wallet_id", ""))[:64] or "sandbox-wallet"
        completion = Completion(outcome="approved", wallet_id=wallet_id, wallet_tier=tier)
    with contextlib.suppress(errors.PaymentNotPending):
        await finish_payment(request, payment_id, completion, _customer_decision(settings, store, completion))
    return await _after_customer(request, payment_id)


async def pay_decline(request: web.Request) -> web.StreamResponse:
    payment_id = request.match_info["payment_id"]
    await _form(request)
    with contextlib.suppress(errors.PaymentNotPending):
        await finish_payment(request, payment_id, Completion(outcome="declined"), lambda _p: "declined")
    return await _after_customer(request, payment_id)


def _card_error(form: dict[str, str], now_s: float) -> tuple[str, str] | None:
    number = normalise_card_number(form.get("card_number", ""))
    if not luhn_valid(number):
        return ("卡号无效", "That card number is not valid")
    m = re.match(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$", form.get("expiry", ""))
    if m is None or not 1 <= int(m[1]) <= 12:
        return ("有效期格式应为 MM/YY", "Expiry must be MM/YY")
    year = int(m[2]) + (2000 if len(m[2]) == 2 else 0)
    today = dt.datetime.fromtimestamp(now_s, dt.UTC).date()
    if (year, int(m[1])) < (today.year, today.month):
        return ("银行卡已过期", "The card has expired")
    if not re.match(r"^\d{3,4}$", form.get("cvc", "").strip()):
        return ("CVN2 应为 3 或 4 位数字", "CVC must be 3 or 4 digits")
    if card_for_number(number) is None:
        return ("测试环境仅支持测试卡号", "Only the sandbox's test cards work here")
    return None


async def pay_card(request: web.Request) -> web.StreamResponse:
    """Tokenises the card in the sandbox (the number never leaves it, nor is it stored) and pays."""
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    form = await _form(request)
    p = await store.run(store.db.payment, payment_id)
    if p.method != "card":
        return _page_response(request, p, ("该订单不是银行卡支付", "This payment is not by card"), status=422)
    if p.status != "pending":
        return await _after_customer(request, payment_id)
    problem = _card_error(form, clock_s(request))
    if problem is not None:
        return _page_response(request, p, problem, status=422)
    card = card_for_number(normalise_card_number(form["card_number"]))
    assert card is not None
    completion = Completion(
        outcome=card.outcome, card_token=new_id("tok"), card_brand=card.brand, card_last4=card.number[-4:]
    )
    with contextlib.suppress(errors.PaymentNotPending):
        await finish_payment(
            request, payment_id, completion, _customer_decision(settings, store, completion, card.outcome)
        )
    return await _after_customer(request, payment_id)
