"""Walks a product's 360 view set the way the kiosk does when a customer drags it round: fetch the manifest,
then every frame in turn; a second lap revalidates with If-None-Match and should get only 304s."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

IMAGE_MAGIC = {b"\xff\xd8\xff": "jpeg", b"\x89PNG": "png", b"RIFF": "webp"}


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
        t0 = time.perf_counter()
        async with s.get(f"{base}/api/products/{product}/views", params=params) as r:
            if r.status != 200:
                raise ConnectionError(f"view set: HTTP {r.status}: {await r.text()}")
            manifest = await r.json()
        t1 = time.perf_counter()
        etags: dict[str, str] = {}
        total = 0
        formats: set[str] = set()
        for frame in manifest["frames"]:
            async with s.get(base + frame["url"]) as r:
                data = await r.read()
                if r.status != 200:
                    raise ConnectionError(f"{frame['url']}: HTTP {r.status}")
                etags[frame["url"]] = r.headers.get("ETag", "")
                total += len(data)
                formats.update(name for magic, name in IMAGE_MAGIC.items() if data.startswith(magic))
        t2 = time.perf_counter()
        not_modified = 0
        for url, etag in etags.items():
            async with s.get(base + url, headers={"If-None-Match": etag}) as r:
                await r.read()
                not_modified += r.status == 304
        t3 = time.perf_counter()
    finally:
        if own:
            await s.close()
    return SpinReport(product, manifest["variant"], manifest["size"], len(manifest["frames"]), round(t1 - t0, 4),
                      round(t2 - t1, 4), round(t3 - t2, 4), not_modified, total, sorted(formats))
