"""The packet shaper between the two ends of a test link: it reads IP packets from one TUN device, holds each
until its due time, drops some, and writes the rest to the other TUN device. It adds what the kernel here cannot
(no netem): delay, jitter and loss. The rate is the kernel's (tc tbf on the TUN devices, bench/linkrig/netns.py).

Per direction and packet: due = arrival + one-way delay + a jitter sample (normal, sigma from the profile, the
delay never below zero), dropped with the profile's loss chance (each packet on its own). Packets leave in the
order they came, per direction, as one phone's radio bearer delivers them (RLC in order): a packet is never due
before the one ahead of it, so a burst behind a slow packet waits for it (head-of-line), which a bulk transfer
sees as a little more delay than an idle ping. The queue is bounded (`max_held` packets a direction; past that a
packet is dropped and counted as overflow).

Run by bench/linkrig/netns.py as its own process (the loop is one Python thread; it must not share a GIL with the
measuring code): `python -m bench.linkrig.shaper --root-tun NAME --client-tun NAME --profile-json JSON ...`. It
creates both TUN devices, says `ready` on stdout, and runs until SIGTERM; status.json in --state-dir holds its
counters (refreshed each second and at exit) and when the mid-session rate drop was applied. On SIGUSR1 it reads
profile.json from --state-dir and shapes with that profile's delay, jitter and loss from then on (packets already
held keep their due times; `Link.set_profile` writes the file, signals, and sets the new rate).
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.linkrig.profiles import Profile

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PACKET_MAX = 65536
READ_BATCH = 256
"""Packets read from one device before the other gets its turn."""
IDLE_POLL_S = 0.05
EARLY_S = 0.0004
"""A packet due within this much is sent now: epoll waits in whole milliseconds, rounded up, so waiting for the
exact due time would make every packet late by half a millisecond on average."""


@dataclass
class Counters:
    received: int = 0
    sent: int = 0
    lost: int = 0
    """Dropped by the profile's loss chance."""
    overflow: int = 0
    """Dropped because `max_held` packets were already held."""
    write_errors: int = 0


@dataclass
class DelayLine:
    """One direction: holds packets until due, in arrival order. Times are seconds on any monotonic clock."""

    delay_s: float
    sigma_s: float
    loss: float
    rng: random.Random
    max_held: int = 20000
    counters: Counters = field(default_factory=Counters)
    _held: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    _last_due: float = float("-inf")

    def admit(self, packet: bytes, now: float) -> bool:
        """Takes a packet that arrived at `now`; False when it is dropped (loss or overflow)."""
        self.counters.received += 1
        if self.loss > 0 and self.rng.random() < self.loss:
            self.counters.lost += 1
            return False
        if len(self._held) >= self.max_held:
            self.counters.overflow += 1
            return False
        extra = self.delay_s + (self.rng.gauss(0.0, self.sigma_s) if self.sigma_s > 0 else 0.0)
        due = max(now + max(extra, 0.0), self._last_due)
        self._last_due = due
        self._held.append((due, packet))
        return True

    def pop_due(self, now: float) -> list[bytes]:
        out: list[bytes] = []
        held = self._held
        while held and held[0][0] <= now:
            out.append(held.popleft()[1])
        return out

    def reshape(self, profile: Profile) -> None:
        """Packets admitted from now on get `profile`'s delay, jitter and loss."""
        self.delay_s = profile.one_way_ms / 1000
        self.sigma_s = profile.sigma_ms / 1000
        self.loss = profile.loss

    def next_due(self) -> float | None:
        return self._held[0][0] if self._held else None

    def __len__(self) -> int:
        return len(self._held)


def open_tun(name: str) -> int:
    """Creates the TUN device `name` (IP packets, no extra header) and returns its non-blocking file descriptor;
    the device lives as long as the descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def lines_for(profile: Profile, rng: random.Random, *, max_held: int = 20000) -> tuple[DelayLine, DelayLine]:
    """(down, up): the node -> phone and phone -> node directions of `profile`."""
    def line() -> DelayLine:
        return DelayLine(delay_s=profile.one_way_ms / 1000, sigma_s=profile.sigma_ms / 1000, loss=profile.loss,
                         rng=rng, max_held=max_held)
    return line(), line()


def run(root_fd: int, client_fd: int, down: DelayLine, up: DelayLine, stop: threading.Event, *,
        on_tick: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
    """The loop: packets the root side sends (read from `root_fd`) go down to the client side (written to
    `client_fd`), and the other way up. `on_tick(now)` runs about every IDLE_POLL_S."""
    poller = select.epoll()
    poller.register(root_fd, select.EPOLLIN)
    poller.register(client_fd, select.EPOLLIN)
    routes = {root_fd: (down, client_fd), client_fd: (up, root_fd)}
    out_fd = {id(down): client_fd, id(up): root_fd}
    next_tick = clock()
    try:
        while not stop.is_set():
            now = clock()
            for line in (down, up):
                for packet in line.pop_due(now + EARLY_S):
                    try:
                        os.write(out_fd[id(line)], packet)
                        line.counters.sent += 1
                    except OSError:
                        line.counters.write_errors += 1
            if on_tick is not None and now >= next_tick:
                on_tick(now)
                next_tick = now + IDLE_POLL_S
            dues = [d for d in (down.next_due(), up.next_due()) if d is not None]
            timeout_s = min(IDLE_POLL_S, max(0.0, min(dues) - EARLY_S - now)) if dues else IDLE_POLL_S
            events = poller.poll(timeout_s)
            now = clock()
            for fd, _mask in events:
                line, _ = routes[fd]
                for _ in range(READ_BATCH):
                    try:
                        packet = os.read(fd, PACKET_MAX)
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    line.admit(packet, now)
    finally:
        poller.close()


def _die_with_parent() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    from bench.linkrig.netns import apply_rate

    parser = argparse.ArgumentParser(prog="python -m bench.linkrig.shaper", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ns", required=True, help="the client namespace (for the rate drop)")
    parser.add_argument("--root-tun", required=True)
    parser.add_argument("--client-tun", required=True)
    parser.add_argument("--profile-json", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--die-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.die_with_parent:
        _die_with_parent()
    profile = Profile(**json.loads(args.profile_json))
    stop = threading.Event()
    reshape = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: reshape.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    root_fd = open_tun(args.root_tun)
    client_fd = open_tun(args.client_tun)
    down, up = lines_for(profile, random.Random(args.seed))
    started = time.monotonic()
    status: dict[str, object] = {"pid": os.getpid(), "profile": profile.name, "started_monotonic": started,
                                 "rate_dropped_monotonic": None}
    status_path = args.state_dir / "status.json"

    def write_status() -> None:
        status["down"] = vars(down.counters)
        status["up"] = vars(up.counters)
        status["held"] = {"down": len(down), "up": len(up)}
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(status_path)

    drop_at = started + profile.drop_after_s if profile.drop_to_mbit and profile.drop_after_s else None
    last_status = 0.0

    def tick(now: float) -> None:
        nonlocal drop_at, last_status
        if reshape.is_set():
            reshape.clear()
            new = Profile(**json.loads((args.state_dir / "profile.json").read_text()))
            down.reshape(new)
            up.reshape(new)
            status["profile"] = new.name
            status["reshaped_monotonic"] = now
        if drop_at is not None and now >= drop_at:
            drop_at = None
            rate = profile.drop_to_mbit or 0.0
            # tc runs in a thread: two fork/execs would stall the packets for milliseconds
            threading.Thread(target=apply_rate, args=(args.ns, args.root_tun, args.client_tun, rate, rate),
                             daemon=True).start()
            status["rate_dropped_monotonic"] = now
        if now - last_status >= 1.0:
            last_status = now
            write_status()

    write_status()
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    try:
        run(root_fd, client_fd, down, up, stop, on_tick=tick)
    finally:
        write_status()
        os.close(root_fd)
        os.close(client_fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
