"""The live stream over a real WebSocket: hello/welcome, frames with a correct header, stereo, H.264,
latest-pose-wins under a flood, limits and close codes, GOING_AWAY on shutdown, and the Python client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import showroom_protocol as protocol
from showroom_client.stream import play_vr
from showroom_client.traces import synthetic_motion
from showroom_protocol import Hello, parse_frame

from render_node.encoding import decode_image
from render_node.keys import SESSIONS
from render_node.stream.registry import StreamLimits
from tests.e2e.conftest import Node, start_node
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


def _hello(product: str, **kw: Any) -> dict[str, Any]:
    msg = {"type": "hello", "client": "vr", "product": product, "viewport": {"width": 160, "height": 120},
           "eyes": 1, "fov_deg": 60, "ipd_m": 0.064, "codec": "jpeg", "max_kbps": 50000, "target_fps": 60}
    msg.update(kw)
    return msg


def _pose(seq: int, yaw_deg: float = 0.0) -> dict[str, Any]:
    import math

    h = math.radians(yaw_deg) / 2
    return {"type": "pose", "seq": seq, "t": time.time(), "position": [0, 0.02, 0.4],
            "orientation": [0, math.sin(h), 0, math.cos(h)]}


async def _next_binary(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 10.0) -> bytes:
    while True:
        msg = await ws.receive(timeout=timeout_s)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type} {msg.extra}"


async def test_hello_poses_and_frames_with_a_correct_header(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(first_product))
        welcome = await ws.receive_json(timeout=5)
        assert welcome["type"] == "welcome" and welcome["session_id"]
        assert welcome["header"] == {"magic": "SRF1", "version": 1, "size": protocol.HEADER_SIZE}
        t_before = time.time()
        await ws.send_json(_pose(7, yaw_deg=30))
        header, payload = parse_frame(await _next_binary(ws))
        assert header.seq == 7 and header.codec == "jpeg" and header.eyes == 1 and header.keyframe
        assert abs(header.client_t - t_before) < 1.0
        stamps = [header.t_receive, header.t_render_start, header.t_render_end, header.t_encode_end,
                  header.t_send]
        assert stamps == sorted(stamps) and stamps[0] >= t_before - 0.01
        image = decode_image(payload)
        assert image.shape == (120, 160, 3) and (header.width_px, header.height_px) == (160, 120)


async def test_stereo_frames_hold_two_eyes_side_by_side(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(first_product, eyes=2, viewport={"width": 96, "height": 80}))
        assert (await ws.receive_json(timeout=5))["stereo_layout"] == "side_by_side_left_first"
        await ws.send_json(_pose(0))
        header, payload = parse_frame(await _next_binary(ws))
        image = decode_image(payload)
        assert header.stereo and image.shape == (80, 192, 3)
        left, right = image[40, 48].astype(int), image[40, 144].astype(int)
        assert np.abs(left - right).max() > 60, "each eye is its own render"


async def test_h264_frames_decode_to_the_viewport_size(node: Node, first_product: str) -> None:
    import av

    codec = av.CodecContext.create("h264", "r")
    async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(first_product, codec="h264"))
        await ws.receive_json(timeout=5)
        decoded = []
        for i in range(3):
            await ws.send_json(_pose(i, yaw_deg=10 * i))
            header, payload = parse_frame(await _next_binary(ws))
            assert header.codec == "h264" and header.keyframe == (i == 0)
            for packet in codec.parse(payload):
                decoded.extend(codec.decode(packet))
        assert decoded and (decoded[0].width, decoded[0].height) == (160, 120)


async def test_latest_pose_wins_under_a_flood(slow_node: Node) -> None:
    product = slow_node.catalog.products[0].id
    async with aiohttp.ClientSession() as s, s.ws_connect(slow_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(product, target_fps=120))
        await ws.receive_json(timeout=5)
        for i in range(300):
            await ws.send_json(_pose(i, yaw_deg=i))
        seqs: list[int] = []
        while not seqs or seqs[-1] != 299:
            header, _ = parse_frame(await _next_binary(ws, 10))
            seqs.append(header.seq)
        assert seqs == sorted(seqs), "frames follow pose order"
        assert len(seqs) < 60, f"{len(seqs)} frames for 300 poses: the node queued poses"


async def _closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    reason = ""
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type == aiohttp.WSMsgType.TEXT:
            continue
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            reason = msg.extra or ""
            break
        if msg.type == aiohttp.WSMsgType.ERROR:
            break
    return ws.close_code, str(reason)


async def test_sessions_past_the_limit_are_refused_with_a_reason(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s:
        open_ws = []
        for _ in range(3):
            ws = await s.ws_connect(node.base + "/ws/stream")
            await ws.send_json(_hello(first_product))
            assert (await ws.receive_json(timeout=5))["type"] == "welcome"
            open_ws.append(ws)
        extra = await s.ws_connect(node.base + "/ws/stream")
        code, reason = await _closed_with(extra)
        assert code == protocol.CLOSE_TRY_AGAIN_LATER and "full" in reason
        for ws in open_ws:
            await ws.close()
        registry = node.app[SESSIONS]
        await wait_until(lambda: registry.taken == 0, what="the closed sessions to give back their slots")
        again = await s.ws_connect(node.base + "/ws/stream")
        await again.send_json(_hello(first_product))
        assert (await again.receive_json(timeout=5))["type"] == "welcome", "a freed slot is usable again"
        await again.close()
        metrics = await (await s.get(node.base + "/metrics")).text()
        assert 'showroom_stream_sessions_refused_total{reason="max_sessions"} 1.0' in metrics


async def test_hellos_sent_together_never_get_past_the_session_cap(tmp_path: Path, project_root: Path) -> None:
    node, runner = await start_node(tmp_path, project_root, workers=1, limits=StreamLimits(max_sessions=8))
    product = node.catalog.products[0].id
    try:
        async with aiohttp.ClientSession() as s:

            async def connect() -> tuple[aiohttp.ClientWebSocketResponse, str, int | None, str]:
                """One client: connect, send the hello at once; (socket, "welcome" or "refused", code, reason)."""
                ws = await s.ws_connect(node.base + "/ws/stream")
                await ws.send_json(_hello(product))
                first = await ws.receive(timeout=10)
                if first.type == aiohttp.WSMsgType.TEXT and first.json()["type"] == "welcome":
                    return ws, "welcome", None, ""
                code, reason = await _closed_with(ws)
                return ws, "refused", code, reason

            async with asyncio.timeout(60):  # none hangs
                outcomes = await asyncio.gather(*(connect() for _ in range(20)))
            try:
                welcomed = [o for o in outcomes if o[1] == "welcome"]
                refused = [o for o in outcomes if o[1] == "refused"]
                assert len(welcomed) == 8 and len(refused) == 12, [o[1:] for o in outcomes]
                assert all(code == protocol.CLOSE_TRY_AGAIN_LATER and "full" in reason
                           for _, _, code, reason in refused), [o[1:] for o in refused]
                assert len(node.app[SESSIONS]) == 8
            finally:
                for ws, *_ in outcomes:
                    await ws.close()
            metrics = await (await s.get(node.base + "/metrics")).text()
            assert 'showroom_stream_sessions_refused_total{reason="max_sessions"} 12.0' in metrics
    finally:
        await runner.cleanup()
        await node.pool.close()


@pytest.mark.parametrize(("messages", "code", "words"), [
    (["{not json"], protocol.CLOSE_INVALID_DATA, "JSON"),
    (['{"type": "pose"}'], protocol.CLOSE_BAD_HELLO, "hello"),
    (['{"type": "hello", "client": "vr", "product": "nope", "viewport": {"width": 64, "height": 48}}'],
     protocol.CLOSE_UNKNOWN_PRODUCT, "nope"),
    (["HELLO", '{"type": "pose", "seq": 1, "t": 0, "position": [0, 0], "orientation": [0, 0, 0, 1]}'],
     protocol.CLOSE_INVALID_DATA, "position"),
    (["HELLO", '{"type": "teleport"}'], protocol.CLOSE_POLICY, "teleport"),
    (["HELLO", '{"type": "pose", "pad": "' + "x" * 5000 + '"}'], protocol.CLOSE_TOO_BIG, "too big"),
])
async def test_malformed_messages_close_the_socket_with_a_code_and_reason(
        node: Node, first_product: str, messages: list[str], code: int, words: str) -> None:
    import json

    async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
        for m in messages:
            await ws.send_str(json.dumps(_hello(first_product)) if m == "HELLO" else m)
        got_code, reason = await _closed_with(ws)
        assert got_code == code, reason
        assert words.lower() in reason.lower()


async def test_idle_sessions_are_closed(tmp_path: Path, project_root: Path) -> None:
    node, runner = await start_node(tmp_path, project_root, workers=1,
                                    limits=StreamLimits(idle_timeout_s=0.5, heartbeat_s=5.0))
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
            await ws.send_json(_hello(node.catalog.products[0].id))
            await ws.receive_json(timeout=5)
            code, reason = await _closed_with(ws)
            assert code == protocol.CLOSE_IDLE and "idle" in reason
    finally:
        await runner.cleanup()
        await node.pool.close()


async def test_shutdown_closes_sessions_with_going_away(tmp_path: Path, project_root: Path) -> None:
    node, runner = await start_node(tmp_path, project_root, workers=1)
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
            await ws.send_json(_hello(node.catalog.products[0].id))
            await ws.receive_json(timeout=5)
            closing = asyncio.create_task(runner.cleanup())
            code, _ = await _closed_with(ws)
            await closing
            assert code == protocol.CLOSE_GOING_AWAY
    finally:
        await node.pool.close()


async def test_the_python_client_reports_fps_latency_and_bandwidth(node: Node, first_product: str) -> None:
    hz = 60.0
    poses = synthetic_motion(hz, 1.5)
    hello = Hello("vr", first_product, None, 128, 96, 2, 90.0, 0.064, "jpeg", 50000, 60.0, adaptive=False)
    report = await play_vr(node.base, hello, poses, hz)
    assert report.poses_sent == len(poses) == 90
    assert report.frames > 10 and report.fps > 5
    assert report.poses_rendered + report.poses_dropped == report.poses_sent
    assert 0 < report.latency_ms["p50"] <= report.latency_ms["p95"] <= report.latency_ms["p99"] < 2000
    assert report.bandwidth_kbps > 0 and report.frame_sizes == ["256x96"]
    assert "pose-to-frame" in report.table()


async def test_a_model_that_cannot_render_closes_the_stream_with_1011(tmp_path: Path, project_root: Path) -> None:
    import dataclasses

    from showroom.catalog import Catalog, load_catalog

    real = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    broken = dataclasses.replace(real.products[0], id="broken-bar", model="broken.glb")
    node, runner = await start_node(tmp_path, project_root, workers=1, catalog=Catalog((broken,)))
    try:
        async with aiohttp.ClientSession() as s, s.ws_connect(node.base + "/ws/stream") as ws:
            await ws.send_json(_hello("broken-bar"))
            await ws.receive_json(timeout=5)
            await ws.send_json(_pose(1))
            code, reason = await _closed_with(ws)
            assert code == protocol.CLOSE_INTERNAL and "model_invalid" in reason
            r = await s.get(node.base + "/api/render", params={"product": "broken-bar"})
            assert r.status == 422 and (await r.json())["error"]["code"] == "model_invalid"
    finally:
        await runner.cleanup()
        await node.pool.close()
