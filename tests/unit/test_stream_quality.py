"""Adaptive stream quality: steps down on sustained over-budget frames, not on one slow frame; climbs back."""

from __future__ import annotations

from render_node.stream.quality import FrameBudget, Quality, QualityController

BUDGET = FrameBudget(target_fps=60, max_kbps=50_000)


def test_a_new_stream_starts_at_full_resolution_and_good_quality() -> None:
    controller = QualityController(BUDGET)
    assert controller.current == Quality(jpeg_quality=80, scale=1.0)
    assert controller.current.size_px(1280, 720) == (1280, 720)


def test_one_slow_frame_changes_nothing() -> None:
    controller = QualityController(BUDGET)
    for _ in range(5):
        controller.observe(frame_bytes=20_000, busy_s=0.005)
    assert controller.observe(frame_bytes=20_000, busy_s=0.5) == Quality(80, 1.0)


def test_frames_over_the_bitrate_lower_quality_first_then_resolution() -> None:
    controller = QualityController(FrameBudget(target_fps=60, max_kbps=10_000))
    qualities = [controller.observe(frame_bytes=400_000, busy_s=0.005) for _ in range(60)]  # 192 Mbit/s wanted
    first_smaller = next(i for i, q in enumerate(qualities) if q.scale < 1.0)
    assert all(q.scale == 1.0 for q in qualities[:first_smaller])
    assert qualities[first_smaller - 1].jpeg_quality == QualityController.MIN_JPEG_QUALITY, "quality went first"
    assert qualities[-1].jpeg_quality == QualityController.MIN_JPEG_QUALITY and qualities[-1].scale < 1.0


def test_missed_frame_times_lower_resolution_and_room_raises_it_back() -> None:
    controller = QualityController(BUDGET)
    for _ in range(30):
        low = controller.observe(frame_bytes=10_000, busy_s=0.05)  # 50 ms per frame for a 16.7 ms budget
    assert low.scale < 0.8 and low.jpeg_quality == 80
    width_px, height_px = low.size_px(1280, 720)
    assert width_px < 1024 and height_px < 576 and width_px % 2 == height_px % 2 == 0
    for _ in range(400):
        high = controller.observe(frame_bytes=10_000, busy_s=0.002)
    assert high.scale == 1.0 and high.jpeg_quality > 80
    assert controller.current == high


def test_resolution_never_drops_below_its_floor() -> None:
    controller = QualityController(BUDGET)
    for _ in range(500):
        q = controller.observe(frame_bytes=10_000, busy_s=1.0)
    assert q.scale == QualityController.MIN_SCALE
    assert Quality(scale=0.01).size_px(320, 240) == (16, 16)
