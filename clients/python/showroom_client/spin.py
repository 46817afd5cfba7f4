"""Walks a product's 360 view set the way the kiosk does when a customer drags it round: fetch the manifest,
then every frame in turn; a second lap revalidates with If-None-Match and should get only 304s.

The frame rule every client follows (docs/deploy.md "A lost edge's view sets"): a frame answered 404, 502 or 503
means the manifest names frames no live edge holds (the edge that rendered the set is gone, or evicted it), so
the client asks for the manifest once more with `fresh=1` (nginx skips its cached copy and a live edge renders the
set; the request waits for it) and goes on with the new manifest's frame at the same angle. Once per manifest:
a frame that fails after that fails.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

IMAGE_MAGIC = {b"\xff\xd8\xff": "jpeg", b"\x89PNG": "png", b"RIFF": "webp"}
REFRESH_STATUSES = frozenset({404, 502, 503})
"""A frame answered with one of these: fetch the manifest again, once, with `fresh=1`."""


def needs_fresh_manifest(status: int, refreshed: bool) -> bool:
    """Whether a frame answered `status` calls for the one fresh manifest (not when this manifest already is)."""
    return status in REFRESH_STATUSES and not refreshed


def fresh_query(params: dict[str, str]) -> dict[str, str]:
    """The manifest query asking nginx to skip its cached copy: `fresh=1` goes last, where nginx leaves it out of
    the cache key (so the answer replaces the stale copy for every client)."""
    return {**{k: v for k, v in params.items() if k != "fresh"}, "fresh": "1"}


def urls_by_angle(manifest: dict[str, Any]) -> dict[tuple[float, float], str]:
    """Frame URL of every (yaw_deg, pitch_deg) of a manifest: where a frame of the old manifest is in the new."""
    return {(float(f["yaw_deg"]), float(f["pitch_deg"])): str(f["url"]) for f in manifest["frames"]}


@dataclass
class SpinReport:
    product: str
    variant: str
    size: str
    frames: int
    manifest_s: float
    first_lap_s: float
    second_lap_s: float
    not_modified: int
    bytes: int
    formats: list[str]
    refreshed: int = 0
    """1 when a frame failed and the manifest was fetched again (fresh=1), else 0."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("product / variant", f"{self.product} / {self.variant} at {self.size}"),
            ("manifest", f"{self.manifest_s * 1000:.0f} ms"),
            ("first lap", f"{self.frames} frames in {self.first_lap_s * 1000:.0f} ms "
                          f"({self.frames / max(self.first_lap_s, 1e-9):.0f} frames/s, {self.bytes / 1e6:.2f} MB)"),
            ("second lap", f"{self.not_modified}/{self.frames} not modified in {self.second_lap_s * 1000:.0f} ms"),
            ("formats", ", ".join(self.formats)),
            ("manifest refreshed", "yes (a frame was missing)" if self.refreshed else "no"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


async def spin(base_url: str, product: str, *, variant: str | None = None, size: str | None = None,
               session: aiohttp.ClientSession | None = None) -> SpinReport:
    base = base_url.rstrip("/")
    own = session is None
    s = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900))
    try:
        params = {k: v for k, v in (("variant", variant), ("size", size)) if v}
        url = f"{base}/api/products/{product}/views"
        t0 = time.perf_counter()
        manifest = await _manifest(s, url, params)
        t1 = time.perf_counter()
        etags: dict[str, str] = {}
        total = 0
        formats: set[str] = set()
        refreshed = False
        current = urls_by_angle(manifest)  # the URL of each angle's frame: the fresh manifest's, once fetched
        for angle in list(current):
            status, data, etag = await _frame(s, base + current[angle])
            if needs_fresh_manifest(status, refreshed):
                refreshed = True
                current.update(urls_by_angle(await _manifest(s, url, fresh_query(params))))
                status, data, etag = await _frame(s, base + current[angle])
            if status != 200:
                raise ConnectionError(f"{current[angle]}: HTTP {status}")
            etags[base + current[angle]] = etag
            total += len(data)
            formats.update(name for magic, name in IMAGE_MAGIC.items() if data.startswith(magic))
        t2 = time.perf_counter()
        not_modified = 0
        for frame_url, etag in etags.items():
            async with s.get(frame_url, headers={"If-None-Match": etag}) as r:
                await r.read()
                not_modified += r.status == 304
        t3 = time.perf_counter()
    finally:
        if own:
            await s.close()
    return SpinReport(product, manifest["variant"], manifest["size"], len(manifest["frames"]), round(t1 - t0, 4),
                      round(t2 - t1, 4), round(t3 - t2, 4), not_modified, total, sorted(formats), int(refreshed))


async def _manifest(s: aiohttp.ClientSession, url: str, params: dict[str, str]) -> dict[str, Any]:
    async with s.get(url, params=params) as r:
        if r.status != 200:
            raise ConnectionError(f"view set: HTTP {r.status}: {await r.text()}")
        manifest: dict[str, Any] = await r.json()
        return manifest


async def _frame(s: aiohttp.ClientSession, url: str) -> tuple[int, bytes, str]:
    async with s.get(url) as r:
        return r.status, await r.read(), r.headers.get("ETag", "")
