"""Adaptive quality of a pose stream: JPEG quality first, then resolution, from the frames actually sent.

    controller = QualityController(FrameBudget(target_fps=72, max_kbps=20_000))
    quality = controller.current                     # Quality(jpeg_quality=80, scale=1.0)
    ...render at quality.size_px(width_px, height_px), encode at quality.jpeg_quality, send...
    quality = controller.observe(frame_bytes=len(payload), busy_s=render_s + encode_s)  # for the next frame

Decisions use moving averages of frame size and busy time (render + encode), and a step needs a few frames in
a row over (or well under) budget, so one slow frame (an encoder warming up) changes nothing. Over the bitrate
it lowers JPEG quality, then resolution; over the frame time it lowers resolution; after a sustained stretch
well under both it raises resolution, then quality.
"""

from __future__ import annotations

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

    def observe(self, frame_bytes: int, busy_s: float) -> Quality:
        """Takes one sent frame (its payload bytes, its render + encode seconds); returns the next frame's quality."""
        self._frames += 1
        if self._frames <= 2:  # warm-up frames (first render of a scene, encoder start) say little
            self._avg_bytes, self._avg_busy_s = float(frame_bytes), busy_s
            return self._quality
        self._avg_bytes = 0.7 * self._avg_bytes + 0.3 * frame_bytes
        self._avg_busy_s = 0.7 * self._avg_busy_s + 0.3 * busy_s
        target_fps, max_kbps = self.budget.target_fps, self.budget.max_kbps
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
                    step = 15 if kbps > 1.5 * max_kbps else 5
                    q = replace(q, jpeg_quality=max(self.MIN_JPEG_QUALITY, q.jpeg_quality - step))
                else:
                    q = replace(q, scale=max(self.MIN_SCALE, round(q.scale * 0.85, 3)))
        else:
            self._over = 0
            if kbps < 0.6 * max_kbps and self._avg_busy_s < 0.6 * budget_s:
                self._under += 1
                if self._under >= self.RAISE_AFTER:
                    self._under = 0
                    if q.scale < 1.0:
                        q = replace(q, scale=min(1.0, round(q.scale * 1.1, 3)))
                    elif q.jpeg_quality < self.MAX_JPEG_QUALITY:
                        q = replace(q, jpeg_quality=min(self.MAX_JPEG_QUALITY, q.jpeg_quality + 5))
            else:
                self._under = 0
        self._quality = q
        return q
