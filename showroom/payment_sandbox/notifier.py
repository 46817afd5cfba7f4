"""Delivery of signed notifications to each payment's `notify_url`, at least once.

Every event is in the `events` outbox table before it is sent. Each event gets its own task: it POSTs the body
with an `X-Signature` header (`signature.py`, a fresh timestamp per attempt), and on a network error, a
timeout or a non-2xx answer waits the next delay of the retry schedule and tries again; when the schedule is
used up the event is `abandoned` (an operator can redeliver it). Undelivered events are picked up again when
the sandbox starts. Fault injection (off by default): duplicate deliveries and random delays that reorder them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random

import aiohttp

from showroom.payment_sandbox.records import EventRow
from showroom.payment_sandbox.settings import SandboxSettings
from showroom.payment_sandbox.signature import SIGNATURE_HEADER, sign
from showroom.payment_sandbox.store import SandboxStore

log = logging.getLogger("showroom.payment_sandbox.notify")

MAX_CONCURRENT_DELIVERIES = 16


class Notifier:
    def __init__(
        self, store: SandboxStore, settings: SandboxSettings, session: aiohttp.ClientSession
    ) -> None:
        self._store = store
        self._settings = settings
        self._session = session
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._rng = random.Random(settings.fault_seed)

    async def resume(self) -> int:
        """Queues every event not yet delivered (after a restart); returns how many."""
        events = await self._store.run(self._store.db.outbox.undelivered)
        for event in events:
            self.enqueue(event)
        return len(events)

    def enqueue(self, event: EventRow) -> None:
        if event.id in self._tasks:
            return
        task = asyncio.create_task(self._deliver(event), name=f"notify-{event.id}")
        self._tasks[event.id] = task
        task.add_done_callback(functools.partial(self._forget, event.id))

    def _forget(self, event_id: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(event_id, None)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, timeout_s: float) -> None:
        """Waits until no delivery is in progress (tests and shutdown)."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _post(self, event: EventRow) -> str | None:
        """One attempt; returns None on a 2xx answer, else what went wrong."""
        timestamp = int(self._settings.clock())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._settings.webhook_secret, timestamp, event.body),
            "User-Agent": "ShowroomPaymentSandbox/1.0",
            "X-Event-Id": event.id,
            "X-Event-Type": event.type,
        }
        timeout = aiohttp.ClientTimeout(total=self._settings.notify_timeout_s)
        try:
            async with (
                self._slots,
                self._session.post(
                    event.notify_url, data=event.body, headers=headers, timeout=timeout, allow_redirects=False
                ) as resp,
            ):
                await resp.read()
                if 200 <= resp.status < 300:
                    return None
                return f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    async def _deliver(self, event: EventRow) -> None:
        schedule = self._settings.notify_retry_schedule_s
        if self._settings.reorder_window_s > 0:
            await asyncio.sleep(self._rng.uniform(0.0, self._settings.reorder_window_s))
        attempt = event.attempts
        while True:
            error = await self._post(event)
            now_s = self._settings.clock()
            give_up = error is not None and attempt >= len(schedule)
            await self._store.run(
                self._store.db.outbox.record_attempt, event.id, error is None, error, now_s, give_up
            )
            if error is None:
                log.info(
                    "delivered %s %s to %s (attempt %d)", event.id, event.type, event.notify_url, attempt + 1
                )
                break
            if give_up:
                log.warning("abandoned %s %s after %d attempts: %s", event.id, event.type, attempt + 1, error)
                return
            delay_s = schedule[attempt]
            log.info("notify %s failed (%s); retry %d in %.2f s", event.id, error, attempt + 1, delay_s)
            attempt += 1
            await asyncio.sleep(delay_s)
        if (
            self._settings.duplicate_probability > 0
            and self._rng.random() < self._settings.duplicate_probability
        ):
            await asyncio.sleep(self._rng.uniform(0.0, self._settings.reorder_window_s))
            error = await self._post(event)
            log.info("sent deliberate duplicate of %s (%s)", event.id, error or "2xx")
