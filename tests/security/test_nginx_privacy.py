"""Camera photos never touch a disk on the way in (PIPL): the real nginx with the deployment's config in front of
an edge node, its temp folders watched while multi-megabyte try-on uploads pass through; and the Kubernetes
ingress says the same (docs/security.md "Camera images")."""

from __future__ import annotations

import asyncio
import io
import os
import re
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

from tests import ar_models
from tests.e2e import test_nginx_front
from tests.e2e.test_nginx_front import Front

front = test_nginx_front.front  # the fixture: the deployment's nginx in front of an edge node

CAMERA_LOCATIONS = (r"location ~ \^/api/\(tryon\|ar/overlay\|voice/commands\)\$", r"location /ws/")


def _noise_jpeg(width: int, height: int) -> bytes:
    rng = np.random.default_rng(5)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


SPILLED = "buffered to a temporary file"
"""nginx's warning each time it writes a request body (or an upstream reply) to a temp file. The temp file itself is
unlinked the moment it is created, so a folder listing never shows it: the error log is the witness."""


def _spills(root: Path) -> list[str]:
    log = root / "error.log"
    return [line for line in log.read_text().splitlines() if SPILLED in line] if log.exists() else []


def _form(photo: bytes, product: str, consent: bool) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if consent:
        form.add_field("consent", "true")
    form.add_field("product", product)
    form.add_field("photo", io.BytesIO(photo), filename="photo.jpg", content_type="image/jpeg")
    return form


@pytest.mark.asyncio
async def test_a_multi_megabyte_tryon_upload_passes_nginx_without_a_temp_file(front: Front, tmp_path: Path) -> None:
    necklace = next(p for p in front.node.catalog.products if p.kind.value == "necklace")
    ar_models.necklace(front.node.assets_dir / "models" / necklace.model)  # a real model: the node gets that far
    product = necklace.id
    photo = _noise_jpeg(2000, 1500)
    assert 3_000_000 < len(photo) < 8 * 1024 * 1024
    root = tmp_path / "nginx"
    async with aiohttp.ClientSession() as s:
        # the witness works: an ordinary location buffers a 2 MB body to a temp file, and nginx says so
        await s.post(front.base + "/api/quotes", data=io.BytesIO(bytes(2_000_000)))
        assert len(_spills(root)) == 1, "nginx logs each body it writes to a temp file"
        for _ in range(2):
            r = await s.post(front.base + "/api/tryon", data=_form(photo, product, consent=True))
            body = await r.json()
            # the node decoded the whole photo and looked for a neck in the noise: 422 anchor_not_found
            # (a cut-off photo would be a 400 image_invalid, a refused one a 413)
            assert r.status == 422 and body["error"]["code"] == "anchor_not_found", body
        metrics = await (await s.get(front.node.base + "/metrics")).text()
    assert 'showroom_http_requests_total{route="/api/tryon",status="422"} 2.0' in metrics, "the node got both"
    assert len(_spills(root)) == 1, f"nginx wrote a camera upload to disk: {_spills(root)}"
    for kind in ("client_body", "proxy"):
        assert not any(files for _, _, files in os.walk(root / "tmp" / kind))


@pytest.mark.asyncio
async def test_nginx_streams_the_upload_so_a_tryon_without_consent_is_refused_before_the_photo_is_sent(
        front: Front) -> None:
    """With request buffering on, nginx would wait for the whole body before asking the node: no answer would come
    while the client holds the rest of the photo back. Streamed, the node refuses at the photo's first bytes."""
    product = next(p.id for p in front.node.catalog.products if p.kind.value == "necklace").encode()
    head = (b'--xyz\r\nContent-Disposition: form-data; name="product"\r\n\r\n' + product + b"\r\n"
            b'--xyz\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0" + bytes(300_000))
    length = len(head) + 5_000_000
    port = int(front.base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /api/tryon HTTP/1.1\r\nHost: showroom\r\nContent-Type: multipart/form-data; boundary=xyz"
                     b"\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n" + head)
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout=20)
    finally:
        writer.close()
    assert status.startswith(b"HTTP/1.1 403"), status


def test_every_camera_location_streams_and_never_spills_to_a_temp_file(project_root: Path) -> None:
    conf = (project_root / "deploy" / "nginx" / "edge-cache.conf").read_text()
    max_upload = 9 * 1024 * 1024
    for pattern in CAMERA_LOCATIONS:
        match = re.search(pattern + r" \{(.*?)\n    \}", conf, flags=re.S)
        assert match, pattern
        block = match.group(1)
        assert re.search(r"proxy_request_buffering off;", block)
        assert re.search(r"proxy_max_temp_file_size 0;", block)
        body_max = re.search(r"client_max_body_size (\d+)m;", block)
        buffer = re.search(r"client_body_buffer_size (\d+)m;", block)
        assert body_max and buffer, pattern
        assert int(buffer.group(1)) >= int(body_max.group(1)) >= max_upload >> 20, "the buffer holds any body"
        assert "X-Forwarded-For" in block, "rate limits need the client"


def test_the_kubernetes_ingress_for_camera_routes_matches(project_root: Path) -> None:
    docs = (project_root / "deploy" / "k8s" / "20-view-cache.yaml").read_text().split("\n---\n")
    ingresses = [d for d in docs if re.search(r"^kind: Ingress$", d, flags=re.M)]
    camera_paths = {"/api/tryon", "/api/ar/overlay", "/ws/stream"}

    def paths(doc: str) -> set[str]:
        return set(re.findall(r"^\s+- path: (\S+)$", doc, flags=re.M))

    camera = [d for d in ingresses if camera_paths <= paths(d)]
    assert len(camera) == 1
    notes = dict(re.findall(r"^\s+nginx\.ingress\.kubernetes\.io/([\w-]+): \"?([^\"\n]+)\"?$", camera[0], flags=re.M))
    assert notes["proxy-request-buffering"] == "off" and notes["proxy-buffering"] == "off"
    assert notes["proxy-max-temp-file-size"] == "0"
    assert notes["client-body-buffer-size"] == notes["proxy-body-size"] == "9m", "the buffer holds any upload"
    assert all(not (paths(d) & camera_paths) for d in ingresses if d is not camera[0])
