"""A randomised notification-fault run against the real services and database (used by the fault tests and by
bench/commerce.py): orders with one to three payments each, every genuine notification delivered at least once,
plus injected faults - duplicates, reordering, late delivery (after the order expired), forged and stale
signatures, amount and order mismatches - delivered concurrently. It then counts what must never happen:
double-paid, lost and wrong-state orders."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from showroom.adapters import migrate
from showroom.adapters.bus import InProcessBus
from showroom.adapters.sql import SqlDatabase
from showroom.errors import ShowroomError
from showroom.orders import OrderStatus, PaymentStatus, RefundStatus
from showroom.services import Commerce, notices, payments
from showroom.services.orders import Customer, PlaceOrder, expire_due, place_order, quote
from showroom.services.payments import StartPayment
from showroom.settings import CommerceSettings
from showroom.signing import sign
from tests.commerce_fakes import SECRET, FakeCustomers, FakeGateway, FixedPrices, ManualClock, make_catalog

FAULT_KINDS = ("duplicate", "forged", "stale", "amount", "wrong_order", "currency")


@dataclass
class FaultReport:
    orders: int = 0
    payments: int = 0
    deliveries: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    double_paid: int = 0
    lost: int = 0
    wrong_state: int = 0
    auto_refunds: int = 0
    problems: list[str] = field(default_factory=list)


async def open_world(url: str, clock: ManualClock, bar_stock: int) -> tuple[Commerce, FakeGateway, SqlDatabase]:
    db = SqlDatabase(url)
    await migrate.upgrade(db)
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url="http://node")
    gw = FakeGateway(clock)
    ctx = Commerce(catalog=make_catalog(bar_stock), settings=settings, uow=db.uow, gateway=gw,
                   prices=FixedPrices(clock), bus=InProcessBus(), clock=clock, customers=FakeCustomers())
    return ctx, gw, db


def _mutate(body: bytes, rng: random.Random, kind: str) -> bytes:
    doc = json.loads(body)
    doc["id"] = f"evt_fault_{rng.getrandbits(48):x}"
    if kind == "amount":
        doc["data"]["amount_fen"] += rng.choice([-1, 1, -100, 100, doc["data"]["amount_fen"]])
    elif kind == "wrong_order":
        doc["data"]["order_id"] = f"ord_{rng.getrandbits(48):x}"
    elif kind == "currency":
        doc["data"]["currency"] = "USD"
    return json.dumps(doc).encode()


async def run_faults(url: str, *, orders: int, faults: int, seed: int, concurrency: int = 8) -> FaultReport:
    rng = random.Random(seed)
    clock = ManualClock()
    ctx, gw, db = await open_world(url, clock, bar_stock=orders + 10)
    report = FaultReport(orders=orders)
    try:
        order_ids: list[str] = []
        genuine: list[bytes] = []
        for i in range(orders):
            q = await quote(ctx, "bar-50g", "au9999-10g", 1)
            placed = await place_order(ctx, PlaceOrder(q.id, Customer(None, f"139{i:08d}")))
            order_id = placed.details.order.id
            order_ids.append(order_id)
            for k in range(rng.choice([1, 1, 1, 2, 3])):
                p = await payments.start_payment(
                    ctx, StartPayment(order_id, rng.choice(["card", "qr", "mobile_banking"])), f"p{k}")
                assert p.gateway_payment_id is not None
                outcome = rng.choices(["approved", "declined", "timeout"], [0.7, 0.2, 0.1])[0]
                body, _ = gw.notice(gw.complete(p.gateway_payment_id, outcome), p.gateway_payment_id)
                genuine.append(body)
                report.payments += 1
        # what will be delivered: every genuine notice once, and the faults
        plan: list[tuple[str, bytes]] = [("genuine", b) for b in genuine]
        for _ in range(faults):
            kind = rng.choice(FAULT_KINDS)
            base = rng.choice(genuine)
            plan.append((kind, base if kind in ("duplicate", "forged", "stale") else _mutate(base, rng, kind)))
            report.faults[kind] += 1
        rng.shuffle(plan)  # reordering: any notice may come before any other
        late_from = int(len(plan) * 0.8)  # the last fifth arrives after the reservations expired

        async def deliver(kind: str, body: bytes) -> None:
            now_s = int(clock.now().timestamp())
            if kind == "forged":
                header = sign("not-the-secret", now_s, body)
            elif kind == "stale":
                header = sign(SECRET, now_s - rng.randint(301, 7200), body)
            else:
                header = sign(SECRET, now_s, body)
            try:
                receipt = await notices.handle_payment_notice(ctx, body, header)
                report.answers["duplicate" if receipt.duplicate else "applied"] += 1
            except ShowroomError as exc:
                report.answers[exc.code] += 1
            report.deliveries += 1

        for start in range(0, len(plan), concurrency):
            if start <= late_from < start + concurrency:
                clock.advance(ctx.settings.reservation_ttl_s + 1)
                await expire_due(ctx, limit=orders + 10)
            await asyncio.gather(*(deliver(k, b) for k, b in plan[start:start + concurrency]))
        # the backend retries until it gets a 2xx: every genuine notice once more
        for body in genuine:
            await deliver("genuine", body)
        # automatic refunds land at the backend and are notified (twice)
        for refund_id, (payment_id, _amount, _status) in list(gw.refunds.items()):
            gw.finish_refund(refund_id)
            for _ in range(2):
                body, _ = gw.notice("refund.succeeded", payment_id, refund_id=refund_id)
                await deliver("genuine", body)
        await _check(ctx, gw, order_ids, report)
    finally:
        await db.close()
    return report


async def _check(ctx: Commerce, gw: FakeGateway, order_ids: list[str], report: FaultReport) -> None:
    async with ctx.uow() as uow:
        for order_id in order_ids:
            order = await uow.get_order(order_id)
            payments = await uow.payments_for_order(order_id)
            refunds = await uow.refunds_for_order(order_id)
            truth = {p.id: gw.payments[p.gateway_payment_id].status for p in payments if p.gateway_payment_id}
            succeeded = [p for p in payments if p.status is PaymentStatus.SUCCEEDED]
            auto = [r for r in refunds if r.automatic and r.status is not RefundStatus.FAILED]
            report.auto_refunds += len(auto)
            kept = sum(p.amount_fen for p in succeeded) - sum(r.amount_fen for r in auto)
            if kept > order.amount_fen or (order.status in (OrderStatus.EXPIRED, OrderStatus.REFUNDED) and kept > 0):
                report.double_paid += 1
                report.problems.append(f"{order_id}: keeps {kept} fen of {order.amount_fen} ({order.status})")
            lost = [pid for pid, st in truth.items() if st == "succeeded"
                    and not any(p.id == pid for p in succeeded)]
            if lost:
                report.lost += 1
                report.problems.append(f"{order_id}: backend succeeded but we lost {lost}")
            any_success = any(st == "succeeded" for st in truth.values())
            expected: set[OrderStatus]
            if order.status in (OrderStatus.EXPIRED, OrderStatus.REFUNDED):
                # an order that expired unpaid; a late payment was refunded in full
                expected = {OrderStatus.REFUNDED} if any_success and order.paid_payment_id is None else {OrderStatus.EXPIRED}
                if order.paid_payment_id is not None:
                    expected = set()
            elif any_success:
                expected = {OrderStatus.PAID}
            else:
                expected = {OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED}
            if order.status not in expected:
                report.wrong_state += 1
                report.problems.append(f"{order_id}: {order.status} with backend {truth}")


def as_row(report: FaultReport) -> dict[str, Any]:
    return {"orders": report.orders, "payments": report.payments, "deliveries": report.deliveries,
            "faults": sum(report.faults.values()), "double_paid": report.double_paid, "lost": report.lost,
            "wrong_state": report.wrong_state, "auto_refunds": report.auto_refunds}
