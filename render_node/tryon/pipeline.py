"""Try-on from photo to composite: find the body part, fit the product, render, occlude, relight, composite.

`plan_tryon` does the detection and fitting and lists the render windows (each piece: the whole product, plus
its front half when a finger or wrist hides the back); the caller renders them (in-process or through the render
pool) and `finish_tryon` assembles the composite. The frame stays in memory throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.composite import Shadow, composite_over
from render_node.ar.errors import NothingToAnchor, NotWearable
from render_node.ar.geometry import ModelShape
from render_node.ar.light import LightEstimate, estimate_light, relight
from render_node.ar.placement import Window, paste, window_for
from render_node.render.types import Intrinsics, MaterialOverride, Renderer
from render_node.tryon.fitting import (
    Anchor,
    Finger,
    Fit,
    Occluder,
    assumed_intrinsics,
    fit_ears,
    fit_finger,
    fit_neck,
    fit_wrist,
)
from render_node.tryon.landmarks import FaceLandmarks, HandLandmarks, LandmarkModels

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

ANCHORS_OF_KIND: dict[str, tuple[Anchor, ...]] = {
    "ring": ("finger",),
    "bangle": ("wrist",),
    "bracelet": ("wrist",),
    "necklace": ("neck",),
    "earrings": ("ear",),
}
ANCHOR_NAMES: tuple[Anchor, ...] = ("neck", "ear", "finger", "wrist")
SUPERSAMPLE = 2
"""Jewellery is rendered at twice the resolution and area-averaged: a 0.6 mm chain stays a continuous line."""


def anchor_for(kind: str, default: str | None, asked: str | None) -> Anchor:
    """The anchor to use for a product kind (the catalog's default unless the client asked for another)."""
    allowed = ANCHORS_OF_KIND.get(kind)
    if not allowed:
        raise NotWearable(f"a {kind.replace('_', ' ')} cannot be tried on; AR placement shows it on the counter")
    if asked is None:
        return default if default in allowed else allowed[0]  # type: ignore[return-value]
    if asked not in allowed:
        raise NotWearable(f"a {kind} is worn at the {' or '.join(allowed)}, not at the {asked}")
    return asked  # type: ignore[return-value]


@dataclass(frozen=True)
class PieceJob:
    full: Window
    front: Window | None
    occluder: Occluder | None
    fade_px: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class TryOnJob:
    fit: Fit
    pieces: tuple[PieceJob, ...]
    light: LightEstimate

    def requests(self) -> list[Window]:
        """Every window to render, in the order `finish_tryon` wants their pixels."""
        out: list[Window] = []
        for p in self.pieces:
            out.append(p.full)
            if p.front is not None:
                out.append(p.front)
        return out


def detect_fit(rgb: U8, anchor: Anchor, shape: ModelShape, models: LandmarkModels, *, scale: float = 1.0,
               length_mm: float | None = None, finger: Finger = "ring", intrinsics: Intrinsics | None = None,
               mirrored: bool = False, face: FaceLandmarks | None = None,
               hand: HandLandmarks | None = None) -> Fit:
    """Landmarks (unless given) and the fit; raises NothingToAnchor when the body part is not in the frame."""
    h, w = rgb.shape[:2]
    k = intrinsics or assumed_intrinsics(w, h)
    if anchor in ("neck", "ear"):
        face = face or models.face(rgb)
        if face is None:
            raise NothingToAnchor("no face found in the photo; face the camera in good light")
        return fit_neck(face, shape, k, length_mm) if anchor == "neck" else fit_ears(face, shape, k)
    if hand is None:
        hands = models.hands(rgb, mirrored=mirrored)
        if not hands:
            raise NothingToAnchor("no hand found in the photo; hold the back of your hand up to the camera")
        hand = hands[0]
    if anchor == "finger":
        return fit_finger(hand, shape, k, scale, finger)
    return fit_wrist(hand, shape, k, scale)


def plan_tryon(rgb: U8, fit: Fit, shape: ModelShape, model_path: Path,
               overrides: tuple[MaterialOverride, ...] = ()) -> TryOnJob:
    pieces = []
    for piece in fit.pieces:
        full = window_for(piece.placed, shape.bounds_min_m, shape.bounds_max_m, fit.intrinsics, model_path, overrides,
                          supersample=SUPERSAMPLE)
        if full is None:
            continue
        front = None
        occ = piece.occluder
        if occ is not None and occ.split_depth_m is not None:
            front = window_for(piece.placed, shape.bounds_min_m, shape.bounds_max_m, fit.intrinsics, model_path,
                               overrides, far_clip_depth_m=occ.split_depth_m, supersample=SUPERSAMPLE)
            if front is not None and (front.x0, front.y0, front.request.size_px) != (
                    full.x0, full.y0, full.request.size_px):
                front = None
        pieces.append(PieceJob(full, front, occ, piece.fade_px))
    if not pieces:
        raise NothingToAnchor("the anchor is outside the picture; step back so it is fully in view")
    return TryOnJob(fit, tuple(pieces), estimate_light(rgb))


def _mask(window: Window, occ: Occluder) -> F32:
    w, h = window.size_px
    m = np.zeros((h, w), np.float32)
    for poly in occ.polygons_px:
        pts = np.round((poly - [window.x0, window.y0]) * 4).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(m, [pts], (1.0,), lineType=cv2.LINE_AA, shift=2)
    return m


def _occlude(full: U8, front: U8 | None, mask: F32) -> U8:
    """Inside the mask only the front render shows (nothing when there is none)."""
    a_full = full[..., 3].astype(np.float32)
    if front is None:
        out = full.copy()
        out[..., 3] = np.clip(a_full * (1 - mask) + 0.5, 0, 255).astype(np.uint8)
        return out
    a_front = front[..., 3].astype(np.float32)
    a = a_full * (1 - mask) + a_front * mask
    wf = (a_full * (1 - mask))[..., None]
    wb = (a_front * mask)[..., None]
    rgb = (full[..., :3] * wf + front[..., :3] * wb) / np.maximum(wf + wb, 1e-6)
    return np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(a + 0.5, 0, 255)]).astype(np.uint8)


def _fade(rgba: U8, window: Window, fade: tuple[float, float, float, float]) -> U8:
    x, y, dx, dy = fade
    h, w = rgba.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    along = ((xx + window.x0 - x) * dx + (yy + window.y0 - y) * dy) / max(dx * dx + dy * dy, 1e-6)
    ramp = np.clip(along, 0.0, 1.0)
    out = rgba.copy()
    out[..., 3] = np.clip(rgba[..., 3] * ramp + 0.5, 0, 255).astype(np.uint8)
    return out


def _soft_shadow(overlay: U8, px_per_mm: float, box: tuple[int, int, int, int] | None) -> Shadow:
    """A faint shadow the piece casts on the skin just below it (`box`: where the overlay has pixels)."""
    if box is None:
        return Shadow(0, 0, np.zeros((0, 0), np.float32))
    h, w = overlay.shape[:2]
    pad = int(4 * max(1.0, px_per_mm)) + 4
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(w, box[2] + pad), min(h, box[3] + pad)
    a = overlay[y0:y1, x0:x1, 3].astype(np.float32) / np.float32(255.0)
    sigma = max(1.0, 0.8 * px_per_mm)
    dy = max(1, round(0.8 * px_per_mm))
    shifted = np.zeros_like(a)
    shifted[dy:] = a[:-dy]
    k = int(sigma * 3) * 2 + 1
    out = np.asarray(cv2.GaussianBlur(shifted, (k, k), sigma), dtype=np.float32) * np.float32(0.35)
    return Shadow(x0, y0, out)


def finish_tryon(rgb: U8, job: TryOnJob, renders: list[U8], output: Literal["composite", "overlay"] = "composite") -> U8:
    """Assembles the renders (in `job.requests()` order) into the `(h, w, 3)` composite or `(h, w, 4)` overlay."""
    h, w = rgb.shape[:2]
    overlay = np.zeros((h, w, 4), np.uint8)
    it = iter(renders)
    boxes = []
    for piece in job.pieces:
        full = piece.full.pixels(next(it))
        front = piece.front.pixels(next(it)) if piece.front is not None else None
        if piece.occluder is not None:
            full = _occlude(full, front, _mask(piece.full, piece.occluder))
        if piece.fade_px is not None:
            full = _fade(full, piece.full, piece.fade_px)
        paste((w, h), piece.full, relight(full, job.light), overlay)
        fh, fw = full.shape[:2]
        boxes.append((piece.full.x0, piece.full.y0, piece.full.x0 + fw, piece.full.y0 + fh))
    if output == "overlay":
        return overlay
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    return composite_over(rgb, overlay, _soft_shadow(overlay, job.fit.px_per_mm, box), box=box)


def render_job(renderer: Renderer, job: TryOnJob) -> list[U8]:
    """Renders every window of the job in-process (tests, benchmarks, the CLI)."""
    return [renderer.render(win.request) for win in job.requests()]


def tryon_photo(rgb: U8, anchor: Anchor, shape: ModelShape, model_path: Path, renderer: Renderer,
                models: LandmarkModels, overrides: tuple[MaterialOverride, ...] = (), scale: float = 1.0,
                length_mm: float | None = None, finger: Finger = "ring",
                output: Literal["composite", "overlay"] = "composite") -> tuple[U8, Fit]:
    """Detect, fit, render and composite in one call (synchronous)."""
    fit = detect_fit(rgb, anchor, shape, models, scale=scale, length_mm=length_mm, finger=finger)
    job = plan_tryon(rgb, fit, shape, model_path, overrides)
    return finish_tryon(rgb, job, render_job(renderer, job), output), fit
