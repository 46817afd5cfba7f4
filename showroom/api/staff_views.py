"""JSON views of the back office: money as decimal strings of CNY, times as ISO 8601 (UTC as `Z`).

Compliance (AML review, the compliance check kept with the order, the customer's verification level) is shown
only to a viewer holding `VIEW_COMPLIANCE`; for anyone else it is left out of the order list, the order's story
and the audit entries (`redact`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from showroom.api.views import payment_view, refund_view
from showroom.audit import AuditEntry, Verification, entry_document
from showroom.orders import Order
from showroom.pricing import format_cny, iso_utc, quote_to_dict, snapshot_to_dict
from showroom.services.audit import AuditPage
from showroom.services.backoffice import OrderPage, OrderStory, StockLine
from showroom.services.staff import NewAccount, SignedIn, session_expires_at
from showroom.staff import Permission, RefundApproval, StaffAccount, StaffMember

COMPLIANCE_KEYS = frozenset({"compliance", "aml_review", "aml"})
"""Keys of audit data that only VIEW_COMPLIANCE holders read."""


def mask_phone(phone: str | None) -> str | None:
    """`13912345678` -> `139****5678`."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def session_view(s: SignedIn) -> dict[str, Any]:
    m = s.member
    return {"name": m.name, "role": m.role.value, "display_name": m.display_name or m.name,
            "csrf_token": s.csrf_token, "expires_at": iso_utc(session_expires_at(s.session)),
            "permissions": sorted(p.value for p in Permission if m.may(p))}


def _redact(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {k: v for k, v in data.items() if k not in COMPLIANCE_KEYS}


def entry_view(entry: AuditEntry, viewer: StaffMember) -> dict[str, Any]:
    doc = entry_document(entry)
    if not viewer.may(Permission.VIEW_COMPLIANCE):
        doc["before"], doc["after"] = _redact(doc["before"]), _redact(doc["after"])
    doc["at"] = iso_utc(entry.event.at)
    return doc


def order_line(o: Order, viewer: StaffMember) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": o.id, "status": o.status.value, "created_at": iso_utc(o.created_at), "product": o.product_id,
        "variant": o.variant_id, "quantity": o.quantity, "total_cny": format_cny(o.amount_fen),
        "paid_cny": format_cny(o.paid_fen), "refunded_cny": format_cny(o.refunded_fen), "channel": o.channel,
        "branch": o.branch_id, "fulfilment": None if o.fulfilment is None else o.fulfilment.value,
        "customer_name": o.customer.get("name"), "customer_phone_masked": mask_phone(o.customer.get("phone")),
    }
    if viewer.may(Permission.VIEW_COMPLIANCE):
        line["review"] = {"aml_review": o.aml_review}
    return line


def orders_view(page: OrderPage, viewer: StaffMember) -> dict[str, Any]:
    return {"orders": [order_line(o, viewer) for o in page.orders], "total": page.total}


def approval_view(a: RefundApproval) -> dict[str, Any]:
    return {"id": a.id, "order_id": a.order_id, "amount_cny": format_cny(a.amount_fen), "reason": a.reason,
            "state": a.state.value, "requested_by": a.requested_by, "requested_role": a.requested_role.value,
            "requested_at": iso_utc(a.requested_at), "decided_by": a.decided_by, "decided_at": iso_utc(a.decided_at),
            "decision_reason": a.decision_reason, "refund_id": a.refund_id}


def story_view(story: OrderStory, viewer: StaffMember) -> dict[str, Any]:
    o = story.order
    order = {**order_line(o, viewer), "updated_at": iso_utc(o.updated_at), "expires_at": iso_utc(o.expires_at),
             "customer_phone": o.customer.get("phone"), "finance": o.finance, "share_id": o.share_token_id}
    view: dict[str, Any] = {
        "order": order,
        "quote": None if story.quote is None else quote_to_dict(story.quote),
        "price_snapshot": None if story.quote is None else snapshot_to_dict(story.quote.snapshot),
        "payments": [{**payment_view(p), "created_at": iso_utc(p.created_at), "succeeded_at": iso_utc(p.succeeded_at)}
                     for p in story.payments],
        "refunds": [refund_view(r) for r in story.refunds],
        "refund_requests": [approval_view(a) for a in story.approvals],
        "audit": [entry_view(e, viewer) for e in story.audit],
    }
    if viewer.may(Permission.VIEW_COMPLIANCE):
        placed = next((e for e in story.audit if e.event.action == "order_placed"), None)
        after = dict(placed.event.after or {}) if placed is not None else {}
        view["compliance"] = {"aml_review": o.aml_review, "kyc_level": o.customer.get("kyc_level"),
                              "check": after.get("compliance")}
    return view


def stock_view(lines: list[StockLine]) -> dict[str, Any]:
    return {"stock": [{"branch": s.branch_id, "product": s.product_id, "variant": s.variant_id,
                       "on_hand": s.on_hand, "reserved": s.reserved, "available": s.on_hand - s.reserved}
                      for s in lines]}


def audit_page_view(page: AuditPage, viewer: StaffMember) -> dict[str, Any]:
    return {"entries": [entry_view(e, viewer) for e in page.entries], "total": page.total}


def verification_view(v: Verification) -> dict[str, Any]:
    return v.as_dict()


def account_view(a: StaffAccount) -> dict[str, Any]:
    return {"name": a.name, "role": a.role.value, "display_name": a.display_name, "disabled": a.disabled,
            "locked_until": iso_utc(a.sign_in.locked_until), "created_at": iso_utc(a.created_at),
            "updated_at": iso_utc(a.updated_at)}


def new_account_view(n: NewAccount) -> dict[str, Any]:
    """With the TOTP secret and provisioning URI: the only time they are shown."""
    return {**account_view(n.account), "totp_secret": n.totp_secret, "totp_uri": n.provisioning_uri}
