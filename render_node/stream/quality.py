"""Adaptive quality of a pose stream: JPEG quality first, then resolution, from the frames actually sent.

    controller = QualityController(FrameBudget(target_fps=72, max_kbps=20_000))
    quality = controller.current                     # Quality(jpeg_quality=80, scale=1.0)
    ...render at quality.size_px(width_px, height_px), encode at quality.jpeg_quality, send...
    quality = controller.observe(frame_bytes=len(payload), busy_s=render_s + encode_s)  # for the next frame

Decisions use moving averages of frame size and busy time (render + encode), and a step needs a few frames in
a row over (or well under) budget, so one slow frame (an encoder warming up) changes nothing. Over the bitrate
it lowers JPEG quality, then resolution; over the frame time it lowers resolution; after a sustained stretch
well under both it raises resolution, then quality.

The bitrate is the smaller of the hello's `max_kbps` and what the link drains (`LinkBudget`, from the socket's
own counters: bytes the peer acknowledged per second while a backlog waited to be sent):

    link = LinkBudget(ceiling_kbps=hello.max_kbps)
    link.observe(now, delivered_bytes=written - queued, backlog_bytes=unsent)   # before each frame's send
    quality = controller.observe(frame_bytes, busy_s, link_kbps=link.kbps)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FrameBudget:
    """What a client asked for in its hello: frames per second and a bitrate ceiling."""

    target_fps: float
    max_kbps: int


@dataclass(frozen=True)
class Quality:
    """The knobs of the next frame: JPEG/WebP quality (1-100) and a resolution scale per side (0-1]."""

    jpeg_quality: int = 80
    scale: float = 1.0

    def size_px(self, width_px: int, height_px: int) -> tuple[int, int]:
        """The render size of one eye for a viewport of `width_px` x `height_px`: scaled, even, >= 16 px."""
        w = max(16, int(width_px * self.scale) // 2 * 2)
        h = max(16, int(height_px * self.scale) // 2 * 2)
        return w, h


class QualityController:
    """Chooses each frame's quality from the sizes and busy times of the frames before it."""

    MIN_JPEG_QUALITY = 35
    MAX_JPEG_QUALITY = 85
    MIN_SCALE = 0.4
    STEP_AFTER = 3
    """Frames in a row over budget before a step down."""
    RAISE_AFTER = 15
    """Frames in a row well under budget before a step up."""

    def __init__(self, budget: FrameBudget, start: Quality | None = None) -> None:
        self.budget = budget
        self._quality = start or Quality()
        self._frames = 0
        self._avg_bytes = 0.0
        self._avg_busy_s = 0.0
        self._over = 0
        self._under = 0

    @property
    def current(self) -> Quality:
        """The quality to use for the next frame."""
        return self._quality

    def observe(self, frame_bytes: int, busy_s: float, link_kbps: float | None = None) -> Quality:
        """Takes one sent frame (its payload bytes, its render + encode seconds) and what the link drains now
        (`LinkBudget.kbps`; None: only the hello's ceiling counts); returns the next frame's quality."""
        self._frames += 1
        if self._frames <= 2:  # warm-up frames (first render of a scene, encoder start) say little
            self._avg_bytes, self._avg_busy_s = float(frame_bytes), busy_s
            return self._quality
        self._avg_bytes = 0.7 * self._avg_bytes + 0.3 * frame_bytes
        self._avg_busy_s = 0.7 * self._avg_busy_s + 0.3 * busy_s
        target_fps = self.budget.target_fps
        max_kbps = self.budget.max_kbps if link_kbps is None else min(self.budget.max_kbps, link_kbps)
        kbps = self._avg_bytes * 8 * target_fps / 1000
        budget_s = 1.0 / target_fps
        too_big = kbps > max_kbps
        too_slow = self._avg_busy_s > budget_s * 1.15
        q = self._quality
        if too_big or too_slow:
            self._under = 0
            self._over += 1
            if self._over >= self.STEP_AFTER:
                self._over = 0
                if too_big and q.jpeg_quality > self.MIN_JPEG_QUALITY:
                    step = 30 if kbps > 2 * max_kbps else 15 if kbps > 1.5 * max_kbps else 5
                    q = replace(q, jpeg_quality=max(self.MIN_JPEG_QUALITY, q.jpeg_quality - step))
                else:
                    # frame bytes go roughly with the pixels (scale squared): far over the bitrate, one step
                    # takes most of the way (a 100 -> 5 Mbit/s drop must not take dozens of slow frames)
                    factor = 0.85
                    if too_big:
                        factor = max(0.6, min(0.85, math.sqrt(max_kbps / kbps) * 0.95))
                    q = replace(q, scale=max(self.MIN_SCALE, round(q.scale * factor, 3)))
        else:
            self._over = 0
            if kbps < 0.6 * max_kbps and self._avg_busy_s < 0.6 * budget_s:
                self._under += 1
                if self._under >= self.RAISE_AFTER:
                    self._under = 0
                    far = kbps < 0.25 * max_kbps  # far under (the link came back): bigger steps up
                    if q.scale < 1.0:
                        q = replace(q, scale=min(1.0, round(q.scale * (1.25 if far else 1.1), 3)))
                    elif q.jpeg_quality < self.MAX_JPEG_QUALITY:
                        q = replace(q, jpeg_quality=min(self.MAX_JPEG_QUALITY, q.jpeg_quality + (10 if far else 5)))
            else:
                self._under = 0
        self._quality = q
        return q


class LinkBudget:
    """The bitrate the link carries, measured at the sender, as a budget for `QualityController`.

    Fed before each frame's send with the bytes the peer has acknowledged so far (`delivered_bytes`: written
    minus what still waits in the socket's buffers) and the bytes written but not yet on the wire
    (`backlog_bytes`). Over the last `WINDOW_S`: when a backlog waited at most sends (the link, not the renderer,
    held the frames back), the acknowledged rate is the link's and the budget becomes `HEADROOM` of it, at once.
    When the frames went out without a backlog for a whole window, the link had room whose size the sender
    cannot see, so the budget grows by `GROW` per window (after `CLEAR_BEFORE_GROW_S` clear) up to the hello's ceiling (a probe: frames that then
    overfill the link show a backlog again and set the budget back to the measured rate)."""

    WINDOW_S = 1.0
    HEADROOM = 0.85
    GROW = 1.5
    CLEAR_BEFORE_GROW_S = 2.0
    """Seconds without a backlog before the first growth (after a limited spell, fewer probes that overfill)."""
    BACKLOGGED_SHARE = 0.6
    """Share of the window's sends that found a backlog, past which the link is the limit."""
    MIN_KBPS = 200.0

    def __init__(self, ceiling_kbps: float) -> None:
        self.ceiling_kbps = float(ceiling_kbps)
        self.kbps = self.ceiling_kbps
        self.measured_kbps: float | None = None
        """The acknowledged rate over the last window (None before a full window)."""
        self.limited = False
        """The link held the frames back over the last window."""
        self._samples: deque[tuple[float, int, int]] = deque()
        self._last_grow = -math.inf
        self._clear_since: float | None = None

    def observe(self, now: float, delivered_bytes: int, backlog_bytes: int) -> float:
        """Takes one sample (seconds on a monotonic clock); returns the budget in kbit/s."""
        samples = self._samples
        samples.append((now, delivered_bytes, backlog_bytes))
        while len(samples) > 2 and samples[1][0] <= now - self.WINDOW_S:
            samples.popleft()  # keep one sample at or before the window's start as its anchor
        t0, d0, _ = samples[0]
        span = now - t0
        if span < 0.8 * self.WINDOW_S:
            return self.kbps
        self.measured_kbps = max(0, delivered_bytes - d0) * 8 / 1000 / span
        inside = list(samples)[1:]
        backlogged = sum(1 for _, _, b in inside if b > 0)
        self.limited = backlogged >= self.BACKLOGGED_SHARE * len(inside)
        if self.limited:
            self._clear_since = None
            self.kbps = max(self.MIN_KBPS, min(self.ceiling_kbps, self.measured_kbps * self.HEADROOM))
        else:
            if self._clear_since is None:
                self._clear_since = now
            if (self.kbps < self.ceiling_kbps and now - self._clear_since >= self.CLEAR_BEFORE_GROW_S
                    and now - self._last_grow >= self.WINDOW_S):
                self._last_grow = now
                self.kbps = min(self.ceiling_kbps, self.kbps * self.GROW)
        return self.kbps
