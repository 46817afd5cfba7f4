"""Writes the hall as one binary glTF: a mesh with one primitive per material, every material
KHR_materials_unlit, the baked light in COLOR_0 (linear RGB, float), textures as embedded PNGs.

pygltflib supplies the constants and the container's chunk tags; the JSON is small enough to write directly.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pygltflib

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_LINEAR = 9729
_LINEAR_MIPMAP_LINEAR = 9987
_REPEAT = 10497
_CLAMP = 33071


@dataclass(frozen=True)
class MaterialOut:
    name: str
    texture_png: bytes | None = None
    alpha: float = 1.0
    double_sided: bool = False
    clamp: bool = False
    """Clamp the texture at its edges (a sign, the ruler) instead of repeating it (floor tiles)."""


@dataclass(frozen=True)
class PrimitiveOut:
    material: MaterialOut
    positions: F64
    normals: F64
    uv: F64 | None
    colors: F64
    """(n, 3) linear RGB, the baked radiance (may exceed 1 for lights)."""
    faces: I64


class _Bin:
    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, raw: bytes, target: int | None) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        v: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            v["target"] = target
        self.data += raw
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, array: npt.NDArray[Any], kind: str, target: int, *, bounds: bool = False) -> int:
        component = {np.dtype(np.float32): pygltflib.FLOAT, np.dtype(np.uint32): pygltflib.UNSIGNED_INT,
                     np.dtype(np.uint16): pygltflib.UNSIGNED_SHORT}[array.dtype]
        view = self.view(np.ascontiguousarray(array).tobytes(), target)
        a: dict[str, Any] = {"bufferView": view, "componentType": component, "count": len(array), "type": kind}
        if bounds:
            a["min"] = [float(x) for x in array.min(axis=0)]
            a["max"] = [float(x) for x in array.max(axis=0)]
        self.accessors.append(a)
        return len(self.accessors) - 1


def glb_bytes(primitives: list[PrimitiveOut], *, name: str = "hall") -> bytes:
    """The GLB file of `primitives` (one node, one mesh)."""
    out = _Bin()
    materials: list[dict[str, Any]] = []
    textures: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    samplers: list[dict[str, Any]] = []
    sampler_of: dict[bool, int] = {}
    prims: list[dict[str, Any]] = []
    for p in primitives:
        m = p.material
        pbr: dict[str, Any] = {"baseColorFactor": [1.0, 1.0, 1.0, float(m.alpha)], "metallicFactor": 0.0,
                               "roughnessFactor": 1.0}
        if m.texture_png is not None:
            if m.clamp not in sampler_of:
                wrap = _CLAMP if m.clamp else _REPEAT
                samplers.append({"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR, "wrapS": wrap, "wrapT": wrap})
                sampler_of[m.clamp] = len(samplers) - 1
            images.append({"bufferView": out.view(m.texture_png, None), "mimeType": "image/png"})
            textures.append({"sampler": sampler_of[m.clamp], "source": len(images) - 1})
            pbr["baseColorTexture"] = {"index": len(textures) - 1}
        mat: dict[str, Any] = {"name": m.name, "pbrMetallicRoughness": pbr, "extensions": {"KHR_materials_unlit": {}}}
        if m.alpha < 1.0:
            mat["alphaMode"] = "BLEND"
        if m.double_sided:
            mat["doubleSided"] = True
        materials.append(mat)
        attributes = {
            "POSITION": out.accessor(p.positions.astype(np.float32), "VEC3", pygltflib.ARRAY_BUFFER, bounds=True),
            "NORMAL": out.accessor(p.normals.astype(np.float32), "VEC3", pygltflib.ARRAY_BUFFER),
            "COLOR_0": out.accessor(p.colors.astype(np.float32), "VEC3", pygltflib.ARRAY_BUFFER),
        }
        if p.uv is not None and m.texture_png is not None:
            attributes["TEXCOORD_0"] = out.accessor(p.uv.astype(np.float32), "VEC2", pygltflib.ARRAY_BUFFER)
        index_type = np.uint16 if len(p.positions) < 65536 else np.uint32
        indices = out.accessor(p.faces.reshape(-1).astype(index_type), "SCALAR", pygltflib.ELEMENT_ARRAY_BUFFER)
        prims.append({"attributes": attributes, "indices": indices, "material": len(materials) - 1,
                      "mode": pygltflib.TRIANGLES})
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "showroom hall build"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": prims}],
        "materials": materials,
        "accessors": out.accessors,
        "bufferViews": out.views,
        "buffers": [{"byteLength": len(out.data)}],
    }
    if textures:
        doc |= {"textures": textures, "images": images, "samplers": samplers}
    while len(out.data) % 4:
        out.data.append(0)
    doc["buffers"][0]["byteLength"] = len(out.data)
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    json_tag = struct.unpack("<I", pygltflib.JSON.encode("ascii"))[0]
    bin_tag = struct.unpack("<I", pygltflib.BIN.encode("ascii"))[0]
    total = 12 + 8 + len(js) + 8 + len(out.data)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<II", len(js), json_tag), js,
        struct.pack("<II", len(out.data), bin_tag), bytes(out.data),
    ])  # fmt: skip
