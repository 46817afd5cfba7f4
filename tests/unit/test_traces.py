"""Head traces: loading the shared format, slerp resampling to the headset rate, synthetic motion."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from showroom_client.traces import load_trace, orbit_position, resample, slerp, synthetic_motion


def _angle_deg(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = abs(sum(x * y for x, y in zip(a, b, strict=True)))
    return math.degrees(2 * math.acos(min(1.0, dot)))


def test_slerp_goes_halfway_along_the_short_arc() -> None:
    a = (0.0, 0.0, 0.0, 1.0)
    b = (0.0, math.sin(math.radians(45)), 0.0, math.cos(math.radians(45)))  # 90 deg about Y
    mid = slerp(a, b, 0.5)
    assert abs(_angle_deg(a, mid) - 45) < 1e-6
    neg_b = tuple(-c for c in b)
    assert abs(_angle_deg(a, slerp(a, neg_b, 0.5)) - 45) < 1e-6  # type: ignore[arg-type]


def test_a_shared_trace_resamples_to_72_hz_with_human_head_speeds(vr_traces: Path) -> None:
    times, quats = load_trace(vr_traces / "head_user1_quaternion.txt")
    assert len(times) > 10_000 and all(abs(sum(c * c for c in q) - 1) < 1e-9 for q in quats)
    poses = resample(times, quats, 72, 10, start_s=30)
    assert len(poses) == 720 and poses[1].t_s == 1 / 72
    speeds = [_angle_deg(a.orientation_xyzw, b.orientation_xyzw) * 72 for a, b in itertools.pairwise(poses)]
    assert max(speeds) < 720, "no jumps: slerp between neighbours"
    assert max(speeds) > 20, "the head moves"


def test_the_camera_orbits_the_product_at_the_given_distance() -> None:
    for pose in synthetic_motion(72, 2, distance_m=0.4, target_m=(0, 0.1, 0)):
        x, y, z = pose.position_m
        assert abs(math.dist((x, y, z), (0, 0.1, 0)) - 0.4) < 1e-9
    assert orbit_position((0, 0, 0, 1), 1.0, (0, 0, 0)) == (0, 0, 1.0)
