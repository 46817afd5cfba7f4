"""What the socket under a stream session has sent and what still waits, from the kernel's own counters: the
input of `quality.LinkBudget` (adaptive quality that follows the link, not only the hello's `max_kbps`).

    probe = LinkProbe.of(request.transport)      # None: no TCP socket to read (a test's fake socket)
    delivered, backlog = probe.counters(written_bytes)

`delivered`: bytes written so far minus what is still in the asyncio transport's buffer and the kernel's send
queue (SIOCOUTQ: unacknowledged + unsent), i.e. bytes the peer acknowledged. `backlog`: bytes written but not yet
sent (the transport's buffer + the kernel's unsent bytes, SIOCOUTQNSD). Linux only; elsewhere the transport's
buffer alone is used.

`LinkProbe.of` also sets TCP_NOTSENT_LOWAT on the socket: the kernel then keeps at most `NOTSENT_LOWAT` bytes
unsent and the rest waits in the transport, so `send_bytes` awaits the link instead of filling megabytes of an
autotuned send buffer (seconds of delay at 5 Mbit/s, all of it stale frames).
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import sys
from typing import Any, Protocol

SIOCOUTQ = 0x5411
"""Bytes in the send queue not yet acknowledged (TIOCOUTQ), Linux."""
SIOCOUTQNSD = 0x894B
"""Bytes in the send queue not yet sent, Linux."""
TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
NOTSENT_LOWAT = 128 * 1024


class _Transport(Protocol):
    def get_write_buffer_size(self) -> int: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def _queued(fd: int, request: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0])


class LinkProbe:
    """Reads one stream socket's send counters."""

    def __init__(self, transport: _Transport, fd: int | None) -> None:
        self._transport = transport
        self._fd = fd

    @classmethod
    def of(cls, transport: _Transport | None) -> LinkProbe | None:
        if transport is None:
            return None
        sock = transport.get_extra_info("socket")
        fd: int | None = None
        if sock is not None and sys.platform == "linux" and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, NOTSENT_LOWAT)
                _queued(sock.fileno(), SIOCOUTQ)
                fd = sock.fileno()
        return cls(transport, fd)

    def counters(self, written_bytes: int) -> tuple[int, int]:
        """(delivered, backlog) bytes, given the bytes written to the transport so far."""
        buffered = self._transport.get_write_buffer_size()
        unacked = unsent = 0
        if self._fd is not None:
            try:
                unacked = _queued(self._fd, SIOCOUTQ)
                unsent = _queued(self._fd, SIOCOUTQNSD)
            except OSError:
                self._fd = None
        return max(0, written_bytes - buffered - unacked), buffered + unsent
