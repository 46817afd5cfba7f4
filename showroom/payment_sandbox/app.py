"""The payment sandbox as an aiohttp app: `create_sandbox_app(settings)`.

Routes (docs/payments.md describes each): the backend protocol (`routes.py`: payments, refunds, test controls,
settlement, healthz, operator views of notifications) and the customer's pay page (`pay_routes.py`). State lives
in SQLite (`store.py`, `outbox.py`); background tasks expire payments, finish refunds and deliver notifications
(`notifier.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from showroom.payment_sandbox import errors, pay_routes, payouts, routes, sms
from showroom.payment_sandbox._http import NOTIFIER_KEY, SETTINGS_KEY, STORE_KEY, error_middleware, log
from showroom.payment_sandbox.notifier import Notifier
from showroom.payment_sandbox.settings import SandboxSettings
from showroom.payment_sandbox.store import SandboxStore

IDEMPOTENCY_RETENTION_S = 24 * 3600.0


async def _maintenance(app: web.Application) -> None:
    """Expires due payments, finishes refunds after their processing time, purges old idempotency keys."""
    settings = app[SETTINGS_KEY]
    store = app[STORE_KEY]
    notifier = app[NOTIFIER_KEY]
    tick_s = max(0.05, min(settings.expiry_sweep_s, settings.refund_processing_s or 1.0, 1.0))
    last_purge_s = 0.0
    while True:
        try:
            now_s = settings.clock()
            for event in await store.run(store.db.expire_due, now_s):
                log.info("payment %s expired", event.payment_id)
                notifier.enqueue(event)
            if settings.refund_processing_s is not None:
                for refund in await store.run(store.db.pending_refunds, now_s - settings.refund_processing_s):
                    with contextlib.suppress(errors.RefundNotPending):
                        _, event = await store.run(
                            store.db.complete_refund, refund.id, True, settings.clock()
                        )
                        notifier.enqueue(event)
            if now_s - last_purge_s > 3600:
                await store.run(store.db.purge_idempotency, now_s - IDEMPOTENCY_RETENTION_S)
                last_purge_s = now_s
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sandbox maintenance failed; trying again")
        await asyncio.sleep(tick_s)


def _lifecycle(settings: SandboxSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = SandboxStore(settings.data_dir)
        await store.open()
        session = aiohttp.ClientSession()
        notifier = Notifier(store, settings, session)
        app[STORE_KEY] = store
        app[NOTIFIER_KEY] = notifier
        resumed = await notifier.resume()
        if resumed:
            log.info("resumed delivery of %d undelivered notifications", resumed)
        maintenance = asyncio.create_task(_maintenance(app), name="payment-sandbox-maintenance")
        try:
            yield
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            await notifier.close()
            await session.close()
            await store.close()

    return ctx


def create_sandbox_app(settings: SandboxSettings) -> web.Application:
    """The payment sandbox. Its store, notifier and background tasks start and stop with the app."""
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS_KEY] = settings
    app.cleanup_ctx.append(_lifecycle(settings))
    r = app.router
    r.add_get("/healthz", routes.healthz)
    r.add_post("/payments", routes.create_payment)
    r.add_get("/payments", routes.list_payments)
    r.add_get("/payments/{payment_id}", routes.get_payment)
    r.add_post("/payments/{payment_id}/complete", routes.complete_payment)
    r.add_post("/payments/{payment_id}/refunds", routes.create_refund)
    r.add_get("/payments/{payment_id}/events", routes.payment_events)
    r.add_get("/payments/{payment_id}/qr.png", routes.qr_png)
    r.add_get("/refunds/{refund_id}", routes.get_refund)
    r.add_post("/refunds/{refund_id}/complete", routes.complete_refund)
    r.add_post("/events/{event_id}/redeliver", routes.redeliver_event)
    r.add_get("/settlements/{date}.csv", routes.settlement_csv)
    r.add_get("/pay/{payment_id}", pay_routes.pay_page)
    r.add_post("/pay/{payment_id}/approve", pay_routes.pay_approve)
    r.add_post("/pay/{payment_id}/decline", pay_routes.pay_decline)
    r.add_post("/pay/{payment_id}/card", pay_routes.pay_card)
    sms.add_routes(app)  # the bank's SMS service in test mode (the outbox of one-time codes)
    payouts.install(app)  # POST /payouts (buy-backs paid to the account of record), after the store's lifecycle
    return app
