"""Wires the adapters into the commerce use cases (`showroom.services.Commerce`): database (migrated on start),
payment backend, price feed, event bus, clock, and the background sweeper. The only module besides integration
tests importing adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from showroom.adapters import migrate, secret_files
from showroom.adapters.bus import InProcessBus, RedisBus
from showroom.adapters.clock import SystemClock
from showroom.adapters.prices import HttpPriceFeed, JsonFilePriceFeed, SandboxPriceFeed
from showroom.adapters.sql import SqlDatabase
from showroom.catalog import Catalog
from showroom.certificates import Signer
from showroom.events import ORDERS_CHANNEL
from showroom.ports import (
    Clock,
    CreatedPayment,
    CreatePaymentRequest,
    CustomerDirectory,
    EventBus,
    GatewayPayment,
    PaymentGateway,
    PaymentGatewayUnavailable,
    PriceFeed,
    RefundReply,
    RefundRequest,
    SettlementLine,
    Subscription,
)
from showroom.services import Commerce, recovery
from showroom.services import certificates as certificate_service
from showroom.services.audit import AuditKeeping
from showroom.services.certificates import CertificateBook, signer_from_keys
from showroom.services.phone_proofs import PhoneProofs
from showroom.settings import CommerceSettings

if TYPE_CHECKING:
    from datetime import date

    import aiohttp

log = logging.getLogger("showroom.commerce")


class UnconfiguredGateway:
    """Stands in when no payment backend URL is known: every call says the backend is unavailable."""

    async def create_payment(self, request: CreatePaymentRequest) -> CreatedPayment:
        raise PaymentGatewayUnavailable("no payment backend is configured (SHOWROOM_PAYMENT_BACKEND_URL)")

    async def query_payment(self, payment_id: str) -> GatewayPayment:
        raise PaymentGatewayUnavailable("no payment backend is configured (SHOWROOM_PAYMENT_BACKEND_URL)")

    async def refund(self, request: RefundRequest) -> RefundReply:
        raise PaymentGatewayUnavailable("no payment backend is configured (SHOWROOM_PAYMENT_BACKEND_URL)")

    async def settlement(self, day: date) -> tuple[SettlementLine, ...]:
        raise PaymentGatewayUnavailable("no payment backend is configured (SHOWROOM_PAYMENT_BACKEND_URL)")


def http_gateway(base_url: str, session: aiohttp.ClientSession) -> PaymentGateway:
    from showroom.adapters.payment_backend import HttpPaymentGateway

    gateway: PaymentGateway = HttpPaymentGateway(base_url, session)
    return gateway


def customer_directory(settings: CommerceSettings, session: aiohttp.ClientSession | None) -> CustomerDirectory:
    """The bank's customer-information service (HTTP) when configured, else the packaged sandbox register."""
    from showroom.adapters.customer_info import HttpCustomerDirectory, SandboxCustomerDirectory

    if settings.customer_info_url:
        if session is None:
            raise ValueError("the customer-information service needs an HTTP session")
        return HttpCustomerDirectory(settings.customer_info_url, session, timeout_s=settings.customer_info_timeout_s)
    return SandboxCustomerDirectory()


def price_feed(settings: CommerceSettings, clock: Clock, session: aiohttp.ClientSession | None) -> PriceFeed:
    spec = settings.price_feed
    if spec == "sandbox":
        return SandboxPriceFeed(clock, seed=settings.price_feed_seed)
    if spec.startswith(("http://", "https://")):
        if session is None:
            raise ValueError("an HTTP price feed needs an HTTP session")
        return HttpPriceFeed(spec, session, clock, max_age_s=settings.price_max_age_s)
    return JsonFilePriceFeed(Path(spec).expanduser(), clock, max_age_s=settings.price_max_age_s)


@dataclass
class CommerceRuntime:
    commerce: Commerce
    db: SqlDatabase
    bus: EventBus
    audit: AuditKeeping | None = None
    """The audit chain's key and kept head (what `GET /api/staff/audit/verify` checks against)."""
    phones: PhoneProofs | None = None
    """One-time codes by SMS and phone proofs (`services.phone_proofs`); None: no SMS service, no proof."""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.close()
        await self.db.close()


def audited_database(settings: CommerceSettings) -> tuple[SqlDatabase, AuditKeeping]:
    """The database whose audit chain is signed with the data folder's `audit` secret, its head kept there after
    every commit that extends it. Without a data folder (tests, tools): a throwaway key and no kept head."""
    data_dir = settings.data_dir
    if data_dir is None:
        log.warning("no data folder: the audit chain is signed with a throwaway key for this process only")
        db = SqlDatabase(settings.database_url)
        return db, AuditKeeping(db.audit_key, lambda: None)
    key = secret_files.load_or_create(data_dir, secret_files.AUDIT_KEY_NAME)
    keeper = secret_files.AuditHeadKeeper(data_dir, settings.database_url)
    return (SqlDatabase(settings.database_url, audit_key=key, on_audit_head=keeper.keep, on_close=keeper.flush),
            AuditKeeping(key, keeper.kept))


async def _sweeper(commerce: Commerce, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            counts = await recovery.sweep(commerce)
            if any(counts.values()):
                log.info("sweeper: %s", counts)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweeper run failed; trying again in %.0f s", interval_s)


def certificate_book(commerce: Commerce) -> CertificateBook:
    """The certificate use cases over the SQL database (`certificates` table), signed with the settings' key."""
    from showroom.adapters.certificate_sql import SqlCertificates
    from showroom.adapters.sql import SqlUnitOfWork

    def repo(uow: object) -> SqlCertificates:
        if not isinstance(uow, SqlUnitOfWork):
            raise TypeError("certificates are stored in the SQL database")
        return SqlCertificates(uow.conn, uow._is_sqlite)

    settings = commerce.settings
    return CertificateBook(commerce, _certificate_signer(settings.certificate_key, settings.certificate_retired_keys),
                           repo)


@cache
def _certificate_signer(seed: bytes, retired: tuple[tuple[bytes, datetime], ...]) -> Signer:
    return signer_from_keys(seed, retired)


async def _certificate_issuer(book: CertificateBook, sub: Subscription) -> None:
    """Issues certificates when an order becomes due one (its `paid` event; a branch pick-up's `completed` one,
    sent by the teller's hand-over: `certificate_due`) from `sub`, subscribed before the service answers anyone
    (an event published before would be missed); a lost event is made up when the customer first asks
    (services/certificates.py)."""
    try:
        async for event in sub:
            try:
                await certificate_service.on_order_event(book, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not settle the certificates of %s", event.get("id"))
    finally:
        await sub.close()


def phone_proof_book(commerce: Commerce, session: aiohttp.ClientSession | None,
                     payment_backend_url: str | None) -> PhoneProofs | None:
    """One-time codes through the bank's SMS service (`settings.sms_url`), or, unset, the payment sandbox's SMS
    outbox at the payment backend's URL (test mode); None without an HTTP session or either URL."""
    from showroom.adapters.phone_sql import PhoneSql
    from showroom.adapters.sms_gateway import HttpSmsSender
    from showroom.adapters.sql import SqlUnitOfWork

    settings = commerce.settings
    url = settings.sms_url or payment_backend_url
    if session is None or not url:
        return None

    def repo(uow: object) -> PhoneSql:
        if not isinstance(uow, SqlUnitOfWork):
            raise TypeError("phone codes are stored in the SQL database")
        return PhoneSql(uow.conn)

    sender = HttpSmsSender(url, session, api_key=settings.sms_api_key if settings.sms_url else None)
    return PhoneProofs(commerce, sender, repo)


async def _phone_purger(book: PhoneProofs, interval_s: float = 3600.0) -> None:
    """Deletes one-time codes and phone proofs a day past their expiry, hourly."""
    from showroom.services import phone_proofs

    while True:
        await asyncio.sleep(interval_s)
        try:
            await phone_proofs.purge(book)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not purge expired phone codes; trying again in %.0f s", interval_s)


async def load_branches_file(commerce: Commerce, *, reset_stock: bool = False) -> int:
    """Loads `settings.branches_file` (assets/branches.toml) into the database: the branches' details, and their
    shelves where they have none yet (`reset_stock`: set again from the file). 0 when there is no file."""
    from showroom.branches import load_branches
    from showroom.services import pickups

    path = commerce.settings.branches_file
    if path is None or not path.is_file():
        return 0
    return await pickups.load_branches(commerce, load_branches(path.read_text(encoding="utf-8")),
                                       reset_stock=reset_stock)


async def start_commerce(
    settings: CommerceSettings,
    catalog: Catalog,
    *,
    session: aiohttp.ClientSession | None = None,
    payment_backend_url: str | None = None,
    gateway: PaymentGateway | None = None,
    clock: Clock | None = None,
    prices: PriceFeed | None = None,
    bus: EventBus | None = None,
    customers: CustomerDirectory | None = None,
    run_sweeper: bool = True,
    recover_on_start: bool = True,
) -> CommerceRuntime:
    """Opens and migrates the database, builds the use cases' `Commerce`, recovers interrupted work, starts the
    sweeper."""
    clock = clock or SystemClock()
    db, keeping = audited_database(settings)
    try:
        await migrate.upgrade(db)
    except Exception:
        await db.close()
        raise
    base_url = payment_backend_url or settings.payment_backend_url
    if gateway is None:
        gateway = http_gateway(base_url, session) if base_url and session is not None else UnconfiguredGateway()
    if bus is None:
        bus = RedisBus(settings.redis_url) if settings.redis_url else InProcessBus()
    commerce = Commerce(catalog=catalog, settings=settings, uow=db.uow, gateway=gateway,
                        prices=prices or price_feed(settings, clock, session), bus=bus, clock=clock,
                        customers=customers or customer_directory(settings, session))
    runtime = CommerceRuntime(commerce, db, bus, audit=keeping, phones=phone_proof_book(commerce, session, base_url))
    try:
        await load_branches_file(commerce)
    except BaseException:
        await runtime.close()
        raise
    if recover_on_start:
        try:
            counts = await recovery.recover(commerce)
            if any(counts.values()):
                log.info("recovered interrupted payment work on start: %s", counts)
        except Exception:
            log.exception("startup recovery failed; the sweeper will try again")
    if run_sweeper:
        runtime.tasks.append(asyncio.get_running_loop().create_task(_sweeper(commerce, settings.sweep_interval_s)))
        orders_sub = await commerce.bus.subscribe(ORDERS_CHANNEL)
        runtime.tasks.append(asyncio.get_running_loop().create_task(
            _certificate_issuer(certificate_book(commerce), orders_sub)))
        if runtime.phones is not None:
            runtime.tasks.append(asyncio.get_running_loop().create_task(_phone_purger(runtime.phones)))
    return runtime
