"""Small GLB files made in code for the render tests: a dense gold ring, a lit floor seen from above, a box with
cameras, broken files; and uniform environment images."""

from __future__ import annotations

import io
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from render_node.render.types import EnvFile

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


DOWN = [-math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)]
"""A node rotation that turns -Z to -Y (a light or camera pointing straight down)."""


def lit_floor(path: Path, material: dict[str, Any], lights: list[dict[str, Any]], placed: list[dict[str, Any]],
              half_m: float = 1.0) -> Path:
    """A 4 x 4 m floor at y = 0 (normal +Y) in `material`, an orthographic camera 3 m above looking straight down
    at `2 half_m` x `2 half_m` of it, and `lights` (KHR_lights_punctual) placed by the nodes `placed` (each a node
    dict with `light`, its index). The material's own extensions are declared used."""
    pos = np.array([[-2, 0, -2], [-2, 0, 2], [2, 0, 2], [2, 0, -2]], np.float32)
    nrm = np.tile(np.array([0, 1, 0], np.float32), (4, 1))
    idx = np.array([0, 1, 2, 0, 2, 3], np.uint32)
    binary = pos.tobytes() + nrm.tobytes() + idx.tobytes()
    nodes: list[dict[str, Any]] = [{"mesh": 0}, {"camera": 0, "translation": [0, 3, 0], "rotation": DOWN}]
    for p in placed:
        node = {k: v for k, v in p.items() if k != "light"}
        node["extensions"] = {"KHR_lights_punctual": {"light": p["light"]}}
        nodes.append(node)
    used = (["KHR_lights_punctual"] if lights else []) + sorted(material.get("extensions", {}))
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 48},
                        {"buffer": 0, "byteOffset": 48, "byteLength": 48},
                        {"buffer": 0, "byteOffset": 96, "byteLength": 24}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3",
                       "min": [-2, 0, -2], "max": [2, 0, 2]},
                      {"bufferView": 1, "componentType": 5126, "count": 4, "type": "VEC3"},
                      {"bufferView": 2, "componentType": 5125, "count": 6, "type": "SCALAR"}],
        "materials": [material],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "cameras": [{"type": "orthographic",
                     "orthographic": {"xmag": half_m, "ymag": half_m, "znear": 0.1, "zfar": 10}}],
        "nodes": nodes,
        "scenes": [{"nodes": list(range(len(nodes)))}],
        "scene": 0,
    }
    if used:
        doc["extensionsUsed"] = used
    if lights:
        doc["extensions"] = {"KHR_lights_punctual": {"lights": lights}}
    return write_glb(path, doc, binary)


def uniform_env(path: Path, grey: int) -> EnvFile:
    """An environment image of one sRGB grey (0: an environment that gives no light)."""
    out = io.BytesIO()
    Image.fromarray(np.full((8, 16, 3), grey, np.uint8)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return EnvFile(path)


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
