"""360-degree view sets: N yaw x M pitch frames per product variant and size, rendered once, encoded, and kept
as content-addressed files `<data_dir>/views/<sha256>.<ext>` plus a bounded in-memory LRU.

Sizes come from one published list per client kind (`VIEW_SIZES`, also in the OpenAPI document and
docs/streams.md); any other size is refused (400, naming the allowed ones), so nobody can make the node render and
store sets at sizes no client shows. The disk cache is bounded (`disk_bytes`, SHOWROOM_VIEW_DISK_CACHE_MB): past
it, whole sets are evicted, least recently used first (a set is used when its manifest or one of its frames is
asked for; the manifest file's mtime keeps that across restarts). A set goes manifest first, then its frames no
other set holds, so a stored manifest never points at a missing frame; a frame URL of an evicted set answers 404
saying to fetch the manifest again, which renders the set anew.

A set's key hashes what decides its pixels: the model file's bytes, the variant's material overrides, the frame
size, format and grid, and the renderer version; its manifest is stored under that key, so the manifest (and
every frame URL in it) is the same after a restart and changes when the model or renderer changes. Concurrent
requests for one uncached set share one rendering; frames render in parallel over the worker pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render_node.encoding import EXTENSIONS, IMAGE_FORMATS, ImageFormat, encode_image
from render_node.env_choice import env_cache_key, env_for
from render_node.errors import BadRequest, Overloaded
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_VIEW, RenderPool
from render_node.render.errors import RenderError
from render_node.render.types import EnvFile, EnvName, MaterialOverride, RenderRequest, TurntableView
from render_node.view_sizes import (
    DEFAULT_SIZE_PX,
    PUBLISHED_SIZES,
    parse_size,
    published_sizes_text,
    size_text,
)
from showroom.catalog import Catalog, Environment, Product, Variant
from showroom.errors import NotFound

log = logging.getLogger("render_node.views")

DEFAULT_YAWS = 36
DEFAULT_PITCHES_DEG: tuple[float, ...] = (0.0, 15.0, 30.0)
DEFAULT_DISK_BYTES = 2048 * 1024 * 1024
ORPHAN_AGE_S = 3600.0
"""A frame file no manifest names, older than this at start-up, is left from a crash: it is removed."""
TOUCH_PERSIST_S = 300.0
FRAME_NAME = re.compile(r"^([0-9a-f]{64})\.(jpg|png|webp)$")
CONTENT_TYPE_BY_EXT = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

OverridesFor = Callable[[Product, Variant], tuple[MaterialOverride, ...]]


def default_overrides(product: Product, variant: Variant) -> tuple[MaterialOverride, ...]:
    from render_node.assets.variants import overrides_for

    return tuple(overrides_for(product, variant))


@dataclass(frozen=True)
class ViewSetSpec:
    product: Product
    variant: Variant
    size_px: tuple[int, int] = DEFAULT_SIZE_PX
    fmt: ImageFormat = "jpeg"
    yaws: int = DEFAULT_YAWS
    pitches_deg: tuple[float, ...] = DEFAULT_PITCHES_DEG
    env: Environment | None = None
    """The light asked for; None: the catalog's for the product (env_choice.env_for)."""

    @property
    def angles(self) -> list[tuple[float, float]]:
        """(yaw_deg, pitch_deg) of every frame: pitch rows, yaw within a row."""
        step = 360.0 / self.yaws
        return [(round(i * step, 3), p) for p in self.pitches_deg for i in range(self.yaws)]


@dataclass(frozen=True)
class FrameHit:
    """A frame found by `ViewStore.find_frame`: `data` when in memory, else `path` on disk."""

    content_type: str
    etag: str
    """The strong ETag, quoted: the frame's sha256 (its name)."""
    data: bytes | None = None
    path: Path | None = None


@dataclass
class Progress:
    total: int
    done: int = 0
    started_at: float = field(default_factory=time.monotonic)


class _FrameLRU:
    """Encoded frames by name, bounded by total bytes. Thread-safe: frames are stored from encoder threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def get(self, name: str) -> bytes | None:
        with self._lock:
            data = self._items.get(name)
            if data is not None:
                self._items.move_to_end(name)
            return data

    def drop(self, name: str) -> None:
        with self._lock:
            old = self._items.pop(name, None)
            if old is not None:
                self.bytes -= len(old)

    def put(self, name: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(name, None)
            if old is not None:
                self.bytes -= len(old)
            self._items[name] = data
            self.bytes += len(data)
            while self.bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= len(dropped)


@dataclass
class _StoredSet:
    frames: tuple[str, ...]
    size_bytes: int
    used_at: float
    """Unix seconds of the last request for its manifest or one of its frames."""
    persisted_at: float = 0.0


@dataclass
class _DiskIndex:
    """What the disk cache holds: sets by key, the sets each frame belongs to, and frames of sets still rendering
    (pinned: never evicted under them). `lock` guards what encoder threads touch (pinned, the byte count)."""

    sets: dict[str, _StoredSet] = field(default_factory=dict)
    owners: dict[str, set[str]] = field(default_factory=dict)
    pinned: dict[str, int] = field(default_factory=dict)
    used: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers see the whole file or none. The temporary name is unique per call: two render threads storing
    the same content-addressed frame at once must not rename each other's file away."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # as a plain write would leave it (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ViewStore:
    """View sets of a catalog, rendered through `pool` and cached under `cache_dir`."""

    def __init__(self, cache_dir: Path, pool: RenderPool, catalog: Catalog, assets_dir: Path, *,
                 renderer_version: str = "1", metrics: NodeMetrics | None = None,
                 memory_bytes: int = 256 * 1024 * 1024, overrides_for: OverridesFor | None = None,
                 frame_timeout_s: float = 120.0, disk_bytes: int = DEFAULT_DISK_BYTES,
                 extra_sizes: Collection[tuple[int, int]] = ()) -> None:
        self.cache_dir = cache_dir
        self.sets_dir = cache_dir / "sets"
        self.sets_dir.mkdir(parents=True, exist_ok=True)
        self.pool = pool
        self.catalog = catalog
        self.models_dir = assets_dir / "models"
        self.env_dir = assets_dir / "env"
        self.renderer_version = renderer_version
        self.metrics = metrics
        self.frame_timeout_s = frame_timeout_s
        self._overrides_for: OverridesFor = overrides_for or default_overrides
        self._memory = _FrameLRU(memory_bytes)
        self._manifests: dict[str, dict[str, Any]] = {}
        self._inflight: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._progress: dict[str, Progress] = {}
        self._model_hashes: dict[tuple[Path, int, int], str] = {}
        self.extra_sizes = frozenset(extra_sizes) - PUBLISHED_SIZES
        self.allowed_sizes = PUBLISHED_SIZES | self.extra_sizes
        self.disk_bytes = disk_bytes
        self._disk = _DiskIndex()
        self._index_disk()

    # -- keys -----------------------------------------------------------------------------------------------
    def model_path(self, product: Product) -> Path:
        return self.models_dir / product.model

    def env_for(self, product: Product, choice: Environment | None = None) -> EnvName | EnvFile:
        """The light of `product` (a request's `choice`, else the catalog's); `BadRequest` for an unknown file."""
        return env_for(product, self.env_dir, choice)

    def overrides(self, product: Product, variant: Variant) -> tuple[MaterialOverride, ...]:
        return self._overrides_for(product, variant)

    def _model_hash(self, path: Path) -> str:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise RenderError(f"the model {path.name} is not built: run `showroom assets build`") from None
        key = (path, st.st_size, st.st_mtime_ns)
        digest = self._model_hashes.get(key)
        if digest is None:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            digest = h.hexdigest()
            self._model_hashes[key] = digest
        return digest

    def spec(self, product_id: str, variant_id: str | None = None, size: str | None = None,
             fmt: str | None = None, env: Environment | None = None) -> ViewSetSpec:
        product = self.catalog.get(product_id)
        variant = product.variant(variant_id or None)
        f = fmt or "jpeg"
        if f not in IMAGE_FORMATS:
            raise BadRequest(f"format must be one of {', '.join(IMAGE_FORMATS)}, got {f!r}")
        try:
            size_px = parse_size(size)
        except BadRequest as exc:
            raise BadRequest(f"{exc.message}; view sets come in the published sizes: "
                             f"{published_sizes_text(self.extra_sizes)}") from None
        if size_px not in self.allowed_sizes:
            raise BadRequest(f"size {size_text(size_px)} is not a published view-set size; use one of: "
                             f"{published_sizes_text(self.extra_sizes)}")
        self.env_for(product, env)  # an unknown environment file is a 400 before anything renders
        return ViewSetSpec(product, variant, size_px, f, env=env)  # type: ignore[arg-type]

    def set_key(self, spec: ViewSetSpec) -> str:
        overrides = self._overrides_for(spec.product, spec.variant)
        parts = {
            "model_sha256": self._model_hash(self.model_path(spec.product)),
            "variant": spec.variant.id,
            "overrides": [repr(o) for o in overrides],
            "size": list(spec.size_px),
            "format": spec.fmt,
            "yaws": spec.yaws,
            "pitches": list(spec.pitches_deg),
            "env": env_cache_key(self.env_for(spec.product, spec.env), self._model_hash),
            "renderer": self.renderer_version,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    # -- manifests ------------------------------------------------------------------------------------------
    def cached_manifest(self, key: str) -> dict[str, Any] | None:
        manifest = self._manifests.get(key)
        if manifest is not None:
            return manifest
        path = self.sets_dir / f"{key}.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        assert isinstance(manifest, dict)
        if not all(self.frame_path(fr["url"].rsplit("/", 1)[-1]).is_file() for fr in manifest["frames"]):
            return None  # the frame files were pruned: render again
        self._manifests[key] = manifest
        if key not in self._disk.sets:
            self._admit(key, manifest)
        return manifest

    def progress(self, key: str) -> Progress | None:
        return self._progress.get(key)

    def start(self, spec: ViewSetSpec, on_frame: Callable[[], None] | None = None
              ) -> tuple[str, asyncio.Task[dict[str, Any]] | None, dict[str, Any] | None]:
        """(key, the rendering task or None, the manifest when already cached). Starts at most one rendering."""
        key = self.set_key(spec)
        manifest = self.cached_manifest(key)
        if manifest is not None:
            if self.metrics is not None:
                self.metrics.view_cache.labels("set", "hit").inc()
            self._touch(key)
            return key, None, manifest
        task = self._inflight.get(key)
        if task is None:
            if self.metrics is not None:
                self.metrics.view_cache.labels("set", "miss").inc()
            task = asyncio.get_running_loop().create_task(self._render_set(key, spec, on_frame))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return key, task, None

    async def manifest(self, spec: ViewSetSpec, on_frame: Callable[[], None] | None = None) -> dict[str, Any]:
        """The manifest of `spec`, rendering the set first when it is not cached (shared by concurrent calls)."""
        _, task, manifest = self.start(spec, on_frame)
        if manifest is not None:
            return manifest
        assert task is not None
        return await asyncio.shield(task)

    async def _render_set(self, key: str, spec: ViewSetSpec, on_frame: Callable[[], None] | None
                          ) -> dict[str, Any]:
        t0 = time.perf_counter()
        angles = spec.angles
        progress = Progress(total=len(angles))
        self._progress[key] = progress
        overrides = self._overrides_for(spec.product, spec.variant)
        model = self.model_path(spec.product)
        env = self.env_for(spec.product, spec.env)
        gate = asyncio.Semaphore(max(1, self.pool.size))
        loop = asyncio.get_running_loop()
        written: list[str] = []

        async def one(yaw_deg: float, pitch_deg: float) -> dict[str, Any]:
            request = RenderRequest(model, TurntableView(yaw_deg=yaw_deg, pitch_deg=pitch_deg),
                                    size_px=spec.size_px, background="white", env=env, overrides=overrides)
            async with gate:
                for attempt in range(2):
                    try:
                        frame = await self.pool.render(request, timeout_s=self.frame_timeout_s,
                                                       priority=PRIORITY_VIEW)
                        break
                    except Overloaded:
                        if attempt == 1:
                            raise
                        await asyncio.sleep(0.5)
            name = await loop.run_in_executor(None, self._store_frame, frame, spec.fmt)
            written.append(name)
            progress.done += 1
            if on_frame is not None:
                on_frame()
            return {"yaw_deg": yaw_deg, "pitch_deg": pitch_deg, "url": f"/views/{name}"}

        try:
            frames = await asyncio.gather(*(one(y, p) for y, p in angles))
        except BaseException:
            self._unpin(written)
            self._drop_unowned(written)
            raise
        finally:
            self._progress.pop(key, None)
        manifest: dict[str, Any] = {
            "product": spec.product.id,
            "variant": spec.variant.id,
            "size": f"{spec.size_px[0]}x{spec.size_px[1]}",
            "width": spec.size_px[0],
            "height": spec.size_px[1],
            "format": spec.fmt,
            "yaws": spec.yaws,
            "pitches_deg": list(spec.pitches_deg),
            "key": key,
            "frames": list(frames),
        }
        _write_atomic(self.sets_dir / f"{key}.json", json.dumps(manifest, indent=1).encode())
        self._manifests[key] = manifest
        self._admit(key, manifest)
        self._unpin(written)
        self.evict_over_budget()
        elapsed_s = time.perf_counter() - t0
        if self.metrics is not None:
            self.metrics.view_sets_rendered.inc()
            self.metrics.view_set_seconds.observe(elapsed_s)
        log.info("view set %s/%s %s rendered: %d frames in %.1f s", spec.product.id, spec.variant.id,
                 manifest["size"], len(frames), elapsed_s)
        return manifest

    # -- frames ---------------------------------------------------------------------------------------------
    def frame_path(self, name: str) -> Path:
        return self.cache_dir / name

    def _store_frame(self, frame: Any, fmt: ImageFormat) -> str:
        data = encode_image(frame, fmt, quality=88)
        name = f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[fmt]}"
        path = self.frame_path(name)
        with self._disk.lock:
            self._disk.pinned[name] = self._disk.pinned.get(name, 0) + 1  # not evicted while its set renders
        if not path.exists():
            _write_atomic(path, data)
        self._memory.put(name, data)
        return name

    def find_frame(self, name: str) -> FrameHit:
        """Where a content-addressed frame is: its bytes when held in memory, else its file (for sendfile; a
        stat, no read). NotFound when unknown."""
        m = FRAME_NAME.match(name)
        if not m:
            raise NotFound(f"no view frame {name!r}")
        content_type = CONTENT_TYPE_BY_EXT[m.group(2)]
        etag = f'"{m.group(1)}"'
        data = self._memory.get(name)
        if data is not None:
            self._count("memory", "hit")
            self._touch_frame(name)
            return FrameHit(content_type, etag, data=data)
        path = self.frame_path(name)
        if not path.is_file():
            self._count("disk", "miss")
            raise NotFound(f"no view frame {name!r} on this node: its view set may have been evicted from the cache; "
                           f"ask for the view set again (GET /api/products/{{product_id}}/views) to render it anew")
        self._count("disk", "hit")
        self._touch_frame(name)
        return FrameHit(content_type, etag, path=path)

    # -- the disk bound ---------------------------------------------------------------------------------------
    @property
    def disk_used_bytes(self) -> int:
        return self._disk.used

    def _file_size(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def _index_disk(self) -> None:
        """Indexes the stored sets (their last use is the manifest's mtime) and removes frames left by a crash."""
        owned: set[str] = set()
        for path in self.sets_dir.glob("*.json"):
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
                names = [fr["url"].rsplit("/", 1)[-1] for fr in manifest["frames"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            self._admit(path.stem, manifest, used_at=path.stat().st_mtime)
            owned.update(names)
        now = time.time()
        for path in self.cache_dir.iterdir():
            if FRAME_NAME.match(path.name) and path.name not in owned:
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > ORPHAN_AGE_S:
                        path.unlink()
        self.evict_over_budget()

    def _admit(self, key: str, manifest: dict[str, Any], used_at: float | None = None) -> None:
        names = tuple(fr["url"].rsplit("/", 1)[-1] for fr in manifest["frames"])
        size = self._file_size(self.sets_dir / f"{key}.json")
        for name in set(names):  # a frame two sets share counts in both: evicting one leaves the count right
            size += self._file_size(self.frame_path(name))
            self._disk.owners.setdefault(name, set()).add(key)
        with self._disk.lock:
            old = self._disk.sets.pop(key, None)
            if old is not None:
                self._disk.used -= old.size_bytes
            self._disk.sets[key] = _StoredSet(names, size, used_at if used_at is not None else time.time())
            self._disk.used += size

    def _touch(self, key: str) -> None:
        stored = self._disk.sets.get(key)
        if stored is None:
            return
        now = time.time()
        if now - stored.persisted_at > TOUCH_PERSIST_S:  # the manifest's mtime carries its last use over restarts
            stored.persisted_at = now
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.sets_dir / f"{key}.json")
        stored.used_at = now

    def _touch_frame(self, name: str) -> None:
        for key in tuple(self._disk.owners.get(name, ())):
            self._touch(key)

    def _unpin(self, names: Collection[str]) -> None:
        with self._disk.lock:
            for name in names:
                left = self._disk.pinned.get(name, 0) - 1
                if left > 0:
                    self._disk.pinned[name] = left
                else:
                    self._disk.pinned.pop(name, None)

    def _drop_unowned(self, names: Collection[str]) -> None:
        """After a failed rendering: the frames it wrote that no stored set holds (and no rendering pins)."""
        with self._disk.lock:
            pinned = set(self._disk.pinned)
        for name in set(names):
            if not self._disk.owners.get(name) and name not in pinned:
                with contextlib.suppress(FileNotFoundError):
                    self.frame_path(name).unlink()
                self._memory.drop(name)

    def evict_over_budget(self) -> list[str]:
        """Evicts whole sets, least recently used first, until the disk holds at most `disk_bytes` (the newest
        set stays even when it alone is larger). Returns the evicted keys."""
        evicted: list[str] = []
        while self._disk.used > self.disk_bytes and len(self._disk.sets) > 1:
            key = min(self._disk.sets, key=lambda k: self._disk.sets[k].used_at)
            self._evict(key)
            evicted.append(key)
        if evicted:
            log.info("view cache over %d MB: evicted %d least recently used sets", self.disk_bytes >> 20, len(evicted))
            if self.metrics is not None:
                self.metrics.view_cache.labels("disk", "evicted").inc(len(evicted))
        return evicted

    def _evict(self, key: str) -> None:
        """Manifest first (nobody is handed this set again), then the frames no other set holds."""
        with self._disk.lock:
            stored = self._disk.sets.pop(key)
            self._disk.used -= stored.size_bytes
            pinned = set(self._disk.pinned)
        self._manifests.pop(key, None)
        with contextlib.suppress(FileNotFoundError):
            (self.sets_dir / f"{key}.json").unlink()
        for name in set(stored.frames):
            owners = self._disk.owners.get(name, set())
            owners.discard(key)
            if owners:
                continue
            self._disk.owners.pop(name, None)
            if name in pinned:
                continue
            with contextlib.suppress(FileNotFoundError):
                self.frame_path(name).unlink()
            self._memory.drop(name)

    def _count(self, layer: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.view_cache.labels(layer, result).inc()

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        for task in list(self._inflight.values()):
            with contextlib.suppress(BaseException):
                await task
