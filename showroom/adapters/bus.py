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

log = logging.getLogger("showroom.bus")
QUEUE_SIZE = 256


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
    """Redis pub/sub: every node subscribes to the channels its sockets need; messages are JSON."""

    def __init__(self, url: str, *, prefix: str = "showroom:") -> None:
        import redis.asyncio as redis_async

        self._redis: Any = redis_async.from_url(url)  # type: ignore[no-untyped-call]
        self._prefix = prefix
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(dict(message), ensure_ascii=False))

    async def subscribe(self, channel: str) -> _QueueSubscription:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._prefix + channel)

        async def pump() -> None:
            try:
                async for raw in pubsub.listen():
                    if raw.get("type") == "message":
                        try:
                            sub.put(json.loads(raw["data"]))
                        except ValueError:
                            log.warning("dropping a malformed event on %s", channel)
            except asyncio.CancelledError:
                pass

        async def drop(_sub: _QueueSubscription) -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await pubsub.unsubscribe()
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
