"""A fast path in front of aiohttp for cached view frames (`GET|HEAD /views/{sha256}.{ext}`).

aiohttp spends about ten times more CPU per request than the frame itself needs (request and response objects,
router, middlewares, header multidicts), which caps a node at a fraction of nginx on the same files. Frames are
immutable and content-addressed, so their replies are trivial: this protocol answers the plain ones itself,
straight from the view store's memory LRU, with the same headers as the aiohttp route (strong ETag, immutable
Cache-Control, Content-Type, 304 on If-None-Match, HEAD).

Anything else - another path or method, HTTP/1.0, a query string, a request body, `Expect`/`Upgrade`, a frame
not in memory (disk read, unknown hash -> JSON 404), a head it cannot parse - makes the connection switch, for
good, to aiohttp's own protocol, which gets the unanswered bytes and answers with full semantics. Replies stay
in request order: the fast ones are written before the switch. A client that does not read its replies stops
the parsing (and then the reading) of its connection; idle connections close after the keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, cast

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from render_node.keys import METRICS, VIEWS
from render_node.views import CONTENT_TYPE_BY_EXT, ViewStore

if TYPE_CHECKING:
    from prometheus_client import Counter

    from render_node.metrics import NodeMetrics

IMMUTABLE = b"public, max-age=31536000, immutable"
FRAME_NAME = re.compile(rb"[0-9a-f]{64}\.(?:jpg|png|webp)")
MAX_HEAD_BYTES = 8190  # aiohttp's own limit on a request line / header field; longer heads go to aiohttp
MAX_UNREAD_BYTES = 64 * 1024  # pipelined requests buffered while the client is not reading its replies
ROUTE = "/views/{name}"
_CONTENT_TYPES = {ext.encode(): ctype.encode() for ext, ctype in CONTENT_TYPE_BY_EXT.items()}


def etag_matches(header: bytes, etag: bytes) -> bool:
    """If-None-Match: weak comparison (RFC 9110 13.1.2), `*` matches any."""
    for tag in header.split(b","):
        tag = tag.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]
        if tag == etag or tag == b"*":
            return True
    return False


class FrameFront:
    """What the fast connections of one listening socket share: the store, metrics, the aiohttp fallback.

    Its request counts reach Prometheus in batches (`flush()`: once a second while busy, by the site's timer, and
    before any hand-over, so a scrape on a new connection sees every earlier fast reply)."""

    def __init__(self, server: web.Server, store: ViewStore, metrics: NodeMetrics | None,
                 keepalive_timeout_s: float = 75.0) -> None:
        self.server = server
        self.store = store
        self.keepalive_timeout_s = keepalive_timeout_s
        self.connections: set[FrameProtocol] = set()
        self.fast_requests = 0
        self.handed_over = 0
        self._ok = self._not_modified = 0  # not yet in Prometheus
        self._date = b""
        self._date_at = -1
        self._counters: tuple[Counter, Counter, Counter] | None = None
        if metrics is not None:
            self._counters = (metrics.http_requests.labels(ROUTE, "200"),
                              metrics.http_requests.labels(ROUTE, "304"), metrics.view_cache.labels("memory", "hit"))
        self._tail = b"\r\nCache-Control: " + IMMUTABLE + b"\r\nServer: " + SERVER_SOFTWARE.encode() + b"\r\nDate: "

    def flush(self) -> None:
        ok, not_modified = self._ok, self._not_modified
        self._ok = self._not_modified = 0
        if self._counters is not None and ok + not_modified:
            if ok:
                self._counters[0].inc(ok)
            if not_modified:
                self._counters[1].inc(not_modified)
            self._counters[2].inc(ok + not_modified)

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date_at:
            self._date = formatdate(now, usegmt=True).encode()
            self._date_at = now
            self.flush()
        return self._date

    def answer(self, head: bytes) -> tuple[tuple[bytes, ...], bool] | None:
        """(the reply's buffers, close after it) for a plain request for a frame in memory; None: aiohttp's turn.

        `head` is the request line and header fields without the final blank line. Lenient about what does not
        matter to a bodiless GET of an immutable file; any mention of a body, `Expect`, `Upgrade` or a folded
        header line goes to aiohttp."""
        line_end = head.find(b"\r\n")
        method, _, rest = (head if line_end < 0 else head[:line_end]).partition(b" ")
        target, _, version = rest.partition(b" ")
        if version != b"HTTP/1.1" or not target.startswith(b"/views/") or method not in (b"GET", b"HEAD"):
            return None
        name = target[7:]
        if FRAME_NAME.fullmatch(name) is None:
            return None
        if_none_match = b""
        close = False
        if line_end >= 0:
            fields = head[line_end:]  # starts with CRLF: every field name follows one
            low = fields.lower()
            if (b"content-length" in low or b"transfer-encoding" in low or b"\nexpect" in low or b"\nupgrade" in low
                    or b"\n " in fields or b"\n\t" in fields):
                return None
            i = low.find(b"\nif-none-match:")
            if i >= 0:
                j = fields.find(b"\r", i)
                if_none_match = fields[i + 15:j if j >= 0 else len(fields)]
            i = low.find(b"\nconnection:")
            if i >= 0:
                j = low.find(b"\r", i)
                close = b"close" in low[i + 12:j if j >= 0 else len(low)]
        data = self.store.cached_frame(name.decode())
        if data is None:
            return None  # on disk or unknown: aiohttp reads it (into memory) or answers the JSON 404
        etag = b'"' + name[:64] + b'"'
        common = b"\r\nETag: " + etag + self._tail + self.date() + (b"\r\nConnection: close\r\n\r\n" if close
                                                                 else b"\r\n\r\n")
        self.fast_requests += 1
        if if_none_match and etag_matches(if_none_match, etag):
            self._not_modified += 1
            return (b"HTTP/1.1 304 Not Modified" + common,), close
        self._ok += 1
        reply_head = (b"HTTP/1.1 200 OK\r\nContent-Type: " + _CONTENT_TYPES[name[65:]] + b"\r\nContent-Length: "
                      + str(len(data)).encode() + common)
        return ((reply_head,) if method == b"HEAD" else (reply_head, data)), close

    def close(self) -> None:
        for conn in list(self.connections):
            conn.close()


class FrameProtocol(asyncio.Protocol):
    """One client connection: answers plain cached-frame requests, then hands the rest to aiohttp."""

    def __init__(self, front: FrameFront) -> None:
        self._front = front
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._write_paused = False
        self._read_paused = False
        self._last_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        sock = self._transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._front.connections.add(self)
        self._last_s = self._loop.time()
        self._timer = self._loop.call_later(self._front.keepalive_timeout_s, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def _forget(self) -> None:
        self._front.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer = self._buffer + data if self._buffer else data
        self._last_s = self._loop.time()
        if not self._write_paused:
            self._process()
        elif len(self._buffer) > MAX_UNREAD_BYTES and self._transport is not None and not self._read_paused:
            self._transport.pause_reading()
            self._read_paused = True

    def _process(self) -> None:
        buf = self._buffer
        while buf and not self._write_paused and self._transport is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    break  # aiohttp answers an oversized head
                self._buffer = buf
                return
            reply = self._front.answer(buf[:end])
            if reply is None:
                break
            buf = buf[end + 4:]
            self._transport.writelines(reply[0])
            if reply[1]:
                self._buffer = b""
                self._transport.close()
                return
        else:
            self._buffer = buf
            return
        self._buffer = buf
        self._hand_over()

    def _hand_over(self) -> None:
        """From now on aiohttp's protocol owns the connection, starting with the unanswered bytes."""
        transport = self._transport
        assert transport is not None
        data, self._buffer = self._buffer, b""
        self._forget()
        self._front.handed_over += 1
        self._front.flush()
        handler = self._front.server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._read_paused:
            transport.resume_reading()
        if data:
            handler.data_received(data)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._transport is None:
            return
        if self._read_paused:
            self._read_paused = False
            self._transport.resume_reading()
        self._process()

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself once the replies are written

    def _check_idle(self) -> None:
        self._timer = None
        if self._transport is None:
            return
        idle_s = self._loop.time() - self._last_s
        if idle_s >= self._front.keepalive_timeout_s and not self._write_paused:
            self._transport.close()
            return
        wait_s = max(1.0, self._front.keepalive_timeout_s - idle_s)
        self._timer = self._loop.call_later(wait_s, self._check_idle)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class FrameSite(web.BaseSite):
    """A TCP site like aiohttp's TCPSite whose connections start on the frame fast path (needs the view store,
    i.e. roles all and edge). `reuse_port` lets several processes share the port."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, reuse_address: bool | None = None,
                 reuse_port: bool | None = None, keepalive_timeout_s: float = 75.0) -> None:
        super().__init__(runner)
        assert runner.server is not None
        app = runner.app
        self._host = host
        self._port = port
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port
        self._flusher: asyncio.TimerHandle | None = None
        self.front = FrameFront(runner.server, app[VIEWS], app.get(METRICS),
                                keepalive_timeout_s)

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def bound_port(self) -> int:
        """The port listened on (the one the OS picked for port 0)."""
        sockets = getattr(self._server, "sockets", None)
        if not sockets:
            raise RuntimeError("the site is not started")
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        await super().start()
        front = self.front
        self._server = await asyncio.get_running_loop().create_server(
            lambda: FrameProtocol(front), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)

        self._flush_every_s(1.0)

    def _flush_every_s(self, period_s: float) -> None:
        self.front.flush()
        self._flusher = asyncio.get_running_loop().call_later(period_s, self._flush_every_s, period_s)

    async def stop(self) -> None:
        await super().stop()
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self.front.flush()
        self.front.close()
