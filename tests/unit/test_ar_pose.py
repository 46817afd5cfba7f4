"""Marker board pose, pose conventions and light estimation, on synthetic frames with known ground truth."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from render_node.ar.board import DEFAULT_BOARD, detect_board, printable_sheet
from render_node.ar.errors import MarkerNotFound
from render_node.ar.light import estimate_light, relight
from render_node.ar.pose import (
    board_object_transform,
    camera_pose_for_object,
    camera_pose_from_board,
    matrix_from_quat,
    object_transform_for_camera,
    quat_from_matrix,
    relative_camera_pose,
)
from render_node.ar.synthetic import board_frame, board_transform_for, orbit_pose
from render_node.render.types import CameraPose, Intrinsics

K720 = Intrinsics.from_fov(50.0, 1280, 720)


def _angle_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    return math.degrees(float(np.linalg.norm(cv2.Rodrigues(r1 @ r2.T)[0])))


@pytest.mark.parametrize(("distance_m", "elevation_deg", "azimuth_deg"),
                         [(0.45, 55.0, 0.0), (0.7, 35.0, 30.0), (0.35, 75.0, -40.0)])
def test_marker_pose_is_recovered_within_2_mm_and_1_degree(distance_m: float, elevation_deg: float,
                                                            azimuth_deg: float) -> None:
    truth = orbit_pose(distance_m, elevation_deg, azimuth_deg)
    frame = board_frame(truth, K720, seed=int(distance_m * 100))
    found = detect_board(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), K720)
    pose = camera_pose_from_board(found)
    error_mm = 1000 * float(np.linalg.norm(np.subtract(pose.position_m, truth.position_m)))
    assert error_mm < 2.0
    assert _angle_deg(matrix_from_quat(pose.orientation_xyzw), matrix_from_quat(truth.orientation_xyzw)) < 1.0
    r_true, _ = board_transform_for(truth)
    assert _angle_deg(found.rotation, r_true) < 1.0
    assert found.reprojection_px < 1.0


def test_board_world_has_y_up_and_origin_at_the_board_centre() -> None:
    truth = orbit_pose(0.5, 60.0, 0.0)
    frame = board_frame(truth, K720)
    r, t = board_object_transform(detect_board(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), K720))
    origin_px = K720.fx * t[0] / t[2] + K720.cx, K720.fy * t[1] / t[2] + K720.cy
    assert origin_px == pytest.approx((640, 360), abs=2.0)  # the camera looks at the board's centre
    up_cam = r @ np.array([0.0, 1.0, 0.0])
    assert up_cam[1] < -0.5  # world up is image up (OpenCV y points down)


def test_a_frame_without_the_board_is_refused_clearly() -> None:
    frame = np.full((720, 1280, 3), 128, np.uint8)
    with pytest.raises(MarkerNotFound, match="no marker board in view"):
        detect_board(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), K720)


def test_camera_pose_round_trips_through_the_opencv_transform() -> None:
    pose = orbit_pose(0.8, 25.0, 70.0)
    r, t = object_transform_for_camera(pose)
    back = camera_pose_for_object(r, t)
    assert back.position_m == pytest.approx(pose.position_m, abs=1e-9)
    assert abs(float(np.dot(back.orientation_xyzw, pose.orientation_xyzw))) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.normal(size=4)
        m = matrix_from_quat(q)
        assert np.allclose(matrix_from_quat(quat_from_matrix(m)), m, atol=1e-9)


def test_scaling_a_product_moves_the_camera_not_the_picture_centre() -> None:
    r, t = object_transform_for_camera(orbit_pose(0.5, 40.0, 10.0))
    near = camera_pose_for_object(r, t, scale=2.0)
    far = camera_pose_for_object(r, t)
    assert np.linalg.norm(near.position_m) == pytest.approx(np.linalg.norm(far.position_m) / 2)


def test_a_camera_relative_to_a_webxr_anchor_is_expressed_in_the_anchor_frame() -> None:
    half = math.sqrt(0.5)
    anchor = CameraPose((1.0, 0.8, -2.0), (0.0, half, 0.0, half))  # turned 90 degrees about +Y
    camera = CameraPose((1.0, 1.3, -1.5), (0.0, 0.0, 0.0, 1.0))
    rel = relative_camera_pose(camera, anchor)
    # the anchor's +X is world -Z, so the camera's +0.5 m along world Z is -0.5 m along the anchor's X
    assert rel.position_m == pytest.approx((-0.5, 0.5, 0.0), abs=1e-9)
    assert matrix_from_quat(rel.orientation_xyzw) @ np.array([1.0, 0.0, 0.0]) == pytest.approx([0.0, 0.0, 1.0])


def test_printable_sheet_is_a4_at_300_dpi_with_squares_of_the_documented_size() -> None:
    sheet = printable_sheet(dpi=300)
    assert sheet.shape == (round(210 / 25.4 * 300), round(297 / 25.4 * 300))
    corners, ids, _, _ = DEFAULT_BOARD.detector.detectBoard(sheet)
    assert ids is not None and len(ids) == (DEFAULT_BOARD.squares_x - 1) * (DEFAULT_BOARD.squares_y - 1)
    pts = corners.reshape(-1, 2)[np.argsort(ids.ravel())]
    step_px = float(np.median(np.linalg.norm(np.diff(pts[:DEFAULT_BOARD.squares_x - 1], axis=0), axis=1)))
    assert step_px / (300 / 25.4) == pytest.approx(DEFAULT_BOARD.square_m * 1000, abs=0.2)


def test_light_estimate_reads_a_warm_dim_counter_as_warm_and_dim() -> None:
    pose = orbit_pose(0.5, 50.0, 0.0)
    neutral = board_frame(pose, K720, tint_rgb=(1.0, 1.0, 1.0), noise_sigma=0.0)
    grey = np.full((720, 1280, 3), 150, np.uint8)
    warm = np.clip(grey * np.array([1.0, 0.85, 0.6]), 0, 255).astype(np.uint8)
    dim = (grey * 0.3).astype(np.uint8)
    lg, lw, ld = estimate_light(grey), estimate_light(warm), estimate_light(dim)
    assert 6000 < lg.colour_temperature_k < 7000  # sRGB grey is D65
    assert lw.colour_temperature_k < 4500
    assert ld.ambient_intensity < lg.ambient_intensity / 5
    assert ld.exposure < lg.exposure
    assert lw.rgb_gain[0] > 1.0 > lw.rgb_gain[2]
    assert estimate_light(neutral).ambient_intensity > 0.0
    patch = np.zeros((10, 10, 4), np.uint8)
    patch[2:8, 2:8] = (200, 200, 200, 255)
    out = relight(patch, lw)
    assert out[5, 5, 0] > out[5, 5, 2]  # a neutral product takes the warm cast
    assert (out[..., 3] == patch[..., 3]).all()
