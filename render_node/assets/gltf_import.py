"""Import of an operator's glTF 2.0 / GLB model: validation with clear errors, then normalisation.

`validate_file(path)` is the one glTF reader (`render_node.gltf`) reading the file: it raises `ModelInvalid`
naming the file, the field and what is wrong (e.g. `chair.gltf: accessors[3]: 12 x VEC3 float32 from byte 96
(stride 12) needs 240 bytes, past the end of its view: bufferViews[1] has 120`), exactly as the renderer would,
and otherwise returns a `ModelReport` with bounds, triangles, materials.

`import_model(path, unit_m=None, up=None)` normalises without touching materials or extensions: every scene
root goes under one new root node whose matrix scales to metres, turns a Z-up file to Y-up, centres the
bounds in X and Z and rests them on Y = 0. The result is a self-contained GLB: the buffers and images the
reader loaded (all from inside the model's folder) are embedded.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pygltflib

from render_node.gltf import GltfAsset, read_model, read_model_bytes
from render_node.gltf.document import CHUNK_BIN, CHUNK_JSON, SUPPORTED_EXTENSIONS
from render_node.gltf.images import image_mime
from render_node.render.errors import ModelInvalid

F64 = npt.NDArray[np.float64]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ROOT_NODE_NAME = "showroom-normalised"


@dataclass(frozen=True)
class ModelReport:
    """What a valid file holds. Bounds are in the file's units (metres per glTF), world space of its scene."""

    version: str
    binary: bool
    meshes: int
    primitives: int
    triangles: int
    nodes: int
    materials: tuple[str, ...]
    textures: int
    cameras: int
    extensions_used: tuple[str, ...]
    bounds_min_m: tuple[float, float, float]
    bounds_max_m: tuple[float, float, float]
    warnings: tuple[str, ...] = field(default=())

    @property
    def size_m(self) -> tuple[float, float, float]:
        lo, hi = self.bounds_min_m, self.bounds_max_m
        return (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["size_m"] = list(self.size_m)
        return data


@dataclass(frozen=True)
class ImportResult:
    glb: bytes
    report: ModelReport
    """Of the normalised model."""
    notes: tuple[str, ...]


def check_product_id(product_id: str) -> None:
    from render_node.errors import BadRequest

    if not _ID_RE.match(product_id):
        raise BadRequest(f"--id must be lowercase letters, digits and '-' (got {product_id!r})")


# ----------------------------------------------------------------------------------------------------------
# Validation: the reader refusing, or a report of what it read
# ----------------------------------------------------------------------------------------------------------


def _report(asset: GltfAsset) -> ModelReport:
    doc = asset.document
    assert doc is not None
    warnings = [
        f"extension {ext} is not supported and will be ignored"
        for ext in asset.extensions_used
        if ext not in SUPPORTED_EXTENSIONS
    ]
    lo, hi = asset.bounds()
    extent = float(np.max(hi - lo))
    if extent > 20:
        warnings.append(
            f"the model is {extent:.1f} units across: if it is not in metres, import it with --unit-m"
        )
    elif extent < 0.002:
        warnings.append(
            f"the model is {extent * 1000:.2f} mm across: if it is not in metres, import it with --unit-m"
        )
    return ModelReport(
        version=str(doc.json["asset"]["version"]),
        binary=doc.binary,
        meshes=len(asset.meshes),
        primitives=sum(len(m) for m in asset.meshes),
        triangles=asset.triangle_count,
        nodes=len(asset.nodes),
        materials=tuple(str(m.get("name", f"material{i}")) for i, m in enumerate(doc.array("materials"))),
        textures=len(doc.array("textures")),
        cameras=len(asset.cameras),
        extensions_used=asset.extensions_used,
        bounds_min_m=(float(lo[0]), float(lo[1]), float(lo[2])),
        bounds_max_m=(float(hi[0]), float(hi[1]), float(hi[2])),
        warnings=tuple(warnings),
    )


def validate_file(path: Path) -> ModelReport:
    """Validates a .glb or .gltf file; raises `ModelInvalid` naming the first problem found."""
    return _report(read_model(Path(path)))


# ----------------------------------------------------------------------------------------------------------
# Normalisation and GLB packing
# ----------------------------------------------------------------------------------------------------------


def import_model(path: Path, *, unit_m: float | None = None, up: str | None = None) -> ImportResult:
    """Validates and normalises a model; returns the normalised GLB and its report."""
    asset = read_model(Path(path))
    doc = asset.document
    assert doc is not None
    report = _report(asset)
    notes: list[str] = []
    scale = 1.0
    extent = max(report.size_m)
    if unit_m is not None:
        if not (unit_m > 0 and math.isfinite(unit_m)):
            raise ModelInvalid(f"--unit-m must be a positive number, got {unit_m}")
        scale = unit_m
        notes.append(f"scaled by {unit_m:g} m per file unit")
    elif extent > 20:
        scale = 0.001
        notes.append(f"{extent:.0f} units across: taken as millimetres (pass --unit-m to say otherwise)")
    rotate = np.eye(4)
    if up == "z":
        rotate = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
        notes.append("turned from Z-up to Y-up")
    lo, hi = np.array(report.bounds_min_m), np.array(report.bounds_max_m)
    corners = np.array(
        [[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    turned = (rotate @ corners.T).T[:, :3] * scale
    t_lo, t_hi = turned.min(axis=0), turned.max(axis=0)
    shift = np.array([-(t_lo[0] + t_hi[0]) / 2, -t_lo[1], -(t_lo[2] + t_hi[2]) / 2])
    matrix = np.diag([scale, scale, scale, 1.0]) @ rotate
    matrix[:3, 3] = shift
    if np.abs(shift).max() > 1e-9 or scale != 1.0 or up == "z":
        notes.append(f"centred and set on the ground (moved by {np.round(shift, 4).tolist()} m)")
    gltf = json.loads(json.dumps(doc.json))  # a deep copy we can edit
    nodes = gltf.setdefault("nodes", [])
    scene_index = gltf.get("scene", 0) if gltf.get("scenes") else None
    root = {"name": ROOT_NODE_NAME, "children": list(asset.roots)}
    if not np.allclose(matrix, np.eye(4)):
        root["matrix"] = [float(v) for v in matrix.T.reshape(-1)]
    nodes.append(root)
    if scene_index is None:
        gltf["scenes"] = [{"nodes": [len(nodes) - 1]}]
        gltf["scene"] = 0
    else:
        gltf["scenes"][scene_index]["nodes"] = [len(nodes) - 1]
    glb = pack_glb(gltf, doc.buffers, asset.images)
    out_report = _report(read_model_bytes(glb, Path(path).with_suffix(".glb").name))
    return ImportResult(glb=glb, report=out_report, notes=tuple(notes))


def pack_glb(gltf: dict[str, Any], buffers: list[bytes], images: list[bytes]) -> bytes:
    """One GLB with every buffer and image embedded in its binary chunk.

    `gltf` is (an edited copy of) a document's JSON; `buffers` and `images` are the bytes the reader loaded and
    checked for it (never read again here), so nothing from outside the model's folder can be embedded.
    """
    blob = bytearray()
    offsets: list[int] = []
    for data in buffers:
        offsets.append(len(blob))
        blob += data
        blob += b"\0" * (-len(blob) % 8)
    for view in gltf.get("bufferViews", []):
        view["byteOffset"] = int(view.get("byteOffset", 0)) + offsets[view["buffer"]]
        view["buffer"] = 0
    views = gltf.setdefault("bufferViews", [])
    for i, img in enumerate(gltf.get("images", [])):
        uri = img.get("uri")
        if uri is None:
            continue
        data = images[i]
        mime = image_mime(data)
        if mime is None:
            raise ModelInvalid(f"images[{i}]: is not a PNG, JPEG or WebP image")
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        blob += data
        blob += b"\0" * (-len(blob) % 8)
        del img["uri"]
        img["bufferView"] = len(views) - 1
        img["mimeType"] = mime
    if not views:
        gltf.pop("bufferViews", None)
    gltf["buffers"] = [{"byteLength": len(blob)}] if blob else []
    if not blob:
        gltf.pop("buffers")
    text = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    out = bytearray()
    total = 12 + 8 + len(text) + (8 + len(blob) if blob else 0)
    out += struct.pack("<4sII", pygltflib.MAGIC, 2, total)
    out += struct.pack("<II", len(text), CHUNK_JSON) + text
    if blob:
        out += struct.pack("<II", len(blob), CHUNK_BIN) + bytes(blob)
    return bytes(out)
