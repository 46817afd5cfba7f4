"""Adaptive stream quality: steps down on sustained over-budget frames, not on one slow frame; climbs back."""

from __future__ import annotations

from render_node.sessions import _Quality


def test_one_slow_frame_changes_nothing() -> None:
    q = _Quality()
    for _ in range(5):
        q.adapt(20_000, 0.005, 60, 50_000)
    q.adapt(20_000, 0.5, 60, 50_000)
    assert (q.jpeg_quality, q.scale) == (80, 1.0)


def test_frames_over_the_bitrate_lower_quality_first_then_resolution() -> None:
    q = _Quality()
    for _ in range(60):
        q.adapt(400_000, 0.005, 60, 10_000)  # 192 Mbit/s wanted, 10 allowed
    assert q.jpeg_quality == _Quality.MIN_Q
    assert q.scale < 1.0


def test_missed_frame_times_lower_resolution_and_room_raises_it_back() -> None:
    q = _Quality()
    for _ in range(30):
        q.adapt(10_000, 0.05, 60, 50_000)  # 50 ms per frame for a 16.7 ms budget
    low = q.scale
    assert low < 0.8 and q.jpeg_quality == 80
    for _ in range(400):
        q.adapt(10_000, 0.002, 60, 50_000)
    assert q.scale == 1.0 and q.jpeg_quality > 80
