"""Conversions between OpenCV poses (solvePnP: `X_cam = R @ X_obj + t`, camera looks along +Z, +Y down) and the
renderer's `CameraPose` (WebXR: the camera looks along its local -Z, +Y up; world +Y up, metres).

An "object transform" here is (R, t) taking points of the renderer's world (where the product stands at the
origin, +Y up) into the OpenCV camera frame. A marker board, a WebXR anchor and a try-on fit all end up as one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from render_node.ar.board import DEFAULT_BOARD, BoardPose, BoardSpec
from render_node.render.types import CameraPose

F64 = npt.NDArray[np.float64]

CV_TO_GL: F64 = np.diag([1.0, -1.0, -1.0])
"""Axes of an OpenCV camera expressed in a WebXR camera (and back: it is its own inverse)."""

BOARD_TO_WORLD: F64 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Board axes (x right, y down the sheet, z into the table) -> world (x right, y up, z to the bottom edge)."""


def quat_from_matrix(m: F64) -> tuple[float, float, float, float]:
    """Unit quaternion (x, y, z, w) of a (3, 3) rotation matrix."""
    m = np.asarray(m, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    n = math.sqrt(x * x + y * y + z * z + w * w)
    return (x / n, y / n, z / n, w / n)


def matrix_from_quat(q: Sequence[float]) -> F64:
    """(3, 3) rotation matrix of a quaternion (x, y, z, w); normalises it first."""
    x, y, z, w = (float(v) for v in q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n < 1e-9:
        raise ValueError("orientation quaternion has zero length")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def camera_pose_for_object(rotation: F64, translation_m: F64, scale: float = 1.0) -> CameraPose:
    """The renderer camera that sees the world's origin where the object transform (R, t) puts it.

    `scale` > 1 makes the product look `scale` times larger (the camera moves towards the origin instead; the
    picture is the same as scaling the model about its origin).
    """
    r_t = np.asarray(rotation, dtype=np.float64).T
    position = -r_t @ np.asarray(translation_m, dtype=np.float64) / scale
    orientation = quat_from_matrix(r_t @ CV_TO_GL)
    return CameraPose(position_m=(float(position[0]), float(position[1]), float(position[2])),
                      orientation_xyzw=orientation)


def object_transform_for_camera(pose: CameraPose) -> tuple[F64, F64]:
    """Inverse of `camera_pose_for_object` (scale 1): (R, t) taking world points into the OpenCV camera."""
    r_wc = matrix_from_quat(pose.orientation_xyzw) @ CV_TO_GL
    r = r_wc.T
    t = -r @ np.asarray(pose.position_m, dtype=np.float64)
    return r, t


def board_object_transform(pose: BoardPose, spec: BoardSpec = DEFAULT_BOARD) -> tuple[F64, F64]:
    """(R, t) of the world (origin at the board's centre, +Y up) into the OpenCV camera."""
    centre = np.array([spec.width_m / 2, spec.height_m / 2, 0.0])
    r = pose.rotation @ BOARD_TO_WORLD.T
    t = pose.rotation @ centre + pose.translation_m
    return r, t


def camera_pose_from_board(pose: BoardPose, spec: BoardSpec = DEFAULT_BOARD) -> CameraPose:
    """The renderer camera pose in the board's world (origin at the board's centre, +Y up)."""
    r, t = board_object_transform(pose, spec)
    return camera_pose_for_object(r, t)


def relative_camera_pose(camera: CameraPose, anchor: CameraPose) -> CameraPose:
    """The camera expressed in an anchor's frame (both given in the same WebXR reference space)."""
    ra = matrix_from_quat(anchor.orientation_xyzw)
    rc = matrix_from_quat(camera.orientation_xyzw)
    p = ra.T @ (np.asarray(camera.position_m) - np.asarray(anchor.position_m))
    return CameraPose(position_m=(float(p[0]), float(p[1]), float(p[2])), orientation_xyzw=quat_from_matrix(ra.T @ rc))


def project_points(points_world: F64, rotation: F64, translation_m: F64, fx: float, fy: float, cx: float,
                   cy: float) -> F64:
    """(n, 3) world points -> (n, 2) pixels through an object transform and a pinhole (no distortion)."""
    cam = np.asarray(points_world, dtype=np.float64) @ np.asarray(rotation).T + np.asarray(translation_m)
    z = np.maximum(cam[:, 2], 1e-6)
    return np.stack([fx * cam[:, 0] / z + cx, fy * cam[:, 1] / z + cy], axis=1)
