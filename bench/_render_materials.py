"""`bench/render.py --materials`: what each KHR material extension costs beside today's shading (the 100k-triangle
ring at 1280x720, one material per row, exact and auto shading, interleaved in rounds in one process), with the cars'
metallic paint (clearcoat + `extras.flakes`), a brushed finish's streaks (`extras.brush`) and the hall's velvet tray
(its sheen baked: unlit + vertex colour); writes `render_materials.md`. Split from bench/render.py (which runs it)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Times = list[tuple[float, float]]
"""Per frame: (wall seconds, CPU seconds of the whole process), as bench/render.py's `_time_frames` returns."""


# --- material extensions: the cost of each beside today's shading -------------------------------------------

PAINT: dict[str, Any] = {"base": [0.3, 0.01, 0.02, 1], "metallic": 0.2, "rough": 0.3,
                         "ext": {"clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.04}}}
"""The cars' paint (render_node/assets/_mesh.py) in a deep red."""
PAINT_BASE = "today: car paint (clearcoat, no flakes)"
ANISOTROPY_ROW = "anisotropy 0.8 (brushed)"
FLAKES = {"density": 0.6, "tilt": 0.25, "roughness": 0.12}
"""The cars' flakes but their spacing."""

MATERIALS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("today: gold (metallic-roughness)", {}),
    ("ior 2.4 + specular colour (dielectric)", {"base": [0.02, 0.02, 0.02, 1], "metallic": 0.0,
                                                "ext": {"ior": {"ior": 2.4},
                                                        "specular": {"specularColorFactor": [1, 0.9, 0.8]}}}),
    (ANISOTROPY_ROW, {"ext": {"anisotropy": {"anisotropyStrength": 0.8}}}),
    ("+ brushing streaks (extras.brush)", {"ext": {"anisotropy": {"anisotropyStrength": 0.8}},
                                           "extras": {"brush": {"spacing": 0.0002, "contrast": 0.4}}}),
    ("sheen (velvet)", {"base": [0.05, 0.01, 0.02, 1], "metallic": 0.0, "rough": 0.9,
                        "ext": {"sheen": {"sheenColorFactor": [1, 1, 1], "sheenRoughnessFactor": 0.5}}}),
    ("clearcoat (factor)", {"ext": {"clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05}}}),
    ("transmission + volume (ruby)", {"base": [1, 1, 1, 1], "metallic": 0.0, "rough": 0.05,
                                      "ext": {"transmission": {"transmissionFactor": 1.0},
                                              "volume": {"thicknessFactor": 0.003, "attenuationColor": [0.9, 0.1, 0.15],
                                                         "attenuationDistance": 0.004}}}),
    ("+ dispersion 1 (diamond-like fire)", {"base": [1, 1, 1, 1], "metallic": 0.0, "rough": 0.02,
                                            "ext": {"transmission": {"transmissionFactor": 1.0}, "ior": {"ior": 2.4},
                                                    "volume": {"thicknessFactor": 0.003}, "dispersion": {"dispersion": 1.0}}}),
    ("iridescence (thin film on gold)", {"ext": {"iridescence": {"iridescenceFactor": 1.0, "iridescenceIor": 1.3,
                                                                 "iridescenceThicknessMaximum": 300}}}),
    # car paint (docs/rendering.md, "Metallic paint"): today's (clearcoat), then with the cars' flakes, on the ring's
    # scale drawn one by one at a 0.4 mm spacing (cells of about 20 px) and as their average at 10 um (under a pixel)
    (PAINT_BASE, PAINT),
    ("car paint + flakes one by one", {**PAINT, "extras": {"flakes": {**FLAKES, "size": 0.0004}}}),
    ("car paint + flakes as their average", {**PAINT, "extras": {"flakes": {**FLAKES, "size": 0.00001}}}),
    # the hall's velvet trays (docs/hall.md, "Velvet"): the sheen baked into vertex colours, drawn unlit
    ("velvet tray: sheen baked (unlit + vertex colour)", {"unlit": True, "colour": [0.12, 0.01, 0.02, 1.0]}),
)


def _material_variants(work: Path) -> list[tuple[str, Path]]:
    """The 100k-triangle gold ring re-written with each material of MATERIALS (same geometry, same bytes)."""
    import struct

    from tests.render_models import gold_ring, write_glb

    data = gold_ring(work / "ring-materials.glb", triangles=100_000).read_bytes()
    n_json = struct.unpack("<I", data[12:16])[0]
    doc = json.loads(data[20:20 + n_json])
    binary = data[20 + n_json + 8:]
    out = []
    for i, (label, spec) in enumerate(MATERIALS):
        mat = json.loads(json.dumps(doc["materials"][0]))
        pbr = mat["pbrMetallicRoughness"]
        pbr["baseColorFactor"] = spec.get("base", pbr["baseColorFactor"])
        pbr["metallicFactor"] = spec.get("metallic", pbr["metallicFactor"])
        pbr["roughnessFactor"] = spec.get("rough", pbr["roughnessFactor"])
        mat["extensions"] = {f"KHR_materials_{k}": v for k, v in spec.get("ext", {}).items()}
        if spec.get("unlit"):
            mat["extensions"]["KHR_materials_unlit"] = {}
        if "extras" in spec:
            mat["extras"] = spec["extras"]
        variant = {**doc, "materials": [mat], "extensionsUsed": sorted(mat["extensions"])}
        data_i = binary
        if "colour" in spec:  # a COLOR_0 on every vertex (the hall's baked light)
            variant = json.loads(json.dumps(variant))
            count = variant["accessors"][variant["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["count"]
            colours = np.tile(np.asarray(spec["colour"], np.float32), (count, 1)).tobytes()
            data_i = binary + b"\0" * (-len(binary) % 4)
            variant["bufferViews"].append({"buffer": 0, "byteOffset": len(data_i), "byteLength": len(colours)})
            variant["accessors"].append({"bufferView": len(variant["bufferViews"]) - 1, "componentType": 5126,
                                         "count": count, "type": "VEC4"})
            for prim in variant["meshes"][0]["primitives"]:
                prim["attributes"]["COLOR_0"] = len(variant["accessors"]) - 1
            data_i += colours
            variant["buffers"][0]["byteLength"] = len(data_i)
        out.append((label, write_glb(work / f"material-{i}.glb", variant, data_i)))
    return out


def run_materials(env_dir: Path, seconds: float, time_frames: Callable[..., Times]) -> None:
    """One renderer, each material in turn in rounds (exact, then auto), one RESULT line per (material, mode)."""
    from render_node.render.engine import PandaRenderer
    from render_node.render.types import RenderRequest, TurntableView

    r = PandaRenderer(env_dir)
    auto = r.shading
    work = Path(tempfile.mkdtemp(prefix="bench-materials-"))
    variants = _material_variants(work)
    times: dict[tuple[str, str], Times] = {}
    defines: dict[str, str] = {}
    for label, path in variants:
        loaded = r.load_model(path)
        defines[label] = " ".join(sorted(d for d in loaded.material_nodes[0].defines if "=" not in d)) or "-"
    rounds = 4
    for k in range(rounds):
        for label, path in variants:
            for mode in ("exact", auto):
                r.shading = mode

                def frame(i: int, path: Path = path) -> None:
                    r.render(RenderRequest(path, TurntableView(i * 10.0, 20.0), (1280, 720), "white"))

                times.setdefault((label, mode), []).extend(
                    time_frames(frame, seconds / rounds, min_frames=2, first=k * 1000))
    baked = {label for label, path in variants if r.load_model(path).material_nodes[0].bakeable}
    for (label, mode), t in times.items():
        shading = "baked" if mode == "baked" and label in baked else "exact"
        print("RESULT " + json.dumps({"material": label, "mode": mode, "shading": shading, "defines": defines[label],
                                      "times": t, "gl": r.gl_renderer}), flush=True)
    r.close()


MATERIAL_NOTES = (
    "Car paint rows: the cars' paint (base colour, metallic 0.2, roughness 0.3, clearcoat 1 at roughness 0.04),",
    "today's without flakes, then with `extras.flakes` (docs/rendering.md, \"Metallic paint\") 0.4 mm apart (drawn",
    "one by one, cells of about 20 px here) and 10 um apart (far under a pixel: their average); their extra CPU ms",
    "is over today's car paint. On llvmpipe a shader's branches do not skip work (its SIMD lanes run both sides),",
    "so the flakes' hash and their one environment fetch cost every painted pixel however they are drawn; the",
    "baked path (auto on llvmpipe) draws their average at today's cost. Velvet tray row: the hall's velvet, its",
    "sheen baked into vertex colours (docs/hall.md, \"Velvet\"), drawn unlit as the velvet was before it: the sheen",
    "costs nothing to draw (compare with the exact sheen row). Brushing streaks row: anisotropy 0.8 with",
    "`extras.brush` (0.2 mm, contrast 0.4; docs/rendering.md, \"Finishes\"), its extra CPU ms over the anisotropy row.",
)


def write_materials(out: Path, rows: list[dict[str, Any]], machine: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    gl = rows[0]["gl"] if rows else "unknown"
    stat = {}
    for r in rows:
        t = np.asarray(r["times"]) * 1000
        stat[(r["material"], r["mode"])] = (float(np.median(t[:, 0])), float(t[:, 0].min()), float(np.median(t[:, 1])))
    base = MATERIALS[0][0]
    lines = [
        "# Render benchmark: material extensions",
        "",
        f"Machine: {machine}; GL: {gl}.",
        "The 100k-triangle gold ring's geometry at 1280x720 (turntable, 10 deg/frame, white background, render +",
        "read-back), one material per row; every (material, mode) pair timed in 4 interleaved rounds in one process.",
        "CPU ms = process CPU time per frame, all GL threads (robust to other load on the machine); the extra cost",
        "is the CPU ms over today's gold in the same mode (the flaked paint's: over today's car paint; the brushing",
        "streaks': over the anisotropy row).",
        "",
        "| material | shader #defines | mode | drawn by | p50 ms | min ms | CPU ms | extra CPU ms |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        p50, low, cpu = stat[(r["material"], r["mode"])]
        own = PAINT_BASE if r["material"].startswith("car paint +") else ANISOTROPY_ROW if r["material"].startswith(
            "+ brushing") else base
        ref = stat.get((own, r["mode"]))
        extra = "" if r["material"] in (base, PAINT_BASE) or ref is None else f"{cpu - ref[2]:+.1f}"
        lines.append(f"| {r['material']} | {r['defines']} | {r['mode']} | {r['shading']} | {p50:.1f} | {low:.1f} | "
                     f"{cpu:.1f} | {extra} |")
    lines += ["", *MATERIAL_NOTES]
    (out / "render_materials.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
