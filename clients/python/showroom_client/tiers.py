"""The client's tiers and when it moves between them (docs/links.md, "Client tiers"): the live pose stream
(`live`) -> the product's cached 360 view set (`views`) -> one still image (`poster`), down when the measured
link cannot carry a tier, and back up by probes when it can. Pure logic on a caller's clock (seconds, any
monotonic origin): the player (`showroom_client.tiered`) does the I/O and feeds it what it measured.

    policy = TierPolicy(target_fps=30)
    policy.live_opened(now)                    # a stream connection (or a probe) is open
    policy.live_frame(now, pose_to_frame_s)    # each frame received
    f = policy.fetch_started(now); policy.fetch_ended(f, later)   # each view frame fetch
    change = policy.check(now)                 # a TierChange when the tier moved, else None
    policy.due(now)                            # "probe_live" | "retry_views" | None: what to start now

The numbers are the shared policy's; the web client (clients/web/common/tiers.js) implements the same ones.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

LIVE, VIEWS, POSTER = "live", "views", "poster"
TIERS = (LIVE, VIEWS, POSTER)

GRACE_S = 2.0
"""A live connection's first seconds are not judged (connect, hello, the first renders)."""
WINDOW_S = 3.0
"""The sliding window the live rule measures over."""
MIN_FPS_SHARE = 0.4
"""Delivered frames/s under this share of the requested target_fps: the link (or node) cannot carry live."""
MAX_P50_S = 0.4
"""Pose-to-frame median over the window past this: too late to follow a head."""
SILENCE_S = 2.0
"""No frame at all for this long: live has stalled."""
MIN_SPAN_S = 1.0
"""Frames/s is judged once the window spans this much (from GRACE_S + MIN_SPAN_S after the opening)."""
MANIFEST_TIMEOUT_S = 5.0
"""The view set's manifest not loaded within this: fall to the poster."""
FRAME_FETCHES = 5
MAX_FETCH_P50_S = 1.5
"""The median of the last FRAME_FETCHES view frame fetches past this: fall to the poster."""
PROBE_EVERY_S = 10.0
"""From views, probe live this long after entering views or after the last probe; from poster, retry views."""
PROBE_S = 3.0
"""A probe holds the stream open this long and passes when the live rule held throughout (judged, as every live
connection, after its first GRACE_S: on its third second)."""


@dataclass(frozen=True)
class TierChange:
    t: float
    old: str
    new: str
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"event": "tier", "t": round(self.t, 3), "from": self.old, "to": self.new, "reason": self.reason}


class LiveMeter:
    """The live rule over one stream connection (the tier's own or a probe's): frames and their pose-to-frame
    latency. Nothing is judged in the first GRACE_S (connect, hello, the first renders). From then on it fails
    when no frame came for SILENCE_S (since the last frame, or the opening), when the frames/s over the window
    are under MIN_FPS_SHARE of the target (once the window spans MIN_SPAN_S), or when the window's pose-to-frame
    median is over MAX_P50_S. The window is the last WINDOW_S, never reaching back into the grace seconds: a
    3 s probe is judged on its third second."""

    def __init__(self, opened_at: float, target_fps: float) -> None:
        self.opened_at = opened_at
        self.target_fps = target_fps
        self.last_frame_at: float | None = None
        self._frames: deque[tuple[float, float]] = deque()

    def frame(self, now: float, pose_to_frame_s: float) -> None:
        self.last_frame_at = now
        self._frames.append((now, pose_to_frame_s))

    def failure(self, now: float) -> str | None:
        """Why live fails now; None: it holds, or it is not judged yet."""
        if now - self.opened_at < GRACE_S:
            return None
        since = self.last_frame_at if self.last_frame_at is not None else self.opened_at
        if now - since >= SILENCE_S:
            return f"no frame for {now - since:.1f} s"
        start = max(self.opened_at + GRACE_S, now - WINDOW_S)
        while self._frames and self._frames[0][0] <= now - WINDOW_S:
            self._frames.popleft()
        window = [lat for t, lat in self._frames if t > start]
        span = now - start
        if span >= MIN_SPAN_S:
            fps = len(window) / span
            if fps < MIN_FPS_SHARE * self.target_fps:
                return f"{fps:.1f} frames/s over {span:.1f} s, under {MIN_FPS_SHARE:.0%} of {self.target_fps:g}"
        if window:
            p50 = statistics.median(window)
            if p50 > MAX_P50_S:
                return f"pose-to-frame p50 {p50 * 1000:.0f} ms over {span:.1f} s, over {MAX_P50_S * 1000:.0f} ms"
        return None


class ViewsMeter:
    """The views rule: the manifest within MANIFEST_TIMEOUT_S, and the median of the last FRAME_FETCHES frame
    fetches under MAX_FETCH_P50_S, a fetch still running counting with its age so far and a failed one as
    endless (a dead link fails the rule without waiting for timeouts)."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.manifest_at: float | None = None
        self.shown = False
        """A frame of the set is on screen."""
        self._fetches: deque[list[float]] = deque(maxlen=FRAME_FETCHES)

    def manifest_loaded(self, now: float) -> None:
        self.manifest_at = now

    def fetch_started(self, now: float) -> list[float]:
        fetch = [now, math.nan]
        self._fetches.append(fetch)
        return fetch

    def fetch_ended(self, fetch: list[float], now: float, ok: bool = True) -> None:
        fetch[1] = now if ok else math.inf

    def failure(self, now: float) -> str | None:
        if self.manifest_at is None:
            if now - self.started_at >= MANIFEST_TIMEOUT_S:
                return f"view set manifest not loaded within {MANIFEST_TIMEOUT_S:g} s"
            return None
        if self._fetches:
            p50 = statistics.median((now if math.isnan(end) else end) - start for start, end in self._fetches)
            if p50 > MAX_FETCH_P50_S:
                return f"view frame fetch median {p50 * 1000:.0f} ms over the last {len(self._fetches)}"
        return None


class TierPolicy:
    """The tier a client shows and the probes it runs, from what the player measured."""

    def __init__(self, target_fps: float, now: float, *, start: str = LIVE) -> None:
        if start not in TIERS:
            raise ValueError(f"unknown tier {start!r}; tiers: {', '.join(TIERS)}")
        self.target_fps = target_fps
        self.tier = start
        self.changes: list[TierChange] = []
        self.live: LiveMeter | None = None
        """The live connection being judged: the tier's own in `live`, the probe's in `views`."""
        self.views: ViewsMeter | None = ViewsMeter(now) if start == VIEWS else None
        self.probe_started_at: float | None = None
        self._next_try = now + PROBE_EVERY_S

    # what the player reports
    def live_opened(self, now: float) -> None:
        """A live connection opened: the tier's own (in `live`) or a probe's (in `views`, after `due`)."""
        probing = self.tier == VIEWS
        self.live = LiveMeter(now, self.target_fps)
        if probing:
            self.probe_started_at = now

    def live_frame(self, now: float, pose_to_frame_s: float) -> None:
        if self.live is not None:
            self.live.frame(now, pose_to_frame_s)

    def views_started(self, now: float) -> None:
        """The player began loading the view set (on entering views, or a retry from the poster)."""
        self.views = ViewsMeter(now)

    def manifest_loaded(self, now: float) -> None:
        if self.views is not None:
            self.views.manifest_loaded(now)

    def fetch_started(self, now: float) -> list[float] | None:
        """A view frame fetch began; hand the result to `fetch_ended` when it ends."""
        return self.views.fetch_started(now) if self.views is not None else None

    def fetch_ended(self, fetch: list[float] | None, now: float, ok: bool = True) -> None:
        if fetch is not None and self.views is not None:
            self.views.fetch_ended(fetch, now, ok)

    def view_shown(self, now: float) -> None:
        """A frame of the view set is on screen (from the poster, that is what brings views back)."""
        if self.views is not None:
            self.views.shown = True

    @property
    def probing(self) -> str | None:
        """The tier a probe is testing: `live` from views, `views` from the poster; None when none runs."""
        if self.tier == VIEWS and self.probe_started_at is not None:
            return LIVE
        if self.tier == POSTER and self.views is not None:
            return VIEWS
        return None

    # what the player asks
    def due(self, now: float) -> str | None:
        """`probe_live` (from views) or `retry_views` (from the poster) when one should start now."""
        if self.probing is not None or now < self._next_try:
            return None
        if self.tier == VIEWS:
            return "probe_live"
        if self.tier == POSTER:
            return "retry_views"
        return None

    def check(self, now: float) -> TierChange | None:
        """Applies the rules at `now`; the change when the tier moved (also appended to `changes`)."""
        if self.tier == LIVE:
            reason = self.live.failure(now) if self.live is not None else None
            if reason is not None:
                self.live = None
                self.views = ViewsMeter(now)
                return self._move(now, VIEWS, reason)
        elif self.tier == VIEWS:
            if self.probe_started_at is not None and self.live is not None:
                reason = self.live.failure(now)
                if reason is not None:  # the probe failed: views stay, the next probe in PROBE_EVERY_S
                    self._end_probe(now)
                elif now - self.probe_started_at >= PROBE_S:
                    self.probe_started_at = None
                    self.views = None
                    return self._move(now, LIVE, f"probe held live for {PROBE_S:g} s")
            reason = self.views.failure(now) if self.views is not None else None
            if reason is not None:  # a probe running meanwhile ends with the views
                self.probe_started_at = None
                self.live = None
                self.views = None
                return self._move(now, POSTER, reason)
        elif self.views is not None:  # poster, retrying views
            reason = self.views.failure(now)
            if reason is not None:
                self.views = None
                self._next_try = now + PROBE_EVERY_S
            elif self.views.shown:
                return self._move(now, VIEWS, "view set on screen again")
        return None

    def probe_failed(self, now: float) -> None:
        """The player could not open the probe's connection at all (refused, reset)."""
        if self.probe_started_at is not None:
            self._end_probe(now)

    def _end_probe(self, now: float) -> None:
        self.probe_started_at = None
        self.live = None
        self._next_try = now + PROBE_EVERY_S

    def _move(self, now: float, new: str, reason: str) -> TierChange:
        change = TierChange(now, self.tier, new, reason)
        self.tier = new
        self.changes.append(change)
        self._next_try = now + PROBE_EVERY_S
        return change
