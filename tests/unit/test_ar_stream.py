"""The AR / try-on stream processor: consent up front, smoothing of the marker pose, clear status when the
marker or body part is missing (the frame goes out plain, never with a product placed at random)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from render_node.ar.errors import ConsentRequired
from render_node.ar.frames import decode_frame, parse_intrinsics, parse_pose
from render_node.ar.geometry import shape_of_points
from render_node.ar.overlay import plan_overlay
from render_node.ar.synthetic import board_frame, orbit_pose
from render_node.errors import BadRequest
from render_node.render.types import Intrinsics
from render_node.tryon.stream import CameraFrameProcessor

K = Intrinsics.from_fov(50.0, 640, 360)
MODEL = Path("bar.glb")  # never rendered here
BAR = shape_of_points(np.array([[-0.0155, 0.0, -0.0016], [0.0155, 0.055, 0.0016]]))


def test_tryon_stream_needs_consent_before_any_frame() -> None:
    with pytest.raises(ConsentRequired, match="consent"):
        CameraFrameProcessor("tryon", MODEL, BAR, anchor="neck", consent=False)


def test_ar_stream_smooths_the_marker_pose_and_reports_a_lost_marker() -> None:
    proc = CameraFrameProcessor("ar", MODEL, BAR)
    truth = orbit_pose(0.45, 50.0, 10.0)
    raw, smooth = [], []
    for i in range(6):
        frame = board_frame(truth, K, seed=i, noise_sigma=6.0)
        plan = proc.plan(frame, K, None, i / 30)
        assert plan.status == "ok" and plan.ar_job is not None and len(plan.windows) == 1
        smooth.append(plan.ar_job.translation_m)
        raw.append(plan_overlay(frame, K, None, BAR, MODEL).translation_m)
    jitter_raw = np.linalg.norm(np.diff(raw, axis=0), axis=1).mean()
    jitter_smooth = np.linalg.norm(np.diff(smooth[1:], axis=0), axis=1).mean()
    assert jitter_smooth < jitter_raw
    blank = np.full((360, 640, 3), 90, np.uint8)
    plan = proc.plan(blank, K, None, 1.0)
    assert plan.status == "no_marker" and plan.windows == () and "board" in plan.message
    assert proc.finish(plan, []) is blank  # the plain frame goes out


def test_frame_inputs_are_validated_at_the_edge() -> None:
    k = parse_intrinsics('{"fx": 1000, "fy": 1000, "cx": 640, "cy": 360, "width": 1280, "height": 720}', None, 640, 360)
    assert (k.fx, k.cx, k.width_px) == (500.0, 320.0, 640)
    assert parse_intrinsics(None, "60", 640, 360).vertical_fov_deg == pytest.approx(60.0)
    for bad in ('{"fx": "a"}', "[]", '{"fx": -1, "fy": 1, "cx": 0, "cy": 0}'):
        with pytest.raises(BadRequest):
            parse_intrinsics(bad, None, 640, 360)
    with pytest.raises(BadRequest):
        parse_intrinsics(None, "400", 640, 360)
    assert parse_pose("") is None
    pose = parse_pose('{"camera": {"position": [0, 1.5, 0.4]}, "anchor": {"position": [0, 1.0, 0]}}')
    assert pose is not None and pose.position_m == pytest.approx((0.0, 0.5, 0.4))
    with pytest.raises(BadRequest):
        parse_pose('{"position": [0, 1, NaN]}')
    with pytest.raises(BadRequest):
        decode_frame(b"GIF89a" + bytes(100))


def test_tryon_stream_tracks_a_face_holds_briefly_then_says_no_face() -> None:
    import skimage.data

    necklace = shape_of_points(np.array([[-0.065, 0.0, -0.002], [0.065, 0.15, 0.002]]))
    proc = CameraFrameProcessor("tryon", MODEL, necklace, anchor="neck", consent=True, length_mm=450.0)
    try:
        face = skimage.data.astronaut()
        k = Intrinsics.from_fov(50.0, 512, 512)
        tops = []
        for i in range(4):
            plan = proc.plan(face, k, None, i / 30)
            assert plan.status == "ok" and plan.tryon_job is not None and plan.windows
            tops.append(plan.tryon_job.fit.anchor_px[0])
        assert np.ptp(np.array(tops), axis=0).max() < 2.0  # steady on a still face
        empty = skimage.data.coffee()[:512, :512]
        held = proc.plan(empty, k, None, 4 / 30)
        assert held.status == "no_face" and held.tryon_job is not None  # the last fit, held for a moment
        gone = proc.plan(empty, k, None, 1.0)
        assert gone.status == "no_face" and gone.windows == () and gone.message == "no face in view"
    finally:
        proc.close()
