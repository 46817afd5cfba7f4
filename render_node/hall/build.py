"""Builds the bank hall's assets under `<assets>/hall/`: `hall.glb` (the plan's geometry with baked light),
`probe-<id>.hdr` per reflection probe and `hall.json` (format version, fingerprint, probe files).

`build_hall(assets_dir)` does nothing when `hall.json`'s fingerprint matches the code and the plan (the hall is
stale when `layout.py` or any module that shapes the files changes) and every file is there; `force=True`
rebuilds. `files.hall_paths(assets_dir)` tells the node where the files are. Files are written atomically, hall.json
last (a build cut short leaves the hall stale, never half-new).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from render_node.assets.build import write_atomic
from render_node.hall import _glb, _materials
from render_node.hall._mesh import Chunk, merge
from render_node.hall._scene import POSTERS, cylinders, hall_chunks, hall_solids, occluder_boxes
from render_node.hall._sheen import tray_eyes, with_sheen
from render_node.hall.bake import AreaLight, BakeParams, Occluders, bake_vertices, direct_light
from render_node.hall.files import GLB_NAME, HALL_DIR, MANIFEST_NAME, hall_paths, probe_file_name
from render_node.hall.layout import HallPlan, hall_plan
from render_node.hall.signage import png_bytes, poster_image, ruler_image, sign_image

log = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]

FORMAT_VERSION = 1
EXPOSURE = 1.0
"""Scales the baked light (linear): the renderer's tone mapping (PBR Neutral) takes it from there."""
MAX_VERTEX_LIGHT = 8.0
BAKE = BakeParams()
_SOURCES = ("layout.py", "files.py", "build.py", "bake.py", "signage.py", "_mesh.py", "_scene.py", "_materials.py", "_glb.py",
            "_probes.py", "_sheen.py")


@dataclass(frozen=True)
class HallReport:
    glb: Path
    skipped: bool
    triangles: int = 0
    vertices: int = 0
    glb_bytes: int = 0
    geometry_s: float = 0.0
    bake_s: float = 0.0
    write_s: float = 0.0
    """Materials, textures and signs drawn, the GLB assembled and written."""
    probes_s: float = 0.0
    probes: int = 0


def hall_fingerprint() -> str:
    """Hash of what the files are made from: the plan and the hall modules, the bake's parameters, the format,
    and the renderer's shaders (the probes are rendered through them)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(f"v{FORMAT_VERSION} {BAKE!r} {EXPOSURE} {MAX_VERTEX_LIGHT}\n".encode())
    for name in _SOURCES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    h.update((here.parent / "render" / "shaders.py").read_bytes())
    return h.hexdigest()[:32]


def is_stale(assets_dir: Path) -> bool:
    d = Path(assets_dir) / HALL_DIR
    try:
        manifest = json.loads((d / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return True
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != hall_fingerprint():
        return True
    files = hall_paths(assets_dir)
    want = {p.id for p in hall_plan().probes}
    return not files.glb.is_file() or set(files.probes) != want or not all(p.is_file() for p in files.probes.values())


def build_hall(assets_dir: Path, *, force: bool = False) -> Path:
    """Builds (or, when up to date and not `force`, keeps) the hall; returns hall.glb's path."""
    return ensure_hall(assets_dir, force=force).glb


def ensure_hall(assets_dir: Path, *, force: bool = False) -> HallReport:
    """`build_hall` with the figures: triangles, size, seconds per stage (skipped=True when up to date)."""
    assets_dir = Path(assets_dir)
    files = hall_paths(assets_dir)
    if not force and not is_stale(assets_dir):
        return HallReport(files.glb, skipped=True)
    plan = hall_plan()
    fingerprint = hall_fingerprint()
    t0 = time.monotonic()
    chunks = hall_chunks(plan)
    t1 = time.monotonic()
    colours = bake_chunks(plan, chunks)
    t2 = time.monotonic()
    data = _glb.glb_bytes(primitives(plan, chunks, colours))
    d = assets_dir / HALL_DIR
    glb = d / GLB_NAME
    write_atomic(glb, data)
    t3 = time.monotonic()
    probe_names = render_probes(plan, glb, assets_dir / "env")
    t4 = time.monotonic()
    manifest = {"version": FORMAT_VERSION, "fingerprint": fingerprint, "probes": probe_names}
    write_atomic(d / MANIFEST_NAME, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    report = HallReport(
        glb, skipped=False, triangles=sum(c.triangles for c in chunks), vertices=sum(len(c.positions) for c in chunks),
        glb_bytes=len(data), geometry_s=t1 - t0, bake_s=t2 - t1, write_s=t3 - t2, probes_s=t4 - t3,
        probes=len(probe_names),
    )  # fmt: skip
    log.info("hall: %d triangles, %.1f MB; geometry %.1f s, bake %.1f s, write %.1f s, probes %.1f s",
             report.triangles, report.glb_bytes / 1e6, report.geometry_s, report.bake_s, report.write_s,
             report.probes_s)
    return report


def area_lights(plan: HallPlan) -> list[AreaLight]:
    return [AreaLight(light.center_m, light.size_m, light.intensity) for light in plan.lights]


def occluders(plan: HallPlan) -> Occluders:
    return Occluders.of(occluder_boxes(plan, hall_solids(plan)), [c.as_tuple() for c in cylinders(plan)])


def bake_chunks(plan: HallPlan, chunks: list[Chunk], params: BakeParams = BAKE) -> list[F64]:
    """The vertex colours of each chunk `(n, 3)` linear: baked light (times the albedo of untextured
    surfaces), or the chunk's fixed colours."""
    baked = [i for i, c in enumerate(chunks) if c.emit is None]
    points = np.concatenate([chunks[i].positions for i in baked])
    normals = np.concatenate([chunks[i].normals for i in baked])
    albedo = np.concatenate([np.broadcast_to(_albedo(chunks[i].material), chunks[i].positions.shape) for i in baked])
    lights, occ = area_lights(plan), occluders(plan)
    light, _ = bake_vertices(points, normals, albedo, lights, occ, params)
    out: list[F64] = []
    at = 0
    offsets = {}
    for i in baked:
        n = len(chunks[i].positions)
        offsets[i] = (at, at + n)
        at += n
    for i, c in enumerate(chunks):
        if c.emit is not None:
            out.append(c.emit)
            continue
        a, b = offsets[i]
        sheen = _materials.MATERIALS[c.material].sheen if c.material in _materials.MATERIALS else None
        if sheen is not None:  # velvet: the sheen lobe as the customer in front of the tray sees it
            p, nrm = c.positions, c.normals
            trays = [(box.min_m, box.max_m) for box in plan.boxes if box.id.endswith("-tray")]
            colour = with_sheen(p, nrm, tray_eyes(p, trays), _albedo(c.material)[None, :], light[a:b],
                                direct_light(p, nrm, lights, occ, params), sheen, lights, occ, params)
            out.append(np.minimum(colour * EXPOSURE, MAX_VERTEX_LIGHT))
            continue
        lit = np.minimum(light[a:b] * EXPOSURE, MAX_VERTEX_LIGHT)
        textured = _texture_of(c.material) is not None
        out.append(lit if textured else lit * _albedo(c.material)[None, :])
    return out


def _texture_of(material: str) -> str | None:
    if material.startswith(("sign:", "poster:")):
        return material
    return _materials.MATERIALS[material].texture


def _albedo(material: str) -> F64:
    if material.startswith(("sign:", "poster:")):
        return np.array([0.8, 0.8, 0.8])
    return _materials.reflectance(material)


def primitives(plan: HallPlan, chunks: list[Chunk], colours: list[F64]) -> list[_glb.PrimitiveOut]:
    """One primitive per material (chunks merged), in a stable order: opaque first, glass last."""
    by_material: dict[str, list[tuple[Chunk, F64]]] = defaultdict(list)
    for c, col in zip(chunks, colours, strict=True):
        by_material[c.material].append((c, col))
    signs = {s.id: s for s in plan.signs}
    out = []
    for name in sorted(by_material, key=lambda m: (m == "glass", m)):
        items = by_material[name]
        merged = merge([Chunk(c.material, c.positions, c.normals, c.uv, c.faces, col) for c, col in items])
        assert merged.emit is not None
        if name.startswith("sign:"):
            mat = _glb.MaterialOut(name, png_bytes(sign_image(signs[name.split(":", 1)[1]])), clamp=True)
        elif name.startswith("poster:"):
            poster = next(p for p in POSTERS if p.id == name.split(":", 1)[1])
            mat = _glb.MaterialOut(name, png_bytes(poster_image(poster)), clamp=True)
        elif name == "ruler":
            mat = _glb.MaterialOut(name, png_bytes(ruler_image()), clamp=True)
        else:
            spec = _materials.MATERIALS[name]
            png = _materials.texture_png(spec.texture) if spec.texture else None
            mat = _glb.MaterialOut(name, png, alpha=spec.alpha, double_sided=spec.double_sided)
        out.append(_glb.PrimitiveOut(mat, merged.positions, merged.normals, merged.uv, merged.emit, merged.faces))
    return out


def render_probes(plan: HallPlan, glb: Path, env_dir: Path) -> dict[str, str]:
    """Renders and writes every probe of the plan beside `glb`; returns {probe id: file name}."""
    from render_node.hall._probes import render_cube, write_probe
    from render_node.render.engine import PandaRenderer

    names: dict[str, str] = {}
    renderer = PandaRenderer(env_dir)
    try:
        for probe in plan.probes:
            cube = render_cube(renderer, glb, probe.position_m)
            name = probe_file_name(probe.id)
            write_probe(glb.parent / name, cube)
            names[probe.id] = name
    finally:
        renderer.close()
    return names
