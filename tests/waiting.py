"""Waiting in tests for the thing, not for time (STYLE.md, "Wait for the thing, not for time").

A fake that sees things happen (a notify endpoint, a backend) owns a `Changes` and calls `notify()` after each
change; the test awaits `changes.wait_until(predicate, what=...)`, which wakes on every change, never on a tick.
What has no hook (a row behind HTTP, another server's state) is polled with `wait_until`. Both fail after the
deadline with what they waited for; the deadline is generous because only a broken build ever reaches it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

DEFAULT_TIMEOUT_S = 15.0
POLL_S = 0.01


def _timed_out(what: str, timeout_s: float) -> AssertionError:
    return AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    what: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_S,
) -> None:
    """Returns as soon as `predicate()` (a plain or an async function) is true; fails after `timeout_s` saying
    `what` it waited for. The poll interval only bounds how late the change is seen, never whether."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(poll_s)
    except TimeoutError:
        raise _timed_out(what, timeout_s) from None


class Changes:
    """A "something changed" signal between a fake and the test that waits on it."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        """Called by the fake after each change it records."""
        async with self._condition:
            self._condition.notify_all()

    async def wait_until(
        self, predicate: Callable[[], bool], *, what: str, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        """Returns as soon as `predicate()` holds, checking it now and after every change."""
        try:
            async with asyncio.timeout(timeout_s), self._condition:
                await self._condition.wait_for(predicate)
        except TimeoutError:
            raise _timed_out(what, timeout_s) from None
