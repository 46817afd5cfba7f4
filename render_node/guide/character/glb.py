"""Writes the guide as one binary glTF 2.0: the skeleton's nodes, one skin, mesh `Body` (clothes, hands, hair) and
mesh `Face` (head, eyes, lids, brows, teeth, tongue) carrying the morph targets (names in `extras.targetNames`),
and the animations. The JSON is small enough to write directly; pygltflib gives the constants."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pygltflib

from render_node.guide.character.clips import Track
from render_node.guide.character.materials import MATERIALS
from render_node.guide.character.rig import NAMES, PARENT, WORLD, children, local_translation

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PrimitiveOut:
    material: str
    positions: F64
    normals: F64
    faces: I64
    joints: npt.NDArray[np.uint8]
    weights: F32
    colors: F64 | None = None
    targets: tuple[tuple[F64 | None, F64 | None], ...] = ()
    """Per morph target: (position deltas, normal deltas), None where it does not move this primitive."""


@dataclass(frozen=True)
class MeshOut:
    name: str
    primitives: tuple[PrimitiveOut, ...]
    target_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnimationOut:
    name: str
    tracks: tuple[Track, ...]
    weights: tuple[F64, F64] | None = None
    """(times, (keys, targets) weights) of the `Face` mesh's node."""
    extras: dict[str, Any] = field(default_factory=dict)


class _Bin:
    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, arr: npt.NDArray[Any], kind: str, component: int, target: int | None = None,
            minmax: bool = False, normalized: bool = False) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        acc: dict[str, Any] = {"bufferView": len(self.views) - 1, "componentType": component, "count": len(arr),
                               "type": kind}
        if normalized:
            acc["normalized"] = True
        if minmax:
            flat = arr.reshape(len(arr), -1)
            acc["min"] = [float(v) for v in flat.min(axis=0)]
            acc["max"] = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def vec3(self, arr: F64, minmax: bool = False, target: int | None = pygltflib.ARRAY_BUFFER) -> int:
        return self.add(np.asarray(arr, np.float32), "VEC3", pygltflib.FLOAT, target, minmax)


def glb_bytes(meshes: list[MeshOut], animations: list[AnimationOut], extras: dict[str, Any]) -> bytes:
    b = _Bin()
    joint_node = {name: i + 1 for i, name in enumerate(NAMES)}
    nodes: list[dict[str, Any]] = [{"name": "Guide", "children": []}]
    for name in NAMES:
        nd: dict[str, Any] = {"name": name, "translation": [float(v) for v in local_translation(name)]}
        kids = [joint_node[c] for c in children(name)]
        if kids:
            nd["children"] = kids
        nodes.append(nd)
    roots = [joint_node[n] for n in NAMES if PARENT[n] is None]
    nodes[0]["children"] = list(roots)
    ibm = np.stack([np.eye(4) for _ in NAMES])
    for i, name in enumerate(NAMES):
        ibm[i, :3, 3] = -WORLD[name]
    i_ibm = b.add(ibm.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32), "MAT4", pygltflib.FLOAT)
    skin = {"name": "guide", "joints": [joint_node[n] for n in NAMES], "inverseBindMatrices": i_ibm,
            "skeleton": roots[0]}
    materials: list[dict[str, Any]] = []
    material_index: dict[str, int] = {}
    meshes_json: list[dict[str, Any]] = []
    mesh_node: dict[str, int] = {}
    for mesh in meshes:
        prims = []
        for p in mesh.primitives:
            if p.material not in material_index:
                m = MATERIALS[p.material]
                material_index[p.material] = len(materials)
                materials.append({"name": m.name, "pbrMetallicRoughness": {
                    "baseColorFactor": [*m.color, 1.0], "metallicFactor": m.metallic, "roughnessFactor": m.roughness}})
            attrs = {"POSITION": b.vec3(p.positions, minmax=True), "NORMAL": b.vec3(p.normals),
                     "JOINTS_0": b.add(p.joints.astype(np.uint8), "VEC4", pygltflib.UNSIGNED_BYTE, pygltflib.ARRAY_BUFFER),
                     "WEIGHTS_0": b.add(p.weights.astype(np.float32), "VEC4", pygltflib.FLOAT, pygltflib.ARRAY_BUFFER)}
            if p.colors is not None:
                attrs["COLOR_0"] = b.vec3(p.colors)
            big = len(p.positions) > 65535
            idx = p.faces.reshape(-1).astype(np.uint32 if big else np.uint16)
            i_idx = b.add(idx, "SCALAR", pygltflib.UNSIGNED_INT if big else pygltflib.UNSIGNED_SHORT,
                          pygltflib.ELEMENT_ARRAY_BUFFER)
            prim: dict[str, Any] = {"attributes": attrs, "indices": i_idx, "material": material_index[p.material],
                                    "mode": pygltflib.TRIANGLES}
            if p.targets:
                zero: int | None = None
                targets = []
                for dp, dn in p.targets:
                    if dp is None:
                        if zero is None:
                            zero = b.vec3(np.zeros((len(p.positions), 3)), minmax=True, target=None)
                        targets.append({"POSITION": zero, "NORMAL": zero})
                    else:
                        dn_ = np.zeros_like(dp) if dn is None else dn
                        targets.append({"POSITION": b.vec3(dp, minmax=True, target=None),
                                        "NORMAL": b.vec3(dn_, target=None)})
                prim["targets"] = targets
            prims.append(prim)
        mj: dict[str, Any] = {"name": mesh.name, "primitives": prims}
        if mesh.target_names:
            mj["weights"] = [0.0] * len(mesh.target_names)
            mj["extras"] = {"targetNames": list(mesh.target_names)}
        mesh_node[mesh.name] = len(nodes)
        nodes.append({"name": mesh.name, "mesh": len(meshes_json), "skin": 0})
        nodes[0]["children"].append(mesh_node[mesh.name])
        meshes_json.append(mj)
    anims = []
    for a in animations:
        samplers, channels = [], []
        time_acc: dict[int, int] = {}
        for tr in a.tracks:
            key = id(tr.times_s)
            if key not in time_acc:
                t = np.asarray(tr.times_s, np.float32)
                time_acc[key] = b.add(t, "SCALAR", pygltflib.FLOAT, minmax=True)
            kind = {"rotation": "VEC4", "translation": "VEC3", "scale": "VEC3"}[tr.path]
            out = b.add(np.asarray(tr.values, np.float32), kind, pygltflib.FLOAT)
            samplers.append({"input": time_acc[key], "output": out, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": joint_node[tr.joint], "path": tr.path}})
        if a.weights is not None:
            times, w = a.weights
            t_acc = b.add(np.asarray(times, np.float32), "SCALAR", pygltflib.FLOAT, minmax=True)
            out = b.add(np.asarray(w, np.float32).reshape(-1, 1), "SCALAR", pygltflib.FLOAT)
            samplers.append({"input": t_acc, "output": out, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": mesh_node["Face"], "path": "weights"}})
        aj: dict[str, Any] = {"name": a.name, "samplers": samplers, "channels": channels}
        if a.extras:
            aj["extras"] = a.extras
        anims.append(aj)
    doc = {"asset": {"version": "2.0", "generator": "showroom guide builder (render_node/guide/character)"},
           "scene": 0, "scenes": [{"name": "guide", "nodes": [0]}], "nodes": nodes, "meshes": meshes_json,
           "materials": materials, "skins": [skin], "animations": anims, "accessors": b.accessors,
           "bufferViews": b.views, "buffers": [{"byteLength": len(b.data)}], "extras": extras}
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    bin_ = bytes(b.data) + b"\0" * (-len(b.data) % 4)
    total = 12 + 8 + len(js) + 8 + len(bin_)
    return (struct.pack("<III", 0x46546C67, 2, total) + struct.pack("<II", len(js), 0x4E4F534A) + js
            + struct.pack("<II", len(bin_), 0x004E4942) + bin_)
