"""Try-on fitting without pixels: anchors from landmarks (a real photo for faces, synthetic landmarks with
known geometry for hands), real-size scale, the refusal to place anything without a body part, smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from render_node.ar.errors import NothingToAnchor, NotWearable
from render_node.ar.geometry import ModelShape, shape_of_points
from render_node.render.types import Intrinsics
from render_node.tryon import landmarks as L
from render_node.tryon.fitting import fit_ears, fit_finger, fit_neck, fit_wrist, hand_scale_px_per_m
from render_node.tryon.landmarks import HandLandmarks, LandmarkModels
from render_node.tryon.pipeline import anchor_for, detect_fit
from render_node.tryon.smoothing import OneEuroFilter

K = Intrinsics(1000.0, 1000.0, 640.0, 360.0, 1280, 720)


def _torus_points(inner_d_m: float, tube_m: float, axis: int = 2) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 64), np.linspace(0, 2 * np.pi, 16))
    major = inner_d_m / 2 + tube_m
    x = (major + tube_m * np.cos(v)) * np.cos(u)
    y = (major + tube_m * np.cos(v)) * np.sin(u)
    z = tube_m * np.sin(v)
    pts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    if axis == 1:
        pts = pts[:, [0, 2, 1]]
    pts[:, 1] -= pts[:, 1].min()
    return pts


RING: ModelShape = shape_of_points(_torus_points(0.0172, 0.0011))


def right_hand_back_to_camera(depth_m: float = 0.4) -> HandLandmarks:
    """A right hand, fingers up, the back of the hand towards the camera (thumb on the image's left)."""
    m = np.zeros((21, 3))
    m[0] = (0.0, 0.04, 0.0)
    for finger, x in (("index", -0.03), ("middle", -0.01), ("ring", 0.01), ("little", 0.03)):
        mcp, pip, dip, tip = L.FINGERS[finger]
        m[mcp] = (x, -0.045, 0.0)
        m[pip] = (x, -0.09, 0.0)
        m[dip] = (x, -0.115, 0.0)
        m[tip] = (x, -0.135, 0.0)
    for i, p in zip(L.FINGERS["thumb"], ((-0.03, 0.02), (-0.05, 0.0), (-0.065, -0.02), (-0.075, -0.04)), strict=True):
        m[i] = (p[0], p[1], 0.0)
    px = np.stack([K.fx * m[:, 0] / depth_m + K.cx, K.fy * m[:, 1] / depth_m + K.cy], axis=1)
    return HandLandmarks(px, m, "right", 0.98)


def _dist_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    t = float(np.clip((p - a) @ d / (d @ d), 0, 1))
    return float(np.linalg.norm(p - (a + t * d)))


def test_ring_shape_finds_the_hole_axis_and_diameter() -> None:
    assert RING.hole_axis == 2
    assert RING.hole_diameter_m == pytest.approx(0.0172, rel=0.02)
    flat = shape_of_points(_torus_points(0.0172, 0.0011, axis=1))
    assert flat.hole_axis == 1


def test_ring_sits_centred_on_the_finger_between_the_knuckles() -> None:
    hand = right_hand_back_to_camera()
    fit = fit_finger(hand, RING, K, finger="ring")
    mcp, pip = hand.points_px[13], hand.points_px[14]
    anchor = np.array(fit.anchor_px[0])
    assert _dist_to_segment(anchor, mcp, pip) < 0.5
    along = float((anchor - mcp) @ (pip - mcp) / ((pip - mcp) @ (pip - mcp)))
    assert 0.35 < along < 0.65
    placed = fit.pieces[0].placed
    hole_axis_cam = placed.rotation @ np.array([0.0, 0.0, 1.0])
    assert abs(hole_axis_cam[1]) > 0.99  # the finger points up the image
    top_cam = placed.rotation @ np.array([0.0, 1.0, 0.0])
    assert top_cam[2] < -0.99  # the ring's top (a stone) faces out of the back of the hand, towards the camera


def test_ring_size_follows_the_hand_scale_at_real_size() -> None:
    hand = right_hand_back_to_camera(depth_m=0.4)
    assert hand_scale_px_per_m(hand) == pytest.approx(K.fx / 0.4, rel=1e-6)
    fit = fit_finger(hand, RING, K, scale=17.8 / 17.2)
    assert fit.px_per_mm == pytest.approx(2.5, rel=1e-6)
    placed = fit.pieces[0].placed
    half = np.array([RING.hole_diameter_m / 2, 0.0, 0.0])
    rim = placed.to_camera(np.stack([RING.hole_centre_m + half, RING.hole_centre_m - half]))
    diameter_px = np.linalg.norm((rim[0, :2] / rim[0, 2] - rim[1, :2] / rim[1, 2]) * K.fx)
    assert diameter_px / fit.px_per_mm == pytest.approx(17.8, rel=0.02)
    occ = fit.pieces[0].occluder
    assert occ is not None and occ.split_depth_m == pytest.approx(0.4, rel=0.02)


def test_bangle_goes_round_the_wrist_below_the_palm() -> None:
    hand = right_hand_back_to_camera()
    bangle = shape_of_points(_torus_points(0.058, 0.0025))
    fit = fit_wrist(hand, bangle, K)
    anchor = np.array(fit.anchor_px[0])
    wrist = hand.points_px[0]
    along_arm = (wrist - hand.points_px[9]) / np.linalg.norm(wrist - hand.points_px[9])
    offset = anchor - wrist
    assert float(offset @ along_arm) > 0  # further down the forearm than the wrist crease
    assert abs(float(offset @ np.array([-along_arm[1], along_arm[0]]))) < 0.5  # on the forearm's axis
    axis = fit.pieces[0].placed.rotation @ np.array([0.0, 0.0, 1.0])
    assert abs(axis[1]) > 0.99


@pytest.fixture(scope="module")
def astronaut_face() -> L.FaceLandmarks:
    models = LandmarkModels(static=True)
    face = models.face(skimage.data.astronaut())
    models.close()
    assert face is not None and face.source == "face_mesh"
    return face


def test_the_iris_gives_a_real_scale_that_agrees_with_the_eye_distance(astronaut_face: L.FaceLandmarks) -> None:
    fit = fit_neck(astronaut_face, RING, K)
    p = astronaut_face.points_px
    ipd_mm = float(np.linalg.norm(p[468, :2] - p[473, :2])) / fit.px_per_mm
    assert fit.reference == "iris"
    assert 56.0 < ipd_mm < 68.0  # adult interpupillary distances (mean ~62 mm)


def test_necklace_hangs_below_the_chin_centred_on_the_neck(astronaut_face: L.FaceLandmarks) -> None:
    necklace = shape_of_points(np.array([[-0.065, 0.0, 0.0], [0.065, 0.15, 0.003], [0.0, 0.0, -0.003]]))
    fit = fit_neck(astronaut_face, necklace, K, length_mm=450)
    p = astronaut_face.points_px
    top = np.array(fit.anchor_px[0])
    chin = p[L.CHIN, :2]
    face_w = float(np.linalg.norm(p[L.CHEEK_IMG_RIGHT, :2] - p[L.CHEEK_IMG_LEFT, :2]))
    assert top[1] > chin[1] + 0.1 * face_w  # below the chin
    assert abs(top[0] - chin[0]) < 0.15 * face_w  # on the neck's centre line
    shorter = fit_neck(astronaut_face, necklace, K, length_mm=400)
    assert shorter.anchor_px[0][1] < top[1]  # a shorter chain is placed higher


def test_earrings_go_to_both_lobes_beside_the_face(astronaut_face: L.FaceLandmarks) -> None:
    pair = shape_of_points(np.array([[-0.01, 0.0, -0.002], [0.01, 0.006, 0.002]]))
    fit = fit_ears(astronaut_face, pair, K)
    assert len(fit.pieces) == 2
    (lx, ly), (rx, ry) = fit.anchor_px
    p = astronaut_face.points_px
    assert lx < p[L.CHEEK_IMG_LEFT, 0] + 5 and rx > p[L.CHEEK_IMG_RIGHT, 0] - 5
    assert p[L.NASION, 1] < ly < p[L.CHIN, 1] and p[L.NASION, 1] < ry < p[L.CHIN, 1]
    assert fit.pieces[0].placed.part_max_m is not None and fit.pieces[1].placed.part_min_m is not None


def test_no_face_or_hand_is_a_clear_refusal_never_a_random_placement() -> None:
    models = LandmarkModels(static=True)
    try:
        empty = skimage.data.coffee()
        with pytest.raises(NothingToAnchor, match="no face"):
            detect_fit(empty, "neck", RING, models)
        with pytest.raises(NothingToAnchor, match="no hand"):
            detect_fit(empty, "finger", RING, models)
    finally:
        models.close()


def test_haar_cascade_finds_the_face_when_the_mesh_is_not_used(astronaut_face: L.FaceLandmarks) -> None:
    models = LandmarkModels(static=True)
    face = models._haar_face(skimage.data.astronaut())
    assert face is not None and face.source == "haar" and not face.has_iris
    x, y, w, h = face.box_px
    mx, my, mw, mh = astronaut_face.box_px
    assert abs((x + w / 2) - (mx + mw / 2)) < 0.2 * mw and abs((y + h / 2) - (my + mh / 2)) < 0.3 * mh
    fit = fit_neck(face, RING, K)
    assert fit.reference == "face_width"


def test_products_are_worn_only_where_they_belong() -> None:
    assert anchor_for("ring", "finger", None) == "finger"
    assert anchor_for("bangle", None, None) == "wrist"
    with pytest.raises(NotWearable):
        anchor_for("gold_bar", None, None)
    with pytest.raises(NotWearable, match="finger"):
        anchor_for("ring", "finger", "neck")


def test_one_euro_filter_removes_jitter_yet_follows_motion() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.02)
    t = np.arange(120) / 30.0
    still = 100.0 + rng.normal(0, 2.0, (120, 2))
    out = np.array([f(x, ti) for x, ti in zip(still, t, strict=True)])
    assert out[30:].std(axis=0).max() < still[30:].std(axis=0).min() / 2.5
    g = OneEuroFilter(min_cutoff_hz=1.0, beta=0.02)
    moving = np.stack([100 + 300 * t, 100 + 0 * t], axis=1) + rng.normal(0, 2.0, (120, 2))
    out = np.array([g(x, ti) for x, ti in zip(moving, t, strict=True)])
    lag_px = float(np.abs(out[60:, 0] - (100 + 300 * t[60:])).mean())
    assert lag_px < 15.0  # 300 px/s: well under a twentieth of a second behind
    assert np.array_equal(g(moving[-1], t[-1]), out[-1])  # a repeated timestamp changes nothing
