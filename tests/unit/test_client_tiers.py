"""The client's tier policy (showroom_client.tiers) on a fake clock: live -> views -> poster with the shared
numbers of docs/links.md, and the probes that climb back."""

from __future__ import annotations

import pytest
from showroom_client.tiered import nearest_frame, yaw_deg
from showroom_client.tiers import LIVE, POSTER, VIEWS, TierChange, TierPolicy

TICK = 0.05


def feed_live(policy: TierPolicy, start: float, end: float, fps: float, latency_s: float = 0.05
              ) -> TierChange | None:
    """Frames at `fps` from `start` to `end`, the policy checked every TICK; the first change, if any."""
    t, next_frame = start, start
    while t < end - 1e-9:
        while fps > 0 and t >= next_frame - 1e-9:
            policy.live_frame(t, latency_s)
            next_frame += 1 / fps
        change = policy.check(t)
        if change is not None:
            return change
        t = round(t + TICK, 6)
    return None


def live_policy(target_fps: float = 30) -> TierPolicy:
    policy = TierPolicy(target_fps, now=0.0)
    policy.live_opened(0.0)
    return policy


def test_live_holds_at_and_above_forty_percent_of_the_target_rate() -> None:
    policy = live_policy()
    assert feed_live(policy, 0, 30, fps=13) is None  # 43 % of 30
    assert policy.tier == LIVE and policy.changes == []


def test_a_silent_stream_is_given_its_first_two_seconds_then_falls_to_views() -> None:
    policy = live_policy()
    change = feed_live(policy, 0, 10, fps=0)
    assert change is not None and change.t == pytest.approx(2.0)
    assert (change.old, change.new) == (LIVE, VIEWS) and "no frame" in change.reason


def test_frames_of_the_grace_seconds_do_not_count_for_the_rate() -> None:
    policy = live_policy()
    assert feed_live(policy, 0, 2, fps=60) is None
    change = feed_live(policy, 2, 10, fps=10)  # 60/s in the grace would lift a window reaching back into it
    assert change is not None and change.t == pytest.approx(3.0) and "frames/s" in change.reason


def test_under_forty_percent_falls_to_views() -> None:
    policy = live_policy()
    change = feed_live(policy, 0, 10, fps=10)  # 33 % of 30
    assert change is not None and change.new == VIEWS and change.t == pytest.approx(3.0), "2 s grace + 1 s span"
    assert "frames/s" in change.reason


def test_a_sliding_window_catches_a_rate_that_falls_mid_session() -> None:
    policy = live_policy()
    assert feed_live(policy, 0, 10, fps=30) is None
    change = feed_live(policy, 10, 20, fps=5)
    # the 3 s window holds 30/s frames from before 10 s and 5/s after: under 36 frames past 10 + 2.16 s
    assert change is not None and 12.1 <= change.t <= 12.3


def test_a_late_stream_falls_to_views_on_its_median_latency() -> None:
    policy = live_policy()
    assert feed_live(policy, 0, 5, fps=30, latency_s=0.39) is None
    change = feed_live(policy, 5, 10, fps=30, latency_s=0.45)
    assert change is not None and "p50" in change.reason and 6.4 <= change.t <= 6.6


def test_views_fall_to_the_poster_when_the_manifest_does_not_come_within_five_seconds() -> None:
    policy = live_policy()
    change = feed_live(policy, 0, 10, fps=0)
    assert change is not None and change.new == VIEWS
    for i in range(200):
        t = change.t + i * TICK
        moved = policy.check(t)
        if moved is not None:
            assert moved.new == POSTER and "manifest" in moved.reason
            assert moved.t - change.t == pytest.approx(5.0)
            return
    raise AssertionError("never fell to the poster")


def fetch(policy: TierPolicy, start: float, seconds: float, ok: bool = True) -> None:
    policy.fetch_ended(policy.fetch_started(start), start + seconds, ok)


def test_views_fall_to_the_poster_on_the_median_of_the_last_five_fetches() -> None:
    policy = TierPolicy(30, now=0.0, start=VIEWS)
    policy.manifest_loaded(0.5)
    for d in (2.0, 0.1, 2.0, 0.2, 1.4):
        fetch(policy, 1.0, d)
    assert policy.check(4.0) is None  # 0.1, 0.2, 1.4, 2.0, 2.0 -> median 1.4 s
    fetch(policy, 4.0, 1.6)
    change = policy.check(6.0)  # 0.1, 2.0, 0.2, 1.4, 1.6 -> median 1.4 s: still fine
    assert change is None
    fetch(policy, 6.0, 1.7)
    change = policy.check(8.0)  # 2.0, 0.2, 1.4, 1.6, 1.7 -> median 1.6 s
    assert change is not None and change.new == POSTER and "1600 ms" in change.reason


def test_a_fetch_still_running_counts_with_its_age_and_a_failed_one_as_endless() -> None:
    policy = TierPolicy(30, now=0.0, start=VIEWS)
    policy.manifest_loaded(0.5)
    fetch(policy, 1.0, 0.1)
    fetch(policy, 1.2, 0.1)
    hung = policy.fetch_started(1.4)
    assert policy.check(2.8) is None  # 0.1, 0.1, 1.4 so far -> 0.1
    fetch(policy, 3.0, 0.0, ok=False)
    assert policy.check(3.0) is None  # 0.1, 0.1, 1.6, inf -> (0.1 + 1.6) / 2
    fetch(policy, 3.1, 0.0, ok=False)
    change = policy.check(3.2)  # 0.1, 0.1, 1.8 (running), inf, inf -> 1.8 s
    assert change is not None and change.new == POSTER
    assert hung is not None


def test_from_views_a_probe_every_ten_seconds_climbs_back_when_live_holds_for_three() -> None:
    policy = live_policy()
    down = feed_live(policy, 0, 10, fps=0)
    assert down is not None and down.new == VIEWS
    policy.manifest_loaded(down.t + 0.2)
    t = down.t
    while policy.due(t) is None:
        assert policy.check(t) is None
        t = round(t + TICK, 6)
    assert policy.due(t) == "probe_live" and t - down.t == pytest.approx(10.0)
    policy.live_opened(t)
    assert policy.probing == LIVE
    assert feed_live(policy, t, t + 2.95, fps=3) is None and policy.probing == LIVE, "judged on its third second"
    failed = feed_live(policy, t + 2.95, t + 3.05, fps=3)  # a probe that cannot carry live
    assert failed is None and policy.tier == VIEWS and policy.probing is None, "probe failed, views stay"
    t2 = t + 3.05
    while policy.due(t2) is None:
        policy.check(t2)
        t2 = round(t2 + TICK, 6)
    assert t2 - t == pytest.approx(13.0, abs=0.1), "the next probe ten seconds after the failed one ended"
    policy.live_opened(t2)
    up = feed_live(policy, t2, t2 + 10, fps=30)
    assert up is not None and (up.old, up.new) == (VIEWS, LIVE) and up.t - t2 == pytest.approx(3.0)
    assert [c.new for c in policy.changes] == [VIEWS, LIVE]


def test_from_the_poster_views_are_retried_every_ten_seconds() -> None:
    policy = TierPolicy(30, now=0.0, start=VIEWS)
    down = None
    t = 0.0
    while down is None:
        down = policy.check(t)
        t = round(t + TICK, 6)
    assert down.new == POSTER
    assert policy.due(down.t + 9.9) is None and policy.due(down.t + 10.0) == "retry_views"
    policy.views_started(down.t + 10.0)
    assert policy.due(down.t + 10.1) is None and policy.probing == VIEWS
    policy.manifest_loaded(down.t + 10.4)
    assert policy.check(down.t + 10.45) is None, "the manifest alone shows nothing"
    policy.view_shown(down.t + 10.6)
    up = policy.check(down.t + 10.65)
    assert up is not None and (up.old, up.new) == (POSTER, VIEWS)


def test_the_view_shown_is_the_one_nearest_the_heads_yaw() -> None:
    frames = [{"yaw_deg": y, "pitch_deg": p, "url": f"/views/{y}-{p}"} for p in (0, 15, 30) for y in range(0, 360, 10)]
    half = 0.5 ** 0.5
    assert yaw_deg((0.0, half, 0.0, half)) == pytest.approx(90)
    assert nearest_frame(frames, 356)["url"] == "/views/0-15"
    assert nearest_frame(frames, 94)["url"] == "/views/90-15"
