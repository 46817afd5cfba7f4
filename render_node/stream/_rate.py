"""The per-second message-rate window of a stream session's receive loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import showroom_protocol as protocol
from showroom_protocol import ProtocolError


class MessageRate:
    """Counts messages in fixed one-second windows; past `max_per_s` in one window the client is flooding."""

    def __init__(self, max_per_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_s = max_per_s
        self._clock = clock
        self._window_start = clock()
        self._count = 0

    def count(self) -> None:
        """Counts one message; raises ProtocolError (1008) when the window holds more than `max_per_s`."""
        now = self._clock()
        if now - self._window_start >= 1.0:
            self._window_start, self._count = now, 0
        self._count += 1
        if self._count > self.max_per_s:
            raise ProtocolError("too many messages per second", protocol.CLOSE_POLICY)
