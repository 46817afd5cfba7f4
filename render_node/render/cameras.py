"""Camera math, free of GL: where each eye is, where it looks, and its projection.

World coordinates follow glTF/WebXR (+Y up, metres); a camera looks along its local -Z with +Y up. A camera
is described by its camera-to-world matrix (4x4, column vectors) and OpenCV-style intrinsics; `projection`
turns that into an OpenGL clip matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from render_node.render.errors import RequestInvalid
from render_node.render.types import (
    Background,
    CameraPose,
    EnvFile,
    EnvName,
    GltfCameraView,
    Intrinsics,
    PoseView,
    RenderRequest,
    StereoView,
    ToneMap,
    TurntableView,
    View,
)

F64 = npt.NDArray[np.float64]

FILL_FRACTION = 0.8
"""A turntable at distance_scale 1 makes the product's bounds span this fraction of the tighter frame side."""
_YAW_SAMPLES = 24


@dataclass(frozen=True)
class EyeCamera:
    """One rendered view: camera-to-world (4x4, looks along local -Z), intrinsics, clip planes.

    `ortho_half_m` is set for orthographic cameras (glTF xmag, ymag), else None.
    """

    camera_to_world: F64
    intrinsics: Intrinsics
    near_m: float
    far_m: float
    ortho_half_m: tuple[float, float] | None = None

    @property
    def position_m(self) -> F64:
        p: F64 = self.camera_to_world[:3, 3]
        return p


def quat_to_matrix(xyzw: tuple[float, float, float, float]) -> F64:
    """3x3 rotation matrix of a quaternion (x, y, z, w); normalised first."""
    q = np.asarray(xyzw, dtype=np.float64)
    n = float(np.linalg.norm(q))
    if not math.isfinite(n) or n < 1e-9:
        raise RequestInvalid(f"orientation {xyzw} is not a rotation quaternion")
    x, y, z, w = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_matrix(pose: CameraPose) -> F64:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(pose.orientation_xyzw)
    m[:3, 3] = pose.position_m
    return m


def look_at(eye_m: F64, target_m: F64, up: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> F64:
    """Camera-to-world of a camera at `eye_m` looking at `target_m` (its -Z points at the target)."""
    back = np.asarray(eye_m, dtype=np.float64) - np.asarray(target_m, dtype=np.float64)
    back /= max(float(np.linalg.norm(back)), 1e-12)
    upv = np.asarray(up, dtype=np.float64)
    if abs(float(np.dot(upv, back))) > 0.999:  # straight up or down: pick another up
        upv = np.array([0.0, 0.0, -1.0]) if back[1] > 0 else np.array([0.0, 0.0, 1.0])
    right = np.cross(upv, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, true_up, back, eye_m
    return m


def _direction(yaw_deg: float, pitch_deg: float) -> F64:
    """Unit vector from the target to the camera: yaw 0 on +Z (the front), positive yaw towards +X."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    return np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])


def _fit_distance(corners: F64, centre: F64, yaws_deg: F64, pitch_deg: float, tan_x: float, tan_y: float) -> float:
    """Smallest distance at which every corner lies inside the (tan_x, tan_y) half-angle frustum, for the
    camera on any of `yaws_deg` at `pitch_deg` (vectorised over yaws)."""
    yaw = np.radians(yaws_deg)[:, None]
    pitch = math.radians(pitch_deg)
    sy, cy, sp, cp = np.sin(yaw), np.cos(yaw), math.sin(pitch), math.cos(pitch)
    rel = (corners - centre)[None]  # (1, n, 3)
    rx, ry, rz = rel[..., 0], rel[..., 1], rel[..., 2]
    x = rx * cy - rz * sy  # right = (cos yaw, 0, -sin yaw)
    y = -rx * sp * sy + ry * cp - rz * sp * cy  # up = (-sin p sin yaw, cos p, -sin p cos yaw)
    towards = rx * cp * sy + ry * sp + rz * cp * cy  # back = direction to the camera
    need = np.maximum(np.abs(x) / tan_x, np.abs(y) / tan_y) + towards
    return float(need.max())


def turntable_camera(
    view: TurntableView, bounds: tuple[F64, F64], size_px: tuple[int, int], hull_m: F64 | None = None
) -> EyeCamera:
    """A camera on a sphere around the centre of `bounds` that frames the product (its convex hull points
    `hull_m` (n, 3), else the corners of `bounds`), at the same distance for every yaw (a spin does not breathe)."""
    w, h = size_px
    if not 1.0 <= view.fov_deg <= 150.0:
        raise RequestInvalid(f"fov_deg must be within 1..150, got {view.fov_deg}")
    if not view.distance_scale > 0:
        raise RequestInvalid("distance_scale must be positive")
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    centre = (lo + hi) / 2
    corners = (
        np.asarray(hull_m, dtype=np.float64)
        if hull_m is not None and len(hull_m)
        else np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    )
    intr = Intrinsics.from_fov(view.fov_deg, w, h)
    tan_y = (h / 2) / intr.fy * FILL_FRACTION
    tan_x = (w / 2) / intr.fx * FILL_FRACTION
    yaws = view.yaw_deg + np.arange(_YAW_SAMPLES) * (360.0 / _YAW_SAMPLES)
    dist = _fit_distance(corners, centre, yaws, view.pitch_deg, tan_x, tan_y)
    radius = float(np.linalg.norm(hi - lo)) / 2
    dist = max(dist, radius * 1.05, 1e-3) * view.distance_scale
    eye = centre + _direction(view.yaw_deg, view.pitch_deg) * dist
    return EyeCamera(
        camera_to_world=look_at(eye, centre),
        intrinsics=intr,
        near_m=max(dist - radius * 1.5, dist * 0.01, 1e-4),
        far_m=dist + radius * 4 + 1.0,
    )


def pose_camera(view: PoseView) -> EyeCamera:
    return EyeCamera(pose_matrix(view.pose), view.intrinsics, view.near_m, view.far_m)


def stereo_cameras(view: StereoView) -> tuple[EyeCamera, EyeCamera]:
    """Left and right eyes, each at -ipd/2 and +ipd/2 along the head's local X, looking where the head looks."""
    head = pose_matrix(view.head)
    eyes = []
    for sign in (-1.0, 1.0):
        m = head.copy()
        m[:3, 3] = head[:3, 3] + head[:3, 0] * (sign * view.ipd_m / 2)
        eyes.append(EyeCamera(m, view.intrinsics, view.near_m, view.far_m))
    return eyes[0], eyes[1]


def gltf_camera(
    kind: str,
    yfov_rad: float,
    xmag: float,
    ymag: float,
    znear_m: float,
    zfar_m: float | None,
    camera_to_world: F64,
    size_px: tuple[int, int],
    scene_radius_m: float,
) -> EyeCamera:
    """A glTF camera (perspective: vertical field of view `yfov_rad`; orthographic: half extents) drawn at
    `size_px`. The node's scale is removed: only its rotation and translation place the camera."""
    w, h = size_px
    m = np.asarray(camera_to_world, dtype=np.float64).copy()
    for i in range(3):
        m[:3, i] /= max(float(np.linalg.norm(m[:3, i])), 1e-12)
    far = zfar_m if zfar_m is not None else float(np.linalg.norm(m[:3, 3])) + scene_radius_m * 4 + 100.0
    if kind == "orthographic":
        return EyeCamera(m, Intrinsics.from_fov(45.0, w, h), znear_m, far, ortho_half_m=(abs(xmag), abs(ymag)))
    if not 0.0 < yfov_rad < math.pi:
        raise RequestInvalid(f"glTF camera yfov {yfov_rad} is not within (0, pi)")
    return EyeCamera(m, Intrinsics.from_fov(math.degrees(yfov_rad), w, h), max(znear_m, 1e-5), far)


def size_for_aspect(aspect_ratio: float, height_px: int) -> tuple[int, int]:
    """An output size with the camera's aspect ratio at `height_px` (even width for video encoders)."""
    width = max(2, round(height_px * aspect_ratio / 2) * 2)
    return width, height_px


def projection(eye: EyeCamera) -> F64:
    """OpenGL clip matrix (column vectors) of the eye: camera space (-Z forward, +Y up) to clip space.

    Honours off-centre principal points: pixel u = fx * x / depth + cx, v = cy - fy * y / depth.
    """
    k = eye.intrinsics
    w, h = k.width_px, k.height_px
    n, f = eye.near_m, eye.far_m
    if not 0 < n < f:
        raise RequestInvalid(f"clip planes must satisfy 0 < near < far, got {n}, {f}")
    p = np.zeros((4, 4))
    if eye.ortho_half_m is not None:
        xmag, ymag = eye.ortho_half_m
        p[0, 0], p[1, 1] = 1.0 / xmag, 1.0 / ymag
        p[2, 2], p[2, 3] = -2.0 / (f - n), -(f + n) / (f - n)
        p[3, 3] = 1.0
        return p
    p[0, 0] = 2 * k.fx / w
    p[0, 2] = 1 - 2 * k.cx / w
    p[1, 1] = 2 * k.fy / h
    p[1, 2] = 2 * k.cy / h - 1
    p[2, 2] = -(f + n) / (f - n)
    p[2, 3] = -2 * f * n / (f - n)
    p[3, 2] = -1.0
    return p


def project_points(eye: EyeCamera, points_m: F64) -> F64:
    """Pixel coordinates (u right, v down; origin at the top-left corner) of world points: (n, 3) -> (n, 2)."""
    world_to_cam = np.linalg.inv(eye.camera_to_world)
    pts = np.asarray(points_m, dtype=np.float64)
    cam = pts @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    clip = np.c_[cam, np.ones(len(cam))] @ projection(eye).T
    ndc = clip[:, :2] / clip[:, 3:4]
    k = eye.intrinsics
    out: F64 = np.c_[(ndc[:, 0] + 1) / 2 * k.width_px, (1 - ndc[:, 1]) / 2 * k.height_px]
    return out


REFERENCE_FOV_DEG = 45.0
"""The glTF Sample Viewer's own camera when a file has none: 45 degrees vertical, looking at the front (-Z)."""


def reference_view(camera_count: int) -> View:
    """The view of the reference preset: the file's first camera, else the front at the viewer's field of view."""
    return GltfCameraView(0) if camera_count > 0 else TurntableView(0.0, 0.0, 1.0, REFERENCE_FOV_DEG)


def reference_request(
    model_path: Path,
    camera_count: int,
    size_px: tuple[int, int],
    env: EnvName | EnvFile = "studio",
    tonemap: ToneMap = "neutral",
    background: Background = "env",
) -> RenderRequest:
    """A render in the glTF Sample Viewer's conventions (docs/rendering.md, "Reference mode"): the file's own camera,
    no contact shadow, the exact shader, exposure 1, pow(1/2.2) output; the background is the environment."""
    return RenderRequest(model_path, reference_view(camera_count), size_px, background, env, shadow=False,
                         tonemap=tonemap, reference=True)
