"""Mesh building blocks shared by the procedural models: named PBR materials, lofts and revolutions, solids
bounded by two height fields, text rasterised into relief, UVs, sharp-edge normals, and GLB export.

All lengths are metres. Arrays: `vertices (n, 3) float64`, `faces (m, 3) int64`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import trimesh
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from trimesh.visual.material import PBRMaterial

from render_node.assets._glb_ext import glb_material_extensions, with_material_extensions
from render_node.assets.gems import GEMS, material_for

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

GOLD_LINEAR = (1.0, 0.766, 0.336, 1.0)

DENSITY_G_PER_CM3: dict[str, float] = {
    "Au9999": 19.32,
    "Au999": 19.30,
    "Au750": 15.45,  # 18K yellow: 75% gold, silver and copper
    "Pt950": 20.70,  # 95% platinum, 5% ruthenium/palladium
    "Ag999": 10.49,
    "Ag925": 10.36,
}
"""Densities of the alloys by purity mark, for sizing a model to its weight (volume_cm3 = weight_g / density)."""


@dataclass(frozen=True)
class MaterialSpec:
    """glTF metallic-roughness factors of one named material."""

    base_color_rgba: tuple[float, float, float, float]
    metallic: float
    roughness: float
    emissive_rgb: tuple[float, float, float] | None = None
    alpha_blend: bool = False
    double_sided: bool = False


MATERIALS: dict[str, MaterialSpec] = {
    "metal": MaterialSpec(GOLD_LINEAR, 1.0, 0.18),
    # a cut stone: clear and polished; its light comes from inside (`gems.material_for`: ior, volume, dispersion)
    "gem": MaterialSpec((1.0, 1.0, 1.0, 1.0), 0.0, 0.0),
    "paint": MaterialSpec((0.85, 0.85, 0.82, 1.0), 0.2, 0.3),
    "glass": MaterialSpec((0.02, 0.025, 0.03, 0.78), 0.0, 0.04, alpha_blend=True, double_sided=True),
    "chrome": MaterialSpec((0.92, 0.92, 0.94, 1.0), 1.0, 0.08),
    "rim": MaterialSpec((0.78, 0.79, 0.81, 1.0), 1.0, 0.22),
    "tyre": MaterialSpec((0.025, 0.025, 0.027, 1.0), 0.0, 0.85),
    "light": MaterialSpec((0.9, 0.92, 0.95, 1.0), 0.0, 0.05, emissive_rgb=(0.9, 0.92, 0.95)),
    "taillight": MaterialSpec((0.45, 0.01, 0.01, 1.0), 0.0, 0.1, emissive_rgb=(0.55, 0.02, 0.02)),
    "interior": MaterialSpec((0.035, 0.035, 0.04, 1.0), 0.0, 0.7),
    "trim": MaterialSpec((0.02, 0.02, 0.022, 1.0), 0.0, 0.45),
}

MATERIAL_EXTENSIONS: dict[str, dict[str, Any]] = {
    # a diamond, its light traced inside its facets (docs/rendering.md, "Gemstones"); a product's own stone
    # (ruby, sapphire) replaces it through `procedural.material_extensions`
    "gem": material_for(GEMS["diamond"], depth_mm=2.6),
    # car paint: metallic, the colour layer with its aluminium flakes (`extras.flakes`, docs/rendering.md
    # "Metallic paint") under a glossy clearcoat (sharp reflections over the rougher paint)
    "paint": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.04},
              "extras": {"flakes": {"size": 0.003, "density": 0.6, "tilt": 0.25, "roughness": 0.12}}},
}
"""KHR material extensions written into every exported GLB (products and their LODs) on materials of that name
(the key `extras` is the material's extras instead)."""


@dataclass(frozen=True)
class Part:
    """One mesh of a model, the name of its material, and the angle above which an edge is a crease."""

    mesh: trimesh.Trimesh
    material: str
    name: str
    crease_deg: float | None = 40.0
    """None: one smooth surface (no vertex splitting)."""


def pbr_material(name: str, spec: MaterialSpec | None = None) -> PBRMaterial:
    s = spec or MATERIALS[name]
    return PBRMaterial(  # type: ignore[no-untyped-call]
        name=name,
        baseColorFactor=[float(c) for c in s.base_color_rgba],
        metallicFactor=s.metallic,
        roughnessFactor=s.roughness,
        emissiveFactor=list(s.emissive_rgb) if s.emissive_rgb else None,
        alphaMode="BLEND" if s.alpha_blend else "OPAQUE",
        doubleSided=s.double_sided,
    )


def rotation(angle_rad: float, axis: str) -> F64:
    """4x4 rotation about the x, y or z axis through the origin (right-handed)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    m = np.eye(4)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


# ----------------------------------------------------------------------------------------------------------
# Primitive builders
# ----------------------------------------------------------------------------------------------------------


def grid_faces(rows: int, cols: int, *, closed_cols: bool = False, closed_rows: bool = False) -> I64:
    """Two triangles per cell of a `rows x cols` vertex grid (row-major), optionally wrapping around."""
    r_max = rows if closed_rows else rows - 1
    c_max = cols if closed_cols else cols - 1
    r, c = np.meshgrid(np.arange(r_max), np.arange(c_max), indexing="ij")
    r, c = r.ravel(), c.ravel()
    r1, c1 = (r + 1) % rows, (c + 1) % cols
    a, b, d, e = r * cols + c, r * cols + c1, r1 * cols + c, r1 * cols + c1
    faces: I64 = np.concatenate([np.stack([a, d, b], 1), np.stack([b, d, e], 1)]).astype(np.int64)
    return faces


def revolve(profile_rz: F64, segments: int, *, axis: str = "y") -> trimesh.Trimesh:
    """Revolves a closed profile `(n, 2)` of (radius, height) around `axis`; the profile runs so that the
    surface faces outwards when it goes counter-clockwise in the (r, h) plane."""
    n = len(profile_rz)
    theta = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)
    r = profile_rz[:, 0][None, :]
    h = profile_rz[:, 1][None, :]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x, z, y = r * cos, r * sin, np.broadcast_to(h, (segments, n))
    if axis == "y":
        verts = np.stack([x, y, z], -1)
    elif axis == "z":
        verts = np.stack([x, z, y], -1)
    elif axis == "x":
        verts = np.stack([y, x, z], -1)
    else:
        raise ValueError(axis)
    faces = grid_faces(segments, n, closed_rows=True, closed_cols=True)
    mesh = trimesh.Trimesh(verts.reshape(-1, 3), faces, process=True)
    _orient_outwards(mesh)
    return mesh


def _orient_outwards(mesh: trimesh.Trimesh) -> None:
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()


def sweep_tube(path: F64, radius: float | F64, sides: int, *, closed: bool = True) -> trimesh.Trimesh:
    """A tube of circular section along a polyline `path (n, 3)` (closed loop by default)."""
    n = len(path)
    tangent = np.roll(path, -1, 0) - np.roll(path, 1, 0) if closed else np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ref = np.array([0.0, 1.0, 0.0]) if abs(tangent[0, 1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normals = np.empty_like(path)
    normal = np.cross(ref, tangent[0])
    normal /= np.linalg.norm(normal)
    for i in range(n):  # parallel transport frames: no twist
        normal = normal - tangent[i] * np.dot(normal, tangent[i])
        normal /= np.linalg.norm(normal)
        normals[i] = normal
    binormals = np.cross(tangent, normals)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,))
    ang = np.linspace(0, 2 * math.pi, sides, endpoint=False)
    ring = (
        np.cos(ang)[None, :, None] * normals[:, None, :] + np.sin(ang)[None, :, None] * binormals[:, None, :]
    )
    verts = path[:, None, :] + ring * radii[:, None, None]
    faces = grid_faces(n, sides, closed_cols=True, closed_rows=closed)
    mesh = trimesh.Trimesh(verts.reshape(-1, 3), faces, process=False)
    if not closed:
        mesh = _cap_tube_ends(mesh, n, sides)
    _orient_outwards(mesh)
    return mesh


def _cap_tube_ends(mesh: trimesh.Trimesh, n: int, sides: int) -> trimesh.Trimesh:
    v = np.asarray(mesh.vertices)
    start, end = v[:sides].mean(0), v[(n - 1) * sides :].mean(0)
    verts = np.vstack([v, start, end])
    s_idx, e_idx = len(v), len(v) + 1
    ring = np.arange(sides)
    cap0 = np.stack([np.full(sides, s_idx), (ring + 1) % sides, ring], 1)
    last = (n - 1) * sides
    cap1 = np.stack([np.full(sides, e_idx), last + ring, last + (ring + 1) % sides], 1)
    return trimesh.Trimesh(verts, np.vstack([mesh.faces, cap0, cap1]), process=True)


def torus_link(
    major_r: float, minor_r: float, *, stretch: float = 1.0, major_seg: int = 16, minor_seg: int = 8
) -> trimesh.Trimesh:
    """An oval chain link in the XY plane, long axis X (`stretch` x the round one)."""
    t = np.linspace(0, 2 * math.pi, major_seg, endpoint=False)
    path = np.stack([major_r * stretch * np.cos(t), major_r * np.sin(t), np.zeros_like(t)], 1)
    return sweep_tube(path, minor_r, minor_seg)


def double_heightfield_solid(
    outline: Callable[[F64, F64], tuple[F64, F64]],
    top: Callable[[F64, F64], F64],
    bottom: Callable[[F64, F64], F64] | float,
    resolution: tuple[int, int],
    *,
    bottom_scale: tuple[float, float] = (1.0, 1.0),
) -> trimesh.Trimesh:
    """A closed solid between two height fields over a warped grid.

    `outline(u, v)` maps grid coordinates in [-1, 1]^2 to plane positions (x, z) in metres (its boundary is the
    solid's outline); `top(x, z)` gives the height (metres) of the upper surface, `bottom` that of the lower
    one, or a constant height for a flat underside (a fan of few triangles). The side wall joins the two
    boundaries. `resolution` = grid vertices along (u, v). `bottom_scale` widens (x, z) of the lower surface:
    a cast bar's frustum. The outline must be convex where the bottom is flat.
    """
    nu, nv = resolution
    u, v = np.meshgrid(np.linspace(-1, 1, nu), np.linspace(-1, 1, nv), indexing="ij")
    x, z = outline(u, v)
    count = nu * nv
    top_v = np.stack([x, top(x, z), z], -1).reshape(-1, 3)
    faces_top = grid_faces(nu, nv)
    # boundary loop in grid indices, walking around once
    loop = (
        [(0, j) for j in range(nv)]
        + [(i, nv - 1) for i in range(1, nu)]
        + [(i, j) for i, j in ((nu - 1, j) for j in range(nv - 2, -1, -1))]
        + [(i, 0) for i in range(nu - 2, 0, -1)]
    )
    idx = np.array([i * nv + j for i, j in loop], dtype=np.int64)
    sx, sz = bottom_scale
    if callable(bottom):
        bot_v = np.stack([x * sx, bottom(x, z), z * sz], -1).reshape(-1, 3)
        faces_bot = faces_top[:, ::-1] + count
        ring_bottom = idx + count
    else:
        ring = top_v[idx]
        bot_v = np.vstack(
            [
                np.stack([ring[:, 0] * sx, np.full(len(ring), bottom), ring[:, 2] * sz], 1),
                [[0.0, bottom, 0.0]],
            ]
        )
        n = len(idx)
        k = np.arange(n)
        centre = count + n
        faces_bot = np.stack([np.full(n, centre), count + (k + 1) % n, count + k], 1)
        ring_bottom = count + k
    a, b = idx, np.roll(idx, -1)
    c, d = ring_bottom, np.roll(ring_bottom, -1)
    wall = np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])
    mesh = trimesh.Trimesh(np.vstack([top_v, bot_v]), np.vstack([faces_top, faces_bot, wall]), process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def rounded_rect_outline(
    half_w: float, half_d: float, corner_r: float
) -> Callable[[F64, F64], tuple[F64, F64]]:
    """Maps the square [-1, 1]^2 onto a rectangle with rounded corners (x half-width, z half-depth)."""

    def warp(u: F64, v: F64) -> tuple[F64, F64]:
        x, z = u * half_w, v * half_d
        # points in a corner square are pulled radially onto the corner's quarter circle, scaled by depth
        cx, cz = half_w - corner_r, half_d - corner_r
        ax, az = np.abs(x), np.abs(z)
        in_corner = (ax > cx) & (az > cz)
        dx, dz = ax - cx, az - cz
        # Chebyshev radius within the corner square -> Euclidean radius
        cheb = np.maximum(dx, dz)
        eucl = np.hypot(dx, dz)
        scale = np.where(in_corner & (eucl > 1e-12), cheb / np.maximum(eucl, 1e-12), 1.0)
        x2 = np.sign(x) * (cx + dx * scale)
        z2 = np.sign(z) * (cz + dz * scale)
        return np.where(in_corner, x2, x), np.where(in_corner, z2, z)

    return warp


def disc_outline(radius: float) -> Callable[[F64, F64], tuple[F64, F64]]:
    """Maps the square [-1, 1]^2 onto a disc (concentric squares -> concentric circles)."""

    def warp(u: F64, v: F64) -> tuple[F64, F64]:
        cheb = np.maximum(np.abs(u), np.abs(v))
        eucl = np.hypot(u, v)
        scale = np.where(eucl > 1e-12, cheb / np.maximum(eucl, 1e-12), 0.0)
        return u * scale * radius, v * scale * radius

    return warp


# ----------------------------------------------------------------------------------------------------------
# Relief from text and drawings
# ----------------------------------------------------------------------------------------------------------

_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
)


def font(
    size_px: int, *, cjk: bool = False, serif: bool = False
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A bold font for stamping; CJK text needs Noto CJK (installed by scripts/setup)."""
    names = (
        [
            "NotoSerifCJK-Bold.ttc",
            "NotoSansCJK-Bold.ttc",
            "NotoSansCJK-Regular.ttc",
            "NotoSerifCJK-Regular.ttc",
        ]
        if cjk
        else (["DejaVuSerif-Bold.ttf"] if serif else []) + ["DejaVuSans-Bold.ttf", "DejaVuSans.ttf"]
    )
    for d in _FONT_DIRS:
        for n in names:
            p = Path(d) / n
            if p.is_file():
                return ImageFont.truetype(str(p), size_px)
    return ImageFont.load_default(size_px)


def has_cjk_font() -> bool:
    return isinstance(font(12, cjk=True), ImageFont.FreeTypeFont) and any(
        (Path(d) / n).is_file()
        for d in _FONT_DIRS
        for n in ("NotoSerifCJK-Bold.ttc", "NotoSansCJK-Bold.ttc", "NotoSansCJK-Regular.ttc")
    )


@dataclass(frozen=True)
class Stamp:
    """A line of text on a face: centre (fractions of the face, 0..1 from the top-left), height (fraction of
    the face height), CJK or Latin."""

    text: str
    centre: tuple[float, float]
    height: float
    cjk: bool = False
    serif: bool = False


def relief_image(
    size_px: tuple[int, int],
    stamps: Sequence[Stamp],
    *,
    frame: float | None = None,
    draw: Callable[[ImageDraw.ImageDraw, tuple[int, int]], None] | None = None,
    blur_px: float = 1.0,
) -> F64:
    """A height image in [0, 1] (1 = raised) `(h, w) float64`: text lines, an optional frame inset by `frame`
    (fraction of the shorter side), and an optional drawing callback."""
    w, h = size_px
    img = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(img)
    if frame is not None:
        inset = int(frame * min(w, h))
        width = max(2, int(0.018 * min(w, h)))
        d.rounded_rectangle(
            [inset, inset, w - 1 - inset, h - 1 - inset], radius=inset, outline=255, width=width
        )
    for s in stamps:
        if s.cjk and not has_cjk_font():
            continue
        f = font(max(6, int(s.height * h)), cjk=s.cjk, serif=s.serif)
        d.text((s.centre[0] * w, s.centre[1] * h), s.text, fill=255, font=f, anchor="mm")
    if draw is not None:
        draw(d, (w, h))
    if blur_px > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur_px))
    return np.asarray(img, dtype=np.float64) / 255.0


def sample_image(img: F64, x: F64, z: F64, half_w: float, half_d: float) -> F64:
    """Bilinear sample of `img (h, w)` spread over [-half_w, half_w] x [-half_d, half_d]; image rows run along
    +z (top row at -z, the far edge), columns along +x."""
    h, w = img.shape
    fx = np.clip((x / half_w * 0.5 + 0.5) * (w - 1), 0, w - 1)
    fz = np.clip((z / half_d * 0.5 + 0.5) * (h - 1), 0, h - 1)
    x0, z0 = np.floor(fx).astype(int), np.floor(fz).astype(int)
    x1, z1 = np.minimum(x0 + 1, w - 1), np.minimum(z0 + 1, h - 1)
    tx, tz = fx - x0, fz - z0
    top = img[z0, x0] * (1 - tx) + img[z0, x1] * tx
    bottom = img[z1, x0] * (1 - tx) + img[z1, x1] * tx
    result: F64 = top * (1 - tz) + bottom * tz
    return result


# ----------------------------------------------------------------------------------------------------------
# Finishing: normals, UVs, placement, export
# ----------------------------------------------------------------------------------------------------------


def shade(mesh: trimesh.Trimesh, crease_deg: float = 35.0) -> trimesh.Trimesh:
    """Splits vertices along edges sharper than `crease_deg`, so that smooth surfaces stay smooth and creases
    stay crisp (vertex normals are then exported as computed)."""
    shaded: trimesh.Trimesh = trimesh.graph.smooth_shade(mesh, angle=math.radians(crease_deg))
    return shaded


def box_uv(mesh: trimesh.Trimesh, bounds: F64) -> F64:
    """Per-vertex UVs by projecting along the dominant normal axis onto the model's bounding box, in [0, 1]."""
    v = np.asarray(mesh.vertices)
    n = np.asarray(mesh.vertex_normals)
    lo, hi = bounds
    span = np.maximum(hi - lo, 1e-9)
    t = (v - lo) / span
    axis = np.argmax(np.abs(n), axis=1)
    uv = np.where(axis[:, None] == 0, t[:, [2, 1]], np.where(axis[:, None] == 1, t[:, [0, 2]], t[:, [0, 1]]))
    result: F64 = np.asarray(uv, dtype=np.float64)
    return result


def place_on_ground(parts: Sequence[Part]) -> list[Part]:
    """Centres the parts' joint bounds in X and Z and rests them on Y = 0."""
    lo = np.min([p.mesh.bounds[0] for p in parts], axis=0)
    hi = np.max([p.mesh.bounds[1] for p in parts], axis=0)
    shift = np.array([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])
    out = []
    for p in parts:
        m = p.mesh.copy()
        m.apply_translation(shift)
        out.append(Part(m, p.material, p.name, p.crease_deg))
    return out


def to_scene(parts: Sequence[Part], materials: dict[str, MaterialSpec] | None = None) -> trimesh.Scene:
    """A trimesh Scene with one node per part, PBR materials by name, UVs and vertex normals."""
    table = {**MATERIALS, **(materials or {})}
    placed = place_on_ground(parts)
    lo = np.min([p.mesh.bounds[0] for p in placed], axis=0)
    hi = np.max([p.mesh.bounds[1] for p in placed], axis=0)
    bounds = np.stack([lo, hi])
    mats = {name: pbr_material(name, table[name]) for name in {p.material for p in placed}}
    scene = trimesh.Scene()
    used: set[str] = set()
    for i, p in enumerate(placed):
        node = p.name if p.name not in used else f"{p.name}-{i}"
        used.add(node)
        m = shade(p.mesh, p.crease_deg) if p.crease_deg is not None else p.mesh
        uv = box_uv(m, bounds)
        normals = np.asarray(m.vertex_normals).copy()
        mesh = trimesh.Trimesh(
            vertices=np.asarray(m.vertices),
            faces=np.asarray(m.faces),
            vertex_normals=normals,
            visual=trimesh.visual.TextureVisuals(uv=uv, material=mats[p.material]),  # type: ignore[no-untyped-call]
            process=False,
        )
        scene.add_geometry(mesh, node_name=node, geom_name=f"{node}-mesh")
    return scene


def export_glb(scene: trimesh.Scene, extensions: dict[str, dict[str, Any]] | None = None) -> bytes:
    """The scene as GLB bytes with `MATERIAL_EXTENSIONS`, then `extensions` (a model's own, by material name: the
    band ring's and bangle's brushed metal), on its materials."""
    data: bytes = trimesh.exchange.gltf.export_glb(scene, include_normals=True)  # type: ignore[no-untyped-call]
    return with_material_extensions(data, extensions, base=MATERIAL_EXTENSIONS)


def merge(meshes: Sequence[trimesh.Trimesh]) -> trimesh.Trimesh:
    merged: trimesh.Trimesh = trimesh.util.concatenate(list(meshes))
    return merged


def png_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


__all__ = ["export_glb", "glb_material_extensions"]
