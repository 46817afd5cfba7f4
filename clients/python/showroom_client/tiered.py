"""Plays a product the way a headset on an unreliable link does: the live stream while the link carries it, the
cached 360 view set (the frame nearest the head's yaw) when it does not, one still image when even that fails,
and back up by probes (the rules: `showroom_client.tiers`, docs/links.md "Client tiers"). Every tier change and
probe is an event (a dict; the CLI prints them as JSON lines).

    run = await play_tiered("http://node:8080", hello, poses, hz=30, seconds=60, on_event=print)
    run.changes        # [TierChange(t, "live", "views", "6.1 frames/s over 3.0 s, under 40% of 30"), ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from showroom_protocol import Hello, Pose, parse_frame

from showroom_client.spin import needs_fresh_manifest
from showroom_client.stream import ws_url
from showroom_client.tiers import LIVE, POSTER, VIEWS, TierChange, TierPolicy
from showroom_client.traces import PoseSample

TICK_S = 0.05
VIEWS_SIZE = "640x480"
POSTER_SIZE = "640x480"
HTTP_TIMEOUT_S = 30.0
"""Past the policy's own limits: a slow fetch is judged by the policy, this only ends a hung one."""


@dataclass
class TierRun:
    changes: list[TierChange] = field(default_factory=list)
    live_frames: int = 0
    views_shown: int = 0
    """View-set frames put on screen (a new nearest frame)."""
    view_fetches: int = 0
    posters: int = 0
    probes: int = 0
    probes_passed: int = 0
    seconds_in: dict[str, float] = field(default_factory=lambda: {LIVE: 0.0, VIEWS: 0.0, POSTER: 0.0})
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"changes": [c.to_json() for c in self.changes], "live_frames": self.live_frames,
                "views_shown": self.views_shown, "view_fetches": self.view_fetches, "posters": self.posters,
                "probes": self.probes, "probes_passed": self.probes_passed,
                "seconds_in": {k: round(v, 2) for k, v in self.seconds_in.items()}, "errors": self.errors[:5]}


def yaw_deg(q: tuple[float, float, float, float]) -> float:
    """The head's yaw (about +Y) of a quaternion (x, y, z, w), 0-360."""
    x, y, z, w = q
    return math.degrees(math.atan2(2 * (w * y + x * z), 1 - 2 * (y * y + x * x))) % 360


def nearest_frame(frames: Sequence[dict[str, Any]], yaw: float) -> dict[str, Any]:
    """The view-set frame of the middle pitch row whose yaw is nearest `yaw`."""
    pitches = sorted({f["pitch_deg"] for f in frames})
    row = [f for f in frames if f["pitch_deg"] == pitches[len(pitches) // 2]]
    return min(row, key=lambda f: abs((f["yaw_deg"] - yaw + 180) % 360 - 180))


class _Player:
    def __init__(self, base_url: str, hello: Hello, poses: Sequence[PoseSample], hz: float,
                 session: aiohttp.ClientSession, on_event: Callable[[dict[str, Any]], None]) -> None:
        self.base = base_url.rstrip("/")
        self.hello = hello
        self.poses = poses
        self.hz = hz
        self.s = session
        self.emit = on_event
        self.t0 = time.monotonic()
        self.policy = TierPolicy(hello.target_fps, self.t0)
        self.run = TierRun()
        self.manifest: dict[str, Any] | None = None
        self.manifest_etag = ""
        self.cache: dict[str, bytes] = {}
        self.shown: str | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def pose_now(self) -> PoseSample:
        return self.poses[int((time.monotonic() - self.t0) * self.hz) % len(self.poses)]

    async def live(self) -> None:
        """One stream connection: hello, poses at `hz`, frames reported to the policy, until cancelled."""
        async with self.s.ws_connect(ws_url(self.base), max_msg_size=64 * 1024 * 1024, heartbeat=None) as ws:
            await ws.send_json(self.hello.to_json())
            welcome = await ws.receive(timeout=HTTP_TIMEOUT_S)
            if welcome.type != aiohttp.WSMsgType.TEXT or json.loads(welcome.data).get("type") != "welcome":
                raise ConnectionError(f"no welcome: {welcome.type.name} {str(welcome.data)[:120]}")

            async def send() -> None:
                seq = 0
                while not ws.closed:
                    p = self.pose_now()
                    await ws.send_json(Pose(seq, time.time(), p.position_m, p.orientation_xyzw).to_json())
                    seq += 1
                    await asyncio.sleep(1 / self.hz)

            sender = asyncio.create_task(send())
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        header, _ = parse_frame(msg.data)
                        self.policy.live_frame(self.now(), time.time() - header.client_t)
                        if self.policy.tier == LIVE:
                            self.run.live_frames += 1
            finally:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender

    async def _get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        async with self.s.get(url, headers=headers or {}, timeout=timeout) as r:
            return r.status, await r.read(), r.headers.get("ETag", "")

    async def views(self) -> None:
        """Loads (or revalidates) the view set's manifest, then shows the frame nearest the head's yaw, fetching
        frames not cached yet and reporting each fetch's time, until cancelled."""
        params = f"?size={VIEWS_SIZE}" + (f"&variant={self.hello.variant}" if self.hello.variant else "")
        url = f"{self.base}/api/products/{self.hello.product}/views{params}"
        headers = {"If-None-Match": self.manifest_etag} if self.manifest is not None else None
        status, body, etag = await self._get(url, headers)
        if status == 200:
            self.manifest, self.manifest_etag = json.loads(body), etag
        elif status != 304 or self.manifest is None:
            raise ConnectionError(f"view set: HTTP {status}")
        self.policy.manifest_loaded(self.now())
        assert self.manifest is not None
        frames = self.manifest["frames"]
        self.shown = None  # this load's first frame is reported as shown, cached or not
        refreshed = False  # the one fresh manifest a missing frame calls for (spin.py's rule)
        while True:
            frame = nearest_frame(frames, yaw_deg(self.pose_now().orientation_xyzw))
            name = frame["url"]
            if name not in self.cache:
                fetch = self.policy.fetch_started(self.now())
                try:
                    status, data, _ = await self._get(self.base + name)
                except (aiohttp.ClientError, TimeoutError):
                    status, data = 0, b""
                self.policy.fetch_ended(fetch, self.now(), ok=status == 200)
                self.run.view_fetches += 1
                if needs_fresh_manifest(status, refreshed):  # the edge that rendered the set is gone
                    refreshed = True
                    try:  # a live edge renders the set meanwhile (seconds; past the timeout: the old one stays)
                        status, body, etag = await self._get(url + ("&" if "?" in url else "?") + "fresh=1")
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0
                    if status == 200:
                        self.manifest, self.manifest_etag = json.loads(body), etag
                        frames = self.manifest["frames"]
                    continue
                if status != 200:
                    await asyncio.sleep(1 / self.hz)
                    continue  # judged by the policy (a failed fetch counts as endless)
                self.cache[name] = data
            if name != self.shown:
                self.shown = name
                self.run.views_shown += 1
                self.policy.view_shown(self.now())
            await asyncio.sleep(1 / self.hz)

    async def poster(self) -> None:
        if self.run.posters:
            return  # already on screen
        params = f"product={self.hello.product}&size={POSTER_SIZE}" + (
            f"&variant={self.hello.variant}" if self.hello.variant else "")
        status, _, _ = await self._get(f"{self.base}/api/render?{params}")
        if status != 200:
            raise ConnectionError(f"poster: HTTP {status}")
        self.run.posters += 1


async def play_tiered(base_url: str, hello: Hello, poses: Sequence[PoseSample], hz: float, seconds: float, *,
                      on_event: Callable[[dict[str, Any]], None] = lambda e: None,
                      session: aiohttp.ClientSession | None = None) -> TierRun:
    """Plays for `seconds`, starting live; returns what happened (tier changes, frames, probes)."""
    own = session is None
    s = session or aiohttp.ClientSession()
    p = _Player(base_url, hello, poses, hz, s, on_event)
    policy, run = p.policy, p.run
    tasks: dict[str, asyncio.Task[None]] = {}

    def start(kind: str, coro: Any) -> None:
        task = asyncio.create_task(coro)
        tasks[kind] = task

        def done(t: asyncio.Task[None]) -> None:
            if not t.cancelled() and t.exception() is not None:
                run.errors.append(f"{kind}: {t.exception()!r}")
        task.add_done_callback(done)

    async def stop(kind: str) -> None:
        task = tasks.pop(kind, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    on_event({"event": "start", "t": 0.0, "tier": LIVE, "target_fps": hello.target_fps})
    policy.live_opened(p.now())
    start(LIVE, p.live())
    last = p.now()
    try:
        while (now := p.now()) < seconds:
            run.seconds_in[policy.tier] += now - last
            last = now
            probing_before = policy.probing
            change = policy.check(now)
            if change is not None:
                run.changes.append(change)
                on_event(change.to_json())
                if change.new == VIEWS and change.old == LIVE:
                    await stop(LIVE)
                    start(VIEWS, p.views())
                elif change.new == LIVE:  # the probe's connection is the live one now
                    run.probes_passed += 1
                    on_event({"event": "probe", "t": round(now, 3), "of": LIVE, "passed": True})
                    await stop(VIEWS)
                elif change.new == POSTER:
                    await stop(VIEWS)
                    await stop(LIVE)
                    start(POSTER, p.poster())
                elif change.new == VIEWS:  # from the poster: the retry's task goes on as the tier's
                    await stop(POSTER)
            elif probing_before == LIVE and policy.probing is None:
                on_event({"event": "probe", "t": round(now, 3), "of": LIVE, "passed": False})
                await stop(LIVE)
            elif probing_before == VIEWS and policy.probing is None:
                on_event({"event": "probe", "t": round(now, 3), "of": VIEWS, "passed": False})
                await stop(VIEWS)
            due = policy.due(now)
            if due == "probe_live":
                run.probes += 1
                on_event({"event": "probe_start", "t": round(now, 3), "of": LIVE})
                policy.live_opened(now)
                start(LIVE, p.live())
            elif due == "retry_views":
                run.probes += 1
                on_event({"event": "probe_start", "t": round(now, 3), "of": VIEWS})
                policy.views_started(now)
                start(VIEWS, p.views())
            for kind, task in list(tasks.items()):
                if task.done() and kind == LIVE and policy.tier == VIEWS and policy.probing == LIVE:
                    policy.probe_failed(now)  # the probe's connection ended (refused, reset)
                    on_event({"event": "probe", "t": round(now, 3), "of": LIVE, "passed": False})
                    tasks.pop(kind)
            await asyncio.sleep(TICK_S)
    finally:
        for kind in list(tasks):
            await stop(kind)
        if own:
            await s.close()
    on_event({"event": "end", "t": round(p.now(), 3), **run.to_json()})
    return run
