"""The AR and try-on modes of the live stream over a real WebSocket, with the real renderer (panda3d offscreen,
in-process through the render pool with workers=0).

Covers: an AR session with synthetic marker-board frames gets RGBA overlays with the bar where the board is; a
try-on session with the scikit-image astronaut as repeated frames gets composites with the necklace below the chin,
placed steadily; no consent -> closed with 4403 and the reason; a flood of camera frames -> latest wins; a client
anchor pose; no face -> a status message, never a random placement; frames never reach the data folder or logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
import pytest_asyncio
import showroom_protocol as protocol
import skimage.data
from aiohttp import web
from showroom_protocol import FrameHeader, pack_camera_frame, parse_frame

from render_node.app import create_app
from render_node.ar.pose import object_transform_for_camera
from render_node.ar.synthetic import board_frame, orbit_pose
from render_node.config import Config
from render_node.pool import PandaRendererFactory, RenderPool
from render_node.render.types import Intrinsics
from showroom.catalog import Catalog, load_catalog
from tests import ar_models

pytestmark = [pytest.mark.gl, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class CamNode:
    base: str
    catalog: Catalog
    data_dir: Path

    def product_of(self, kind: str) -> str:
        return next(p.id for p in self.catalog.products if p.kind.value == kind)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cam_node(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> AsyncIterator[CamNode]:
    tmp = tmp_path_factory.mktemp("camnode")
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    models = tmp / "assets" / "models"
    models.mkdir(parents=True)
    for p in catalog.products:
        if p.kind.value == "necklace":
            ar_models.necklace(models / p.model)
        elif p.kind.value == "gold_bar":
            ar_models.gold_bar(models / p.model, (31.0, 55.0, 3.1))
    data = tmp / "data"
    config = Config(host="127.0.0.1", port=0, data_dir=data, role="edge", assets_dir=tmp / "assets", workers=0)
    pool = RenderPool(PandaRendererFactory(ar_models.env_dir(tmp / "env")), workers=0)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield CamNode(f"http://127.0.0.1:{runner.addresses[0][1]}", catalog, data)
    finally:
        await runner.cleanup()
        await pool.close()


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _hello(product: str, mode: str, **kw: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "hello", "client": "phone", "mode": mode, "product": product}
    msg.update(kw)
    return msg


async def _next(ws: aiohttp.ClientWebSocketResponse, statuses: list[dict[str, Any]], timeout_s: float = 60.0
                ) -> tuple[FrameHeader, bytes]:
    """The next binary frame; status messages met on the way are collected."""
    while True:
        msg = await ws.receive(timeout=timeout_s)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return parse_frame(bytes(msg.data))
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type} {msg.data} {msg.extra}"
        body = msg.json()
        assert body["type"] == "status", body
        statuses.append(body)


def _rgba(payload: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.ndim == 3 and img.shape[2] == 4
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA))


def _rgb(payload: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


async def test_ar_stream_stands_the_bar_on_the_board_in_each_frame(cam_node: CamNode) -> None:
    k = Intrinsics.from_fov(50.0, 1280, 720)
    intr = {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "width": 1280, "height": 720}
    statuses: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("gold_bar"), "ar", intrinsics=intr, output="overlay"))
        welcome = await ws.receive_json(timeout=30)
        assert welcome["type"] == "welcome" and welcome["mode"] == "ar"
        assert welcome["camera"]["magic"] == "SRC1" and welcome["camera"]["reply_codec"] == "png"
        for seq, azimuth in enumerate((10.0, 14.0, 18.0), start=1):
            pose = orbit_pose(0.42, 35.0, azimuth)
            t_sent = time.time()
            await ws.send_bytes(pack_camera_frame(seq, t_sent, _jpeg(board_frame(pose, k, seed=seq))))
            header, payload = await _next(ws, statuses)
            assert header.seq == seq and header.client_t == pytest.approx(t_sent)
            assert header.codec == "png" and (header.width_px, header.height_px) == (1280, 720)
            stamps = [header.t_receive, header.t_render_start, header.t_render_end, header.t_encode_end,
                      header.t_send]
            assert stamps == sorted(stamps)
            alpha = _rgba(payload)[..., 3]
            ys, xs = np.nonzero(alpha > 250)
            assert len(xs) > 500, "the bar is drawn"
            assert ((alpha > 30) & (alpha < 200)).sum() > 200, "with its soft shadow"
            # the bar stands on the board centre (the world origin): its foot is at the projected origin
            r, t = object_transform_for_camera(pose)
            u = k.fx * t[0] / t[2] + k.cx
            v = k.fy * t[1] / t[2] + k.cy
            assert abs(float(np.median(xs)) - u) < 25
            assert float(ys.max()) == pytest.approx(v, abs=25) and float(ys.min()) < v - 60
        await ws.send_json({"type": "bye"})
    assert statuses and statuses[0]["status"] == "ok" and statuses[0]["seq"] == 1


async def test_ar_stream_follows_a_client_anchor_pose_and_reports_a_missing_marker(cam_node: CamNode) -> None:
    grey = _jpeg(np.full((480, 640, 3), 128, np.uint8))
    statuses: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("gold_bar"), "ar", output="overlay", fov_deg=60))
        assert (await ws.receive_json(timeout=30))["type"] == "welcome"
        for bad, code in ((b"not an image at all", "image_invalid"),
                          (cv2.imencode(".png", np.zeros((4200, 4200), np.uint8))[1].tobytes(), "image_too_large")):
            await ws.send_bytes(pack_camera_frame(0, time.time(), bad))
            err = await ws.receive_json(timeout=30)
            assert err["type"] == "error" and err["code"] == code and err["seq"] == 0, err
        await ws.send_bytes(pack_camera_frame(1, time.time(), grey))  # the session goes on
        header, payload = await _next(ws, statuses)
        assert header.seq == 1 and statuses[-1]["status"] == "no_marker"
        assert _rgba(payload)[..., 3].max() == 0, "nothing placed at random"
        await ws.send_json({"type": "anchor_pose", "position": [0.0, 0.15, 0.4],
                            "orientation": [-0.17, 0.0, 0.0, 0.985]})
        await ws.send_bytes(pack_camera_frame(2, time.time(), grey))
        header, payload = await _next(ws, statuses)
        assert header.seq == 2 and statuses[-1]["status"] == "ok"
        ys, xs = np.nonzero(_rgba(payload)[..., 3] > 250)
        assert len(xs) > 200 and abs(float(xs.mean()) - 320) < 15


async def test_tryon_stream_wears_the_necklace_below_the_chin_steadily(cam_node: CamNode) -> None:
    photo = skimage.data.astronaut()
    rng = np.random.default_rng(3)
    statuses: list[dict[str, Any]] = []
    centres: list[tuple[float, float]] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("necklace"), "tryon", consent=True, fov_deg=50))
        welcome = await ws.receive_json(timeout=30)
        assert welcome["type"] == "welcome" and welcome["camera"]["reply_codec"] == "jpeg"
        t0 = time.time()
        for seq in range(1, 6):
            noisy = np.clip(photo + rng.normal(0, 3.0, photo.shape), 0, 255).astype(np.uint8)  # sensor noise
            await ws.send_bytes(pack_camera_frame(seq, t0 + seq / 30, _jpeg(noisy)))
            header, payload = await _next(ws, statuses)
            assert header.seq == seq and header.codec == "jpeg"
            out = _rgb(payload)
            assert out.shape == photo.shape
            diff = np.abs(out.astype(int) - photo.astype(int)).sum(axis=2)
            ys, xs = np.nonzero(diff > 90)
            assert len(ys) > 100 and np.median(ys) > 200, "the necklace sits below the chin (y ~ 177)"
            centres.append((float(np.median(xs)), float(np.median(ys))))
    assert [st["status"] for st in statuses] == ["ok"]
    spread = np.ptp(np.asarray(centres), axis=0)
    assert spread.max() < 3.0, f"placement jitters across frames of a still scene: {centres}"


async def test_tryon_without_consent_is_closed_with_a_code_and_reason(cam_node: CamNode) -> None:
    for extra in ({}, {"consent": False}):
        async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
            await ws.send_json(_hello(cam_node.product_of("necklace"), "tryon", **extra))
            err = await ws.receive_json(timeout=10)
            assert err["type"] == "error" and "consent" in err["message"]
            msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == protocol.CLOSE_CONSENT_REQUIRED == 4403
            assert "consent" in msg.extra and "PIPL" in msg.extra


async def test_tryon_of_a_gold_bar_and_binary_in_vr_mode_are_refused(cam_node: CamNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("gold_bar"), "tryon", consent=True))
        await ws.receive_json(timeout=10)
        msg = await ws.receive(timeout=10)
        assert ws.close_code == protocol.CLOSE_BAD_HELLO and "not_wearable" in msg.extra
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("gold_bar"), "ar"))
        assert (await ws.receive_json(timeout=30))["type"] == "welcome"
        await ws.send_bytes(b"XXXX" + bytes(40))
        await ws.receive_json(timeout=10)
        msg = await ws.receive(timeout=10)
        assert ws.close_code == protocol.CLOSE_INVALID_DATA and "magic" in msg.extra


async def test_a_flood_of_camera_frames_gets_the_latest_and_nothing_is_stored_or_logged(
        cam_node: CamNode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rng = np.random.default_rng(5)
    frames = [_jpeg(np.clip(128 + rng.normal(0, 6, (480, 640, 3)), 0, 255).astype(np.uint8)) for _ in range(4)]
    n = 40
    statuses: list[dict[str, Any]] = []
    seqs: list[int] = []
    before = {p for p in cam_node.data_dir.rglob("*") if p.is_file()}
    async with aiohttp.ClientSession() as s, s.ws_connect(cam_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(cam_node.product_of("gold_bar"), "ar", fov_deg=60))
        assert (await ws.receive_json(timeout=30))["type"] == "welcome"
        await ws.send_json({"type": "anchor_pose", "position": [0.0, 0.15, 0.4],
                            "orientation": [-0.17, 0.0, 0.0, 0.985]})
        for seq in range(1, n + 1):  # one burst: far faster than the node can process them, however loaded
            await ws.send_bytes(pack_camera_frame(seq, time.time(), frames[seq % len(frames)]))
        while not seqs or seqs[-1] != n:
            header, _ = await _next(ws, statuses)
            seqs.append(header.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(seqs) < n / 2, f"superseded frames were processed: {seqs}"
    # PIPL: the camera frames are not in the data folder nor in the logs
    probes = [f[600:664] for f in frames]
    for path in cam_node.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(p in content for p in probes), f"camera bytes found in {path}"
            if path not in before:
                assert path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".raw", ".npy")
    logged = caplog.text.encode("utf-8", errors="replace")
    assert not any(p in logged for p in probes)
    assert "superseded" in caplog.text


async def test_the_python_client_plays_a_tryon_and_reports(cam_node: CamNode, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from showroom_client.cli import main

    photo = tmp_path / "me.jpg"
    photo.write_bytes(_jpeg(skimage.data.astronaut()))
    argv = ["camera", cam_node.product_of("necklace"), "--url", cam_node.base, "--image", str(photo), "--mode",
            "tryon", "--consent", "--frames", "6", "--fps", "20", "--json"]
    code = await asyncio.get_running_loop().run_in_executor(None, main, argv)
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["frames_sent"] == 6 and 1 <= report["frames_answered"] <= 6
    assert report["frames_answered"] + report["frames_superseded"] == 6
    assert report["statuses"][0]["status"] == "ok" and report["latency_ms"]["p50"] > 0
    code = await asyncio.get_running_loop().run_in_executor(None, main, [*argv[:-5], "--frames", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "frames sent / answered / superseded" in out
    code = await asyncio.get_running_loop().run_in_executor(None, main, [a for a in argv if a != "--consent"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["close_code"] == 4403 and "consent" in report["close_reason"]
