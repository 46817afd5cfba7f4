"""View-set keys and the frame cache (no rendering)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from render_node.errors import BadRequest
from render_node.pool import RenderPool
from render_node.views import DEFAULT_SIZE_PX, ViewStore, _FrameLRU, parse_size
from showroom.catalog import Catalog, load_catalog
from tests.tiny_renderer import make_tiny_renderer


def _store(tmp_path: Path, project_root: Path, version: str = "1") -> tuple[ViewStore, Catalog]:
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    models = tmp_path / "assets" / "models"
    models.mkdir(parents=True, exist_ok=True)
    for p in catalog.products:
        (models / p.model).write_bytes(p.id.encode())
    pool = RenderPool(make_tiny_renderer, workers=0)
    return ViewStore(tmp_path / "views", pool, catalog, tmp_path / "assets", renderer_version=version), catalog


def test_sizes_parse_and_are_capped() -> None:
    assert parse_size(None) == DEFAULT_SIZE_PX == (640, 480)
    assert parse_size("320x240") == (320, 240)
    for bad in ("320", "0x10", "5000x5000", "axb"):
        with pytest.raises(BadRequest):
            parse_size(bad)


def test_set_keys_follow_model_bytes_variant_size_and_renderer(tmp_path: Path, project_root: Path) -> None:
    store, catalog = _store(tmp_path, project_root)
    product = next(p for p in catalog.products if len(p.variants) > 1)
    spec = store.spec(product.id)
    key = store.set_key(spec)
    assert store.set_key(store.spec(product.id)) == key, "same inputs, same key"
    assert store.set_key(store.spec(product.id, product.variants[1].id)) != key
    assert store.set_key(store.spec(product.id, size="320x240")) != key
    other, _ = _store(tmp_path / "other", project_root, version="2")
    assert other.set_key(other.spec(product.id)) != key
    import os
    import time

    path = store.model_path(product)
    path.write_bytes(b"a new model")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert store.set_key(store.spec(product.id)) != key


def test_the_frame_cache_is_bounded_by_bytes() -> None:
    lru = _FrameLRU(max_bytes=100)
    for i in range(10):
        lru.put(f"f{i}", bytes(30))
    assert lru.bytes <= 100 and lru.get("f9") is not None and lru.get("f0") is None
    lru.put("huge", bytes(500))
    assert lru.get("huge") is None


def test_a_rendered_set_is_served_from_disk_by_a_new_store(tmp_path: Path, project_root: Path) -> None:
    async def run() -> None:
        store, catalog = _store(tmp_path, project_root)
        await store.pool.start()
        try:
            spec = store.spec(catalog.products[0].id, size="32x24")
            manifest = await store.manifest(spec)
            assert len(manifest["frames"]) == 108
            fresh, _ = _store(tmp_path, project_root)
            key, task, cached = fresh.start(fresh.spec(catalog.products[0].id, size="32x24"))
            assert task is None and cached == manifest
            data, content_type = await fresh.frame(manifest["frames"][0]["url"].rsplit("/", 1)[1])
            assert content_type == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
        finally:
            await store.pool.close()

    asyncio.run(run())


class _Store:
    def __init__(self, frames: dict[str, bytes]) -> None:
        self.frames = frames

    def cached_frame(self, name: str) -> bytes | None:
        return self.frames.get(name)


def test_the_frame_fast_path_answers_only_plain_requests_for_frames_in_memory() -> None:
    from render_node.routes_frames import FrameFront, etag_matches

    digest = "ab" * 32
    front = FrameFront(None, _Store({f"{digest}.png": b"PNGDATA"}), None)  # type: ignore[arg-type]
    reply = front.answer(f"GET /views/{digest}.png HTTP/1.1\r\nHost: x\r\nAccept: */*".encode())
    assert reply is not None and not reply[1]
    head, body = b"".join(reply[0]).split(b"\r\n\r\n", 1)
    assert body == b"PNGDATA" and head.startswith(b"HTTP/1.1 200 OK\r\n")
    for line in (b"Content-Type: image/png", b"Content-Length: 7", f'ETag: "{digest}"'.encode(),
                 b"Cache-Control: public, max-age=31536000, immutable"):
        assert line in head.split(b"\r\n")
    head_only = front.answer(f"HEAD /views/{digest}.png HTTP/1.1\r\nConnection: close".encode())
    assert head_only is not None and head_only[1] and len(head_only[0]) == 1
    assert head_only[0][0].endswith(b"\r\nConnection: close\r\n\r\n")
    assert b"Content-Length: 7" in head_only[0][0] and b"PNGDATA" not in head_only[0][0]
    not_modified = front.answer(f'GET /views/{digest}.png HTTP/1.1\r\nif-none-match: W/"{digest}"'.encode())
    assert not_modified is not None and not_modified[0][0].startswith(b"HTTP/1.1 304 ")
    assert b"Content-Length" not in not_modified[0][0] and len(not_modified[0]) == 1
    for aiohttps_turn in (f"GET /views/{'cd' * 32}.png HTTP/1.1",  # not in memory
                          f"GET /views/{digest}.jpg HTTP/1.1",
                          f"GET /views/{digest}.png?x=1 HTTP/1.1", f"GET /views/{digest}.png HTTP/1.0",
                          f"POST /views/{digest}.png HTTP/1.1", "GET /healthz HTTP/1.1",
                          f"GET /views/{digest}.png HTTP/1.1\r\nContent-Length: 5",
                          f"GET /views/{digest}.png HTTP/1.1\r\nTransfer-Encoding: chunked",
                          f"GET /views/{digest}.png HTTP/1.1\r\nUpgrade: websocket",
                          f"GET /views/{digest}.png HTTP/1.1\r\ncontent-length : 0",
                          f"GET /views/{digest}.png HTTP/1.1\r\n folded",
                          f"GET /views/{digest}.png  HTTP/1.1"):
        assert front.answer(aiohttps_turn.encode()) is None, aiohttps_turn
    assert front.fast_requests == 3
    assert etag_matches(b' "a" , "b"', b'"b"') and etag_matches(b"*", b'"b"')
    assert not etag_matches(b'"ab"', b'"b"')
