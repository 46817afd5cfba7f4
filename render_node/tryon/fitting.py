"""Fitting a product to a body: where the anchor is, at what real size, facing which way, and what covers it.

Scale references (see docs/ar.md for the accuracy measured):
- face: the horizontal iris diameter, 11.7 mm in adults (SD ~0.5 mm); Haar fallback: the cascade box is ~130 mm wide (cheek to cheek, measured against the mesh);
- hand: mediapipe's metric hand model (its world landmarks, metres): the median ratio of image to model length
  over the palm's bones gives pixels per metre at the hand's depth.
A photo's focal length is unknown; it only sets the depth, never the size in pixels (size_px = f * size_m / z and
z = f * reference_m / reference_px), so any plausible focal length gives the same picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from render_node.ar.errors import NothingToAnchor
from render_node.ar.geometry import ModelShape
from render_node.ar.placement import PlacedModel
from render_node.render.types import Intrinsics
from render_node.tryon import landmarks as L
from render_node.tryon.landmarks import FaceLandmarks, HandLandmarks

F64 = npt.NDArray[np.float64]

IRIS_DIAMETER_M = 0.0117
HAAR_FACE_WIDTH_M = 0.130
FINGER_DIAMETER_M = 0.0175
WRIST_WIDTH_M = 0.056
RING_POSITION = 0.5
"""Where a ring sits between the knuckle (0) and the middle joint (1) of its finger."""
WRIST_OFFSET_M = 0.018
"""How far up the forearm from the wrist landmark a bangle rests."""
NECK_DROP_OF_FACE = 0.35
"""Where the chain meets the neck, below the chin, as a fraction of the nasion-chin height."""
NECKLACE_MODEL_LENGTH_MM = 450.0

Anchor = Literal["neck", "ear", "finger", "wrist"]
Finger = Literal["thumb", "index", "middle", "ring", "little"]


def assumed_intrinsics(width_px: int, height_px: int) -> Intrinsics:
    """A phone/kiosk camera when none is given: ~60 degrees across the longer side."""
    f = 0.87 * max(width_px, height_px)
    return Intrinsics(f, f, width_px / 2, height_px / 2, width_px, height_px)


@dataclass(frozen=True)
class Occluder:
    """Body pixels in front of part of the product. `polygons_px`: where; `split_depth_m`: only what is deeper
    than this camera depth hides behind them (a finger hides the ring's back); None: all of it hides."""

    polygons_px: tuple[F64, ...]
    split_depth_m: float | None = None


@dataclass(frozen=True)
class Piece:
    placed: PlacedModel
    occluder: Occluder | None = None
    fade_px: tuple[float, float, float, float] | None = None
    """(x, y, dx, dy): the piece fades out towards (x, y) along (dx, dy) over its length (a chain that goes
    round behind the neck)."""


@dataclass(frozen=True)
class Fit:
    anchor: Anchor
    pieces: tuple[Piece, ...]
    intrinsics: Intrinsics
    px_per_mm: float
    """Image scale at the anchor."""
    reference: Literal["iris", "face_width", "hand_model"]
    anchor_px: tuple[tuple[float, float], ...]
    """Where each piece's anchor point lands in the image (tests and debugging)."""
    segment_px: tuple[tuple[float, float], tuple[float, float]] | None = None
    """Rings: the finger segment (knuckle, middle joint) the ring sits on; wrists: (wrist, middle knuckle)."""


def _unit(v: F64) -> F64:
    n = float(np.linalg.norm(v))
    if n < 1e-12:
        raise NothingToAnchor("the body part is seen edge-on; turn it towards the camera")
    out: F64 = v / n
    return out


def _back_project(k: Intrinsics, u: float, v: float, z: float) -> F64:
    return np.array([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z])


def _frame_basis(axis_t: F64, up_t: F64) -> F64:
    """Columns: (third, up, axis) with third = up x axis; up made perpendicular to axis."""
    a = _unit(axis_t)
    u = _unit(up_t - a * float(up_t @ a))
    return np.stack([np.cross(u, a), u, a], axis=1)


def rotation_for(shape: ModelShape, axis_t: F64, up_t: F64) -> F64:
    """Rotation taking the model's hole axis to `axis_t` and its "up" (the stone side) towards `up_t`."""
    e = np.eye(3)
    e_axis = e[shape.hole_axis]
    e_up = e[1] if shape.hole_axis != 1 else e[2]
    model = _frame_basis(e_axis, e_up)
    target = _frame_basis(axis_t, up_t)
    out: F64 = target @ model.T
    return out


def rotation_facing_camera(right_img: F64) -> F64:
    """Model +X -> image right (rolled like `right_img`), +Y -> up, +Z -> towards the camera."""
    x = _unit(np.array([right_img[0], right_img[1], 0.0]))
    y = np.array([x[1], -x[0], 0.0])  # image up (OpenCV y is down)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


# ---------------------------------------------------------------------------------------------------- face


def face_scale_px_per_m(face: FaceLandmarks) -> tuple[float, Literal["iris", "face_width"]]:
    p = face.points_px
    if face.has_iris:
        left = float(np.linalg.norm(p[L.IRIS_IMG_LEFT[1], :2] - p[L.IRIS_IMG_LEFT[2], :2]))
        right = float(np.linalg.norm(p[L.IRIS_IMG_RIGHT[1], :2] - p[L.IRIS_IMG_RIGHT[2], :2]))
        # the iris facing the camera more squarely is the less foreshortened one
        return max(left, right) / IRIS_DIAMETER_M, "iris"
    return face.box_px[2] / HAAR_FACE_WIDTH_M, "face_width"


def _face_axes(face: FaceLandmarks) -> tuple[F64, F64, float]:
    """(right, down) unit vectors in the image and the yaw ratio (-0.5..0.5, + = nose towards image right)."""
    p = face.points_px
    right = _unit(p[L.CHEEK_IMG_RIGHT, :2] - p[L.CHEEK_IMG_LEFT, :2])
    down = np.array([-right[1], right[0]])
    span = float((p[L.CHEEK_IMG_RIGHT, :2] - p[L.CHEEK_IMG_LEFT, :2]) @ right)
    yaw = float((p[L.NOSE_TIP, :2] - p[L.CHEEK_IMG_LEFT, :2]) @ right) / max(span, 1e-6) - 0.5
    return right, down, yaw


def _necklace_drop_m(length_mm: float) -> float:
    """How far a chain of this length falls in front: a V with 65 mm half-width, 180 mm behind the neck."""
    side = max(length_mm - 180.0, 140.0) / 2
    return math.sqrt(max(side**2 - 65.0**2, 0.0)) / 1000.0


def fit_neck(face: FaceLandmarks, shape: ModelShape, k: Intrinsics, length_mm: float | None = None) -> Fit:
    px_per_m, ref = face_scale_px_per_m(face)
    p = face.points_px
    right, down, _yaw = _face_axes(face)
    # the neck follows the body more than the head: take half the head's roll
    down = _unit(down + np.array([0.0, 1.0]))
    right = np.array([down[1], -down[0]])
    face_h_px = float(np.linalg.norm(p[L.CHIN, :2] - p[L.NASION, :2]))
    centre_x = (p[L.CHIN, :2] + (p[L.JAW_RIGHT_IMG_LEFT, :2] + p[L.JAW_LEFT_IMG_RIGHT, :2]) / 2) / 2
    drop_px = NECK_DROP_OF_FACE * face_h_px
    if length_mm is not None:
        drop_px -= (_necklace_drop_m(NECKLACE_MODEL_LENGTH_MM) - _necklace_drop_m(length_mm)) * px_per_m
    top = p[L.CHIN, :2] + down * drop_px
    top = top + right * float((centre_x - p[L.CHIN, :2]) @ right)
    z = k.fx / px_per_m + 0.02
    t = _back_project(k, float(top[0]), float(top[1]), z)
    lo, hi = shape.bounds_min_m, shape.bounds_max_m
    # the chain is modelled laid out as a loop: from where it is widest it goes round behind the neck (hidden)
    pivot = np.array([(lo[0] + hi[0]) / 2, shape.widest_y_m, (lo[2] + hi[2]) / 2])
    placed = PlacedModel(rotation_facing_camera(right), t, 1.0, pivot)
    oval = np.array([p[i, :2] for i in L.FACE_OVAL])
    fade = 0.012 * px_per_m
    piece = Piece(placed, Occluder((oval,), None), (float(top[0]), float(top[1]), float(down[0] * fade),
                                                    float(down[1] * fade)))
    return Fit("neck", (piece,), k, px_per_m / 1000, ref,
               ((float(top[0]), float(top[1])),))


def fit_ears(face: FaceLandmarks, shape: ModelShape, k: Intrinsics) -> Fit:
    px_per_m, ref = face_scale_px_per_m(face)
    p = face.points_px
    right, down, yaw = _face_axes(face)
    z = k.fx / px_per_m + 0.03
    lo, hi = shape.bounds_min_m, shape.bounds_max_m
    mid_x = (lo[0] + hi[0]) / 2
    half_w = (hi[0] - lo[0]) / 2
    height = hi[1] - lo[1]
    # catalog models face +Z (a stud's gem looks at the customer, its post goes back along -Z); a hanging
    # earring hooks through the lobe at its top, a stud sits centred on it
    drop = height / max(half_w, 1e-6) > 1.5
    pieces, anchors = [], []
    rot = rotation_facing_camera(right)
    for side, idx, outward in (("left", L.LOBE_IMG_LEFT, -1.0), ("right", L.LOBE_IMG_RIGHT, 1.0)):
        if (side == "right" and yaw > 0.2) or (side == "left" and yaw < -0.2):
            continue  # that ear is turned away behind the head
        lobe = p[idx, :2] + right * outward * 0.004 * px_per_m + down * 0.012 * px_per_m
        part_lo, part_hi = lo.copy(), hi.copy()
        if side == "left":
            part_hi[0] = mid_x
        else:
            part_lo[0] = mid_x
        cx = (part_lo[0] + part_hi[0]) / 2
        cy = hi[1] - 0.12 * height if drop else (lo[1] + hi[1]) / 2
        pivot = np.array([cx, cy, (lo[2] + hi[2]) / 2])
        t = _back_project(k, float(lobe[0]), float(lobe[1]), z)
        pieces.append(Piece(PlacedModel(rot, t, 1.0, pivot, part_lo, part_hi)))
        anchors.append((float(lobe[0]), float(lobe[1])))
    if not pieces:
        raise NothingToAnchor("no ear lobe is visible; face the camera")
    return Fit("ear", tuple(pieces), k, px_per_m / 1000, ref, tuple(anchors))


# ---------------------------------------------------------------------------------------------------- hand


def hand_scale_px_per_m(hand: HandLandmarks) -> float:
    bones = ((0, 5), (0, 17), (5, 17), (0, 9), (5, 9), (9, 13), (13, 17), (0, 13))
    ratios = []
    for a, b in bones:
        model = float(np.linalg.norm(hand.points_m[a, :2] - hand.points_m[b, :2]))
        if model > 0.01:
            ratios.append(float(np.linalg.norm(hand.points_px[a] - hand.points_px[b])) / model)
    if not ratios:
        raise NothingToAnchor("the hand is seen edge-on; show the back or the palm of the hand")
    return float(np.median(ratios))


def hand_points_camera(hand: HandLandmarks, k: Intrinsics) -> tuple[F64, float]:
    """(21, 3) OpenCV-camera points of the hand's landmarks, and pixels per metre at the hand."""
    px_per_m = hand_scale_px_per_m(hand)
    z0 = k.fx / px_per_m
    rel_z = hand.points_m[:, 2] - float(np.mean(hand.points_m[[0, 5, 9, 13, 17], 2]))
    pts = np.array([_back_project(k, float(u), float(v), z0 + float(dz))
                    for (u, v), dz in zip(hand.points_px, rel_z, strict=True)])
    return pts, px_per_m


def dorsal_normal(points: F64, handedness: L.Handedness) -> F64:
    """Unit normal out of the back of the hand (OpenCV camera frame)."""
    palm = np.cross(points[5] - points[0], points[17] - points[0])
    return _unit(palm if handedness == "left" else -palm)


def _band(a_px: F64, b_px: F64, width_px: float, extend: tuple[float, float] = (0.0, 0.0)) -> F64:
    d = _unit(b_px - a_px)
    n = np.array([-d[1], d[0]]) * width_px / 2
    a = a_px - d * extend[0]
    b = b_px + d * extend[1]
    return np.array([a + n, b + n, b - n, a - n])


def fit_finger(hand: HandLandmarks, shape: ModelShape, k: Intrinsics, scale: float = 1.0,
               finger: Finger = "ring") -> Fit:
    pts, px_per_m = hand_points_camera(hand, k)
    mcp, pip, dip, _tip = L.FINGERS[finger]
    centre = pts[mcp] + RING_POSITION * (pts[pip] - pts[mcp])
    axis = _unit(pts[pip] - pts[mcp])
    up = dorsal_normal(pts, hand.handedness)
    rot = rotation_for(shape, axis, up)
    placed = PlacedModel(rot, centre, scale, shape.hole_centre_m)
    width_px = max(shape.hole_diameter_m * scale, FINGER_DIAMETER_M * 0.8) * px_per_m
    finger_band = _band(hand.points_px[mcp], hand.points_px[dip], width_px)
    occ = Occluder((finger_band,), float(centre[2]))
    u = k.fx * centre[0] / centre[2] + k.cx
    v = k.fy * centre[1] / centre[2] + k.cy
    seg = ((float(hand.points_px[mcp][0]), float(hand.points_px[mcp][1])),
           (float(hand.points_px[pip][0]), float(hand.points_px[pip][1])))
    return Fit("finger", (Piece(placed, occ),), k, px_per_m / 1000, "hand_model", ((float(u), float(v)),), seg)


def fit_wrist(hand: HandLandmarks, shape: ModelShape, k: Intrinsics, scale: float = 1.0) -> Fit:
    pts, px_per_m = hand_points_camera(hand, k)
    axis = _unit(pts[9] - pts[0])
    centre = pts[0] - axis * WRIST_OFFSET_M
    up = dorsal_normal(pts, hand.handedness)
    rot = rotation_for(shape, axis, up)
    placed = PlacedModel(rot, centre, scale, shape.hole_centre_m)
    u = k.fx * centre[0] / centre[2] + k.cx
    v = k.fy * centre[1] / centre[2] + k.cy
    c_px = np.array([u, v])
    towards_hand_px = _unit(hand.points_px[9] - hand.points_px[0])
    wrist_band = _band(c_px - towards_hand_px * 0.15 * px_per_m, c_px + towards_hand_px * 0.05 * px_per_m,
                       WRIST_WIDTH_M * px_per_m)
    palm = np.array([hand.points_px[i] for i in (0, 1, 5, 9, 13, 17)])
    occ = Occluder((wrist_band, palm), float(centre[2]))
    seg = ((float(hand.points_px[0][0]), float(hand.points_px[0][1])),
           (float(hand.points_px[9][0]), float(hand.points_px[9][1])))
    return Fit("wrist", (Piece(placed, occ),), k, px_per_m / 1000, "hand_model", ((float(u), float(v)),), seg)
