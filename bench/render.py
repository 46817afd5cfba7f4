"""Render benchmark: our renderer against its peers, same scenes, same run, same machine.

    .venv/bin/python bench/render.py [--seconds 2.5] [--out bench/results]

Renderers (each in its own process, one GL context each):
- ours        PandaRenderer, shading auto (baked view-space shading on llvmpipe, exact PBR on a GPU)
- ours-exact  PandaRenderer, the exact per-pixel PBR + IBL shader
- fixed       panda3d fixed-function shading (one directional + ambient light) of the same geometry,
              same buffers and read-back: the rasteriser's floor
- simplepbr   panda3d-simplepbr 0.13 with IBL from our studio map, max_lights=1, no MSAA, no shadows,
              frames driven by taskMgr.step(), read back from a RAM-copy texture
- open3d      Open3D 0.19 OffscreenRenderer (Filament, EGL), defaultLit metal material

Scenes: a catalog ring (else a 100k-triangle gold torus ring) and a catalog car (skipped if not built).
Sizes: 1280x720, 1920x1080 and a stereo pair 2x(960x1080). A frame is render + read-back into numpy; the
turntable turns 10 degrees per frame; stereo frames follow a head turning 1 degree per frame (ours re-bakes
its shading every stereo frame). Peers without one-pass stereo render the two eyes one after the other.
Writes `render.md` (table + machine) and `render.png` (plot) into --out.

    .venv/bin/python bench/render.py --materials [--seconds 2.5] [--out bench/results]

measures instead what each KHR material extension costs beside today's shading: the 100k-triangle ring (1280x720,
turntable) drawn with one material per extension, exact shading and auto (baked where the baker can express the
material), interleaved in rounds in one process; with them the cars' metallic paint (clearcoat + `extras.flakes`,
flakes drawn one by one and as their average) and the hall's velvet tray (its sheen baked: unlit + vertex colour);
writes `render_materials.md`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402
from bench._render_materials import run_materials, write_materials  # noqa: E402

RENDERERS = ("ours", "ours-exact", "fixed", "simplepbr", "open3d")
SIZES: tuple[tuple[str, int, int, int], ...] = (("1280x720", 1280, 720, 1), ("1920x1080", 1920, 1080, 1), ("stereo 2x960x1080", 960, 1080, 2))
GOLD = (1.0, 0.766, 0.336, 1.0)


# --- scenes ------------------------------------------------------------------------------------------------


def scenes(work: Path) -> dict[str, Path]:
    """name -> GLB path. The catalog's ring and car when built, else a generated 100k-triangle ring."""
    out: dict[str, Path] = {}
    models = ROOT / "assets" / "models"
    catalog = ROOT / "assets" / "catalog.toml"
    if catalog.is_file():
        try:
            from showroom.catalog import ProductKind, load_catalog

            cat = load_catalog(catalog.read_text(encoding="utf-8"))
            for kind, name in ((ProductKind.RING, "ring"), (ProductKind.CAR, "car")):
                for p in cat:
                    if p.kind is kind and (models / p.model).is_file():
                        out[name] = models / p.model
                        break
        except Exception as exc:  # the benchmark still runs on the generated ring
            print(f"bench: catalog not usable ({exc})", file=sys.stderr)
    from tests.render_models import gold_ring

    # The targets are stated for a 100k-triangle product: always include a 100k-triangle gold ring.
    out["ring-100k"] = gold_ring(work / "ring-100k.glb", triangles=100_000)
    return out


# --- workers (one per renderer, in its own process) ----------------------------------------------------------


Times = list[tuple[float, float]]
"""Per frame: (wall seconds, CPU seconds of the whole process, all GL threads included)."""


def _time_frames(frame: Any, seconds: float, max_frames: int = 400, min_frames: int = 3, first: int = 0) -> Times:
    frame(first)
    frame(first + 1)  # warm-up: shader variants, uploads, buffers
    times: Times = []
    start = time.perf_counter()
    i = first + 2
    while (time.perf_counter() - start < seconds or len(times) < min_frames) and len(times) < max_frames:
        t, c = time.perf_counter(), time.process_time()
        frame(i)
        times.append((time.perf_counter() - t, time.process_time() - c))
        i += 1
    return times


OURS_MODES = ("ours", "ours-exact", "fixed")


def _ours(model: Path, env_dir: Path, w: int, h: int, eyes: int, seconds: float) -> tuple[dict[str, Times], str, int]:
    """Our renderer in its three modes, interleaved in rounds so that a busy machine slows them alike."""
    import panda3d.core as p3d

    from render_node.render.engine import PandaRenderer
    from render_node.render.types import CameraPose, Intrinsics, RenderRequest, StereoView, TurntableView

    r = _ours_renderer.get(env_dir)
    if r is None:
        r = PandaRenderer(env_dir)
        _ours_renderer[env_dir] = r
    auto = r.shading
    loaded = r.load_model(model)
    centre = (loaded.bounds_m[0] + loaded.bounds_m[1]) / 2
    radius = float(np.linalg.norm(loaded.bounds_m[1] - loaded.bounds_m[0])) / 2
    if not getattr(loaded, "_bench_lights", False):
        sun = loaded.root.attach_new_node(p3d.DirectionalLight("sun"))
        sun.set_hpr(30, -40, 0)
        amb = loaded.root.attach_new_node(p3d.AmbientLight("amb"))
        amb.node().set_color((0.3, 0.3, 0.3, 1))
        loaded.root.set_light(sun)
        loaded.root.set_light(amb)
        loaded._bench_lights = True

    def use(mode: str) -> None:
        for mn in loaded.material_nodes:
            mn.node.clear_shader()
            mn.node.clear_material()
            if mode == "fixed":
                mat = p3d.Material()
                mat.set_diffuse(p3d.LColor(*mn.material.base_color))
                mat.set_ambient(p3d.LColor(*mn.material.base_color))
                mat.set_specular(p3d.LColor(1, 1, 1, 1))
                mat.set_shininess(60)
                mn.node.set_material(mat, 1000)
                mn.node.set_shader_off(1000)
        r._baker._model = None  # re-attach shaders on the next frame
        r.shading = "exact" if mode != "ours" else auto

    def frame(i: int) -> None:
        if eyes == 1:
            r.render(RenderRequest(model, TurntableView(i * 10.0, 20.0), (w, h), "white"))
        else:
            yaw = math.radians(i * 1.0)
            dist = radius * 3.2
            pos = (centre[0] + math.sin(yaw) * dist, centre[1] + radius * 0.8, centre[2] + math.cos(yaw) * dist)
            q = (0.0, math.sin(yaw / 2), 0.0, math.cos(yaw / 2))
            r.render(RenderRequest(model, StereoView(CameraPose(pos, q), Intrinsics.from_fov(60, w, h)), (w, h), "white"))

    out: dict[str, Times] = {m: [] for m in OURS_MODES}
    rounds = 4
    for k in range(rounds):
        for mode in OURS_MODES:
            use(mode)
            out[mode] += _time_frames(frame, seconds / rounds, min_frames=2, first=k * 1000)
    use("ours")
    return out, r.gl_renderer, loaded.triangle_count


_ours_renderer: dict[Path, Any] = {}


def _simplepbr(model: Path, env_dir: Path, w: int, h: int, eyes: int, seconds: float) -> tuple[Times, str, int]:
    import panda3d.core as p3d

    p3d.load_prc_file_data("", f"load-display p3headlessgl\nwindow-type offscreen\nwin-size {w} {h}\naudio-library-name null\nsync-video false\nframebuffer-multisample 0\nmodel-cache-dir\n")
    import simplepbr
    from direct.showbase.ShowBase import ShowBase

    from render_node.render import cameras as cams
    from render_node.render.engine import _cube_texture
    from render_node.render.environment import load_environment
    from render_node.render.gltf import read_gltf
    from render_node.render.scene import SceneBuilder, mat4
    from render_node.render.shaders import ShaderCache
    from render_node.render.types import TurntableView

    base = ShowBase(windowType="offscreen")
    maps = load_environment(env_dir, "studio")
    env = simplepbr.EnvMap(_cube_texture(maps.radiance[:1], "studio"), blocking_prepare=True)
    simplepbr.init(max_lights=1, msaa_samples=0, enable_shadows=False, env_map=env, use_330=True)
    loaded = SceneBuilder(ShaderCache()).build(read_gltf(model))
    root = base.render.attach_new_node("product")
    for mn in loaded.material_nodes:
        node = p3d.GeomNode("prim")
        for gi in range(mn.node.node().get_num_geoms()):
            node.add_geom(mn.node.node().modify_geom(gi))
        np_ = root.attach_new_node(node)
        np_.set_mat(mn.node.get_net_transform().get_mat())
        mat = p3d.Material()
        mat.set_base_color(p3d.LColor(*mn.material.base_color))
        mat.set_metallic(mn.material.metallic)
        mat.set_roughness(mn.material.roughness)
        np_.set_material(mat)
    sun = base.render.attach_new_node(p3d.DirectionalLight("sun"))
    sun.set_hpr(30, -40, 0)
    base.render.set_light(sun)
    tex = p3d.Texture("readback")
    base.win.add_render_texture(tex, p3d.GraphicsOutput.RTM_copy_ram, p3d.GraphicsOutput.RTP_color)
    lens = p3d.MatrixLens()
    base.cam.node().set_lens(lens)

    def frame(i: int) -> None:
        for _ in range(eyes):
            eye = cams.turntable_camera(TurntableView(i * 10.0, 20.0), loaded.bounds_m, (w, h), loaded.hull_m)
            base.cam.set_mat(mat4(eye.camera_to_world))
            lens.set_user_mat(mat4(cams.projection(eye)))
            base.taskMgr.step()
            ram = tex.get_ram_image_as("RGBA")
            np.frombuffer(memoryview(ram), np.uint8).reshape(h, w, 4)[::-1].copy()

    times = _time_frames(frame, seconds)
    gsg = base.win.get_gsg()
    return times, f"{gsg.get_driver_vendor()} {gsg.get_driver_renderer()}", loaded.triangle_count


def _open3d(model: Path, w: int, h: int, eyes: int, seconds: float) -> tuple[Times, str, int]:
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import open3d as o3d

    from render_node.render import cameras as cams
    from render_node.render.gltf import read_gltf
    from render_node.render.types import TurntableView

    asset = read_gltf(model)
    world = asset.world_matrices()
    renderer = o3d.visualization.rendering.OffscreenRenderer(w, h)
    triangles = 0
    for idx, m in world.items():
        mesh_i = asset.nodes[idx].mesh
        if mesh_i is None:
            continue
        for k, prim in enumerate(asset.meshes[mesh_i]):
            pos = prim.positions.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
            tm = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(pos), o3d.utility.Vector3iVector(prim.indices.reshape(-1, 3).astype(np.int32)))
            tm.compute_vertex_normals()
            mat = o3d.visualization.rendering.MaterialRecord()
            mat.shader = "defaultLit"
            src = asset.materials[prim.material] if prim.material is not None else None
            mat.base_color = list(src.base_color) if src else [0.8, 0.8, 0.8, 1.0]
            mat.base_metallic = src.metallic if src else 0.0
            mat.base_roughness = src.roughness if src else 0.5
            renderer.scene.add_geometry(f"m{idx}_{k}", tm, mat)
            triangles += len(prim.indices) // 3
    renderer.scene.set_background([1, 1, 1, 1])
    lo, hi = asset.bounds()

    def frame(i: int) -> None:
        for _ in range(eyes):
            eye = cams.turntable_camera(TurntableView(i * 10.0, 20.0), (lo, hi), (w, h))
            c = eye.camera_to_world
            renderer.setup_camera(30.0, (lo + hi) / 2, c[:3, 3], c[:3, 1])
            np.asarray(renderer.render_to_image())

    times = _time_frames(frame, seconds, max_frames=20, min_frames=2)
    return times, "Filament (Open3D 0.19, EGL)", triangles


def worker(args: argparse.Namespace) -> None:
    cells = json.loads(args.cells)
    for cell in cells:
        model, w, h, eyes = Path(cell["model"]), cell["w"], cell["h"], cell["eyes"]
        try:
            if args.worker == "ours":
                by_mode, gl, tris = _ours(model, Path(args.env_dir), w, h, eyes, args.seconds * len(OURS_MODES))
            elif args.worker == "simplepbr":
                times, gl, tris = _simplepbr(model, Path(args.env_dir), w, h, eyes, args.seconds)
                by_mode = {"simplepbr": times}
            else:
                times, gl, tris = _open3d(model, w, h, eyes, args.seconds)
                by_mode = {"open3d": times}
            for mode, times in by_mode.items():
                print("RESULT " + json.dumps({**cell, "renderer": mode, "ok": True, "times": times, "gl": gl, "triangles": tris}), flush=True)
        except Exception as exc:  # a peer that cannot run here is reported, not fatal
            print("RESULT " + json.dumps({**cell, "renderer": args.worker, "ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)


# --- orchestration -----------------------------------------------------------------------------------------




def _run_worker(name: str, cell: dict[str, Any], env_dir: Path, seconds: float) -> list[dict[str, Any]]:
    env = {**os.environ, "EGL_PLATFORM": "surfaceless"}
    cmd = [sys.executable, __file__, "--worker", name, "--cells", json.dumps([cell]), "--env-dir", str(env_dir), "--seconds", str(seconds)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    got = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not got:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        got = [{**cell, "renderer": name, "ok": False, "error": tail[0]}]
    return got


def _report(res: dict[str, Any]) -> None:
    if res["ok"]:
        t = np.asarray(res["times"]) * 1000
        fps = len(t) / (t[:, 0].sum() / 1000)
        print(f"  {res['renderer']:10s} {res['scene']:5s} {res['size']:18s} {fps:7.1f} fps  p50 {np.percentile(t[:, 0], 50):7.1f} ms"
              f"  p99 {np.percentile(t[:, 0], 99):7.1f} ms  cpu {np.percentile(t[:, 1], 50):7.1f} ms", file=sys.stderr)
    else:
        print(f"  {res['renderer']:10s} {res['scene']:5s} {res['size']:18s} failed: {res['error']}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.5, help="timed seconds per renderer and cell (after warm-up)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--peers", default="simplepbr,open3d", help="comma list of peers to run besides ours and fixed")
    ap.add_argument("--sizes", default="all", help="all or a comma list of 1280x720,1920x1080,stereo")
    ap.add_argument("--materials", action="store_true", help="measure the KHR material extensions instead (above)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--cells", help=argparse.SUPPRESS)
    ap.add_argument("--env-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "materials":
        run_materials(Path(args.env_dir), args.seconds, _time_frames)
        return
    if args.worker:
        worker(args)
        return
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    from render_node.render.environment import build_environments, environments_present

    env_dir = ROOT / "assets" / "env"
    if not environments_present(env_dir):
        build_environments(env_dir)
    if args.materials:
        who = machine()
        print(f"bench/render --materials: {who}", file=sys.stderr)
        env = {**os.environ, "EGL_PLATFORM": "surfaceless"}
        cmd = [sys.executable, __file__, "--worker", "materials", "--env-dir", str(env_dir), "--seconds", str(args.seconds)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        rows = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not rows:
            sys.exit(f"bench/render --materials failed: {(proc.stderr or 'no output').strip().splitlines()[-1:]}")
        write_materials(args.out, rows, who)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-render-"))
    scene_paths = scenes(work)
    sizes = [s for s in SIZES if args.sizes == "all" or any(k in s[0] for k in args.sizes.split(","))]
    cells = [{"scene": sn, "model": str(sp), "size": label, "w": w, "h": h, "eyes": e} for sn, sp in scene_paths.items() for label, w, h, e in sizes]
    who = machine()
    print(f"bench/render: {who}", file=sys.stderr)
    peers = [p for p in args.peers.split(",") if p]
    rows: list[dict[str, Any]] = []
    for cell in cells:
        # simplepbr runs in two halves around ours, so that a change in the machine's load hits both alike.
        halves: list[dict[str, Any]] = []
        if "simplepbr" in peers:
            halves += _run_worker("simplepbr", cell, env_dir, args.seconds / 2)
        for res in _run_worker("ours", cell, env_dir, args.seconds):
            rows.append(res)
            _report(res)
        if "simplepbr" in peers:
            halves += _run_worker("simplepbr", cell, env_dir, args.seconds / 2)
            ok = [h for h in halves if h["ok"]]
            merged = {**ok[0], "times": [t for h in ok for t in h["times"]]} if ok else halves[0]
            rows.append(merged)
            _report(merged)
        if "open3d" in peers:
            for res in _run_worker("open3d", cell, env_dir, args.seconds):
                rows.append(res)
                _report(res)
    _write(args.out, rows, who)


def _write(out: Path, rows: list[dict[str, Any]], machine: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gl = next((r["gl"] for r in rows if r.get("ok") and r["renderer"] == "ours"), "unknown")
    stats: dict[tuple[str, str, str], tuple[float, float, float, float]] = {}
    for r in rows:
        if r.get("ok"):
            t = np.asarray(r["times"]) * 1000
            wall, cpu = t[:, 0], t[:, 1]
            stats[(r["renderer"], r["scene"], r["size"])] = (
                len(wall) / (wall.sum() / 1000), float(np.percentile(wall, 50)), float(np.percentile(wall, 99)), float(np.median(cpu))
            )
    lines = [
        "# Render benchmark",
        "",
        f"Machine: {machine}; GL: {gl}.",
        "A frame = render + read-back to numpy. Turntable turns 10 deg/frame; stereo follows a turning head (ours",
        "re-bakes its shading each stereo frame). Peers without one-pass stereo render the eyes one after the other.",
        "",
        "CPU ms = process CPU time per frame, all GL threads (robust to other load on the machine).",
        "",
        "| scene | size | renderer | triangles | fps | p50 ms | p99 ms | CPU ms | vs fixed (fps / CPU) | vs simplepbr (fps / CPU) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        key = (r["renderer"], r["scene"], r["size"])
        if key not in stats:
            lines.append(f"| {r['scene']} | {r['size']} | {r['renderer']} | | failed: {r.get('error', '')[:80]} | | | | | |")
            continue
        fps, p50, p99, cpu = stats[key]
        ff = stats.get(("fixed", r["scene"], r["size"]))
        sp = stats.get(("simplepbr", r["scene"], r["size"]))
        vs_ff = f"{fps / ff[0]:.2f}x / {ff[3] / cpu:.2f}x" if ff else ""
        vs_sp = f"{fps / sp[0]:.2f}x / {sp[3] / cpu:.2f}x" if sp else ""
        lines.append(
            f"| {r['scene']} | {r['size']} | {r['renderer']} | {r.get('triangles', '')} | {fps:.1f} | {p50:.1f} | {p99:.1f} | {cpu:.1f} | {vs_ff} | {vs_sp} |"
        )
    (out / "render.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        groups = sorted({(s, z) for (_, s, z) in stats}, key=lambda g: (g[0], [x[0] for x in SIZES].index(g[1])))
        names = [n for n in RENDERERS if any(k[0] == n for k in stats)]
        fig, ax = plt.subplots(figsize=(11, 4.5))
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            vals = [stats.get((name, s, z), (0, 0, 0, 0))[0] for s, z in groups]
            ax.bar(np.arange(len(groups)) + i * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(groups)) + width * (len(names) - 1) / 2, [f"{s}\n{z}" for s, z in groups])
        ax.set_ylabel("frames/s (render + read-back)")
        ax.set_title(f"Render benchmark: {gl}", fontsize=9)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "render.png", dpi=110)
    except Exception as exc:
        print(f"bench/render: no plot ({exc})", file=sys.stderr)


if __name__ == "__main__":
    main()
