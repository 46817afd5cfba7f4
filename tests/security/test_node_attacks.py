"""Attack replays against a real node on a loopback port (tiny renderer; these are about the HTTP edge):
forged notifications, health leaks, view-set size floods against the disk bound, malformed uploads, a try-on
photo without consent, and request floods (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from render_node.app import create_app
from render_node.commands.secrets import resolve_secrets
from render_node.config import Config, load_config
from render_node.pool import RenderPool
from render_node.ratelimit import LIMITS
from render_node.view_sizes import PUBLISHED_SIZES
from showroom.catalog import Catalog, load_catalog
from showroom.signing import sign
from tests.tiny_renderer import make_tiny_renderer

pytestmark = pytest.mark.asyncio

REAL_BACKEND = "https://payments.bank.internal/v1"


@dataclass
class Running:
    base: str
    app: web.Application
    config: Config
    catalog: Catalog

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


@pytest_asyncio.fixture
async def start(tmp_path: Path, project_root: Path) -> AsyncIterator[Any]:
    """Starts nodes with the given config changes (role, backend, disk bound ...); stops them all at the end."""
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    stops: list[tuple[web.AppRunner, RenderPool]] = []

    async def starter(name: str, role: str = "edge", environ: dict[str, str] | None = None, **changes: Any
                      ) -> Running:
        root = tmp_path / name
        (root / "assets" / "models").mkdir(parents=True)
        for product in catalog.products:
            (root / "assets" / "models" / product.model).write_bytes(f"stand-in {product.id}".encode())
        (root / "data").mkdir()
        config = load_config({"data_dir": str(root / "data"), "assets_dir": str(root / "assets"), "role": role,
                              "workers": 2}, environ or {})
        config = resolve_secrets(replace(config, **changes))
        pool = RenderPool(make_tiny_renderer, workers=2)
        app = create_app(config, catalog=catalog, renderer_pool=pool)
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        stops.append((runner, pool))
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return Running(f"http://127.0.0.1:{runner.addresses[0][1]}", app, config, catalog)

    try:
        yield starter
    finally:
        for runner, pool in stops:
            await runner.cleanup()
            await pool.close()


def _product_of(catalog: Catalog, kind: str) -> str:
    return next(p.id for p in catalog.products if p.kind.value == kind)


async def test_a_notification_signed_with_the_old_published_secret_is_refused_by_a_default_node(start: Any) -> None:
    node = await start("all", role="all", environ={"SHOWROOM_PAYMENT_BACKEND_URL": REAL_BACKEND})
    body = json.dumps({"id": "evt_forged", "type": "payment.succeeded",
                       "data": {"payment_id": "pay_x", "amount_fen": 100, "status": "succeeded"}}).encode()
    async with aiohttp.ClientSession() as s:
        t = int(time.time())
        for secret in ("sandbox-webhook-secret", "sandbox-share-secret", ""):
            r = await s.post(node.base + "/api/payments/notify", data=body,
                             headers={"X-Signature": sign(secret, t, body), "Content-Type": "application/json"})
            assert r.status == 401 and (await r.json())["error"]["code"] == "signature_invalid"
        own = node.config.commerce.payment_webhook_secret  # generated in this node's data folder
        r = await s.post(node.base + "/api/payments/notify", data=body,
                         headers={"X-Signature": sign(own, t, body), "Content-Type": "application/json"})
        assert r.status != 401, await r.text()


async def test_healthz_shows_no_real_backend_and_nothing_internal(start: Any) -> None:
    node = await start("bank", role="all", environ={"SHOWROOM_PAYMENT_BACKEND_URL": REAL_BACKEND})
    async with aiohttp.ClientSession() as s:
        r = await s.get(node.base + "/healthz")
        text = await r.text()
        health = json.loads(text)
    assert r.status == 200 and health["status"] == "ok" and health["role"] == "all"
    assert "payment_backend" not in health and "payments.bank.internal" not in text
    assert str(node.config.data_dir) not in text and "sqlite" not in text and "pid" not in text
    assert set(health) <= {"status", "role", "version"}
    sandbox = await start("demo", role="all", payment_sandbox=True,
                          environ={"SHOWROOM_PAYMENT_BACKEND_URL": "http://127.0.0.1:9"})
    async with aiohttp.ClientSession() as s:
        shown = await (await s.get(sandbox.base + "/healthz")).json()
    assert shown["payment_backend"] == "http://127.0.0.1:9" and shown["payment_mode"] == "sandbox", \
        "the built-in test-mode sandbox is named (its test controls need it)"


async def test_twenty_view_set_sizes_only_the_published_render_and_the_disk_stays_bounded(start: Any) -> None:
    node = await start("sizes", view_disk_cache_mb=3)
    pid = node.catalog.products[0].id
    asked = ["640x480", "720x720", "960x720", "641x480", "64x48", "1920x1919", "16x16", "4000x4000", "1x1",
             "960x721", "100x100", "1280x721", "719x720", "480x360", "320x240", "1200x631", "2048x2048",
             "800x600", "1024x768", "1x99999"]
    assert len(asked) == 20
    views = node.config.data_dir / "views"
    accepted = []
    async with aiohttp.ClientSession() as s:
        for size in asked:
            r = await s.get(f"{node.base}/api/products/{pid}/views", params={"size": size})
            body = await r.json()
            w, _, h = size.partition("x")
            if (int(w), int(h)) in PUBLISHED_SIZES:
                assert r.status == 200 and body["size"] == size and len(body["frames"]) == 108
                accepted.append(size)
                missing = [f["url"] for f in body["frames"] if not (views / f["url"].rsplit("/", 1)[1]).is_file()]
                assert missing == [], "a manifest handed out never names a missing frame"
            else:
                assert r.status == 400 and body["error"]["code"] == "bad_request", size
                assert "kiosk 960x720" in body["error"]["message"], "the error lists the published sizes"
            on_disk = sum(f.stat().st_size for f in views.rglob("*") if f.is_file())
            assert on_disk <= 3 * 1024 * 1024, f"disk cache at {on_disk} bytes after {size}"
    assert accepted == ["640x480", "720x720", "960x720"]
    assert len(list((views / "sets").glob("*.json"))) == 1, "older sets were evicted whole to stay in bound"


MALFORMED = [
    ("multipart/form-data", b"no boundary at all"),
    ("multipart/form-data; boundary=xyz", b"a body without the boundary"),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="product"\r\n\r\nbar'),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="product"\r\nbar\r\n--xyz--'),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n"
                                          b"\r\nx\r\n--abc--\r\n--xyz--\r\n"),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="evil"\r\n\r\n1\r\n'
                                          b"--xyz--\r\n"),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="product"\r\n\r\n\xff\xfe'
                                          b"\r\n--xyz--\r\n"),
    ("multipart/form-data; boundary=" + "b" * 80, b"--x"),
    ("application/json", b'{"product": "bar"}'),
]


async def test_malformed_multipart_to_both_upload_routes_is_a_400_never_a_500(start: Any) -> None:
    node = await start("multipart", rate_limits=False)
    async with aiohttp.ClientSession() as s:
        for path in ("/api/tryon", "/api/ar/overlay"):
            for content_type, body in MALFORMED:
                r = await s.post(node.base + path, data=body, headers={"Content-Type": content_type})
                assert r.status in (400, 403), (path, body[:40], r.status, await r.text())
                error = (await r.json())["error"]
                assert error["message"] and error["code"] in ("bad_request", "consent_required")
            many = aiohttp.FormData()
            for i in range(13):
                many.add_field("product", f"p{i}")
            r = await s.post(node.base + path, data=many)
            assert r.status == 400, "too many or repeated parts"


async def _raw_upload(port: int, head: bytes, rest_size: int) -> tuple[bytes, bool]:
    """Sends a multipart request whose Content-Length counts `rest_size` more photo bytes, but only `head`; reads
    the answer. Returns (status line, whether the rest had to be sent before an answer came)."""
    boundary = b"xyz"
    tail = b"\r\n--" + boundary + b"--\r\n"
    length = len(head) + rest_size + len(tail)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /api/tryon HTTP/1.1\r\nHost: node\r\nContent-Type: multipart/form-data; boundary=xyz\r\n"
                     b"Content-Length: " + str(length).encode() + b"\r\nConnection: close\r\n\r\n" + head)
        await writer.drain()
        try:  # the node must answer without the photo: the rest is never sent
            status = await asyncio.wait_for(reader.readline(), timeout=20)
            return status, False
        except TimeoutError:
            return b"", True
    finally:
        writer.close()


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    kind = b"Content-Type: image/jpeg\r\n" if filename else b""
    return (b"--xyz\r\nContent-Disposition: " + disposition.encode() + b"\r\n" + kind + b"\r\n" + value
            + (b"" if filename else b"\r\n"))


async def test_a_tryon_without_consent_is_refused_before_the_photo_is_read(start: Any) -> None:
    node = await start("consent")
    product = _product_of(node.catalog, "necklace").encode()
    photo_start = b"\xff\xd8\xff\xe0" + bytes(300_000)  # the reader looks ahead a chunk or two for a boundary
    for fields in ([_part("product", product)], [_part("product", product), _part("consent", b"false")]):
        status, needed_rest = await _raw_upload(node.port, b"".join(fields) + _part("photo", photo_start, "p.jpg"),
                                                rest_size=4_000_000)
        assert not needed_rest, "the node waited for the photo instead of refusing at its first byte"
        assert status.startswith(b"HTTP/1.1 403"), status
    consent_after = b"".join([_part("product", product), _part("photo", photo_start, "p.jpg")])
    status, needed_rest = await _raw_upload(node.port, consent_after, rest_size=4_000_000)
    assert not needed_rest and status.startswith(b"HTTP/1.1 403"), "consent must come before the photo"


async def test_a_request_flood_gets_429_with_retry_after_per_client(start: Any) -> None:
    node = await start("flood")
    junk = {"Content-Type": "multipart/form-data; boundary=xyz"}
    burst = next(limit.burst for limit in LIMITS if limit.name == "camera")
    async with aiohttp.ClientSession() as s:
        statuses = []
        for _ in range(burst + 5):
            r = await s.post(node.base + "/api/tryon", data=b"junk", headers={**junk, "X-Forwarded-For": "203.0.113.7"})
            statuses.append(r.status)
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
                body = await r.json()
                assert body["error"]["code"] == "rate_limited" and "203.0.113.7" in body["error"]["message"]
        assert statuses[:burst] == [400] * burst and set(statuses[burst:]) == {429}, statuses
        other = await s.post(node.base + "/api/tryon", data=b"junk", headers={**junk, "X-Forwarded-For": "203.0.113.8"})
        assert other.status == 400, "another client behind the same proxy has its own bucket"
        renders = [(await s.get(node.base + "/api/render", params={"product": "nope"})).status for _ in range(130)]
        assert 429 not in renders[:120] and 429 in renders[120:], "renders have their own, larger bucket"
        doc = await (await s.get(node.base + "/api/openapi.json")).json()
        assert "429" in doc["paths"]["/api/tryon"]["post"]["responses"]
        assert "429" not in doc["paths"]["/views/{name}"]["get"]["responses"]
