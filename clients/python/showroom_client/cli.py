"""`showroom-client`: drive an edge node from the command line like a headset or a kiosk would.

  showroom-client vr [--url URL] [--trace FILE | --synthetic] [--seconds 10] [--hz 72] [--json]
  showroom-client tiers [the vr options] [--seconds 60]     live -> views -> poster and back, events as JSON lines
  showroom-client spin PRODUCT [--url URL] [--variant V] [--size WxH] [--json]
  showroom-client camera PRODUCT --image FILE [--mode ar|tryon] [--consent] [--frames 30] [--fps 15]
                         [--output composite|overlay] [--fov 60] [--save DIR] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from showroom_protocol import Hello

from showroom_client.camera import play_camera
from showroom_client.spin import spin
from showroom_client.stream import play_vr
from showroom_client.tiered import play_tiered
from showroom_client.traces import load_trace, resample, synthetic_motion


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="showroom-client", description="drive a showroom edge node")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    vr = sub.add_parser("vr", help="play a head-pose trace over the live stream and report latency")
    _stream_args(vr, seconds=10.0)
    vr.add_argument("--json", action="store_true", help="print the report as JSON")
    tiers = sub.add_parser("tiers", help="play like a headset on a weak link: live stream -> cached view set -> "
                                         "poster and back by probes (docs/links.md); prints each tier change")
    _stream_args(tiers, seconds=60.0)
    sp = sub.add_parser("spin", help="walk a product's 360 view set like the kiosk")
    sp.add_argument("product")
    sp.add_argument("--url", default="http://127.0.0.1:8080")
    sp.add_argument("--variant")
    sp.add_argument("--size")
    sp.add_argument("--json", action="store_true")
    cam = sub.add_parser("camera", help="send camera frames in the AR or try-on mode of the live stream")
    cam.add_argument("product")
    cam.add_argument("--image", type=Path, required=True, action="append",
                     help="a JPEG/PNG camera frame (repeat for several; they are sent in turn)")
    cam.add_argument("--url", default="http://127.0.0.1:8080")
    cam.add_argument("--variant")
    cam.add_argument("--mode", default="ar", choices=("ar", "tryon"))
    cam.add_argument("--consent", action="store_true",
                     help="try-on: the person in the frames agreed to face/hand analysis (PIPL)")
    cam.add_argument("--frames", type=int, default=30, help="frames to send (the images are cycled)")
    cam.add_argument("--fps", type=float, default=15.0)
    cam.add_argument("--output", default="composite", choices=("composite", "overlay"))
    cam.add_argument("--fov", type=float, default=60.0, help="vertical field of view of the camera, degrees")
    cam.add_argument("--anchor", choices=("neck", "ear", "finger", "wrist"))
    cam.add_argument("--save", type=Path, help="write the replies into this folder")
    cam.add_argument("--json", action="store_true")
    return p


def _stream_args(p: argparse.ArgumentParser, *, seconds: float) -> None:
    p.add_argument("--url", default="http://127.0.0.1:8080")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--trace", type=Path, help="a head trace (format of the shared vr-traces)")
    src.add_argument("--synthetic", action="store_true", help="synthetic head motion (default without --trace)")
    p.add_argument("--seconds", type=float, default=seconds)
    p.add_argument("--hz", type=float, default=72.0, help="headset pose rate (the trace is resampled by slerp)")
    p.add_argument("--start", type=float, default=0.0, help="seconds into the trace to start from")
    p.add_argument("--product", help="product id (default: the catalog's first)")
    p.add_argument("--variant")
    p.add_argument("--codec", default="jpeg", choices=("jpeg", "h264", "webp"))
    p.add_argument("--eyes", type=int, default=2, choices=(1, 2))
    p.add_argument("--width", type=int, default=960, help="per eye")
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--fov", type=float, default=90.0, help="vertical field of view per eye, degrees")
    p.add_argument("--target-fps", type=float, default=72.0)
    p.add_argument("--max-kbps", type=int, default=50_000)
    p.add_argument("--fixed", action="store_true", help="ask the node not to adapt quality or resolution")


async def _product(url: str, product_id: str | None) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(url.rstrip("/") + "/api/products") as r:
        r.raise_for_status()
        products: list[dict[str, Any]] = (await r.json())["products"]
    if not products:
        raise SystemExit("the node's catalog is empty")
    if product_id is None:
        return products[0]
    for p in products:
        if p["id"] == product_id:
            return p
    raise SystemExit(f"no product {product_id!r} on the node")


def viewing_distance_m(product: dict[str, Any], fov_deg: float) -> tuple[float, tuple[float, float, float]]:
    """A distance that frames the product (at least 0.25 m, a close look) and the centre of its bounds."""
    dims = [float(d) / 1000 for d in product.get("dimensions_mm") or [50, 50, 50]]
    size_m = max(dims)
    fit = (size_m / 2) / math.tan(math.radians(fov_deg) / 2) * 1.4
    return max(0.25, fit), (0.0, dims[1] / 2, 0.0)


async def _hello_and_poses(args: argparse.Namespace, seconds: float) -> tuple[Hello, list[Any]]:
    product = await _product(args.url, args.product)
    distance_m, target_m = viewing_distance_m(product, args.fov)
    if args.trace:
        times, quats = load_trace(args.trace)
        poses = resample(times, quats, args.hz, seconds, start_s=args.start, distance_m=distance_m,
                         target_m=target_m)
    else:
        poses = synthetic_motion(args.hz, seconds, distance_m=distance_m, target_m=target_m)
    hello = Hello("vr", product["id"], args.variant, args.width, args.height, args.eyes, args.fov, 0.064,
                  args.codec, args.max_kbps, args.target_fps, adaptive=not args.fixed)
    return hello, list(poses)


async def _vr(args: argparse.Namespace) -> int:
    hello, poses = await _hello_and_poses(args, args.seconds)
    report = await play_vr(args.url, hello, poses, args.hz)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.table())
    return 0 if report.frames > 0 else 1


async def _tiers(args: argparse.Namespace) -> int:
    hello, poses = await _hello_and_poses(args, min(args.seconds, 20.0))  # the motion loops

    def show(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    run = await play_tiered(args.url, hello, poses, args.hz, args.seconds, on_event=show)
    return 0 if run.live_frames or run.views_shown or run.posters else 1


async def _spin(args: argparse.Namespace) -> int:
    report = await spin(args.url, args.product, variant=args.variant, size=args.size)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.table())
    return 0 if report.not_modified == report.frames else 1


async def _camera(args: argparse.Namespace) -> int:
    images = [path.read_bytes() for path in args.image]
    frames = [images[i % len(images)] for i in range(max(1, args.frames))]
    hello = Hello("phone", args.product, args.variant, 1280, 720, 1, args.fov, 0.064, "jpeg", 50_000, args.fps,
                  mode=args.mode, consent=args.consent, output=args.output, anchor=args.anchor)
    report = await play_camera(args.url, hello, frames, args.fps, save_dir=args.save)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.table())
    return 0 if report.frames_answered > 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run = {"vr": _vr, "tiers": _tiers, "spin": _spin, "camera": _camera}[args.command]
    try:
        return asyncio.run(run(args))
    except (aiohttp.ClientError, ConnectionError, OSError, ValueError) as exc:
        print(f"showroom-client {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
