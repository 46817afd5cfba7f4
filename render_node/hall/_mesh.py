"""Hall geometry: boxes, discs and quads as triangle meshes subdivided finely enough for baked vertex light.

A box face is a grid whose lines fall on the edges of every other box touching its plane (so no triangle
straddles the foot of a counter or the edge of a screen, and shadows and occlusion start exactly there), with
cells no longer than `step_m` between them. Faces on the outside of the hall and triangles buried in another
opaque box are dropped.

Arrays: `positions (n, 3)`, `normals (n, 3)`, `uv (n, 2)` float64; `faces (m, 3)` int64; metres.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Vec3 = tuple[float, float, float]

_TANGENT_AXES = {0: (2, 1), 1: (0, 2), 2: (0, 1)}
"""Per face axis: the (u, v) axes of its grid (vertical faces: horizontal then up; floors: x then z)."""


@dataclass
class Chunk:
    """Triangles of one material. `emit` holds fixed vertex colours (lights); None: the bake lights them."""

    material: str
    positions: F64
    normals: F64
    uv: F64
    faces: I64
    emit: F64 | None = None

    @property
    def triangles(self) -> int:
        return len(self.faces)


@dataclass(frozen=True)
class Solid:
    """A box of the hall's geometry (from the plan or a fixture): where it is, its material, how it is gridded."""

    id: str
    min_m: Vec3
    max_m: Vec3
    material: str
    opaque: bool = True
    step_m: float = 0.35


def merge(chunks: Sequence[Chunk]) -> Chunk:
    """One chunk of the same material from several (vertex indices shifted)."""
    offsets = np.cumsum([0] + [len(c.positions) for c in chunks[:-1]])
    emits = [c.emit for c in chunks]
    emit = None
    if any(e is not None for e in emits):
        emit = np.concatenate(
            [e if e is not None else np.zeros((len(c.positions), 3)) for c, e in zip(chunks, emits, strict=True)]
        )
    return Chunk(
        chunks[0].material,
        np.concatenate([c.positions for c in chunks]),
        np.concatenate([c.normals for c in chunks]),
        np.concatenate([c.uv for c in chunks]),
        np.concatenate([c.faces + o for c, o in zip(chunks, offsets, strict=True)]).astype(np.int64),
        emit,
    )


def breaks(lo: float, hi: float, step_m: float, required: Sequence[float]) -> F64:
    """Grid lines from `lo` to `hi`: every `required` value strictly inside, then each interval split evenly
    into cells of at most `step_m`."""
    req = sorted({round(r, 5) for r in required if lo + 0.005 < r < hi - 0.005})
    pts = [lo, *req, hi]
    out = [lo]
    for a, b in itertools.pairwise(pts):
        k = max(1, math.ceil((b - a) / step_m - 1e-9))
        out += list(np.linspace(a, b, k + 1)[1:])
    return np.asarray(out)


def grid(origin: F64, e_u: F64, e_v: F64, us: F64, vs: F64, normal: F64) -> tuple[F64, I64]:
    """Vertices `origin + u e_u + v e_v` for the grid lines `us` x `vs`, and triangles wound about `normal`."""
    uu, vv = np.meshgrid(us, vs, indexing="ij")
    pos = origin[None, :] + uu.reshape(-1, 1) * e_u[None, :] + vv.reshape(-1, 1) * e_v[None, :]
    nu, nv = len(us), len(vs)
    i, j = np.meshgrid(np.arange(nu - 1), np.arange(nv - 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a, b, c, d = i * nv + j, (i + 1) * nv + j, (i + 1) * nv + j + 1, i * nv + j + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    if float(np.dot(np.cross(e_u, e_v), normal)) < 0:
        faces = faces[:, ::-1]
    return pos, faces.astype(np.int64)


def _touching(solid: Solid, axis: int, coord: float, others: Sequence[Solid]) -> list[Solid]:
    u_ax, v_ax = _TANGENT_AXES[axis]
    out = []
    for o in others:
        if o is solid or not (o.min_m[axis] - 1e-3 <= coord <= o.max_m[axis] + 1e-3):
            continue
        if (o.max_m[u_ax] <= solid.min_m[u_ax] or o.min_m[u_ax] >= solid.max_m[u_ax]
                or o.max_m[v_ax] <= solid.min_m[v_ax] or o.min_m[v_ax] >= solid.max_m[v_ax]):
            continue  # fmt: skip
        out.append(o)
    return out


def box_chunk(
    solid: Solid,
    others: Sequence[Solid],
    hall_min: Vec3,
    hall_max: Vec3,
    repeat_m: float,
    extra_breaks: Sequence[tuple[int, float]] = (),
) -> Chunk | None:
    """The faces of `solid` that can be seen from inside the hall, gridded on the edges of `others`.
    `extra_breaks`: (axis, coordinate) lines every face crossing them also gets (e.g. light patterns)."""
    lo, hi = np.asarray(solid.min_m, np.float64), np.asarray(solid.max_m, np.float64)
    parts: list[tuple[F64, F64, F64, I64]] = []
    for axis in range(3):
        u_ax, v_ax = _TANGENT_AXES[axis]
        for sign in (-1, 1):
            coord = float(lo[axis] if sign < 0 else hi[axis])
            if (sign < 0 and coord <= hall_min[axis] + 1e-6) or (sign > 0 and coord >= hall_max[axis] - 1e-6):
                continue  # the outside of the hall (or under the floor): never seen
            if hi[u_ax] - lo[u_ax] < 1e-6 or hi[v_ax] - lo[v_ax] < 1e-6:
                continue
            touching = _touching(solid, axis, coord, others)
            req_u = [x for o in touching for x in (o.min_m[u_ax], o.max_m[u_ax])]
            req_v = [x for o in touching for x in (o.min_m[v_ax], o.max_m[v_ax])]
            req_u += [c for a, c in extra_breaks if a == u_ax]
            req_v += [c for a, c in extra_breaks if a == v_ax]
            us = breaks(float(lo[u_ax]), float(hi[u_ax]), solid.step_m, req_u)
            vs = breaks(float(lo[v_ax]), float(hi[v_ax]), solid.step_m, req_v)
            normal = np.zeros(3)
            normal[axis] = sign
            origin = np.zeros(3)
            origin[axis] = coord
            e_u, e_v = np.zeros(3), np.zeros(3)
            e_u[u_ax], e_v[v_ax] = 1.0, 1.0
            pos, faces = grid(origin, e_u, e_v, us, vs, normal)
            if axis == 1:
                uv = np.stack([pos[:, 0], pos[:, 2]], 1) / repeat_m
            else:
                horizontal = pos[:, u_ax] * (-sign if axis == 0 else sign)
                uv = np.stack([horizontal, -pos[:, 1]], 1) / repeat_m
            parts.append((pos, np.broadcast_to(normal, pos.shape).copy(), uv, faces))
    if not parts:
        return None
    return merge([Chunk(solid.material, p, n, uv, f) for p, n, uv, f in parts])


def cull_buried(chunk: Chunk, solids: Sequence[Solid], cylinders: Sequence[tuple[float, float, float, float, float]]) -> Chunk:
    """Drops triangles whose centre (nudged 3 mm off the surface) lies inside an opaque solid, or whose corners
    all lie inside a cylinder `(cx, cz, radius, y0, y1)`: hidden faces, and the coplanar fights they would cause."""
    opaque = [s for s in solids if s.opaque]
    if not len(chunk.faces):
        return chunk
    tri = chunk.positions[chunk.faces]
    centre = tri.mean(axis=1) + chunk.normals[chunk.faces[:, 0]] * 0.003
    inside = np.zeros(len(centre), bool)
    if opaque:
        lo = np.array([s.min_m for s in opaque])
        hi = np.array([s.max_m for s in opaque])
        inside |= np.any(np.all((centre[:, None, :] > lo[None] + 1e-6) & (centre[:, None, :] < hi[None] - 1e-6), axis=2), axis=1)
    corners = tri + chunk.normals[chunk.faces] * 0.003
    for cx, cz, r, y0, y1 in cylinders:  # a circle's edge crosses grid cells: only cells wholly inside go
        d2 = (corners[..., 0] - cx) ** 2 + (corners[..., 2] - cz) ** 2
        inside |= np.all((d2 < r * r) & (corners[..., 1] > y0) & (corners[..., 1] < y1), axis=1)
    return compact(Chunk(chunk.material, chunk.positions, chunk.normals, chunk.uv, chunk.faces[~inside], chunk.emit))


def orient(chunk: Chunk) -> Chunk:
    """Winds every triangle counter-clockwise about its vertices' normal (front faces face the normal)."""
    tri = chunk.positions[chunk.faces]
    geo = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.sum(geo * chunk.normals[chunk.faces].sum(axis=1), axis=1) < 0
    faces = chunk.faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return Chunk(chunk.material, chunk.positions, chunk.normals, chunk.uv, faces, chunk.emit)


def compact(chunk: Chunk) -> Chunk:
    """Drops vertices no triangle uses."""
    used = np.zeros(len(chunk.positions), bool)
    used[chunk.faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return Chunk(
        chunk.material,
        chunk.positions[used],
        chunk.normals[used],
        chunk.uv[used],
        remap[chunk.faces].astype(np.int64),
        chunk.emit[used] if chunk.emit is not None else None,
    )


def quad(
    material: str,
    center: Sequence[float],
    normal: Sequence[float],
    size_m: tuple[float, float],
    *,
    up: Sequence[float] = (0.0, 1.0, 0.0),
    step_m: float | None = None,
    emit: Sequence[float] | None = None,
) -> Chunk:
    """A rectangle facing `normal`, `size_m` = (width, height), read upright with `up`; UV (0, 0) at the top
    left as its reader sees it (glTF convention). `step_m` subdivides it for the bake."""
    n = np.asarray(normal, np.float64)
    n /= np.linalg.norm(n)
    upv = np.asarray(up, np.float64)
    right = np.cross(upv, n)
    right /= np.linalg.norm(right)
    top = np.cross(n, right)
    w, h = size_m
    nu = max(1, math.ceil(w / step_m)) if step_m else 1
    nv = max(1, math.ceil(h / step_m)) if step_m else 1
    c = np.asarray(center, np.float64)
    origin = c - right * w / 2 + top * h / 2  # the top-left corner
    pos, faces = grid(origin, right, -top, np.linspace(0, w, nu + 1), np.linspace(0, h, nv + 1), n)
    rel = pos - origin
    uv = np.stack([rel @ right / w, rel @ -top / h], 1)
    e = None if emit is None else np.broadcast_to(np.asarray(emit, np.float64), pos.shape).copy()
    return Chunk(material, pos, np.broadcast_to(n, pos.shape).copy(), uv, faces, e)


def disc_top(
    material: str,
    center: Sequence[float],
    r0: float,
    r1: float,
    y: float,
    *,
    segments: int,
    step_m: float,
    uv_turns: int = 8,
    emit: Sequence[float] | None = None,
) -> Chunk:
    """An annulus (or a disc, r0 = 0) facing up; UV u runs around (`uv_turns` repeats), v out along the radius."""
    cx, _, cz = center
    rs = np.linspace(r0, r1, max(1, math.ceil((r1 - r0) / step_m)) + 1)
    th = np.linspace(0, 2 * np.pi, segments + 1)
    rr, tt = np.meshgrid(rs, th, indexing="ij")
    pos = np.stack([cx + rr * np.sin(tt), np.full_like(rr, y), cz + rr * np.cos(tt)], -1).reshape(-1, 3)
    nr, nt = len(rs), len(th)
    i, j = np.meshgrid(np.arange(nr - 1), np.arange(nt - 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a, b, c, d = i * nt + j, (i + 1) * nt + j, (i + 1) * nt + j + 1, i * nt + j + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    tri = pos[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    faces = faces[area > 1e-10]
    uv = np.stack([(tt / (2 * np.pi) * uv_turns).ravel(), (rr / max(r1, 1e-9)).ravel()], 1)
    normals = np.broadcast_to(np.array([0.0, 1.0, 0.0]), pos.shape).copy()
    e = None if emit is None else np.broadcast_to(np.asarray(emit, np.float64), pos.shape).copy()
    return orient(compact(Chunk(material, pos, normals, uv, faces.astype(np.int64), e)))


def cylinder_side(
    material: str, center: Sequence[float], radius: float, y0: float, y1: float, *, segments: int, emit: Sequence[float] | None = None
) -> Chunk:
    """The outward side of a vertical cylinder from `y0` to `y1`."""
    cx, _, cz = center
    th = np.linspace(0, 2 * np.pi, segments + 1)
    ys = np.array([y0, y1])
    tt, yy = np.meshgrid(th, ys, indexing="ij")
    pos = np.stack([cx + radius * np.sin(tt), yy, cz + radius * np.cos(tt)], -1).reshape(-1, 3)
    nrm = np.stack([np.sin(tt), np.zeros_like(tt), np.cos(tt)], -1).reshape(-1, 3)
    n_t = len(th)
    j = np.arange(n_t - 1)
    a, b, c, d = j * 2, (j + 1) * 2, (j + 1) * 2 + 1, j * 2 + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    uv = np.stack([tt.ravel() / (2 * np.pi) * 16, (yy.ravel() - y0) / max(y1 - y0, 1e-9)], 1)
    e = None if emit is None else np.broadcast_to(np.asarray(emit, np.float64), pos.shape).copy()
    return orient(Chunk(material, pos, nrm, uv, faces.astype(np.int64), e))


def sphere(material: str, center: Sequence[float], radius: float, *, rings: int = 12, segments: int = 20) -> Chunk:
    """A UV sphere (normals outward; u around, v from the top)."""
    th = np.linspace(0, np.pi, rings + 1)
    ph = np.linspace(0, 2 * np.pi, segments + 1)
    tt, pp = np.meshgrid(th, ph, indexing="ij")
    nrm = np.stack([np.sin(tt) * np.sin(pp), np.cos(tt), np.sin(tt) * np.cos(pp)], -1).reshape(-1, 3)
    pos = np.asarray(center, np.float64)[None, :] + nrm * radius
    nt = len(ph)
    i, j = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a, b, c, d = i * nt + j, (i + 1) * nt + j, (i + 1) * nt + j + 1, i * nt + j + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    tri = pos[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    uv = np.stack([(pp / (2 * np.pi) * 3).ravel(), (tt / np.pi * 1.5).ravel()], 1)
    return orient(compact(Chunk(material, pos, nrm, uv, faces[area > 1e-12].astype(np.int64))))
