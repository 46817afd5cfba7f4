"""The client end of bench/links.py part 2: run inside the link's namespace (`ip netns exec NS python -m
bench.linkrig.product KIND ...`), it plays one part of the product against the node and prints one JSON object:

- `vr`: the VR pose stream (synthetic head motion at --hz), every frame's receive time, bytes, size, JPEG
  quality and pose-to-frame latency (client clock, from the echoed pose time);
- `spin`: a 360 view set as the kiosk's Python client walks it (manifest, then every frame in turn): time to
  the manifest, to the first frame, to the whole set;
- `tryon`: the try-on camera stream (a photo sent as camera frames at --fps, consent given): replies per second
  and send-to-reply latency.

The benchmark (bench/links.py) starts the node, nginx and the link in the root namespace and reads the output.
Not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Literal

import aiohttp
from showroom_client.camera import play_camera
from showroom_client.stream import ws_url
from showroom_client.traces import synthetic_motion
from showroom_protocol import Hello, Pose, parse_frame


async def vr(url: str, product: str, *, seconds: float, hz: float, codec: Literal["jpeg", "h264"], width: int, height: int,
             eyes: int, target_fps: float, max_kbps: int) -> dict[str, Any]:
    poses = synthetic_motion(hz, min(seconds, 20.0), distance_m=0.35, target_m=(0.0, 0.02, 0.0))
    hello = Hello("vr", product, None, width, height, eyes, 60.0, 0.064, codec, max_kbps, target_fps)
    frames: list[list[float]] = []
    errors: list[str] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url(url), max_msg_size=64 * 1024 * 1024,
                                                          heartbeat=None) as ws:
        await ws.send_json(hello.to_json())
        welcome = await ws.receive(timeout=60)
        if welcome.type != aiohttp.WSMsgType.TEXT or json.loads(welcome.data).get("type") != "welcome":
            raise ConnectionError(f"no welcome: {welcome.type.name} {str(welcome.data)[:200]}")
        t0_wall = time.time()

        async def send() -> None:
            seq = 0
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                p = poses[seq % len(poses)]
                await ws.send_json(Pose(seq, time.time(), p.position_m, p.orientation_xyzw).to_json())
                seq += 1
                await asyncio.sleep(max(0.0, start + seq / hz - time.monotonic()))

        sender = asyncio.create_task(send())

        async def receive() -> None:
            async for msg in ws:
                now = time.time()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    header, payload = parse_frame(msg.data)
                    frames.append([round(now, 4), len(msg.data), header.width_px, header.height_px, header.quality,
                                   round(now - header.client_t, 4)])
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    m = json.loads(msg.data)
                    if m.get("type") == "error":
                        errors.append(f"{m.get('code')}: {m.get('message')}")

        receiver = asyncio.create_task(receive())
        await sender
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(receiver), 1.0)
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver
    return {"t0": t0_wall, "seconds": seconds, "frames": frames, "errors": errors[:5]}


async def spin(url: str, product: str, size: str) -> dict[str, Any]:
    base = url.rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as s:
        t0 = time.perf_counter()
        async with s.get(f"{base}/api/products/{product}/views", params={"size": size}) as r:
            if r.status != 200:
                raise ConnectionError(f"manifest: HTTP {r.status}")
            manifest = await r.json()
            cache = r.headers.get("X-Cache-Status", "")
        t_manifest = time.perf_counter() - t0
        first = math.nan
        total = 0
        statuses: dict[str, int] = {}
        for i, frame in enumerate(manifest["frames"]):
            async with s.get(base + frame["url"]) as r:
                total += len(await r.read())
                if r.status != 200:
                    raise ConnectionError(f"{frame['url']}: HTTP {r.status}")
                key = r.headers.get("X-Cache-Status", "-")
                statuses[key] = statuses.get(key, 0) + 1
            if i == 0:
                first = time.perf_counter() - t0
        whole = time.perf_counter() - t0
    return {"frames": len(manifest["frames"]), "manifest_s": t_manifest, "first_frame_s": first, "whole_s": whole,
            "bytes": total, "manifest_cache": cache, "frame_cache": statuses}


async def tryon(url: str, product: str, photo: Path, *, frames: int, fps: float) -> dict[str, Any]:
    data = photo.read_bytes()
    hello = Hello("phone", product, None, 1280, 720, 1, 50.0, 0.064, "jpeg", 50_000, fps, mode="tryon",
                  consent=True, output="composite")
    t0 = time.perf_counter()
    report = await play_camera(url, hello, [data] * frames, fps, drain_s=5.0)
    seconds = time.perf_counter() - t0
    return {"sent": report.frames_sent, "answered": report.frames_answered, "seconds": seconds,
            "send_seconds": frames / fps, "latency_ms": report.latency_ms, "node_ms": report.node_ms,
            "errors": report.errors[:3]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.linkrig.product", description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("vr", "spin", "tryon"))
    p.add_argument("--url", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--hz", type=float, default=30.0)
    p.add_argument("--codec", default="jpeg", choices=("jpeg", "h264"))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--eyes", type=int, default=2)
    p.add_argument("--target-fps", type=float, default=30.0)
    p.add_argument("--max-kbps", type=int, default=50_000)
    p.add_argument("--size", default="640x480")
    p.add_argument("--photo", type=Path)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--fps", type=float, default=15.0)
    a = p.parse_args(argv)
    if a.kind == "vr":
        out = asyncio.run(vr(a.url, a.product, seconds=a.seconds, hz=a.hz, codec=a.codec, width=a.width,
                             height=a.height, eyes=a.eyes, target_fps=a.target_fps, max_kbps=a.max_kbps))
    elif a.kind == "spin":
        out = asyncio.run(spin(a.url, a.product, a.size))
    else:
        if a.photo is None:
            p.error("tryon needs --photo")
        out = asyncio.run(tryon(a.url, a.product, a.photo, frames=a.frames, fps=a.fps))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
