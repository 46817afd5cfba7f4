"""The shared core of the use cases: their dependencies (`Commerce`) and `transact`, which runs one change in one
database transaction, retries it when it lost an optimistic race, and publishes its order events after commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from showroom import events
from showroom.catalog import Catalog
from showroom.compliance import ComplianceRules
from showroom.ports import (
    Clock,
    ConcurrentUpdate,
    CustomerDirectory,
    EventBus,
    EventBusUnavailable,
    PaymentGateway,
    PriceFeed,
    UnitOfWork,
)
from showroom.settings import CommerceSettings

log = logging.getLogger("showroom.commerce")

T = TypeVar("T")
UowFactory = Callable[[], UnitOfWork]
MAX_RETRIES = 8


@dataclass(frozen=True)
class Commerce:
    """What every use case needs: the catalog, the settings, the compliance rules and the ports."""

    catalog: Catalog
    settings: CommerceSettings
    uow: UowFactory
    gateway: PaymentGateway
    prices: PriceFeed
    bus: EventBus
    clock: Clock
    rules: ComplianceRules | None = None
    """None: the default rules with the settings' AML threshold."""
    customers: CustomerDirectory | None = None
    """The bank's customer-information service; None: none is configured, and no order is taken."""

    def __post_init__(self) -> None:
        if self.rules is None:
            object.__setattr__(self, "rules", ComplianceRules(aml_threshold_cny=self.settings.aml_threshold_cny))

    @property
    def compliance(self) -> ComplianceRules:
        assert self.rules is not None
        return self.rules


@dataclass
class Outcome:
    """What a transaction leaves to do once committed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    """Automatic refund intents written by the transaction; the caller executes them (`refunds.execute_all`)."""
    duplicate: bool = False


async def publish(ctx: Commerce, outcome: Outcome) -> None:
    """The transaction's events, after its commit. The state is committed whatever happens here: a lost push is
    re-read by `GET /api/orders/{id}`, and the order sockets resync when the bus is back. With the bus unreachable
    the rest of this transaction's events are not tried (each try would wait for the connect timeout)."""
    for i, ev in enumerate(outcome.events):
        try:
            await ctx.bus.publish(events.ORDERS_CHANNEL, ev)
            await ctx.bus.publish(events.order_channel(str(ev["id"])), ev)
        except EventBusUnavailable as exc:
            log.warning("order events not published (%s %s and %d more): %s", ev.get("id"), ev.get("status"),
                        len(outcome.events) - i - 1, exc)
            return
        except Exception:
            log.exception("could not publish %s", ev)


async def transact(ctx: Commerce, work: Callable[[UnitOfWork, Outcome], Awaitable[T]]) -> tuple[T, Outcome]:
    """Runs `work` in one transaction, retrying on a lost optimistic race; publishes its events after commit."""
    for attempt in range(MAX_RETRIES):
        outcome = Outcome()
        try:
            async with ctx.uow() as uow:
                result = await work(uow, outcome)
                await uow.commit()
        except ConcurrentUpdate:
            await asyncio.sleep(0.005 * (attempt + 1))
            continue
        await publish(ctx, outcome)
        return result, outcome
    raise ConcurrentUpdate("too many concurrent changes; try again")
