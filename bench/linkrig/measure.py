"""Measuring a link from both ends in one process: a UDP echo (round trips, jitter, loss per direction) and a TCP
bulk transfer (throughput over time). The server end is a socket in the root namespace bound to the link's root
address, the client end a socket made inside the client namespace (`Link.socket`), so every packet crosses the
shaper and the token buckets. Used by bench/links.py and tests/e2e/test_link_shaper.py."""

from __future__ import annotations

import itertools
import math
import socket
import statistics
import struct
import threading
import time
from dataclasses import dataclass

from bench.linkrig.netns import Link

ECHO = struct.Struct("!Id")
"""Sequence number, send time (monotonic seconds)."""
CHUNK = 256 * 1024
MAX_BEHIND_S = 0.005
SO_RCVBUFFORCE = 33
"""Linux: root may set a receive buffer past net.core.rmem_max."""


def _big_receive_buffer(s: socket.socket, size_b: int = 8 << 20) -> None:
    """A buffer that holds the echo's datagrams while its thread waits for the GIL: a full buffer's drops would
    read as the link's loss."""
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size_b)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size_b)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class EchoResult:
    sent: int
    reached_server: int
    echoed: int
    rtts_ms: list[float]
    """Round trips of the datagrams that came back, in send order."""
    sent_s: list[float]
    """When each of those was sent, seconds after the first send."""

    @property
    def up_loss(self) -> float:
        return 1 - self.reached_server / self.sent

    @property
    def down_loss(self) -> float:
        return 1 - self.echoed / self.reached_server if self.reached_server else math.nan

    @property
    def round_trip_loss(self) -> float:
        return 1 - self.echoed / self.sent

    @property
    def jitter_ms(self) -> float:
        """Mean |difference| of consecutive round trips (Ookla's and RFC 3550's sense), in send order."""
        r = self.rtts_ms
        return statistics.fmean(abs(a - b) for a, b in itertools.pairwise(r)) if len(r) > 1 else math.nan

    def rtt_ms(self, q: float) -> float:
        return percentile(self.rtts_ms, q)


def udp_echo(ln: Link, count: int, interval_s: float, *, payload_b: int = 64, linger_s: float = 1.0) -> EchoResult:
    """Sends `count` datagrams from the client namespace to an echo in the root namespace, one every `interval_s`,
    and waits `linger_s` after the last for late replies. Round trips are kept in send order (missing ones
    skipped)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((ln.root_addr, 0))
    server.settimeout(0.2)
    client = ln.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((ln.client_addr, 0))
    client.connect(server.getsockname())
    client.settimeout(0.2)
    for s in (server, client):
        _big_receive_buffer(s)
    reached = 0
    done = threading.Event()

    def echo() -> None:
        nonlocal reached
        while not done.is_set():
            try:
                data, peer = server.recvfrom(2048)
            except TimeoutError:
                continue
            reached += 1
            server.sendto(data, peer)

    rtts: dict[int, tuple[float, float]] = {}

    def receive() -> None:
        while not done.is_set():
            try:
                data = client.recv(2048)
            except TimeoutError:
                continue
            now = time.monotonic()
            seq, sent_at = ECHO.unpack_from(data)
            rtts[seq] = (sent_at, (now - sent_at) * 1000)

    threads = [threading.Thread(target=echo, daemon=True), threading.Thread(target=receive, daemon=True)]
    for t in threads:
        t.start()
    pad = b"\0" * max(0, payload_b - ECHO.size)
    start = time.monotonic()
    try:
        target = start
        for seq in range(count):
            wait = target - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -MAX_BEHIND_S:
                target = time.monotonic()  # a stalled sender does not catch up in a burst the bucket would drop
            target += interval_s
            client.send(ECHO.pack(seq, time.monotonic()) + pad)
        time.sleep(linger_s)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=1)
        server.close()
        client.close()
    order = sorted(rtts)
    return EchoResult(sent=count, reached_server=reached, echoed=len(rtts),
                      rtts_ms=[rtts[k][1] for k in order], sent_s=[rtts[k][0] - start for k in order])


@dataclass(frozen=True)
class BulkResult:
    direction: str
    seconds: float
    bins_s: float
    bytes_per_bin: list[int]
    start_monotonic: float

    def mbit(self, from_s: float = 0.0, to_s: float | None = None) -> float:
        """Mean received rate between `from_s` and `to_s` after the start."""
        lo = int(from_s / self.bins_s)
        hi = len(self.bytes_per_bin) if to_s is None else int(to_s / self.bins_s)
        span = (hi - lo) * self.bins_s
        return sum(self.bytes_per_bin[lo:hi]) * 8 / span / 1e6 if span > 0 else math.nan

    def series_mbit(self) -> list[float]:
        return [b * 8 / self.bins_s / 1e6 for b in self.bytes_per_bin]


def tcp_bulk(ln: Link, seconds: float, *, direction: str = "down", bins_s: float = 0.25) -> BulkResult:
    """One TCP connection sending as fast as it can for `seconds`: `down` from the root namespace to the client,
    `up` the other way. Counts the bytes the receiver gets per `bins_s`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((ln.root_addr, 0))
    listener.listen(1)
    client = ln.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(listener.getsockname())
    listener.settimeout(10)
    server, _ = listener.accept()
    listener.close()
    sender, receiver = (server, client) if direction == "down" else (client, server)
    nbins = math.ceil(seconds / bins_s)
    counts = [0] * nbins
    stop = threading.Event()
    start = time.monotonic()

    def send() -> None:
        chunk = b"\0" * CHUNK
        sender.settimeout(0.5)
        while not stop.is_set():
            try:
                sender.send(chunk)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    receiver.settimeout(0.5)
    buf = bytearray(CHUNK)
    try:
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                break
            try:
                n = receiver.recv_into(buf)
            except TimeoutError:
                continue
            if n == 0:
                break
            i = int((time.monotonic() - start) / bins_s)
            if i < nbins:
                counts[i] += n
    finally:
        stop.set()
        for s in (client, server):
            s.close()
        thread.join(timeout=2)
    return BulkResult(direction, seconds, bins_s, counts, start)
