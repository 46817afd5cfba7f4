"""The guide's portrait sheets on disk: rendered once per (character file, size, code version) through the
node's render pool, kept as content-addressed folders `<data_dir>/portraits/<key>/` (the sheets and
`manifest.json`), immutable once written (docs/guide.md, "Portrait frames").

One rendering serves every size: the frames are rendered at the largest size and downsampled for the others
(the phone's 180x240 from the kiosk's 360x480). Concurrent first requests share that one rendering; a failed one is
logged and answered `PortraitUnavailable` (503 + Retry-After) until `retry_after_failure_s` has passed, then the
next request starts again. The warm-up at node start renders at a lower priority than a customer's request, which
raises it. Nothing blocks the event loop: frames render in the pool, sheets are assembled and encoded in an
executor, the folder appears in one rename.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render_node.encoding import encode_webp
from render_node.errors import NodeError, Overloaded
from render_node.guide import portrait as pt
from render_node.pool import PRIORITY_VIEW, RenderPool
from render_node.render.errors import RenderError
from render_node.render.gltf import read_gltf
from render_node.render.types import RenderRequest
from showroom.errors import NotFound

log = logging.getLogger("render_node.guide.portrait")

PRIORITY_WARM = PRIORITY_VIEW + 5
"""The warm-up at node start: after view sets; a customer's request raises the rendering to PRIORITY_VIEW."""
CLIP_QUALITY = 90
PATCH_QUALITY = 95
KEEP_SETS = 8
"""Portrait folders kept on disk (older characters' are removed, oldest first)."""


class Unavailable(pt.PortraitUnavailable, Overloaded):
    """`portrait_unavailable` with a Retry-After (the node's error middleware adds it for Overloaded)."""

    code = "portrait_unavailable"
    http_status = 503

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, round(retry_after_s))


@dataclass
class _Job:
    glb_sha256: str
    priority: int
    total: int = 0
    done: int = 0
    task: asyncio.Task[None] | None = None
    started_at: float = field(default_factory=time.monotonic)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class PortraitStore:
    """The portrait sheets of the guide at `assets_dir`, rendered through `pool`, cached under `cache_dir`."""

    def __init__(self, cache_dir: Path, pool: RenderPool, assets_dir: Path, *, renderer_version: str,
                 sizes: Mapping[str, tuple[int, int]] = pt.SIZES, frame_timeout_s: float = 120.0,
                 retry_after_failure_s: float = 30.0) -> None:
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.pool = pool
        self.glb = pt.guide_glb(assets_dir)
        self.renderer_version = renderer_version
        self.sizes = dict(sizes)
        self.frame_timeout_s = frame_timeout_s
        self.retry_after_failure_s = retry_after_failure_s
        self._hashes: dict[tuple[int, int], str] = {}
        self._manifests: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, _Job] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self.last_render_s: float | None = None
        """Seconds the last rendering took (all sizes), for the log and the docs' timing."""

    # -- keys -----------------------------------------------------------------------------------------------
    def _glb_sha256(self) -> tuple[str, tuple[int, int]]:
        try:
            st = self.glb.stat()
        except FileNotFoundError:
            raise pt.GuideNotBuilt("the guide character is not built: run `showroom assets build`") from None
        stamp = (st.st_size, st.st_mtime_ns)
        digest = self._hashes.get(stamp)
        if digest is None:
            h = hashlib.sha256()
            with self.glb.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            digest = h.hexdigest()
            self._hashes = {stamp: digest}
        return digest, stamp

    def key(self, size: str) -> str:
        return pt.portrait_key(self._glb_sha256()[0], size, self.sizes[size], self.renderer_version)

    def cached(self, key: str) -> dict[str, Any] | None:
        manifest = self._manifests.get(key)
        if manifest is None:
            try:
                manifest = json.loads((self.cache_dir / key / "manifest.json").read_text(encoding="utf-8"))
            except (FileNotFoundError, NotADirectoryError, ValueError):
                return None
            assert isinstance(manifest, dict)
            self._manifests[key] = manifest
        return manifest

    def sheet_path(self, key: str, name: str) -> Path:
        """The file of sheet `name` of portrait `key`; NotFound when there is none."""
        if len(key) != 32 or any(c not in "0123456789abcdef" for c in key) or name not in pt.SHEET_NAMES:
            raise NotFound(f"no portrait sheet {key}/{name}")
        path = self.cache_dir / key / f"{name}.webp"
        if not path.is_file():
            raise NotFound(f"no portrait sheet {key}/{name} on this node: load the manifest "
                           f"(GET /api/guide/portrait) again")
        return path

    # -- rendering ------------------------------------------------------------------------------------------
    def start(self, size: str, *, priority: int = PRIORITY_VIEW) -> tuple[str, dict[str, Any] | None]:
        """(key, manifest) when cached, else (key, None) with the rendering started (at most one per character
        file) or under way. GuideNotBuilt without a character; Unavailable shortly after a failed rendering."""
        if size not in self.sizes:
            raise KeyError(size)
        digest, _ = self._glb_sha256()
        key = pt.portrait_key(digest, size, self.sizes[size], self.renderer_version)
        manifest = self.cached(key)
        if manifest is not None:
            return key, manifest
        job = self._jobs.get(digest)
        if job is not None:
            job.priority = min(job.priority, priority)
            return key, None
        failed = self._failures.get(digest)
        if failed is not None:
            left_s = failed[0] + self.retry_after_failure_s - time.monotonic()
            if left_s > 0:
                raise Unavailable(f"the guide's portrait could not be rendered: {failed[1]}", left_s)
            del self._failures[digest]
        job = _Job(digest, priority)
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        self._jobs[digest] = job
        return key, None

    def progress(self) -> tuple[int, int] | None:
        """(frames done, frames in all) of the rendering under way, if any."""
        for job in self._jobs.values():
            return job.done, job.total
        return None

    async def manifest(self, size: str, *, priority: int = PRIORITY_VIEW) -> dict[str, Any]:
        """The manifest of `size`, rendering first when needed (waits; for the warm-up and tools)."""
        key, manifest = self.start(size, priority=priority)
        while manifest is None:
            job = self._jobs.get(self._glb_sha256()[0])
            if job is not None and job.task is not None:
                await asyncio.shield(job.task)
            manifest = self.cached(key)
            if manifest is None:
                key, manifest = self.start(size, priority=priority)  # failed: raises Unavailable
        return manifest

    async def _run(self, job: _Job) -> None:
        try:
            await self._render(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, NodeError | RenderError) else repr(exc)
            if isinstance(exc, NodeError | RenderError):
                log.warning("guide portrait not rendered: %s", message)
            else:
                log.exception("guide portrait not rendered")
            self._failures[job.glb_sha256] = (time.monotonic(), message)
        finally:
            self._jobs.pop(job.glb_sha256, None)

    async def _render(self, job: _Job) -> None:
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        _, stamp = self._glb_sha256()
        character = await loop.run_in_executor(None, lambda: pt.character_of(read_gltf(self.glb)))
        render_px = max(self.sizes.values(), key=lambda s: s[0] * s[1])
        view = pt.bust_view(character, render_px)
        face = pt.face_shots()
        clips = pt.clip_shots(character)
        job.total = len(face) + len(clips)
        gate = asyncio.Semaphore(max(1, self.pool.size))

        async def one(shot: pt.Shot) -> pt.RGBA8:
            request = RenderRequest(self.glb, view, size_px=render_px, background="transparent", env="studio",
                                    shadow=False, pose=shot.pose)
            async with gate:
                for attempt in range(3):
                    try:
                        frame = await self.pool.render(request, timeout_s=self.frame_timeout_s,
                                                       priority=job.priority)
                        break
                    except Overloaded:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(1.0)
            job.done += 1
            return frame

        keys = {name: pt.portrait_key(job.glb_sha256, name, px, self.renderer_version)
                for name, px in self.sizes.items()}
        staging = {name: self.cache_dir / f".{key}.{os.getpid()}.tmp" for name, key in keys.items()}
        for path in staging.values():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        try:
            frames = await asyncio.gather(*(one(s) for s in face))
            boxes = await loop.run_in_executor(None, self._write_face, face, frames, staging)
            counts: dict[str, int] = {}
            for name, _ in character.clips:
                shots = [s for s in clips if s.sheet == name]
                frames = await asyncio.gather(*(one(s) for s in shots))
                await loop.run_in_executor(None, self._write_clip, name, frames, staging)
                counts[name] = len(frames)
            if self._glb_sha256()[1] != stamp:
                raise pt.PortraitUnavailable("the guide character changed while its portrait was rendered")
            for name, key in keys.items():
                mouth_box, eyes_box = boxes[name]
                body = pt.manifest(key, name, self.sizes[name], counts, mouth_box, eyes_box)
                _write_atomic(staging[name] / "manifest.json", json.dumps(body, indent=1).encode())
                final = self.cache_dir / key
                if final.is_dir():  # another process wrote the same content
                    shutil.rmtree(staging[name], ignore_errors=True)
                else:
                    os.replace(staging[name], final)
                self._manifests[key] = body
        finally:
            for path in staging.values():
                shutil.rmtree(path, ignore_errors=True)
        self.last_render_s = time.perf_counter() - t0
        log.info("guide portrait rendered: %d frames at %dx%d for %s in %.1f s", job.total, *render_px,
                 ", ".join(self.sizes), self.last_render_s)
        self._prune(set(keys.values()))

    def _write_face(self, face: list[pt.Shot], frames: list[pt.RGBA8], staging: Mapping[str, Path]
                    ) -> dict[str, tuple[pt.Box, pt.Box]]:
        """Mouth and eye boxes and sheets of every size (executor thread)."""
        out: dict[str, tuple[pt.Box, pt.Box]] = {}
        for name, px in self.sizes.items():
            sized = [pt.resize(f, px) for f in frames]
            neutral = next(f for s, f in zip(face, sized, strict=True) if s.sheet == "neutral")
            mouths = [f for s, f in zip(face, sized, strict=True) if s.sheet == "mouth"]
            eyes = [f for s, f in zip(face, sized, strict=True) if s.sheet == "eyes"]
            margin = pt.margin_px(px)
            mouth_box = pt.change_box(neutral, mouths, margin_px=margin)
            if mouth_box is None:
                raise pt.PortraitUnavailable("the guide's visemes change no pixel of its face: a character "
                                             "without working visemes cannot speak in the portrait")
            eyes_box = pt.change_box(neutral, eyes, margin_px=margin)
            if eyes_box is None:
                raise pt.PortraitUnavailable("the guide's eyeBlinkLeft/eyeBlinkRight change no pixel of its face")
            mouth_sheet = pt.sheet([pt.crop(f, mouth_box) for f in mouths])
            eyes_sheet = pt.sheet([pt.crop(f, eyes_box) for f in eyes], cols=len(eyes))
            _write_atomic(staging[name] / "mouth.webp", encode_webp(mouth_sheet, PATCH_QUALITY))
            _write_atomic(staging[name] / "eyes.webp", encode_webp(eyes_sheet, PATCH_QUALITY))
            out[name] = (mouth_box, eyes_box)
        return out

    def _write_clip(self, clip: str, frames: list[pt.RGBA8], staging: Mapping[str, Path]) -> None:
        for name, px in self.sizes.items():
            data = encode_webp(pt.sheet([pt.resize(f, px) for f in frames]), CLIP_QUALITY)
            _write_atomic(staging[name] / f"{clip}.webp", data)

    def _prune(self, keep: set[str]) -> None:
        """Removes the oldest portrait folders past KEEP_SETS (never the ones just written)."""
        sets = sorted((p for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for path in sets[KEEP_SETS:]:
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
                self._manifests.pop(path.name, None)

    async def close(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
