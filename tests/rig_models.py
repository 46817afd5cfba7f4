"""Animated glTF files made in code for the skinning, morph and animation tests: a bending cylinder with two
joints, a morph cube with two targets. Every number is chosen so the expected vertices can be worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.render_models import write_glb

CYLINDER_RADIUS_M = 0.25
CYLINDER_RINGS_Y = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
CYLINDER_SEGMENTS = 16
BEND_PIVOT = (0.0, 1.0, 0.0)
"""The second joint's origin: the cylinder bends there."""


class GlbBuffer:
    """Appends arrays to one binary buffer, one bufferView and accessor each."""

    def __init__(self) -> None:
        self.data = b""
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, arr: npt.NDArray[Any], kind: str, component: int, **extra: Any) -> int:
        raw = np.ascontiguousarray(arr).tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw + b"\0" * (-len(raw) % 4)
        count = len(arr)
        self.accessors.append({"bufferView": len(self.views) - 1, "componentType": component, "count": count,
                               "type": kind, **extra})
        return len(self.accessors) - 1

    def vec3(self, arr: npt.NDArray[Any]) -> int:
        a = np.asarray(arr, np.float32)
        return self.add(a, "VEC3", 5126, min=a.min(axis=0).tolist(), max=a.max(axis=0).tolist())

    def doc(self, **rest: Any) -> dict[str, Any]:
        return {"asset": {"version": "2.0"}, "buffers": [{"byteLength": len(self.data)}],
                "bufferViews": self.views, "accessors": self.accessors, **rest}


def cylinder_vertices() -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """(positions, normals, triangle indices) of the open cylinder along +Y, ring by ring."""
    ang = np.arange(CYLINDER_SEGMENTS) * 2 * math.pi / CYLINDER_SEGMENTS
    pos, nrm = [], []
    for y in CYLINDER_RINGS_Y:
        for a in ang:
            pos.append([CYLINDER_RADIUS_M * math.sin(a), y, CYLINDER_RADIUS_M * math.cos(a)])
            nrm.append([math.sin(a), 0.0, math.cos(a)])
    idx = []
    s = CYLINDER_SEGMENTS
    for r in range(len(CYLINDER_RINGS_Y) - 1):
        for k in range(s):
            a, b = r * s + k, r * s + (k + 1) % s
            idx += [a, b, a + s, b, b + s, a + s]
    return np.asarray(pos, np.float32), np.asarray(nrm, np.float32), np.asarray(idx, np.uint16)


def cylinder_weights(y: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Weights (root, bend) by height: all root below the pivot, half and half on it, all bend above."""
    w1 = np.where(y > 1.0 + 1e-6, 1.0, np.where(y > 1.0 - 1e-6, 0.5, 0.0))
    out: npt.NDArray[Any] = np.stack([1 - w1, w1, np.zeros_like(y), np.zeros_like(y)], axis=1).astype(np.float32)
    return out


def bending_cylinder(path: Path, *, mesh_translation: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Path:
    """A skinned cylinder (2 m tall, joints `root` at the origin and `bend` at y = 1) with animations:
    `bend` (LINEAR: the `bend` joint turns from 0 to 90 degrees about +Z over 1 s) and `wave` (STEP: 0, then
    -90 degrees about +Z from 0.5 s). The mesh node may be moved: glTF says its transform does not count."""
    pos, nrm, idx = cylinder_vertices()
    buf = GlbBuffer()
    i_idx = buf.add(idx, "SCALAR", 5123)
    i_pos, i_nrm = buf.vec3(pos), buf.vec3(nrm)
    joints = np.tile(np.array([0, 1, 0, 0], np.uint8), (len(pos), 1))
    i_j = buf.add(joints, "VEC4", 5121)
    i_w = buf.add(cylinder_weights(pos[:, 1]), "VEC4", 5126)
    ibm = np.stack([np.eye(4), np.eye(4)]).astype(np.float32)
    ibm[1, 1, 3] = -1.0  # inverse of translate(0, 1, 0)
    i_ibm = buf.add(ibm.transpose(0, 2, 1).reshape(2, 16), "MAT4", 5126)  # column-major
    h = math.sqrt(0.5)
    i_t = buf.add(np.array([0.0, 1.0], np.float32), "SCALAR", 5126, min=[0.0], max=[1.0])
    i_r = buf.add(np.array([[0, 0, 0, 1], [0, 0, h, h]], np.float32), "VEC4", 5126)
    i_ts = buf.add(np.array([0.0, 0.5], np.float32), "SCALAR", 5126, min=[0.0], max=[0.5])
    i_rs = buf.add(np.array([[0, 0, 0, 1], [0, 0, -h, h]], np.float32), "VEC4", 5126)
    doc = buf.doc(
        scene=0,
        scenes=[{"nodes": [0, 1]}],
        nodes=[
            {"name": "cylinder", "mesh": 0, "skin": 0, "translation": list(mesh_translation)},
            {"name": "root", "children": [2]},
            {"name": "bend", "translation": list(BEND_PIVOT)},
        ],
        meshes=[{"primitives": [{"attributes": {"POSITION": i_pos, "NORMAL": i_nrm, "JOINTS_0": i_j,
                                                "WEIGHTS_0": i_w}, "indices": i_idx}]}],
        skins=[{"joints": [1, 2], "inverseBindMatrices": i_ibm}],
        animations=[
            {"name": "bend", "samplers": [{"input": i_t, "output": i_r, "interpolation": "LINEAR"}],
             "channels": [{"sampler": 0, "target": {"node": 2, "path": "rotation"}}]},
            {"name": "wave", "samplers": [{"input": i_ts, "output": i_rs, "interpolation": "STEP"}],
             "channels": [{"sampler": 0, "target": {"node": 2, "path": "rotation"}}]},
        ],
    )
    return write_glb(path, doc, buf.data)


CUBE_CORNERS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)], np.float32)
CUBE_TRIANGLES = np.array([
    0, 1, 3, 0, 3, 2,  # -X
    4, 6, 7, 4, 7, 5,  # +X
    0, 4, 5, 0, 5, 1,  # -Y
    2, 3, 7, 2, 7, 6,  # +Y
    0, 2, 6, 0, 6, 4,  # -Z
    1, 5, 7, 1, 7, 3,  # +Z
], np.uint16)


def cube_deltas() -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Target `up` lifts the top corners by 1 m; target `wide` pushes the +X corners out by 2 m."""
    up = np.where(CUBE_CORNERS[:, 1:2] > 0, [[0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]]).astype(np.float32)
    wide = np.where(CUBE_CORNERS[:, 0:1] > 0, [[2.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]).astype(np.float32)
    return up, wide


def morph_cube(path: Path, weights: tuple[float, float] = (0.25, 0.5), animated: bool = True) -> Path:
    """A unit cube without normals (flat-shaded, so the reader unwelds it) with two morph targets, `up` and
    `wide`, the mesh's default `weights`, and an animation `grow` (CUBICSPLINE weights, keys at 0 s and 2 s:
    values (0, 0) -> (1, 1), out-tangent of the first key (1, 0) per second, in-tangent of the last (0, 0)) and
    `slide` (no skin: the cube's node moves 2 m along +X over 1 s, LINEAR)."""
    up, wide = cube_deltas()
    buf = GlbBuffer()
    i_idx = buf.add(CUBE_TRIANGLES, "SCALAR", 5123)
    i_pos, i_up, i_wide = buf.vec3(CUBE_CORNERS), buf.vec3(up), buf.vec3(wide)
    rest: dict[str, Any] = {}
    if animated:
        i_t = buf.add(np.array([0.0, 2.0], np.float32), "SCALAR", 5126, min=[0.0], max=[2.0])
        # per key: in-tangent (2), value (2), out-tangent (2)
        out = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0], np.float32).reshape(-1, 1)
        i_o = buf.add(out, "SCALAR", 5126)
        i_st = buf.add(np.array([0.0, 1.0], np.float32), "SCALAR", 5126, min=[0.0], max=[1.0])
        i_so = buf.add(np.array([[0, 0, 0], [2, 0, 0]], np.float32), "VEC3", 5126)
        rest["animations"] = [
            {"name": "grow", "samplers": [{"input": i_t, "output": i_o, "interpolation": "CUBICSPLINE"}],
             "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}]},
            {"name": "slide", "samplers": [{"input": i_st, "output": i_so}],
             "channels": [{"sampler": 0, "target": {"node": 0, "path": "translation"}}]},
        ]
    doc = buf.doc(
        scene=0,
        scenes=[{"nodes": [0]}],
        nodes=[{"name": "cube", "mesh": 0}],
        meshes=[{"name": "cube", "weights": list(weights), "extras": {"targetNames": ["up", "wide"]},
                 "primitives": [{"attributes": {"POSITION": i_pos}, "indices": i_idx,
                                 "targets": [{"POSITION": i_up}, {"POSITION": i_wide}]}]}],
        **rest,
    )
    return write_glb(path, doc, buf.data)
