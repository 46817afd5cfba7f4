"""Synthetic camera frames with known ground truth: the printed board lying on a wooden counter, seen from a
known camera pose. Used by the tests (recovered pose vs truth), the benchmark and the documentation pictures.

The board plane is drawn exactly (a plane's perspective image is a homography), supersampled 2x for antialiasing,
with a light falloff, a colour cast and sensor noise so that detection is not handed a perfect picture.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.board import A4_LANDSCAPE_MM, DEFAULT_BOARD, BoardSpec
from render_node.ar.pose import BOARD_TO_WORLD, object_transform_for_camera, quat_from_matrix
from render_node.render.types import CameraPose, Intrinsics

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]


def look_at_pose(eye_m: tuple[float, float, float], target_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 up: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> CameraPose:
    """A WebXR camera pose at `eye_m` looking at `target_m` (world +Y up)."""
    eye, target = np.asarray(eye_m, float), np.asarray(target_m, float)
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(up, float), back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    m = np.stack([right, true_up, back], axis=1)
    return CameraPose(position_m=(float(eye[0]), float(eye[1]), float(eye[2])), orientation_xyzw=quat_from_matrix(m))


def orbit_pose(distance_m: float, elevation_deg: float, azimuth_deg: float) -> CameraPose:
    """A camera on a sphere around the world origin (board centre): azimuth 0 stands at the caption edge (+Z)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    eye = (distance_m * math.cos(el) * math.sin(az), distance_m * math.sin(el), distance_m * math.cos(el) * math.cos(az))
    return look_at_pose(eye)


def board_transform_for(pose: CameraPose, spec: BoardSpec = DEFAULT_BOARD) -> tuple[F64, F64]:
    """Ground truth (R, t) board -> OpenCV camera for a world camera pose."""
    r_w, t_w = object_transform_for_camera(pose)
    centre = np.array([spec.width_m / 2, spec.height_m / 2, 0.0])
    r_b = r_w @ BOARD_TO_WORLD
    t_b = t_w - r_b @ centre
    return r_b, t_b


@functools.lru_cache(maxsize=4)
def wood_texture(width_px: int, height_px: int, seed: int = 7) -> U8:
    """A warm wooden counter top, `(h, w, 3) uint8` RGB, grain along x."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height_px)[:, None]
    x = np.linspace(0, 1, width_px)[None, :]
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (height_px // 16, width_px // 16)).astype(np.float32), (0, 0), 1.6)
    warp = cv2.resize(coarse, (width_px, height_px), interpolation=cv2.INTER_CUBIC) * 40
    rings = np.sin((y * 420 + warp * 0.5 + 6 * np.sin(x * 5)) * 2 * np.pi / 6)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height_px, width_px)).astype(np.float32), (0, 0), 1.0)
    streaks = cv2.resize(rng.normal(0, 1, (height_px, 8)).astype(np.float32), (width_px, height_px))
    tone = 0.62 + 0.05 * rings + 0.04 * fine + 0.05 * streaks
    base = np.array([150, 98, 60], np.float32)
    img = np.clip(base[None, None, :] * tone[..., None] * 1.2, 0, 255)
    return np.asarray(img, dtype=np.uint8)


@functools.lru_cache(maxsize=4)
def _sheet_rgb(spec: BoardSpec, px_per_mm: float) -> U8:
    sw, sh = (round(v * px_per_mm) for v in A4_LANDSCAPE_MM)
    sheet = np.full((sh, sw), 245, np.uint8)
    board = spec.image(px_per_mm)
    bh, bw = board.shape
    y0, x0 = (sh - bh) // 2, (sw - bw) // 2
    sheet[y0:y0 + bh, x0:x0 + bw] = np.where(board > 127, 245, 18).astype(np.uint8)
    return np.asarray(cv2.cvtColor(sheet, cv2.COLOR_GRAY2RGB), dtype=np.uint8)


def board_frame(pose: CameraPose, intrinsics: Intrinsics, spec: BoardSpec = DEFAULT_BOARD, *,
                tint_rgb: tuple[float, float, float] = (1.0, 0.96, 0.88), noise_sigma: float = 2.0,
                seed: int = 1) -> U8:
    """A `(h, w, 3) uint8` RGB frame of the board on an A4 sheet on a wooden counter, from `pose`."""
    ss = 2
    k = intrinsics
    kk = np.array([[k.fx * ss, 0, k.cx * ss], [0, k.fy * ss, k.cy * ss], [0, 0, 1.0]])
    r, t = board_transform_for(pose, spec)
    plane_to_img = kk @ np.column_stack([r[:, 0], r[:, 1], t])
    size = (k.width_px * ss, k.height_px * ss)

    # the counter: 1.6 m x 1.0 m of wood centred on the board
    tex_px_per_m = 1000.0
    table = wood_texture(int(1.6 * tex_px_per_m), int(1.0 * tex_px_per_m))
    ox, oy = 0.8 - spec.width_m / 2, 0.5 - spec.height_m / 2
    tex_to_plane = np.array([[1 / tex_px_per_m, 0, -ox], [0, 1 / tex_px_per_m, -oy], [0, 0, 1]])
    counter = cv2.warpPerspective(table, plane_to_img @ tex_to_plane, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(70, 62, 58))
    # the printed sheet
    px_per_mm = 8.0
    sheet = _sheet_rgb(spec, px_per_mm)
    sh, sw = sheet.shape[:2]
    sx0 = (A4_LANDSCAPE_MM[0] / 1000 - spec.width_m) / 2
    sy0 = (A4_LANDSCAPE_MM[1] / 1000 - spec.height_m) / 2
    sheet_to_plane = np.array([[1 / (px_per_mm * 1000), 0, -sx0], [0, 1 / (px_per_mm * 1000), -sy0], [0, 0, 1]])
    h_sheet = plane_to_img @ sheet_to_plane
    warped = cv2.warpPerspective(sheet, h_sheet, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), h_sheet, size, flags=cv2.INTER_LINEAR)
    a = np.asarray(mask, np.float32)[..., None] / np.float32(255.0)
    mixed = np.asarray(counter, np.float32) * (np.float32(1.0) - a) + np.asarray(warped, np.float32) * a
    img = cv2.resize(mixed.astype(np.float32), (k.width_px, k.height_px), interpolation=cv2.INTER_AREA)
    # light falloff from the upper left, a colour cast, sensor noise
    yy, xx = np.mgrid[0:k.height_px, 0:k.width_px].astype(np.float32)
    fall = 1.0 - 0.25 * np.hypot((xx - 0.3 * k.width_px) / k.width_px, (yy - 0.2 * k.height_px) / k.height_px)
    img = img * fall[..., None] * np.asarray(tint_rgb, np.float32)
    rng = np.random.default_rng(seed)
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise_sigma)
    return np.asarray(np.clip(img + 0.5, 0, 255), dtype=np.uint8)
