"""Signed distance fields in numpy (negative inside, metres) and their meshing: marching cubes (scikit-image),
quadric decimation (open3d, through the asset pipeline's `decimate`), normals from the field's gradient.

Every shape is a function `points (n, 3) -> distances (n,)`; the combinators blend them smoothly (polynomial
smooth minimum), which is what makes the figure read as one sculpted surface instead of glued primitives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Field = Callable[[F64], F64]
Vec = Sequence[float] | npt.NDArray[np.floating]  # type: ignore[type-arg]


def _v(x: Vec) -> F64:
    return np.asarray(x, np.float64)


def sphere(c: Vec, r: float) -> Field:
    cc = _v(c)
    return lambda p: np.linalg.norm(p - cc, axis=1) - r


def ellipsoid(c: Vec, radii: Vec, rot: F64 | None = None) -> Field:
    """An ellipsoid (the usual first-order distance estimate), optionally turned by `rot` (3x3, local -> world)."""
    cc, rr = _v(c), _v(radii)

    def f(p: F64) -> F64:
        q = p - cc
        if rot is not None:
            q = q @ rot
        k0 = np.linalg.norm(q / rr, axis=1)
        k1 = np.linalg.norm(q / (rr * rr), axis=1)
        return np.asarray(k0 * (k0 - 1.0) / np.maximum(k1, 1e-12))

    return f


def capsule(a: Vec, b: Vec, ra: float, rb: float | None = None) -> Field:
    """A capsule from `a` to `b`, its radius going linearly from `ra` to `rb`."""
    aa, bb = _v(a), _v(b)
    rb_ = ra if rb is None else rb
    ab = bb - aa
    ll = float(ab @ ab)

    def f(p: F64) -> F64:
        t = np.clip(((p - aa) @ ab) / ll, 0.0, 1.0)
        d = np.linalg.norm(p - (aa + t[:, None] * ab), axis=1)
        return np.asarray(d - (ra + (rb_ - ra) * t))

    return f


def flat_capsule(a: Vec, b: Vec, r: float, squash: Vec) -> Field:
    """A capsule scaled by `squash` (per axis, world) about its midpoint: a ribbon, a lapel, a tail of the scarf."""
    sq = _v(squash)
    mid = (_v(a) + _v(b)) / 2
    inner = capsule((_v(a) - mid) / sq, (_v(b) - mid) / sq, r)
    return lambda p: inner((p - mid) / sq) * float(sq.min())


def round_box(c: Vec, half: Vec, r: float, rot: F64 | None = None) -> Field:
    cc, hh = _v(c), _v(half) - r

    def f(p: F64) -> F64:
        q = p - cc
        if rot is not None:
            q = q @ rot
        d = np.abs(q) - hh
        return np.asarray(np.linalg.norm(np.maximum(d, 0.0), axis=1) + np.minimum(d.max(axis=1), 0.0) - r)

    return f


def torus(c: Vec, big_r: float, small_r: float, scale: Vec = (1.0, 1.0, 1.0)) -> Field:
    """A ring about +Y through `c`, its centre line an ellipse (scale x, z) of radius `big_r`."""
    cc, sc = _v(c), _v(scale)

    def f(p: F64) -> F64:
        q = (p - cc) / sc
        ring = np.hypot(q[:, 0], q[:, 2]) - big_r
        return np.asarray(np.hypot(ring * float(min(sc[0], sc[2])), (p - cc)[:, 1]) - small_r)

    return f


def half_space(point: Vec, normal: Vec) -> Field:
    """Inside where (p - point) . normal < 0."""
    pp, nn = _v(point), _v(normal) / np.linalg.norm(_v(normal))
    return lambda p: (p - pp) @ nn


def smin(a: F64, b: F64, k: float) -> F64:
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return np.asarray(b + (a - b) * h - k * h * (1.0 - h))


def smax(a: F64, b: F64, k: float) -> F64:
    return -smin(-a, -b, k)


def union(*fields: Field, k: float = 0.0) -> Field:
    def f(p: F64) -> F64:
        d = fields[0](p)
        for g in fields[1:]:
            d = smin(d, g(p), k)
        return d

    return f


def subtract(base: Field, *cuts: Field, k: float = 0.0) -> Field:
    def f(p: F64) -> F64:
        d = base(p)
        for g in cuts:
            d = smax(d, -g(p), k)
        return d

    return f


def intersect(a: Field, b: Field, k: float = 0.0) -> Field:
    return lambda p: smax(a(p), b(p), k)


def offset(a: Field, by_m: float) -> Field:
    return lambda p: a(p) - by_m


def smoothstep(e0: float, e1: float, x: F64) -> F64:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


@dataclass(frozen=True)
class Surface:
    positions: F64
    """(n, 3) metres."""
    normals: F64
    """(n, 3) unit, outward."""
    faces: I64
    """(m, 3) counter-clockwise seen from outside."""


def gradient(field: Field, p: F64, eps: float = 5e-4) -> F64:
    """The field's unit gradient at `p` (central differences): outward normals on its zero surface."""
    e = np.eye(3) * eps
    g = np.stack([field(p + e[i]) - field(p - e[i]) for i in range(3)], axis=1)
    return np.asarray(g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12))


def mesh_field(field: Field, lo: Vec, hi: Vec, voxel_m: float, triangles: int) -> Surface:
    """The zero surface of `field` inside the box [lo, hi], by marching cubes on a `voxel_m` grid, decimated to
    about `triangles`, with gradient normals."""
    import trimesh
    from skimage.measure import marching_cubes

    from render_node.assets.lods import decimate

    lo_, hi_ = _v(lo), _v(hi)
    n = np.ceil((hi_ - lo_) / voxel_m).astype(int) + 1
    axes = [lo_[i] + np.arange(n[i]) * voxel_m for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.empty(len(grid))
    step = 400_000
    for s in range(0, len(grid), step):
        values[s : s + step] = field(grid[s : s + step])
    volume = values.reshape(n)
    # samples on the surface (a flat cut along a grid plane) make marching cubes leave holes: nudge them out
    volume[np.abs(volume) < voxel_m * 1e-3] = voxel_m * 1e-3
    volume[0, :, :] = volume[-1, :, :] = volume[:, 0, :] = volume[:, -1, :] = volume[:, :, 0] = volume[:, :, -1] = 1.0
    verts, faces, _normals, _ = marching_cubes(  # type: ignore[no-untyped-call]
        volume, 0.0, spacing=(voxel_m,) * 3, gradient_direction="ascent")
    verts = verts + lo_
    mesh = trimesh.Trimesh(verts, faces[:, ::-1], process=True)
    if len(mesh.faces) > triangles:
        mesh = decimate(mesh, triangles)
    pos = np.asarray(mesh.vertices, np.float64)
    return orient(Surface(pos, gradient(field, pos), np.asarray(mesh.faces, np.int64)))


def orient(s: Surface) -> Surface:
    """Faces turned to agree with their vertices' normals (counter-clockwise seen from where the normals point);
    degenerate ones dropped."""
    tri = s.positions[s.faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = (face_n * s.normals[s.faces].sum(axis=1)).sum(axis=1) < 0
    faces = np.where(flip[:, None], s.faces[:, ::-1], s.faces)
    keep = np.linalg.norm(face_n, axis=1) > 1e-14
    return Surface(s.positions, s.normals, faces[keep])
