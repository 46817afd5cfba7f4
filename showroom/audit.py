"""The audit trail: an append-only, hash-chained log of every staff action and every money movement.

Each entry records who (actor and role), what (action on a subject), the state before and after, when, and the
request it came from. Entries are chained: an entry's `digest` is an HMAC-SHA256, under the bank's audit key, of
the previous entry's digest and the entry's own canonical JSON. Editing an entry breaks its digest, deleting one
breaks the sequence or the next entry's link, and without the key nobody who can write the database can forge a
consistent chain. Cutting entries off the end leaves a shorter chain that still links: `verify` therefore takes
the head the operator kept elsewhere (the last sequence number and digest; the store writes it beside the key),
and reports a chain that ends before it.

Pure: no I/O; the store that keeps entries is a port (`AuditLog` in `ports`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from showroom.errors import ShowroomError

GENESIS = "0" * 64
"""The `prev_digest` of the first entry."""

MIN_KEY_BYTES = 32


class AuditKeyTooShort(ShowroomError):
    code = "audit_key_too_short"
    http_status = 500


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is placed in the chain."""

    at: datetime
    actor: str
    """Who acted: a staff user name, `customer`, `payment_backend` or `system`."""
    role: str
    """The actor's role when it acted (`teller`, `manager`, ..., or `customer`/`system`)."""
    action: str
    """A verb phrase in snake case: `refund_requested`, `refund_approved`, `order_paid`, `staff_disabled`."""
    subject: str
    """What it acted on, as `kind:id`: `order:ord_...`, `refund:rf_...`, `staff:alice`."""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit trail names them: a staff member (name and role), or one of the non-staff actors."""

    name: str
    role: str
    request_id: str | None = None

    def event(self, at: datetime, action: str, subject: str, *, before: Mapping[str, Any] | None = None,
              after: Mapping[str, Any] | None = None) -> AuditEvent:
        return AuditEvent(at=at, actor=self.name, role=self.role, action=action, subject=subject, before=before,
                          after=after, request_id=self.request_id)


SYSTEM = Actor("system", "system")
CUSTOMER = Actor("customer", "customer")
PAYMENT_BACKEND = Actor("payment_backend", "payment_backend")


def order_subject(order_id: str) -> str:
    return f"order:{order_id}"


def staff_subject(name: str) -> str:
    return f"staff:{name}"


LEGACY_ACTORS: dict[str, Actor] = {
    "order_placed": CUSTOMER, "cancelled": CUSTOMER, "paid": PAYMENT_BACKEND, "refunded": PAYMENT_BACKEND,
    "refund_failed": PAYMENT_BACKEND, "automatic_refund": SYSTEM,
}
"""Who acted, for the callers of `add_audit` that do not say."""


def legacy_event(order_id: str, kind: str, data: dict[str, Any], at: datetime, actor: Actor | None) -> AuditEvent:
    who = actor or LEGACY_ACTORS.get(kind, SYSTEM)
    return who.event(at, kind, f"order:{order_id}", after=data)


def legacy_view(entry: AuditEntry) -> dict[str, Any]:
    """An order's audit entry in the shape `audit_for` always gave (`kind`, `at`, `data`) plus who and when."""
    ev = entry.event
    return {"seq": entry.seq, "kind": ev.action, "at": ev.at.isoformat(), "data": dict(ev.after or {}),
            "before": None if ev.before is None else dict(ev.before), "actor": ev.actor, "role": ev.role,
            "request_id": ev.request_id}


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    """1, 2, 3, ... with no gaps."""
    event: AuditEvent
    prev_digest: str
    digest: str


@dataclass(frozen=True)
class ChainHead:
    """The last entry's sequence number and digest, kept apart from the entries to detect truncation."""

    seq: int
    digest: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"audit data cannot hold a {type(value).__name__}")


def event_document(event: AuditEvent) -> dict[str, Any]:
    """The event as plain JSON values (Decimal and datetime as strings)."""
    return {"at": event.at.isoformat(), "actor": event.actor, "role": event.role, "action": event.action,
            "subject": event.subject, "before": _plain(event.before), "after": _plain(event.after),
            "request_id": event.request_id}


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON (what the API and `showroom audit list --json` show)."""
    return {"seq": entry.seq, **event_document(entry.event), "prev_digest": entry.prev_digest,
            "digest": entry.digest}


def event_from_document(doc: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(at=datetime.fromisoformat(doc["at"]), actor=doc["actor"], role=doc["role"],
                      action=doc["action"], subject=doc["subject"], before=doc.get("before"),
                      after=doc.get("after"), request_id=doc.get("request_id"))


def canonical(seq: int, event: AuditEvent) -> bytes:
    """The bytes the digest covers: sorted keys, no whitespace, UTF-8."""
    doc = {"seq": seq, **event_document(event)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyTooShort(f"the audit key must be at least {MIN_KEY_BYTES} bytes, it is {len(key)}")


def digest_of(key: bytes, prev_digest: str, seq: int, event: AuditEvent) -> str:
    _check_key(key)
    return hmac.new(key, prev_digest.encode() + b"\n" + canonical(seq, event), hashlib.sha256).hexdigest()


def chain(key: bytes, head: ChainHead | None, event: AuditEvent) -> AuditEntry:
    """The entry that follows `head` (None: the first entry)."""
    seq = 1 if head is None else head.seq + 1
    prev = GENESIS if head is None else head.digest
    return AuditEntry(seq=seq, event=event, prev_digest=prev, digest=digest_of(key, prev, seq, event))


class Verifier:
    """Checks a chain fed one entry at a time, in sequence order (a log too large to hold at once is read in
    batches). `feed` returns the first failure, `finish` the verdict against the kept head."""

    def __init__(self, key: bytes, head: ChainHead | None = None) -> None:
        _check_key(key)
        self._key = key
        self._head = head
        self._prev = GENESIS
        self._expected = 1
        self.count = 0
        self._at_head: str | None = None

    def feed(self, entry: AuditEntry) -> Verification | None:
        self.count += 1
        if entry.seq != self._expected:
            return Verification(False, self.count, self._expected,
                                f"entry {self._expected} is missing (the next one is {entry.seq})")
        if entry.prev_digest != self._prev:
            return Verification(False, self.count, entry.seq,
                                f"entry {entry.seq} does not link to entry {entry.seq - 1}")
        if not hmac.compare_digest(entry.digest, digest_of(self._key, self._prev, entry.seq, entry.event)):
            return Verification(False, self.count, entry.seq, f"entry {entry.seq} was changed after it was written")
        self._prev = entry.digest
        if self._head is not None and entry.seq == self._head.seq:
            self._at_head = entry.digest
        self._expected += 1
        return None

    def finish(self) -> Verification:
        last = self._expected - 1
        head = self._head
        if head is not None:
            if head.seq > last:
                return Verification(False, self.count, last + 1,
                                    f"the log ends at entry {last} but the kept head is entry {head.seq}")
            if head.seq > 0 and not hmac.compare_digest(head.digest, self._at_head or ""):
                return Verification(False, self.count, head.seq, f"entry {head.seq} does not match the kept head")
        return Verification(True, self.count)


def verify(key: bytes, entries: Iterable[AuditEntry], head: ChainHead | None = None) -> Verification:
    """Checks every link of the chain in sequence order and, given the head kept apart, that nothing was cut
    off the end. Reports the first entry that does not hold."""
    verifier = Verifier(key, head)
    for entry in entries:
        failed = verifier.feed(entry)
        if failed is not None:
            return failed
    return verifier.finish()
