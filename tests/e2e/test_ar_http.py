"""The AR and try-on routes over real HTTP on a loopback port, with real render workers (panda3d offscreen).

Covers: a necklace try-on of a real photo, consent, clear 4xx errors (no face, wrong product, missing fields,
oversized uploads, pixel floods), the AR overlay from a marker board and from a client pose, and privacy: after
try-ons neither the data folder nor the logs hold the photo.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest
import pytest_asyncio
import skimage.data
from aiohttp import web

from render_node.app import create_app
from render_node.ar.frames import MAX_FRAME_BYTES
from render_node.ar.synthetic import board_frame, orbit_pose
from render_node.config import Config
from render_node.pool import PandaRendererFactory, RenderPool
from render_node.render.types import Intrinsics
from showroom.catalog import Catalog, load_catalog
from tests import ar_models

pytestmark = pytest.mark.gl


@dataclass
class ArNode:
    base: str
    catalog: Catalog
    data_dir: Path

    def product_of(self, kind: str) -> str:
        return next(p.id for p in self.catalog.products if p.kind.value == kind)


def _write_models(catalog: Catalog, models: Path) -> None:
    for p in catalog.products:
        path = models / p.model
        if p.kind.value == "necklace":
            ar_models.necklace(path)
        elif p.kind.value == "ring":
            ar_models.ring(path)
        elif p.kind.value in ("bangle", "bracelet"):
            ar_models.bangle(path)
        elif p.kind.value == "earrings":
            ar_models.earrings(path)
        else:
            ar_models.gold_bar(path, (31.0, 55.0, 3.1))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ar_node(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> AsyncIterator[ArNode]:
    tmp = tmp_path_factory.mktemp("arnode")
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp / "assets"
    (assets / "models").mkdir(parents=True)
    _write_models(catalog, assets / "models")
    data = tmp / "data"
    config = Config(host="127.0.0.1", port=0, data_dir=data, role="edge", assets_dir=assets, workers=1)
    pool = RenderPool(PandaRendererFactory(ar_models.env_dir(tmp / "env")), workers=1)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield ArNode(f"http://127.0.0.1:{runner.addresses[0][1]}", catalog, data)
    finally:
        await runner.cleanup()
        await pool.close()


def _jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _form(image_field: str, image: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for k, v in fields.items():
        form.add_field(k, v)
    form.add_field(image_field, io.BytesIO(image), filename="frame.jpg", content_type="image/jpeg")
    return form


async def _post(node: ArNode, path: str, form: aiohttp.FormData) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.post(node.base + path, data=form) as r:
        return r.status, await r.read(), dict(r.headers)


pytestmark_loop = pytest.mark.asyncio(loop_scope="module")


@pytestmark_loop
async def test_tryon_returns_the_photo_wearing_the_necklace(ar_node: ArNode) -> None:
    photo = skimage.data.astronaut()
    status, body, headers = await _post(ar_node, "/api/tryon", _form(
        "photo", _jpeg(photo), product=ar_node.product_of("necklace"), consent="true"))
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/jpeg" and headers["Cache-Control"] == "no-store"
    assert headers["X-Tryon-Anchor"] == "neck" and headers["X-Tryon-Reference"] == "iris"
    out = cv2.cvtColor(cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert out.shape == photo.shape
    diff = np.abs(out.astype(int) - photo.astype(int)).sum(axis=2)
    ys, _xs = np.nonzero(diff > 90)
    assert len(ys) > 100 and np.median(ys) > 200  # something gold-bright below the face (chin at y~177)


@pytestmark_loop
async def test_tryon_as_png_on_request(ar_node: ArNode) -> None:
    status, body, headers = await _post(ar_node, "/api/tryon", _form(
        "photo", _jpeg(skimage.data.astronaut()), product=ar_node.product_of("earrings"), consent="true",
        format="png"))
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"


@pytestmark_loop
async def test_tryon_without_consent_is_refused_and_says_why(ar_node: ArNode) -> None:
    for consent in (None, "false", "yes please"):
        fields = {"product": ar_node.product_of("necklace")}
        if consent is not None:
            fields["consent"] = consent
        status, body, _ = await _post(ar_node, "/api/tryon", _form("photo", _jpeg(skimage.data.astronaut()), **fields))
        assert status == 403
        err = json.loads(body)["error"]
        assert err["code"] == "consent_required" and "consent=true" in err["message"]
        assert "personal" in err["message"]


@pytestmark_loop
async def test_no_face_is_a_clear_422_never_a_random_placement(ar_node: ArNode) -> None:
    status, body, _ = await _post(ar_node, "/api/tryon", _form(
        "photo", _jpeg(skimage.data.coffee()), product=ar_node.product_of("necklace"), consent="true"))
    assert status == 422
    assert json.loads(body)["error"]["code"] == "anchor_not_found"
    status, body, _ = await _post(ar_node, "/api/tryon", _form(
        "photo", _jpeg(skimage.data.coffee()), product=ar_node.product_of("ring"), consent="true"))
    assert status == 422 and "no hand" in json.loads(body)["error"]["message"]


@pytestmark_loop
async def test_bad_tryon_requests_get_clear_4xx_json(ar_node: ArNode) -> None:
    photo = _jpeg(skimage.data.astronaut())
    cases = [
        ({"product": ar_node.product_of("gold_bar"), "consent": "true"}, photo, 422, "not_wearable"),
        ({"product": ar_node.product_of("ring"), "consent": "true", "anchor": "neck"}, photo, 422, "not_wearable"),
        ({"product": "no-such-thing", "consent": "true"}, photo, 404, None),
        ({"consent": "true"}, photo, 400, "bad_request"),
        ({"product": ar_node.product_of("necklace"), "consent": "true"}, b"not an image at all", 400, "image_invalid"),
        ({"product": ar_node.product_of("necklace"), "consent": "true", "anchor": "nose"}, photo, 400, "bad_request"),
    ]
    for fields, image, want_status, want_code in cases:
        status, body, _ = await _post(ar_node, "/api/tryon", _form("photo", image, **fields))
        assert status == want_status, (fields, body[:200])
        err = json.loads(body)["error"]
        assert err["message"]
        if want_code:
            assert err["code"] == want_code


@pytestmark_loop
async def test_oversized_uploads_and_pixel_floods_are_refused(ar_node: ArNode) -> None:
    big = b"\xff\xd8" + bytes(MAX_FRAME_BYTES + 10)
    status, body, _ = await _post(ar_node, "/api/tryon", _form(
        "photo", big, product=ar_node.product_of("necklace"), consent="true"))
    assert status == 413 and json.loads(body)["error"]["code"] in ("image_too_large", "payload_too_large")
    flood = cv2.imencode(".png", np.zeros((4200, 4200), np.uint8))[1].tobytes()  # 17.6 MP in a few kB
    assert len(flood) < 200_000
    status, body, _ = await _post(ar_node, "/api/tryon", _form(
        "photo", flood, product=ar_node.product_of("necklace"), consent="true"))
    assert status == 413 and "pixels" in json.loads(body)["error"]["message"]


@pytestmark_loop
async def test_ar_overlay_stands_the_bar_on_the_marker_board(ar_node: ArNode) -> None:
    k = Intrinsics.from_fov(50.0, 1280, 720)
    frame = board_frame(orbit_pose(0.42, 35.0, 15.0), k)
    intrinsics = json.dumps({"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "width": 1280, "height": 720})
    status, body, headers = await _post(ar_node, "/api/ar/overlay", _form(
        "frame", _jpeg(frame), product=ar_node.product_of("gold_bar"), intrinsics=intrinsics, output="overlay"))
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/png" and headers["X-AR-Source"] == "marker"
    assert 0.35 < float(headers["X-AR-Board-Distance-M"]) < 0.5
    overlay = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (720, 1280, 4)
    alpha = overlay[..., 3]
    assert (alpha > 250).sum() > 500  # the bar
    assert ((alpha > 30) & (alpha < 200)).sum() > 200  # its soft shadow
    status, body, headers = await _post(ar_node, "/api/ar/overlay", _form(
        "frame", _jpeg(frame), product=ar_node.product_of("gold_bar"), fov_deg="50"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg"


@pytestmark_loop
async def test_ar_overlay_uses_the_client_pose_or_says_no_marker(ar_node: ArNode) -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    product = ar_node.product_of("gold_bar")
    status, body, _ = await _post(ar_node, "/api/ar/overlay", _form("frame", _jpeg(grey), product=product))
    assert status == 422 and json.loads(body)["error"]["code"] == "marker_not_found"
    pose = json.dumps({"position": [0.0, 0.15, 0.4], "orientation": [-0.17, 0.0, 0.0, 0.985]})
    status, body, headers = await _post(ar_node, "/api/ar/overlay", _form(
        "frame", _jpeg(grey), product=product, pose=pose, fov_deg="60", output="overlay"))
    assert status == 200 and headers["X-AR-Source"] == "pose"
    overlay = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    ys, xs = np.nonzero(overlay[..., 3] > 250)
    assert len(xs) > 200 and abs(float(xs.mean()) - 320) < 15
    for bad in ('{"position": [0, 1]}', "not json", '{"position": [0, 0.1, 0.4], "orientation": [0, 0, 0, 0]}'):
        status, body, _ = await _post(ar_node, "/api/ar/overlay", _form("frame", _jpeg(grey), product=product, pose=bad))
        assert status == 400 and json.loads(body)["error"]["message"]


@pytestmark_loop
async def test_photos_are_never_written_to_disk_or_logs(ar_node: ArNode, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    photo = skimage.data.astronaut()
    rng = np.random.default_rng(11)
    photo = np.clip(photo.astype(int) + rng.integers(-3, 4, photo.shape), 0, 255).astype(np.uint8)  # unique
    data = _jpeg(photo)
    before = {p: p.stat().st_mtime_ns for p in ar_node.data_dir.rglob("*") if p.is_file()}
    for product in (ar_node.product_of("necklace"), ar_node.product_of("earrings")):
        status, _, _ = await _post(ar_node, "/api/tryon", _form("photo", data, product=product, consent="true"))
        assert status == 200
    status, _, _ = await _post(ar_node, "/api/tryon", _form("photo", data, product=ar_node.product_of("ring"),
                                                            consent="true"))
    assert status == 422
    probes = [data[i:i + 64] for i in range(1000, len(data) - 64, len(data) // 8)]
    pixels = photo[200:210, 200:260].tobytes()
    for path in ar_node.data_dir.rglob("*"):
        if not path.is_file():
            continue
        content = path.read_bytes()
        assert not any(p in content for p in probes), f"photo bytes found in {path}"
        assert pixels not in content, f"photo pixels found in {path}"
        if path not in before:
            assert path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".raw", ".npy")
    logged = caplog.text.encode("utf-8", errors="replace")
    assert not any(p in logged for p in probes)
    import base64

    assert base64.b64encode(data[2000:2048]).decode()[:40] not in caplog.text
