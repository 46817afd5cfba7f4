"""Camera math and the glTF reader, without GL."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from render_node.render import cameras
from render_node.render.errors import ModelInvalid, RequestInvalid
from render_node.render.gltf import read_gltf
from render_node.render.types import CameraPose, Intrinsics, StereoView, TurntableView
from tests.render_models import box_with_cameras, write_glb

BOUNDS = (np.array([-0.02, 0.0, -0.01]), np.array([0.02, 0.003, 0.01]))  # a 40 x 3 x 20 mm bar


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


@pytest.mark.parametrize(("yaw", "pitch"), [(0, 0), (30, 15), (90, 45), (200, -10), (359, 80)])
def test_turntable_keeps_the_whole_product_in_frame(yaw: float, pitch: float) -> None:
    eye = cameras.turntable_camera(TurntableView(yaw, pitch), BOUNDS, (1280, 720))
    px = cameras.project_points(eye, _corners(*BOUNDS))
    assert (px[:, 0] > 0).all() and (px[:, 0] < 1280).all()
    assert (px[:, 1] > 0).all() and (px[:, 1] < 720).all()


def test_turntable_yaw_zero_looks_at_the_front_and_positive_yaw_walks_towards_plus_x() -> None:
    front = cameras.turntable_camera(TurntableView(0, 0), BOUNDS, (640, 480))
    assert front.position_m[2] > 0 and abs(front.position_m[0]) < 1e-9
    np.testing.assert_allclose(front.camera_to_world[:3, 2], [0, 0, 1], atol=1e-9)  # looks along -Z
    side = cameras.turntable_camera(TurntableView(90, 0), BOUNDS, (640, 480))
    assert side.position_m[0] > 0 and abs(side.position_m[2]) < 1e-9
    above = cameras.turntable_camera(TurntableView(0, 30), BOUNDS, (640, 480))
    assert above.position_m[1] > 0.0015


def test_turntable_distance_is_the_same_at_every_yaw() -> None:
    centre = (BOUNDS[0] + BOUNDS[1]) / 2
    d = [np.linalg.norm(cameras.turntable_camera(TurntableView(y, 20), BOUNDS, (640, 480)).position_m - centre) for y in range(0, 360, 15)]
    assert max(d) - min(d) < 1e-9


def test_turntable_fills_the_frame_and_distance_scale_moves_away() -> None:
    eye = cameras.turntable_camera(TurntableView(0, 0), BOUNDS, (1000, 1000))
    px = cameras.project_points(eye, _corners(*BOUNDS))
    span = (px.max(0) - px.min(0)).max()
    assert 0.5 * 1000 < span <= cameras.FILL_FRACTION * 1000 + 1
    far = cameras.turntable_camera(TurntableView(0, 0, distance_scale=2.0), BOUNDS, (1000, 1000))
    assert np.linalg.norm(far.position_m) > 1.9 * np.linalg.norm(eye.position_m - (BOUNDS[0] + BOUNDS[1]) / 2)


def test_projection_honours_an_off_centre_principal_point() -> None:
    k = Intrinsics(800.0, 820.0, 300.0, 200.0, 640, 480)
    eye = cameras.EyeCamera(np.eye(4), k, 0.01, 100.0)
    # A point 2 m ahead, 0.1 m right and 0.05 m up.
    px = cameras.project_points(eye, np.array([[0.1, 0.05, -2.0]]))[0]
    np.testing.assert_allclose(px, [300 + 800 * 0.1 / 2, 200 - 820 * 0.05 / 2], atol=1e-6)


def test_stereo_eyes_sit_half_an_ipd_either_side_along_the_heads_x() -> None:
    yaw = math.radians(90)  # head turned left: its right (+X) now points along world -Z
    head = CameraPose((1.0, 1.6, 0.0), (0.0, math.sin(yaw / 2), 0.0, math.cos(yaw / 2)))
    left, right = cameras.stereo_cameras(StereoView(head, Intrinsics.from_fov(90, 960, 1080), ipd_m=0.064))
    sep = right.position_m - left.position_m
    assert np.linalg.norm(sep) == pytest.approx(0.064)
    np.testing.assert_allclose(sep / 0.064, cameras.quat_to_matrix(head.orientation_xyzw)[:, 0], atol=1e-9)
    np.testing.assert_allclose((left.position_m + right.position_m) / 2, head.position_m, atol=1e-12)


def test_zero_quaternion_is_refused() -> None:
    with pytest.raises(RequestInvalid):
        cameras.quat_to_matrix((0.0, 0.0, 0.0, 0.0))


def test_size_for_aspect_keeps_the_height_and_an_even_width() -> None:
    assert cameras.size_for_aspect(2.0, 720) == (1440, 720)
    w, h = cameras.size_for_aspect(1.7777, 721)
    assert h == 721 and w % 2 == 0


def test_gltf_reader_gives_cameras_with_their_world_pose_and_flat_normals_when_missing(tmp_path: Path) -> None:
    half = math.radians(90) / 2
    path = box_with_cameras(
        tmp_path / "box.glb",
        [
            {"translation": [0, 0, 5], "yfov": 0.7, "aspectRatio": 1.5},
            {"translation": [5, 0, 0], "rotation": [0, math.sin(half), 0, math.cos(half)], "yfov": 0.5},
        ],
    )
    asset = read_gltf(path)
    cams = asset.camera_nodes()
    assert len(cams) == 2
    assert cams[0][0].yfov_rad == pytest.approx(0.7) and cams[0][0].aspect_ratio == pytest.approx(1.5)
    np.testing.assert_allclose(cams[1][1][:3, 3], [5, 0, 0])
    np.testing.assert_allclose(cams[1][1][:3, 2], [1, 0, 0], atol=1e-9)  # turned to look along -X at the box
    prim = asset.meshes[0][0]
    assert prim.normals is not None and len(prim.positions) == len(prim.indices) == 36
    lo, hi = asset.bounds()
    np.testing.assert_allclose(lo, [-0.5] * 3)
    np.testing.assert_allclose(hi, [0.5] * 3)
    assert asset.materials[0].name == "paint"


def _one_triangle_doc(**accessor: object) -> tuple[dict[str, object], bytes]:
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes()
    acc = {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}
    acc.update(accessor)
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(pos)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(pos)}],
        "accessors": [acc],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
    }
    return doc, pos


def test_gltf_reader_names_what_is_broken(tmp_path: Path) -> None:
    doc, data = _one_triangle_doc(count=30)
    with pytest.raises(ModelInvalid, match=r"accessors\[0\].*past the end"):
        read_gltf(write_glb(tmp_path / "short.glb", doc, data))
    doc, data = _one_triangle_doc()
    doc["asset"] = {"version": "1.0"}
    with pytest.raises(ModelInvalid, match="glTF 2.0"):
        read_gltf(write_glb(tmp_path / "old.glb", doc, data))
    doc, data = _one_triangle_doc()
    doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    with pytest.raises(ModelInvalid, match="KHR_draco_mesh_compression"):
        read_gltf(write_glb(tmp_path / "draco.glb", doc, data))
    (tmp_path / "junk.glb").write_bytes(b"not a model at all")
    with pytest.raises(ModelInvalid):
        read_gltf(tmp_path / "junk.glb")
    doc, data = _one_triangle_doc()
    assert read_gltf(write_glb(tmp_path / "ok.glb", doc, data)).triangle_count == 1
