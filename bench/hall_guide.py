"""What the digital guide adds to a hall frame: stereo hall frames rendered in-process (the node's PandaRenderer,
the real hall, products and panels), with the guide in view and without it, interleaved frame by frame so a busy
machine slows both alike. The guide's pose changes every frame (walk clip plus mouth weights: the skinning and
vertex upload are paid each frame, as in a live session) and, separately, stays the same (the cost of drawing it).

Usage: .venv/bin/python bench/hall_guide.py [--assets-dir DIR] [--frames 15] [--size 960x1080] [--shots DIR]
Prints the table (median and p90 render ms per stereo frame); `--shots DIR` also writes hall_guide_*.png there:
the guide at the entrance seen by a customer walking in, walking with the customer behind it, and pointing at the
gold counter.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from render_node.hall import guide_walk as gw  # noqa: E402
from render_node.hall.files import hall_paths  # noqa: E402
from render_node.hall.layout import EYE_HEIGHT_M, hall_plan  # noqa: E402
from render_node.hall.scene import GuideFigure, HallScene  # noqa: E402
from render_node.hall.walkable import HallFloor  # noqa: E402
from render_node.render.types import (  # noqa: E402
    CameraPose,
    Intrinsics,
    MaterialOverride,
    PoseView,
    StereoView,
)
from showroom.catalog import Catalog, Product, load_catalog  # noqa: E402


class Models:
    """The view store's two answers, without the store."""

    def __init__(self, assets: Path) -> None:
        self.models = assets / "models"

    def model_path(self, product: Product) -> Path:
        return self.models / product.model

    def overrides(self, product: Product, variant: Any) -> tuple[MaterialOverride, ...]:
        from render_node.views import default_overrides

        return default_overrides(product, variant)


def look(yaw_deg: float, pitch_deg: float = 0.0) -> tuple[float, float, float, float]:
    """View orientation: yaw about +Y (0 looks -Z), then pitch about the local X."""
    y, p = math.radians(yaw_deg) / 2, math.radians(pitch_deg) / 2
    cy, sy, cp, sp = math.cos(y), math.sin(y), math.cos(p), math.sin(p)
    return (cy * sp, sy * cp, -sy * sp, cy * cp)


def yaw_towards(eye: tuple[float, float], at: tuple[float, float]) -> float:
    return math.degrees(math.atan2(-(at[0] - eye[0]), -(at[1] - eye[1])))


def bench(renderer: Any, scene: HallScene, glb: Path, frames: int, size: tuple[int, int]) -> dict[str, list[float]]:
    plan = scene.plan
    eye = (plan.welcome_m[0], plan.welcome_m[2])
    head = (eye[0], EYE_HEIGHT_M, eye[1])
    view = StereoView(CameraPose(head, look(yaw_towards(eye, (plan.guide_m[0], plan.guide_m[2])), -8)),
                      Intrinsics.from_fov(110.0, *size), 0.064)
    state = gw.at_entrance(plan)
    track = [(t * 90.0, gw_viseme(t), 1.0 if t % 2 else 0.3) for t in range(200)]
    state = gw.say(state, track, 0.0)
    still = GuideFigure(glb, gw.pose_at(state, 0.5))
    times: dict[str, list[float]] = {}
    # two passes, each alternating a frame without the guide and one with it (a placement keeps its pose between
    # frames, so mixing the moving and the still guide in one pass would pose it anew every frame)
    for label, moving in (("new pose each frame", True), ("same pose", False)):
        alone, guided = times.setdefault(f"hall alone ({label} pass)", []), times.setdefault(
            f"hall + guide, {label}", [])
        for i in range(frames + 2):
            figure = still
            if moving:
                figure = GuideFigure(glb, gw.GuidePose(still.pose.position_m, still.pose.yaw_deg, "walk",
                                                       (i * 0.033) % 1.0, gw.morph_at(state, i * 0.033)))
            for out, guide in ((alone, None), (guided, figure)):
                request = scene.request(view, size, head_m=head, guide=guide)
                t0 = time.perf_counter()
                renderer.render(request)
                if i >= 2:  # the first frames load the hall, the products and the guide
                    out.append((time.perf_counter() - t0) * 1000)
    return times


def gw_viseme(i: int) -> str:
    names = ("sil", "PP", "aa", "E", "oh", "ih", "ou", "SS")
    return names[i % len(names)]


def shots(renderer: Any, scene: HallScene, glb: Path, out: Path, floor: HallFloor) -> list[Path]:
    from PIL import Image

    plan = scene.plan
    size = (1280, 720)
    written = []

    def shot(name: str, eye: tuple[float, float], yaw: float, pose: gw.GuidePose, pitch: float = -6.0,
             fov: float = 62.0) -> None:
        head = (eye[0], EYE_HEIGHT_M, eye[1])
        view = PoseView(CameraPose(head, look(yaw, pitch)), Intrinsics.from_fov(fov, *size))
        img = renderer.render(scene.request(view, size, head_m=head, guide=GuideFigure(glb, pose)))
        path = out / f"hall_guide_{name}.png"
        Image.fromarray(np.ascontiguousarray(img[..., :3])).save(path)
        written.append(path)

    home = gw.at_entrance(plan)
    # a customer walking in through the doors; the guide greets them (mouth open on "aa")
    walking_in = (0.3, 8.2)
    greeting = gw.say(home, [(0.0, "aa", 0.0), (100.0, "aa", 1.0), (400.0, "aa", 1.0)], 0.0)
    shot("entrance", walking_in, yaw_towards(walking_in, (plan.guide_m[0], plan.guide_m[2])),
         gw.pose_at(greeting, 0.25))
    # the walk to the gold counter, the customer following
    state = gw.walk_to(home, plan, floor, "gold_counter", 0.0, customer_m=(plan.welcome_m[0], plan.welcome_m[2]))
    walk = state.activity
    assert isinstance(walk, gw.Walking)
    t = walk.start_s + 4.3
    (cx, cz), view_yaw = gw.follow_at(state, t) or ((0.0, 0.0), 0.0)
    shot("walking", (cx, cz), view_yaw, gw.pose_at(state, t))
    side = (-1.0, 6.2)  # and seen from beside the path: legs and arms in the walk
    t_side = walk.start_s + 2.2
    g = gw.pose_at(state, t_side)
    shot("walking_side", side, yaw_towards(side, (g.position_m[0], g.position_m[2])), g, fov=50.0)
    # arrived: the customer 1.2 m behind, the guide points at the showcases
    t = walk.arrive_s + gw.TURN_S + 1.3
    (cx, cz), view_yaw = gw.follow_at(state, t) or ((0.0, 0.0), 0.0)
    shot("pointing", (cx, cz), view_yaw + 12.0, gw.pose_at(state, t), fov=70.0)
    far = (-5.2, 1.6)
    shot("pointing_wide", far, yaw_towards(far, (-8.9, 0.2)), gw.pose_at(state, t), fov=55.0)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets-dir", type=Path, default=ROOT / "assets")
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--size", default="960x1080", help="one eye, pixels")
    ap.add_argument("--shots", type=Path, default=None)
    ap.add_argument("--no-bench", action="store_true")
    args = ap.parse_args()
    from render_node.render.engine import PandaRenderer

    assets: Path = args.assets_dir
    glb = assets / "guide" / "guide.glb"
    if not glb.is_file():
        print(f"{glb} is missing: run `showroom assets build`", file=sys.stderr)
        return 2
    catalog: Catalog = load_catalog((assets / "catalog.toml").read_text(encoding="utf-8"))
    plan = hall_plan()
    scene = HallScene(plan, catalog, Models(assets), hall_paths(assets))
    renderer = PandaRenderer(assets / "env")
    try:
        if args.shots is not None:
            args.shots.mkdir(parents=True, exist_ok=True)
            for path in shots(renderer, scene, glb, args.shots, HallFloor.of(plan, catalog)):
                print(path)
        if not args.no_bench:
            w, h = (int(v) for v in args.size.split("x"))
            times = bench(renderer, scene, glb, args.frames, (w, h))
            print(f"stereo 2 x {w} x {h}, {args.frames} frames each, interleaved; {renderer.gl_renderer}")
            print("| frame | render p50 ms | p90 ms | guide's extra, p50 of paired frames |\n| --- | ---: | ---: | ---: |")
            names = list(times)
            for k, name in enumerate(names):
                ms = times[name]
                extra = ""
                if k % 2:
                    extra = f"{statistics.median(np.subtract(ms, times[names[k - 1]]).tolist()):+.1f}"
                print(f"| {name} | {statistics.median(ms):.1f} | {float(np.percentile(ms, 90)):.1f} | {extra} |")
    finally:
        renderer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
