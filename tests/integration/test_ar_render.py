"""AR overlays rendered for real (panda3d offscreen): a board drawn by our own renderer gives back the camera
pose; a gold bar stands on the printed board with a contact shadow; a client pose places it without a board."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
from PIL import Image

from render_node.ar.board import DEFAULT_BOARD, detect_board
from render_node.ar.geometry import model_shape
from render_node.ar.overlay import finish_overlay, plan_overlay
from render_node.ar.pose import camera_pose_from_board, matrix_from_quat
from render_node.ar.synthetic import board_frame, board_transform_for, orbit_pose
from render_node.render.types import Intrinsics, PoseView, RenderRequest
from tests import ar_models

pytestmark = pytest.mark.gl

K = Intrinsics.from_fov(50.0, 1280, 720)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(ar_models.env_dir(tmp_path_factory.mktemp("env")))
    yield r
    r.close()


def _board_model(path: Path) -> Path:
    """The printed board as a flat textured quad on Y = 0, centred, its top edge towards -Z."""
    w, h = DEFAULT_BOARD.width_m, DEFAULT_BOARD.height_m
    pad = 0.02
    img = np.full((round((h + 2 * pad) * 8000), round((w + 2 * pad) * 8000)), 255, np.uint8)
    board = DEFAULT_BOARD.image(8.0)
    y0, x0 = round(pad * 8000), round(pad * 8000)
    img[y0:y0 + board.shape[0], x0:x0 + board.shape[1]] = board
    hw, hh = w / 2 + pad, h / 2 + pad
    verts = np.array([[-hw, 0, -hh], [hw, 0, -hh], [hw, 0, hh], [-hw, 0, hh]])
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], dtype=float)
    material = trimesh.visual.material.PBRMaterial(
        name="paper", baseColorTexture=Image.fromarray(img).convert("RGB"), metallicFactor=0.0, roughnessFactor=1.0)
    mesh = trimesh.Trimesh(verts, faces, visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
                           process=False)
    trimesh.Scene(mesh).export(str(path))
    return path


def test_a_board_rendered_by_our_renderer_gives_back_its_camera_pose(renderer, tmp_path: Path) -> None:
    model = _board_model(tmp_path / "board.glb")
    truth = orbit_pose(0.5, 55.0, 20.0)
    rgba = renderer.render(RenderRequest(model, PoseView(truth, K), size_px=(1280, 720), background="white",
                                         shadow=False))
    gray = cv2.cvtColor(rgba[..., :3], cv2.COLOR_RGB2GRAY)
    board = detect_board(gray, K)
    r_true, t_true = board_transform_for(truth)
    centre = np.array([DEFAULT_BOARD.width_m / 2, DEFAULT_BOARD.height_m / 2, 0.0])
    marker_error_mm = 1000 * float(np.linalg.norm(board.rotation @ centre + board.translation_m
                                                  - (r_true @ centre + t_true)))
    angle_deg = math.degrees(float(np.linalg.norm(cv2.Rodrigues(board.rotation @ r_true.T)[0])))
    assert marker_error_mm < 2.0  # the marker's position in the camera
    assert angle_deg < 1.0
    found = camera_pose_from_board(board)
    rel = matrix_from_quat(found.orientation_xyzw) @ matrix_from_quat(truth.orientation_xyzw).T
    assert math.degrees(float(np.linalg.norm(cv2.Rodrigues(rel)[0]))) < 1.0
    assert 1000 * math.dist(found.position_m, truth.position_m) < 5.0  # the camera, half a metre away


def test_a_gold_bar_stands_on_the_printed_board_with_a_soft_shadow(renderer, tmp_path: Path) -> None:
    model = ar_models.gold_bar(tmp_path / "bar.glb", (31.0, 55.0, 3.1))
    shape = model_shape(model)
    pose = orbit_pose(0.42, 35.0, 15.0)
    frame = board_frame(pose, K)
    job = plan_overlay(frame, K, None, shape, model)
    assert job.source == "marker" and job.window is not None
    rgba = renderer.render(job.window.request)
    composite = finish_overlay(frame, job, rgba, "composite")
    overlay = finish_overlay(frame, job, rgba, "overlay")
    r, t = job.rotation, job.translation_m

    def px(p: tuple[float, float, float]) -> tuple[int, int]:
        c = r @ np.array(p) + t
        return round(K.fx * c[0] / c[2] + K.cx), round(K.fy * c[1] / c[2] + K.cy)

    mx, my = px((0.0, 0.0275, 0.0))  # the middle of the bar
    r_, g_, b_ = composite[my, mx].astype(int)
    assert r_ > b_ + 40 and g_ > b_  # gold, not the board behind it
    top_x, top_y = px((0.0, 0.056, 0.0))
    assert overlay[top_y + 3, top_x, 3] > 200 and overlay[top_y - 6, top_x, 3] < 40  # the bar is 55 mm tall
    # the shadow: translucent black around the base in the overlay, darker board there in the composite
    foot = [px((-0.024, 0.0, 0.0)), px((0.024, 0.0, 0.0)), px((0.0, 0.0, 0.008)), px((0.012, 0.0, 0.008))]
    shadow_alpha = [int(overlay[y, x, 3]) for x, y in foot]
    assert max(shadow_alpha) > 60
    assert all(a < 250 for a in shadow_alpha)
    shade = (overlay[..., 3] > 40) & (overlay[..., 3] < 250) & (frame.min(axis=2) > 150)  # on white paper
    assert shade.sum() > 50
    darker = frame[shade].astype(int).sum(axis=1) - composite[shade].astype(int).sum(axis=1)
    assert float(darker.mean()) > 60
    far_x, far_y = px((0.1, 0.0, 0.07))
    assert abs(int(frame[far_y, far_x].sum()) - int(composite[far_y, far_x].sum())) < 6  # only near the bar


def test_a_client_pose_places_the_product_without_a_board(renderer, tmp_path: Path) -> None:
    model = ar_models.gold_bar(tmp_path / "bar.glb", (31.0, 55.0, 3.1))
    shape = model_shape(model)
    frame = np.full((720, 1280, 3), 120, np.uint8)
    pose = orbit_pose(0.4, 20.0, 0.0)
    job = plan_overlay(frame, K, pose, shape, model)
    assert job.source == "pose" and job.window is not None
    overlay = finish_overlay(frame, job, renderer.render(job.window.request), "overlay")
    ys, xs = np.nonzero(overlay[..., 3] > 200)
    assert abs(float(xs.mean()) - 640) < 10  # standing at the anchor, which the camera looks at
    assert 0.045 * K.fy / 0.4 * 0.8 < ys.max() - ys.min() < 0.060 * K.fy / 0.4 * 1.2  # ~55 mm tall at 0.4 m
