"""Rows of the commerce tables <-> domain objects (times as aware UTC, money as integer fen or decimal strings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from showroom.audit import AuditEntry, AuditEvent, event_document
from showroom.finance import LoanRate
from showroom.orders import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from showroom.pricing import PriceBreakdown, Quote, snapshot_from_dict, snapshot_to_dict
from showroom.sharing import Share
from showroom.staff import ApprovalState, RefundApproval, Role, SignInState, StaffAccount, StaffSession


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_req(value: datetime) -> datetime:
    out = utc(value)
    assert out is not None
    return out


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def quote_to_json(quote: Quote) -> tuple[str, str]:
    b = quote.breakdown
    breakdown = {"metal_cny_per_g": _dec(b.metal_cny_per_g), "weight_g": _dec(b.weight_g),
                 "metal_value_cny": str(b.metal_value_cny), "premium_cny": str(b.premium_cny),
                 "craft_fee_cny": str(b.craft_fee_cny), "unit_price_cny": str(b.unit_price_cny),
                 "list_price_cny": _dec(b.list_price_cny)}
    return json.dumps(breakdown), json.dumps(snapshot_to_dict(quote.snapshot))


def quote_from_row(row: Any) -> Quote:
    b = json.loads(row["breakdown"])
    breakdown = PriceBreakdown(_undec(b["metal_cny_per_g"]), _undec(b["weight_g"]),
                               Decimal(b["metal_value_cny"]), Decimal(b["premium_cny"]),
                               Decimal(b["craft_fee_cny"]), Decimal(b["unit_price_cny"]),
                               _undec(b.get("list_price_cny")))
    return Quote(row["id"], row["product_id"], row["variant_id"], row["quantity"], row["unit_price_fen"],
                 row["total_fen"], breakdown, snapshot_from_dict(json.loads(row["snapshot"])),
                 utc_req(row["created_at"]), utc_req(row["expires_at"]))


def order_values(o: Order) -> dict[str, Any]:
    return dict(
        quote_id=o.quote_id, product_id=o.product_id, variant_id=o.variant_id, quantity=o.quantity,
        branch_id=o.branch_id, amount_fen=o.amount_fen, currency=o.currency, status=o.status.value,
        customer=json.dumps(o.customer, ensure_ascii=False), channel=o.channel, created_at=o.created_at,
        updated_at=o.updated_at, expires_at=o.expires_at, paid_fen=o.paid_fen, refunded_fen=o.refunded_fen,
        paid_payment_id=o.paid_payment_id, aml_review=o.aml_review, share_id=o.share_token_id,
        finance=None if o.finance is None else json.dumps(o.finance),
        fulfilment=None if o.fulfilment is None else o.fulfilment.value, has_discounts=o.has_discounts)


def order_from_row(row: Any) -> Order:
    return Order(
        id=row["id"], quote_id=row["quote_id"], product_id=row["product_id"], variant_id=row["variant_id"],
        quantity=row["quantity"], branch_id=row["branch_id"], amount_fen=row["amount_fen"],
        status=OrderStatus(row["status"]), customer=json.loads(row["customer"]), channel=row["channel"],
        created_at=utc_req(row["created_at"]), updated_at=utc_req(row["updated_at"]),
        expires_at=utc_req(row["expires_at"]), currency=row["currency"], paid_fen=row["paid_fen"],
        refunded_fen=row["refunded_fen"], paid_payment_id=row["paid_payment_id"],
        aml_review=bool(row["aml_review"]), share_token_id=row["share_id"],
        finance=None if row["finance"] is None else json.loads(row["finance"]), version=row["version"],
        fulfilment=None if row.get("fulfilment") is None else OrderStatus(row["fulfilment"]),
        has_discounts=bool(row.get("has_discounts")))


def payment_values(p: Payment) -> dict[str, Any]:
    return dict(order_id=p.order_id, method=p.method, amount_fen=p.amount_fen, status=p.status.value,
                idempotency_key=p.idempotency_key, gateway_payment_id=p.gateway_payment_id, pay_url=p.pay_url,
                qr_png_url=p.qr_png_url, expires_at=p.expires_at, failure_code=p.failure_code,
                wallet_tier=p.wallet_tier, created_at=p.created_at, updated_at=p.updated_at,
                succeeded_at=p.succeeded_at)


def payment_from_row(row: Any) -> Payment:
    return Payment(id=row["id"], order_id=row["order_id"], method=row["method"], amount_fen=row["amount_fen"],
                   status=PaymentStatus(row["status"]), idempotency_key=row["idempotency_key"],
                   created_at=utc_req(row["created_at"]), updated_at=utc_req(row["updated_at"]),
                   gateway_payment_id=row["gateway_payment_id"], pay_url=row["pay_url"],
                   qr_png_url=row["qr_png_url"], expires_at=utc(row["expires_at"]),
                   failure_code=row["failure_code"], wallet_tier=row["wallet_tier"],
                   succeeded_at=utc(row["succeeded_at"]))


def refund_values(r: Refund) -> dict[str, Any]:
    return dict(order_id=r.order_id, payment_id=r.payment_id, amount_fen=r.amount_fen, reason=r.reason,
                status=r.status.value, idempotency_key=r.idempotency_key, gateway_refund_id=r.gateway_refund_id,
                automatic=r.automatic, created_at=r.created_at, updated_at=r.updated_at,
                succeeded_at=r.succeeded_at)


def refund_from_row(row: Any) -> Refund:
    return Refund(id=row["id"], order_id=row["order_id"], payment_id=row["payment_id"],
                  amount_fen=row["amount_fen"], reason=row["reason"], status=RefundStatus(row["status"]),
                  idempotency_key=row["idempotency_key"], created_at=utc_req(row["created_at"]),
                  updated_at=utc_req(row["updated_at"]), gateway_refund_id=row["gateway_refund_id"],
                  automatic=bool(row["automatic"]), succeeded_at=utc(row["succeeded_at"]))


def share_from_row(row: Any) -> Share:
    return Share(row["id"], row["product_id"], row["variant_id"], row["channel"], utc_req(row["created_at"]),
                 utc_req(row["expires_at"]), row["price_fen"], utc(row["quoted_at"]), row["visits"],
                 row["orders"], row["purchases"])


# -- staff and the audit trail -------------------------------------------------------------------------------------


def staff_values(a: StaffAccount) -> dict[str, Any]:
    return dict(role=a.role.value, display_name=a.display_name, password_hash=a.password_hash,
                totp_secret=a.totp_secret, totp_last_step=a.totp_last_step, disabled=a.disabled,
                failures=a.sign_in.failures, first_failure_at=a.sign_in.first_failure_at,
                locked_until=a.sign_in.locked_until, created_at=a.created_at, updated_at=a.updated_at)


def staff_from_row(row: Any) -> StaffAccount:
    return StaffAccount(name=row["name"], role=Role(row["role"]), display_name=row["display_name"],
                        password_hash=row["password_hash"], totp_secret=row["totp_secret"],
                        created_at=utc_req(row["created_at"]), updated_at=utc_req(row["updated_at"]),
                        disabled=bool(row["disabled"]),
                        sign_in=SignInState(row["failures"], utc(row["first_failure_at"]), utc(row["locked_until"])),
                        totp_last_step=int(row["totp_last_step"]), version=row["version"])


def session_from_row(row: Any) -> StaffSession:
    return StaffSession(row["id_hash"], row["name"], utc_req(row["created_at"]), utc_req(row["last_seen_at"]),
                        utc_req(row["expires_at"]), row["client"], utc(row["revoked_at"]))


def approval_values(a: RefundApproval) -> dict[str, Any]:
    return dict(order_id=a.order_id, amount_fen=a.amount_fen, reason=a.reason, state=a.state.value,
                requested_by=a.requested_by, requested_role=a.requested_role.value, requested_at=a.requested_at,
                idempotency_key=a.idempotency_key, decided_by=a.decided_by, decided_at=a.decided_at,
                decision_reason=a.decision_reason, refund_id=a.refund_id)


def approval_from_row(row: Any) -> RefundApproval:
    return RefundApproval(id=row["id"], order_id=row["order_id"], amount_fen=row["amount_fen"], reason=row["reason"],
                          state=ApprovalState(row["state"]), requested_by=row["requested_by"],
                          requested_role=Role(row["requested_role"]), requested_at=utc_req(row["requested_at"]),
                          idempotency_key=row["idempotency_key"], decided_by=row["decided_by"],
                          decided_at=utc(row["decided_at"]), decision_reason=row["decision_reason"],
                          refund_id=row["refund_id"], version=row["version"])


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    doc = event_document(entry.event)
    return dict(seq=entry.seq, at=entry.event.at, actor=doc["actor"], role=doc["role"], action=doc["action"],
                subject=doc["subject"], before=_json_or_none(doc["before"]), after=_json_or_none(doc["after"]),
                request_id=doc["request_id"], prev_digest=entry.prev_digest, digest=entry.digest)


def audit_from_row(row: Any) -> AuditEntry:
    event = AuditEvent(at=utc_req(row["at"]), actor=row["actor"], role=row["role"], action=row["action"],
                       subject=row["subject"], before=None if row["before"] is None else json.loads(row["before"]),
                       after=None if row["after"] is None else json.loads(row["after"]), request_id=row["request_id"])
    return AuditEntry(seq=int(row["seq"]), event=event, prev_digest=row["prev_digest"], digest=row["digest"])


# -- the loan rate table -----------------------------------------------------------------------------------------


def loan_rate_values(r: LoanRate) -> dict[str, Any]:
    return dict(applies_to=r.applies_to, term_months=r.term_months, annual_rate=str(r.annual_rate),
                valid_from=r.valid_from, valid_to=r.valid_to, upfront_fee_cny=str(r.upfront_fee_cny),
                monthly_fee_cny=str(r.monthly_fee_cny), set_by=r.set_by, set_at=r.set_at)


def loan_rate_from_row(row: Any) -> LoanRate:
    return LoanRate(applies_to=row["applies_to"], term_months=row["term_months"],
                    annual_rate=Decimal(row["annual_rate"]), valid_from=row["valid_from"], valid_to=row["valid_to"],
                    upfront_fee_cny=Decimal(row["upfront_fee_cny"]), monthly_fee_cny=Decimal(row["monthly_fee_cny"]),
                    set_by=row["set_by"], set_at=utc(row["set_at"]))
