"""Event buses implementing the `EventBus` port: in process (default) and Redis pub/sub (between nodes).

Subscribers get messages published after they subscribed. A subscriber that does not keep up loses the oldest
messages (bounded queue), never blocks the publisher: order events are hints, the order itself is re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from showroom.ports import EventBusUnavailable

log = logging.getLogger("showroom.bus")
QUEUE_SIZE = 256
CONNECT_TIMEOUT_S = 2.0
HEALTH_CHECK_S = 15
RECONNECT_FIRST_S = 0.2
RECONNECT_MAX_S = 2.0
RESYNC: dict[str, Any] = {"type": "resync"}
"""Handed to a Redis subscriber after its subscription was lost and re-made: events may have been missed."""


class _QueueSubscription:
    def __init__(self, on_close: Any) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self._on_close = on_close
        self._closed = False

    def put(self, message: dict[str, Any] | None) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self.queue.get()
            if message is None:
                return
            yield message

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._on_close(self)
            self.put(None)


class InProcessBus:
    def __init__(self) -> None:
        self._subs: dict[str, set[_QueueSubscription]] = {}

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        for sub in list(self._subs.get(channel, ())):
            sub.put(dict(message))

    async def subscribe(self, channel: str) -> _QueueSubscription:
        async def drop(sub: _QueueSubscription) -> None:
            self._subs.get(channel, set()).discard(sub)

        sub = _QueueSubscription(drop)
        self._subs.setdefault(channel, set()).add(sub)
        return sub

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.close()
        self._subs.clear()


class RedisBus:
    """Redis pub/sub: every node subscribes to the channels its sockets need; messages are JSON.

    Redis going away does not end a subscription: its pump reconnects (backing off up to `RECONNECT_MAX_S`) and
    subscribes again, then hands the subscriber a `{"type": "resync"}` message, because whatever was published
    while it was away is lost (pub/sub keeps nothing): a subscriber re-reads the state it follows (the order
    socket re-reads the order and pushes it). Publishing while Redis is away raises `EventBusUnavailable` quickly
    (connect timeout); the caller logs it in one line (the order is committed, the event is a hint)."""

    def __init__(self, url: str, *, prefix: str = "showroom:") -> None:
        import redis.asyncio as redis_async
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis: Any = redis_async.from_url(  # type: ignore[no-untyped-call]
            url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        # Subscriptions on a client of their own that never reconnects behind our back: redis-py would subscribe
        # again silently, and the subscriber would not know that it missed events.
        self._listen: Any = redis_async.from_url(  # type: ignore[no-untyped-call]
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=HEALTH_CHECK_S,
            retry=Retry(NoBackoff(), 0))
        self._prefix = prefix
        self._tasks: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        """Subscriptions re-established after Redis was lost (for tests and logs)."""

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.publish(self._prefix + channel, json.dumps(dict(message), ensure_ascii=False))
        except (RedisError, OSError) as exc:
            raise EventBusUnavailable(f"Redis cannot be reached ({type(exc).__name__}: {exc})") from exc

    async def subscribe(self, channel: str) -> _QueueSubscription:
        """Subscribed when this returns if Redis answers; otherwise the pump keeps trying (and sends a resync)."""
        from redis.exceptions import RedisError

        name = self._prefix + channel
        pubsub: Any = self._listen.pubsub()
        first_error: Exception | None = None
        try:
            await pubsub.subscribe(name)
        except (RedisError, OSError) as exc:
            first_error = exc

        async def pump() -> None:
            nonlocal pubsub
            error, delay = first_error, RECONNECT_FIRST_S
            while True:
                if error is not None:
                    log.warning("event bus: lost Redis on %s (%s); reconnecting", channel, error)
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                    while True:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, RECONNECT_MAX_S)
                        pubsub = self._listen.pubsub()
                        try:
                            await pubsub.subscribe(name)
                            break
                        except (RedisError, OSError):
                            with contextlib.suppress(Exception):
                                await pubsub.aclose()
                    self.reconnects += 1
                    log.info("event bus: subscribed to %s again", channel)
                    sub.put(dict(RESYNC))
                    error, delay = None, RECONNECT_FIRST_S
                try:
                    async for raw in pubsub.listen():
                        if raw.get("type") == "message":
                            try:
                                sub.put(json.loads(raw["data"]))
                            except ValueError:
                                log.warning("dropping a malformed event on %s", channel)
                    error = ConnectionError("the subscription ended")
                except (RedisError, OSError) as exc:
                    error = exc

        async def drop(_sub: _QueueSubscription) -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):  # Redis may be gone: closing must not fail the caller
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await pubsub.aclose()

        sub = _QueueSubscription(drop)
        task = asyncio.get_running_loop().create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sub

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._redis.aclose()
        await self._listen.aclose()
