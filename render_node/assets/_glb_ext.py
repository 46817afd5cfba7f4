"""What the model builder adds to a GLB after trimesh wrote it: the materials' KHR extensions and extras (trimesh
writes none), read back for the LODs, and TANGENTs around a band for an anisotropic (brushed) material."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

ANISOTROPY_EXTENSION = "KHR_materials_anisotropy"


def glb_material_extensions(glb: bytes) -> dict[str, dict[str, Any]]:
    """The extensions of a GLB's materials by material name, their extras under `extras` (what a LOD must keep of
    its source model)."""
    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20:20 + json_len])
    return {str(m.get("name", "")): {**m["extensions"], **({"extras": m["extras"]} if m.get("extras") else {})}
            for m in doc.get("materials", []) if m.get("extensions")}


def with_material_extensions(glb: bytes, extensions: Mapping[str, dict[str, Any]] | None = None, *,
                             base: Mapping[str, dict[str, Any]] | None = None) -> bytes:
    """The GLB with `base` (every model's: `_mesh.MATERIAL_EXTENSIONS`) and then `extensions` (the model's own)
    added to its materials by name (trimesh writes none);
    others unchanged. Primitives of an anisotropic material (KHR_materials_anisotropy) get a TANGENT around their
    circumference (`circumferential_tangents`): the direction a band is brushed and polished in."""
    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20:20 + json_len])
    used = set(doc.get("extensionsUsed", []))
    anisotropic: set[int] = set()
    changed = False
    for i, mat in enumerate(doc.get("materials", [])):
        name = mat.get("name", "")
        extra = {**(base or {}).get(name, {}), **(extensions or {}).get(name, {})}
        extras = extra.pop("extras", None)
        if extras:
            mat["extras"] = {**mat.get("extras", {}), **extras}
        changed = changed or bool(extras) or bool(extra)
        if extra:
            mat["extensions"] = {**mat.get("extensions", {}), **extra}
            used |= set(extra)
        if ANISOTROPY_EXTENSION in mat.get("extensions", {}):
            anisotropic.add(i)
    if not changed:
        return glb
    doc["extensionsUsed"] = sorted(used)
    bin_len = struct.unpack_from("<I", glb, 20 + json_len)[0]
    binary = bytearray(glb[28 + json_len:28 + json_len + bin_len])
    if anisotropic:
        _add_tangents(doc, binary, anisotropic)
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    header = struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(js) + 8 + len(binary))  # magic glTF, version, length
    return (header + struct.pack("<II", len(js), 0x4E4F534A) + js  # the JSON chunk
            + struct.pack("<II", len(binary), 0x004E4942) + bytes(binary))  # the BIN chunk


def circumferential_tangents(positions: F64, normals: F64) -> F64:
    """glTF TANGENTs (n, 4) running around a ring-shaped mesh: about the axis of its thinnest extent through the
    centre of its bounds (a band ring's Z, a bangle's Y), made perpendicular to each normal; w = +1."""
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    axis = np.zeros(3)
    axis[int(np.argmin(hi - lo))] = 1.0
    t = np.cross(axis, positions - (lo + hi) / 2)
    t -= normals * np.sum(t * normals, axis=1, keepdims=True)
    length = np.linalg.norm(t, axis=1, keepdims=True)
    fallback = np.cross(normals, np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]))
    t = np.where(length > 1e-9, t / np.maximum(length, 1e-12), fallback / np.linalg.norm(fallback, axis=1,
                                                                                         keepdims=True))
    out: F64 = np.concatenate([t, np.ones((len(t), 1))], axis=1)
    return out


def _read_vec3(doc: dict[str, Any], binary: bytearray, accessor: int) -> F64:
    acc = doc["accessors"][accessor]
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", 12)
    raw = np.frombuffer(bytes(binary[start:start + stride * acc["count"]]), dtype=np.uint8)
    rows = raw.reshape(acc["count"], stride)[:, :12].copy().view(np.float32).reshape(-1, 3)
    out: F64 = rows.astype(np.float64)
    return out


def _add_tangents(doc: dict[str, Any], binary: bytearray, materials: set[int]) -> None:
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            attrs = prim.get("attributes", {})
            if prim.get("material") not in materials or "TANGENT" in attrs or "NORMAL" not in attrs:
                continue
            tangents = circumferential_tangents(_read_vec3(doc, binary, attrs["POSITION"]),
                                                _read_vec3(doc, binary, attrs["NORMAL"]))
            binary += b"\0" * (-len(binary) % 4)
            data = tangents.astype(np.float32).tobytes()
            doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data),
                                       "target": 34962})
            binary += data
            doc["accessors"].append({"bufferView": len(doc["bufferViews"]) - 1, "componentType": 5126,
                                     "count": len(tangents), "type": "VEC4"})
            attrs["TANGENT"] = len(doc["accessors"]) - 1
    doc["buffers"][0]["byteLength"] = len(binary) + (-len(binary) % 4)
