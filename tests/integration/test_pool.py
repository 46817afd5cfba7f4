"""The render pool: frames through shared memory, errors carried back, crashed and stuck workers replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from render_node.errors import Overloaded
from render_node.metrics import NodeMetrics
from render_node.pool import RenderPool
from render_node.render.errors import ModelInvalid
from render_node.render.types import CameraPose, Intrinsics, RenderRequest, StereoView, TurntableView
from tests.tiny_renderer import make_tiny_renderer
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


def _req(name: str = "ring.glb", yaw_deg: float = 0.0, size: tuple[int, int] = (64, 48)) -> RenderRequest:
    return RenderRequest(Path(name), TurntableView(yaw_deg=yaw_deg), size_px=size)


async def test_workers_hand_back_frames_of_the_requested_size_and_content() -> None:
    pool = RenderPool(make_tiny_renderer, workers=2)
    await pool.start()
    try:
        frames = await asyncio.gather(*(pool.render(_req(yaw_deg=10.0 * i)) for i in range(8)))
        assert all(f.shape == (48, 64, 4) and f.dtype == np.uint8 for f in frames)
        centres = {tuple(int(c) for c in f[24, 32, :3]) for f in frames}
        assert len(centres) == 8, "each yaw has its own colour, so no frame was overwritten by another"
        assert len(set(pool.worker_pids())) == 2
    finally:
        await pool.close()


async def test_stereo_frames_are_twice_as_wide() -> None:
    pool = RenderPool(make_tiny_renderer, workers=1)
    await pool.start()
    try:
        view = StereoView(CameraPose((0, 0, 0.6)), Intrinsics.from_fov(90, 40, 30))
        frame = await pool.render(RenderRequest(Path("ring.glb"), view, size_px=(40, 30)))
        assert frame.shape == (30, 80, 4)
        assert not np.array_equal(frame[15, 20], frame[15, 60]), "left and right eyes differ"
    finally:
        await pool.close()


async def test_renderer_errors_come_back_as_the_same_error() -> None:
    pool = RenderPool(make_tiny_renderer, workers=1)
    await pool.start()
    try:
        with pytest.raises(ModelInvalid):
            await pool.render(_req("broken.glb"))
        assert (await pool.render(_req())).shape == (48, 64, 4)
        assert pool.restarts == 0
    finally:
        await pool.close()


async def test_a_crashed_worker_fails_its_job_with_overloaded_and_is_replaced() -> None:
    metrics = NodeMetrics()
    pool = RenderPool(make_tiny_renderer, workers=1, metrics=metrics)
    await pool.start()
    try:
        with pytest.raises(Overloaded):
            await pool.render(_req("crash.glb"), timeout_s=20)
        frame = await pool.render(_req(), timeout_s=60)
        assert frame.shape == (48, 64, 4)
        assert pool.restarts == 1
        assert b"showroom_worker_restarts_total" in metrics.exposition()
    finally:
        await pool.close()


async def test_a_stuck_worker_is_killed_after_the_timeout_and_replaced() -> None:
    pool = RenderPool(make_tiny_renderer, workers=1)
    await pool.start()
    try:
        pid = pool.worker_pids()[0]
        with pytest.raises(Overloaded):
            await pool.render(_req("hang.glb"), timeout_s=1.0)
        assert (await pool.render(_req(), timeout_s=60)).shape == (48, 64, 4)
        assert pool.worker_pids() != [pid]
    finally:
        await pool.close()


async def test_a_worker_killed_from_outside_is_replaced() -> None:
    pool = RenderPool(make_tiny_renderer, workers=1)
    await pool.start()
    try:
        pid = pool.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: pid not in pool.worker_pids(), what=f"worker {pid} to die")
        assert (await pool.render(_req(), timeout_s=60)).shape == (48, 64, 4), "the dead idle worker was replaced"
        assert pool.restarts == 1 and pool.worker_pids() != [pid]
    finally:
        await pool.close()


async def test_in_process_mode_renders_on_a_thread() -> None:
    pool = RenderPool(make_tiny_renderer, workers=0)
    await pool.start()
    try:
        assert (await pool.render(_req(size=(20, 10)))).shape == (10, 20, 4)
        assert pool.worker_pids() == []
    finally:
        await pool.close()


async def test_live_frames_jump_the_queue_of_view_set_frames() -> None:
    from render_node.pool import PRIORITY_LIVE, PRIORITY_VIEW
    from tests.tiny_renderer import make_slow_renderer

    pool = RenderPool(make_slow_renderer, workers=1)
    await pool.start()
    try:
        order: list[str] = []

        async def job(name: str, priority: int) -> None:
            await pool.render(_req(yaw_deg=len(order)), priority=priority)
            order.append(name)

        views = [asyncio.create_task(job(f"view{i}", PRIORITY_VIEW)) for i in range(6)]
        # the first view is in hand; at least four still wait, so `live` can only come after one or two views
        await wait_until(lambda: pool.queued >= 4, what="view-set frames waiting for the one worker")
        live = asyncio.create_task(job("live", PRIORITY_LIVE))
        await asyncio.gather(live, *views)
        assert order.index("live") <= 2, order
    finally:
        await pool.close()
