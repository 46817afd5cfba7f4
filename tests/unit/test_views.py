"""View-set keys and the frame cache (no rendering)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from render_node.errors import BadRequest
from render_node.pool import RenderPool
from render_node.views import DEFAULT_SIZE_PX, ViewStore, _FrameLRU, parse_size
from showroom.catalog import Catalog, load_catalog
from showroom.errors import NotFound
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
            name = manifest["frames"][0]["url"].rsplit("/", 1)[1]
            in_memory, on_disk = store.find_frame(name), fresh.find_frame(name)
            assert in_memory.data is not None and in_memory.path is None, "the rendering store keeps it in memory"
            assert on_disk.data is None and on_disk.path == tmp_path / "views" / name, "a new store sends the file"
            assert in_memory.etag == on_disk.etag == f'"{name.split(".")[0]}"'
            assert in_memory.content_type == on_disk.content_type == "image/jpeg"
            for unknown in ("0" * 64 + ".jpg", "../sets/x.json", name.replace(".jpg", ".gif")):
                with pytest.raises(NotFound):
                    fresh.find_frame(unknown)
            assert on_disk.path.read_bytes() == in_memory.data and in_memory.data[:3] == b"\xff\xd8\xff"
        finally:
            await store.pool.close()

    asyncio.run(run())
