"""A tiny stand-in for the panda3d renderer, for tests of the pool, views and streams (not of rendering).

It draws a flat disc whose colour encodes the view (yaw for turntables, the head's yaw for poses), so tests can
tell frames apart and check sizes and stereo layout. Model file names trigger failures: `crash.glb` kills the
worker process, `hang.glb` never returns, `broken.glb` raises ModelInvalid.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from render_node.render.errors import ModelInvalid
from render_node.render.types import RGBA8, PoseView, RenderRequest, StereoView, TurntableView


def head_yaw_deg(q: tuple[float, float, float, float]) -> float:
    x, y, z, w = q
    return math.degrees(math.atan2(2 * (w * y + x * z), 1 - 2 * (y * y + x * x)))


class TinyRenderer:
    """Implements the `Renderer` protocol with numpy only."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def _eye(self, w: int, h: int, hue: float, blue: int) -> RGBA8:
        img = np.full((h, w, 4), 255, np.uint8)
        yy, xx = np.mgrid[0:h, 0:w]
        disc = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (min(w, h) * 0.35) ** 2
        r = int(127 + 127 * math.cos(math.radians(hue)))
        g = int(127 + 127 * math.sin(math.radians(hue)))
        img[disc] = (r, g, max(0, min(255, blue)), 255)
        return img

    def render(self, request: RenderRequest) -> RGBA8:
        self.calls += 1
        name = request.model_path.name
        if name == "crash.glb":
            os._exit(3)
        if name == "hang.glb":
            time.sleep(3600)  # the behaviour under test: a worker that never answers
        if name == "broken.glb":
            raise ModelInvalid(f"{name}: not a GLB")
        if self.delay_s:
            time.sleep(self.delay_s)  # the behaviour under test: a renderer that takes time
        w, h = request.size_px
        view = request.view
        if isinstance(view, StereoView):
            hue = head_yaw_deg(view.head.orientation_xyzw)
            return np.concatenate([self._eye(w, h, hue, 40), self._eye(w, h, hue, 200)], axis=1)
        if isinstance(view, TurntableView):
            return self._eye(w, h, view.yaw_deg, int(40 + 5 * view.pitch_deg))
        hue = head_yaw_deg(view.pose.orientation_xyzw) if isinstance(view, PoseView) else 0.0
        return self._eye(w, h, hue, 40)

    def close(self) -> None:
        pass


def make_tiny_renderer() -> TinyRenderer:
    return TinyRenderer()


def make_slow_renderer() -> TinyRenderer:
    return TinyRenderer(delay_s=0.03)
