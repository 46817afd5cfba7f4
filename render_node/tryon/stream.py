"""AR and try-on modes of the live stream (`/ws/stream`): one `CameraFrameProcessor` per session.

How the session (render_node/stream/camera.py) uses it, per camera frame (latest frame wins; never queue):

    proc = CameraFrameProcessor(mode, model_path, shape, overrides=..., scale=..., consent=hello.consent, ...)
    plan = await loop.run_in_executor(executor, proc.plan, rgb, intrinsics, camera_pose_or_None, t_s)
    rgbas = [await pool.render(w.request, priority=PRIORITY_LIVE) for w in plan.windows]
    frame = await loop.run_in_executor(executor, proc.finish, plan, rgbas, output)  # RGB composite / RGBA
    ...encode and send; plan.status says "ok" or why nothing is placed ("no_face", "no_marker", ...)
    proc.close()  # in the session's finally

`rgb` is the decoded camera frame (`render_node.ar.frames.decode_frame`), `intrinsics` from the client (or
`Intrinsics.from_fov`). Try-on refuses to start without `consent=True` (ConsentRequired). Landmarks (try-on) and
the object transform (AR) are smoothed with One Euro filters; when the anchor is lost the last fit is held for
`hold_s` and then the frame goes out plain with a status, never with a product placed at random.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from render_node.ar.errors import ConsentRequired, MarkerNotFound, NothingToAnchor
from render_node.ar.geometry import ModelShape
from render_node.ar.overlay import Output, OverlayJob, finish_overlay, plan_overlay
from render_node.ar.placement import PlacedModel, Window, window_for
from render_node.render.types import CameraPose, Intrinsics, MaterialOverride
from render_node.tryon.fitting import Anchor, Finger, Fit
from render_node.tryon.landmarks import FaceLandmarks, HandLandmarks, LandmarkModels
from render_node.tryon.pipeline import TryOnJob, detect_fit, finish_tryon, plan_tryon
from render_node.tryon.smoothing import OneEuroFilter, orthonormalise

U8 = npt.NDArray[np.uint8]

Mode = Literal["ar", "tryon"]


@dataclass(frozen=True)
class FramePlan:
    rgb: U8
    status: str
    """What this frame showed: "ok", or "no_face", "no_hand", "no_anchor", "no_marker", "out_of_view". After a
    miss the product is still drawn from the last fit for `hold_s` (windows not empty), then no longer."""
    message: str
    windows: tuple[Window, ...]
    ar_job: OverlayJob | None = None
    tryon_job: TryOnJob | None = None


class CameraFrameProcessor:
    """Per-session state of the AR or try-on stream: landmark tracking, smoothing, the last good fit."""

    def __init__(self, mode: Mode, model_path: Path, shape: ModelShape, *, anchor: Anchor | None = None,
                 overrides: tuple[MaterialOverride, ...] = (), scale: float = 1.0, consent: bool = False,
                 finger: Finger = "ring", length_mm: float | None = None, mirrored: bool = False,
                 hold_s: float = 0.3) -> None:
        if mode == "tryon" and not consent:
            raise ConsentRequired("try-on analyses your face or hand (sensitive personal information, PIPL); "
                                  "the session hello must carry consent: true")
        if mode == "tryon" and anchor is None:
            raise NothingToAnchor("a try-on session needs the product's anchor (neck, ear, finger or wrist)")
        self.mode = mode
        self.model_path = model_path
        self.shape = shape
        self.anchor = anchor
        self.overrides = overrides
        self.scale = scale
        self.finger = finger
        self.length_mm = length_mm
        self.mirrored = mirrored
        self.hold_s = hold_s
        self._models = LandmarkModels(static=False) if mode == "tryon" else None
        self._points = OneEuroFilter(min_cutoff_hz=1.2, beta=0.02)
        self._metric = OneEuroFilter(min_cutoff_hz=1.2, beta=0.5)
        self._rot = OneEuroFilter(min_cutoff_hz=1.5, beta=0.5)
        self._trans = OneEuroFilter(min_cutoff_hz=1.5, beta=2.0)
        self._last_fit: Fit | None = None
        self._last_t = -1e9

    def close(self) -> None:
        if self._models is not None:
            self._models.close()

    def plan(self, rgb: U8, intrinsics: Intrinsics, pose: CameraPose | None, t_s: float) -> FramePlan:
        """Detection, smoothing and fitting for one frame (blocking: run it in an executor)."""
        if self.mode == "ar":
            return self._plan_ar(rgb, intrinsics, pose, t_s)
        return self._plan_tryon(rgb, intrinsics, t_s)

    def _plan_ar(self, rgb: U8, k: Intrinsics, pose: CameraPose | None, t_s: float) -> FramePlan:
        try:
            job = plan_overlay(rgb, k, pose, self.shape, self.model_path, self.overrides, self.scale)
        except MarkerNotFound as exc:
            self._rot.reset()
            self._trans.reset()
            return FramePlan(rgb, "no_marker", exc.message, ())
        r = orthonormalise(self._rot(job.rotation, t_s))
        t = self._trans(job.translation_m, t_s)
        window = window_for(PlacedModel(r, t, self.scale), self.shape.bounds_min_m, self.shape.bounds_max_m, k,
                            self.model_path, self.overrides)
        job = replace(job, rotation=r, translation_m=t, window=window)
        return FramePlan(rgb, "ok" if window else "out_of_view", "", (window,) if window else (), ar_job=job)

    def _plan_tryon(self, rgb: U8, k: Intrinsics, t_s: float) -> FramePlan:
        assert self._models is not None and self.anchor is not None
        face: FaceLandmarks | None = None
        hand: HandLandmarks | None = None
        if self.anchor in ("neck", "ear"):
            face = self._models.face(rgb)
            if face is not None:
                pts = face.points_px.copy()
                pts[:, :2] = self._points(face.points_px[:, :2], t_s)
                face = replace(face, points_px=pts)
        else:
            hands = self._models.hands(rgb, mirrored=self.mirrored)
            if hands:
                hand = replace(hands[0], points_px=self._points(hands[0].points_px, t_s),
                               points_m=self._metric(hands[0].points_m, t_s))
        fit: Fit | None = None
        status, message = "ok", ""
        if face is not None or hand is not None:
            try:
                fit = detect_fit(rgb, self.anchor, self.shape, self._models, scale=self.scale,
                                 length_mm=self.length_mm, finger=self.finger, intrinsics=k, face=face, hand=hand)
            except NothingToAnchor as exc:
                status, message = "no_anchor", exc.message
        else:
            self._points.reset()
            self._metric.reset()
            status = "no_face" if self.anchor in ("neck", "ear") else "no_hand"
            message = "no face in view" if status == "no_face" else "no hand in view"
        if fit is not None:
            self._last_fit, self._last_t = fit, t_s
        elif self._last_fit is not None and t_s - self._last_t <= self.hold_s:
            fit = self._last_fit
        if fit is None:
            return FramePlan(rgb, status, message, ())
        try:
            job = plan_tryon(rgb, fit, self.shape, self.model_path, self.overrides)
        except NothingToAnchor as exc:
            return FramePlan(rgb, "out_of_view", exc.message, ())
        return FramePlan(rgb, status, message, tuple(job.requests()), tryon_job=job)

    def finish(self, plan: FramePlan, renders: list[U8], output: Output = "composite") -> U8:
        """The frame to send: the `(h, w, 3)` RGB composite (the plain frame when nothing is placed), or with
        `output="overlay"` the `(h, w, 4)` RGBA overlay (fully transparent when nothing is placed)."""
        if plan.ar_job is not None:
            return finish_overlay(plan.rgb, plan.ar_job, renders[0] if renders else None, output)
        if plan.tryon_job is not None:
            return finish_tryon(plan.rgb, plan.tryon_job, renders, output)
        if output == "overlay":
            h, w = plan.rgb.shape[:2]
            return np.zeros((h, w, 4), np.uint8)
        return plan.rgb
