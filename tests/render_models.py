"""Small GLB files made in code for the render tests: a dense gold ring, a box with cameras, broken files."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from trimesh.visual.material import PBRMaterial

GOLD_LINEAR = (1.0, 0.766, 0.336, 1.0)


def gold_ring(path: Path, triangles: int = 100_000, roughness: float = 0.18) -> Path:
    """A torus ring of ~`triangles` triangles (18 mm across, 3.2 mm thick) lying on the ground, material "metal"."""
    minor_sections = 100
    major_sections = max(16, triangles // (2 * minor_sections))
    mesh = trimesh.creation.torus(1.0, 0.16 / 0.9, major_sections=major_sections, minor_sections=minor_sections)
    mesh.apply_scale(0.009)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    mesh.apply_translation([0, -mesh.bounds[0][1], 0])
    mat = PBRMaterial(name="metal", baseColorFactor=list(GOLD_LINEAR), metallicFactor=1.0, roughnessFactor=roughness)
    mesh.visual = trimesh.visual.TextureVisuals(material=mat)
    mesh.export(path)
    return path


def _pad4(b: bytes, fill: bytes = b"\0") -> bytes:
    return b + fill * (-len(b) % 4)


def write_glb(path: Path, doc: dict[str, Any], binary: bytes) -> Path:
    js = _pad4(json.dumps(doc).encode(), b" ")
    bn = _pad4(binary)
    total = 12 + 8 + len(js) + 8 + len(bn)
    path.write_bytes(
        struct.pack("<III", 0x46546C67, 2, total) + struct.pack("<II", len(js), 0x4E4F534A) + js
        + struct.pack("<II", len(bn), 0x004E4942) + bn
    )
    return path


def box_with_cameras(path: Path, cameras: list[dict[str, Any]], half_m: float = 0.5) -> Path:
    """A unit box (flat-shaded, no normals in the file) at the origin and one node per camera.

    Each camera dict: {"translation": [x, y, z], "rotation": [x, y, z, w], "yfov": rad, "aspectRatio": a}.
    """
    box = trimesh.creation.box([2 * half_m] * 3)
    pos = np.asarray(box.vertices, np.float32)
    idx = np.asarray(box.faces, np.uint32).reshape(-1)
    binary = pos.tobytes() + idx.tobytes()
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": pos.nbytes},
            {"buffer": 0, "byteOffset": pos.nbytes, "byteLength": idx.nbytes},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
             "min": pos.min(0).tolist(), "max": pos.max(0).tolist()},
            {"bufferView": 1, "componentType": 5125, "count": len(idx), "type": "SCALAR"},
        ],
        "materials": [{"name": "paint", "pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.05, 0.05, 1],
                                                                 "metallicFactor": 0.0, "roughnessFactor": 0.5}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "cameras": [],
        "nodes": [{"mesh": 0, "name": "box"}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    for i, cam in enumerate(cameras):
        persp: dict[str, Any] = {"yfov": cam["yfov"], "znear": 0.05, "zfar": 100.0}
        if "aspectRatio" in cam:
            persp["aspectRatio"] = cam["aspectRatio"]
        doc["cameras"].append({"type": "perspective", "perspective": persp})
        doc["nodes"].append({"camera": i, "translation": cam["translation"], "rotation": cam.get("rotation", [0, 0, 0, 1])})
        doc["scenes"][0]["nodes"].append(len(doc["nodes"]) - 1)
    return write_glb(path, doc, binary)
