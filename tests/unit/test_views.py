"""View-set keys and the frame cache (no rendering)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from render_node.errors import BadRequest
from render_node.pool import RenderPool
from render_node.view_sizes import DEFAULT_SIZE_PX, PUBLISHED_SIZES, VIEW_SIZES, parse_size
from render_node.views import ViewStore, _FrameLRU
from showroom.catalog import Catalog, load_catalog
from showroom.errors import NotFound
from tests.tiny_renderer import make_tiny_renderer

SMALL = ((32, 24), (40, 30), (48, 32))


def _store(tmp_path: Path, project_root: Path, version: str = "1", disk_bytes: int = 1 << 30
           ) -> tuple[ViewStore, Catalog]:
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    models = tmp_path / "assets" / "models"
    models.mkdir(parents=True, exist_ok=True)
    for p in catalog.products:
        (models / p.model).write_bytes(p.id.encode())
    pool = RenderPool(make_tiny_renderer, workers=0)
    return ViewStore(tmp_path / "views", pool, catalog, tmp_path / "assets", renderer_version=version,
                     disk_bytes=disk_bytes, extra_sizes=SMALL), catalog


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
    assert store.set_key(store.spec(product.id, size="960x720")) != key
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


def test_view_sets_come_only_in_the_published_sizes_and_the_error_lists_them(tmp_path: Path,
                                                                             project_root: Path) -> None:
    store, catalog = _store(tmp_path, project_root)
    pid = catalog.products[0].id
    for kind, sizes in VIEW_SIZES.items():
        for w, h in sizes:
            assert store.spec(pid, size=f"{w}x{h}").size_px == (w, h), kind
    assert store.spec(pid, size="32x24").size_px == (32, 24), "the node's extra sizes are served too"
    for odd in ("641x480", "1919x1080", "100x100", "1920x1920"):
        with pytest.raises(BadRequest, match="published") as err:
            store.spec(pid, size=odd)
        assert "kiosk 960x720" in err.value.message and "phone 640x480" in err.value.message
    assert {(960, 720), (640, 480)} <= PUBLISHED_SIZES, "the sizes the kiosk, phone and share pages ask for"


def test_the_disk_cache_evicts_whole_least_recently_used_sets_and_stays_under_its_bound(
        tmp_path: Path, project_root: Path) -> None:
    async def run() -> None:
        store, catalog = _store(tmp_path, project_root)
        await store.pool.start()
        try:
            pids = [p.id for p in catalog.products[:3]]
            first = await store.manifest(store.spec(pids[0], size="32x24"))
            one_set = store.disk_used_bytes
            assert one_set > 0
            store.disk_bytes = int(one_set * 2.6)  # room for two sets of this size, not three
            second = await store.manifest(store.spec(pids[1], size="40x30"))
            key0, task, cached = store.start(store.spec(pids[0], size="32x24"))  # the first is used again
            assert task is None and cached == first
            third = await store.manifest(store.spec(pids[2], size="48x32"))
            assert store.disk_used_bytes <= store.disk_bytes
            on_disk = sum(f.stat().st_size for f in (tmp_path / "views").rglob("*") if f.is_file())
            assert on_disk <= store.disk_bytes, "the files themselves stay under the bound"

            def names(manifest: dict[str, object]) -> list[str]:
                return [str(fr["url"]).rsplit("/", 1)[1] for fr in manifest["frames"]]  # type: ignore[attr-defined]

            # the second set was the least recently used: gone whole, manifest and frames
            assert not (tmp_path / "views" / "sets" / f"{second['key']}.json").exists()
            assert not any((tmp_path / "views" / n).exists() for n in names(second))
            with pytest.raises(NotFound, match="evicted"):
                store.find_frame(names(second)[0])
            # the others are complete: every frame their manifests name is there
            for kept in (first, third):
                assert all((tmp_path / "views" / n).is_file() for n in names(kept))
            # asking for the evicted set renders it again
            _, task, cached = store.start(store.spec(pids[1], size="40x30"))
            assert cached is None and task is not None
            again = await task
            assert names(again) == names(second)
            assert store.disk_used_bytes <= store.disk_bytes

            restarted, _ = _store(tmp_path, project_root, disk_bytes=store.disk_bytes)
            assert restarted.disk_used_bytes == store.disk_used_bytes, "a new store finds the same sets on disk"
            restarted.disk_bytes = one_set + 1
            assert len(restarted.evict_over_budget()) == 1
            assert restarted.disk_used_bytes <= restarted.disk_bytes + one_set
        finally:
            await store.pool.close()

    asyncio.run(run())


def test_atomic_writes_of_the_same_frame_from_many_threads_all_succeed(tmp_path: Path) -> None:
    """Two render threads can store the same content-addressed frame at once (identical frames of two sets):
    neither may rename the other's temporary file away (a FileNotFoundError became a 500 on the manifest)."""
    import threading

    from render_node.views import _write_atomic

    target = tmp_path / "frame.jpg"
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def write() -> None:
        start.wait()
        try:
            for _ in range(50):
                _write_atomic(target, b"same bytes")
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() == b"same bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["frame.jpg"]  # no temporary file left behind
    assert target.stat().st_mode & 0o777 == 0o644


# -- a lost edge's view sets: the client rule and nginx's `fresh=1` (docs/deploy.md "A lost edge's view sets") ---------


def test_a_missing_frame_calls_for_one_fresh_manifest_that_goes_last_in_the_query() -> None:
    from showroom_client.spin import fresh_query, needs_fresh_manifest, urls_by_angle

    assert [s for s in (200, 304, 400, 403, 404, 429, 500, 502, 503, 504) if needs_fresh_manifest(s, False)] == [
        404, 502, 503]
    assert not needs_fresh_manifest(502, True), "once per manifest"
    assert list(fresh_query({"fresh": "0", "variant": "v", "size": "32x24"}).items()) == [
        ("variant", "v"), ("size", "32x24"), ("fresh", "1")]
    old = {"frames": [{"yaw_deg": 0.0, "pitch_deg": 15.0, "url": "/views/a.jpg"},
                      {"yaw_deg": 10, "pitch_deg": 0, "url": "/views/b.jpg"}]}
    assert urls_by_angle(old) == {(0.0, 15.0): "/views/a.jpg", (10.0, 0.0): "/views/b.jpg"}


@pytest.mark.parametrize("conf", ["cluster.conf.in", "edge-cache.conf"])
def test_nginx_skips_its_cache_for_fresh_manifests_only_keeps_the_answer_and_limits_it(project_root: Path,
                                                                                      conf: str) -> None:
    import re

    text = (project_root / "deploy" / "nginx" / conf).read_text(encoding="utf-8")
    locations = re.split(r"\n\s*location ", text)
    manifests = [loc for loc in locations if loc.startswith("~ ^/api/products/[^/]+/views$")]
    assert len(manifests) == 1
    assert [loc for loc in locations if "proxy_cache_bypass" in loc or "limit_req " in loc] == manifests
    assert "proxy_cache_bypass $views_fresh;" in manifests[0] and "limit_req zone=views_fresh " in manifests[0]
    assert "proxy_cache_key $uri?$views_manifest_args;" in manifests[0]
    assert re.search(r"limit_req_zone \$views_fresh_client zone=views_fresh:\d+m rate=\d+r/m;", text)
    pattern = re.search(r'map \$args \$views_manifest_args \{\s*"~(.+?)" \$kept;', text)
    assert pattern is not None
    strip = re.compile(pattern.group(1).replace("(?<kept>", "(?P<kept>"))  # nginx's PCRE spelling -> Python's

    def key_args(args: str) -> str:
        m = strip.match(args)
        return m.group("kept") if m else args

    assert key_args("size=32x24&fresh=1") == key_args("size=32x24") == "size=32x24"
    assert key_args("variant=v&size=32x24&wait=0&fresh=1") == "variant=v&size=32x24&wait=0"
    assert key_args("fresh=1") == ""
    assert key_args("refresh=1") == "refresh=1" and key_args("fresh=1&size=32x24") == "fresh=1&size=32x24"
