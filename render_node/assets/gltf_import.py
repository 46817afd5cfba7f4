"""Import of an operator's glTF 2.0 / GLB model: validation with clear errors, then normalisation.

`validate_file(path)` checks the container, the JSON, buffers and views, every accessor's range, index values,
primitive modes, node references and cycles, textures and images, and required extensions; it raises
`ModelInvalid` naming what is wrong and where (e.g. `accessors[3]: 12 x VEC3 float from byte 96 runs past the
end of bufferViews[1] (120 bytes)`), and otherwise returns a `ModelReport` with bounds, triangles, materials.

`import_model(path, unit_m=None, up=None)` normalises without touching materials or extensions: every scene
root goes under one new root node whose matrix scales to metres, turns a Z-up file to Y-up, centres the
bounds in X and Z and rests them on Y = 0. The result is a self-contained GLB (external buffers and images
embedded).
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from render_node.errors import ModelInvalid
from render_node.render.gltf import node_matrix

F64 = npt.NDArray[np.float64]

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
MAX_FILE_BYTES = 512 * 1024 * 1024
COMPONENTS: dict[int, tuple[str, int]] = {
    5120: ("i1", 1),
    5121: ("u1", 1),
    5122: ("<i2", 2),
    5123: ("<u2", 2),
    5125: ("<u4", 4),
    5126: ("<f4", 4),
}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
MODE_NAMES = {
    0: "POINTS",
    1: "LINES",
    2: "LINE_LOOP",
    3: "LINE_STRIP",
    4: "TRIANGLES",
    5: "TRIANGLE_STRIP",
    6: "TRIANGLE_FAN",
}
SUPPORTED_EXTENSIONS = frozenset(
    {
        "KHR_materials_clearcoat",
        "KHR_materials_transmission",
        "KHR_materials_ior",
        "KHR_materials_emissive_strength",
        "KHR_materials_volume",
        "KHR_materials_specular",
        "KHR_materials_iridescence",
        "KHR_materials_anisotropy",
        "KHR_materials_sheen",
        "KHR_materials_unlit",
        "KHR_texture_transform",
        "KHR_mesh_quantization",
    }
)
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


@dataclass
class _Doc:
    gltf: dict[str, Any]
    buffers: list[bytes]
    binary: bool
    base_dir: Path


def check_product_id(product_id: str) -> None:
    from render_node.errors import BadRequest

    if not _ID_RE.match(product_id):
        raise BadRequest(f"--id must be lowercase letters, digits and '-' (got {product_id!r})")


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------


def _read(path: Path) -> _Doc:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelInvalid(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise ModelInvalid(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} bytes allowed")
    data = path.read_bytes()
    if data[:4] == GLB_MAGIC:
        gltf, bin_chunk = _parse_glb(data)
        binary = True
    else:
        bin_chunk = None
        binary = False
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ModelInvalid("not a glTF file: neither GLB (no 'glTF' magic) nor UTF-8 JSON") from None
        gltf = _parse_json(text, "file")
    if not isinstance(gltf, dict):
        raise ModelInvalid("the glTF JSON must be an object")
    asset = gltf.get("asset")
    if not isinstance(asset, dict) or not isinstance(asset.get("version"), str):
        raise ModelInvalid("asset.version: missing (every glTF file must say its version)")
    if not asset["version"].startswith("2."):
        raise ModelInvalid(f"asset.version: {asset['version']!r} is not glTF 2.x")
    return _Doc(gltf, _load_buffers(gltf, bin_chunk, path.parent), binary, path.parent)


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelInvalid(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _parse_glb(data: bytes) -> tuple[Any, bytes | None]:
    if len(data) < 20:
        raise ModelInvalid(f"GLB: {len(data)} bytes is too short for a header")
    _magic, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise ModelInvalid(f"GLB: container version {version}, expected 2")
    if length != len(data):
        raise ModelInvalid(f"GLB: header says {length} bytes but the file has {len(data)} (truncated?)")
    offset, chunks = 12, []
    while offset < length:
        if offset + 8 > length:
            raise ModelInvalid(f"GLB: chunk header at byte {offset} runs past the end")
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        if offset + 8 + chunk_len > length:
            raise ModelInvalid(
                f"GLB: chunk at byte {offset} ({chunk_len} bytes) runs past the end of the file"
            )
        chunks.append((chunk_type, data[offset + 8 : offset + 8 + chunk_len]))
        offset += 8 + chunk_len
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise ModelInvalid("GLB: the first chunk must be JSON")
    try:
        text = chunks[0][1].decode("utf-8")
    except UnicodeDecodeError:
        raise ModelInvalid("GLB: the JSON chunk is not UTF-8") from None
    gltf = _parse_json(text, "GLB JSON chunk")
    bin_chunk = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return gltf, bin_chunk


def _array(gltf: dict[str, Any], key: str) -> list[Any]:
    value = gltf.get(key, [])
    if not isinstance(value, list):
        raise ModelInvalid(f"{key}: must be an array")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ModelInvalid(f"{key}[{i}]: must be an object")
    return value


def _index(value: object, count: int, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelInvalid(f"{where}: must be an index into {what}")
    if not 0 <= value < count:
        raise ModelInvalid(f"{where}: {what}[{value}] does not exist (the file has {count})")
    return value


def _load_buffers(gltf: dict[str, Any], bin_chunk: bytes | None, base_dir: Path) -> list[bytes]:
    out: list[bytes] = []
    for i, buf in enumerate(_array(gltf, "buffers")):
        length = buf.get("byteLength")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ModelInvalid(f"buffers[{i}].byteLength: must be a positive integer")
        uri = buf.get("uri")
        if uri is None:
            if i != 0 or bin_chunk is None:
                raise ModelInvalid(f"buffers[{i}]: no uri and no GLB binary chunk to take its data from")
            data = bin_chunk
        else:
            data = _read_uri(uri, base_dir, f"buffers[{i}].uri")
        if len(data) < length:
            raise ModelInvalid(f"buffers[{i}]: byteLength is {length} but only {len(data)} bytes are there")
        out.append(data[:length])
    return out


def _read_uri(uri: Any, base_dir: Path, where: str) -> bytes:
    if not isinstance(uri, str) or not uri:
        raise ModelInvalid(f"{where}: must be a non-empty string")
    if uri.startswith("data:"):
        head, _, payload = uri.partition(",")
        if ";base64" not in head:
            raise ModelInvalid(f"{where}: only base64 data URIs are supported")
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise ModelInvalid(f"{where}: the base64 data is corrupt") from None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", uri):
        raise ModelInvalid(f"{where}: {uri!r} is remote; only files beside the model or data URIs are read")
    from urllib.parse import unquote

    target = (base_dir / unquote(uri)).resolve()
    try:
        return target.read_bytes()
    except OSError:
        raise ModelInvalid(f"{where}: the file {uri!r} is missing beside the model") from None


# ----------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------


def _accessor_data(doc: _Doc, index: int, where: str) -> F64:
    """Reads accessor `index` as float64 `(count, components)`, checking every byte range."""
    accessors = _array(doc.gltf, "accessors")
    i = _index(index, len(accessors), where, "accessors")
    acc = accessors[i]
    at = f"accessors[{i}]"
    ctype = acc.get("componentType")
    if ctype not in COMPONENTS:
        raise ModelInvalid(f"{at}.componentType: {ctype!r} is not a glTF component type")
    atype = acc.get("type")
    if atype not in TYPE_SIZES:
        raise ModelInvalid(f"{at}.type: {atype!r} is not a glTF accessor type")
    count = acc.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ModelInvalid(f"{at}.count: must be a positive integer")
    dtype, comp_size = COMPONENTS[ctype]
    ncomp = TYPE_SIZES[atype]
    elem = comp_size * ncomp
    if "bufferView" not in acc:
        data = np.zeros((count, ncomp))
    else:
        views = _array(doc.gltf, "bufferViews")
        v = _index(acc["bufferView"], len(views), f"{at}.bufferView", "bufferViews")
        view = views[v]
        b = _index(view.get("buffer"), len(doc.buffers), f"bufferViews[{v}].buffer", "buffers")
        v_off, v_len = int(view.get("byteOffset", 0)), view.get("byteLength")
        if isinstance(v_len, bool) or not isinstance(v_len, int) or v_len < 1:
            raise ModelInvalid(f"bufferViews[{v}].byteLength: must be a positive integer")
        if v_off < 0 or v_off + v_len > len(doc.buffers[b]):
            raise ModelInvalid(
                f"bufferViews[{v}]: bytes {v_off}..{v_off + v_len} run past the end of buffers[{b}] ({len(doc.buffers[b])} bytes)"
            )
        stride = int(view.get("byteStride", 0)) or elem
        a_off = int(acc.get("byteOffset", 0))
        needed = a_off + stride * (count - 1) + elem
        if a_off < 0 or needed > v_len:
            raise ModelInvalid(
                f"{at}: {count} x {atype} {dtype} from byte {a_off} (stride {stride}) needs {needed} bytes "
                f"but bufferViews[{v}] has {v_len}"
            )
        raw = np.frombuffer(doc.buffers[b], dtype=np.uint8, count=v_len, offset=v_off)
        rows = np.lib.stride_tricks.as_strided(raw[a_off:], shape=(count, elem), strides=(stride, 1))
        data = np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp).astype(np.float64)
        if acc.get("normalized") and ctype != 5126:
            info = np.iinfo(np.dtype(dtype))
            data = np.maximum(data / info.max, -1.0)
    if "sparse" in acc:
        raise ModelInvalid(f"{at}: sparse accessors are not supported; re-export without sparse data")
    if not np.isfinite(data).all():
        raise ModelInvalid(f"{at}: holds NaN or infinite values")
    return data


def _node_matrix(node: dict[str, Any], at: str) -> F64:
    m = node.get("matrix")
    if m is not None and (not isinstance(m, list) or len(m) != 16):
        raise ModelInvalid(f"{at}.matrix: must be 16 numbers")
    return node_matrix(node)


def _scene_roots(gltf: dict[str, Any]) -> tuple[int | None, list[int]]:
    scenes = _array(gltf, "scenes")
    nodes = _array(gltf, "nodes")
    if not scenes:
        children = {c for n in nodes for c in n.get("children", [])}
        return None, [i for i in range(len(nodes)) if i not in children]
    s = _index(gltf.get("scene", 0), len(scenes), "scene", "scenes")
    roots = scenes[s].get("nodes", [])
    if not isinstance(roots, list):
        raise ModelInvalid(f"scenes[{s}].nodes: must be an array")
    return s, [_index(r, len(nodes), f"scenes[{s}].nodes", "nodes") for r in roots]


def _validate(doc: _Doc) -> ModelReport:
    gltf = doc.gltf
    warnings: list[str] = []
    used = gltf.get("extensionsUsed", [])
    required = gltf.get("extensionsRequired", [])
    for ext in required:
        if ext not in SUPPORTED_EXTENSIONS:
            raise ModelInvalid(f"extensionsRequired: {ext} is not supported by the showroom's renderer")
    for ext in used:
        if ext not in SUPPORTED_EXTENSIONS:
            warnings.append(f"extension {ext} is not supported and will be ignored")
    materials = _array(gltf, "materials")
    textures = _array(gltf, "textures")
    images = _array(gltf, "images")
    for i, tex in enumerate(textures):
        if "source" in tex:
            _index(tex["source"], len(images), f"textures[{i}].source", "images")
    for i, img in enumerate(images):
        if "bufferView" in img:
            _index(
                img["bufferView"], len(_array(gltf, "bufferViews")), f"images[{i}].bufferView", "bufferViews"
            )
        elif "uri" in img:
            _read_uri(img["uri"], doc.base_dir, f"images[{i}].uri")
        else:
            raise ModelInvalid(f"images[{i}]: has neither uri nor bufferView")
    for i, mat in enumerate(materials):
        for key, tex_ref in _texture_refs(mat):
            _index(tex_ref.get("index"), len(textures), f"materials[{i}].{key}.index", "textures")
    meshes = _array(gltf, "meshes")
    mesh_tris: list[int] = []
    mesh_bounds: list[tuple[F64, F64] | None] = []
    primitives = 0
    for m, mesh in enumerate(meshes):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims:
            raise ModelInvalid(f"meshes[{m}].primitives: must be a non-empty array")
        tris, lo, hi = 0, np.full(3, np.inf), np.full(3, -np.inf)
        for p, prim in enumerate(prims):
            at = f"meshes[{m}].primitives[{p}]"
            primitives += 1
            mode = prim.get("mode", 4)
            if mode != 4:
                name = MODE_NAMES.get(mode, str(mode))
                raise ModelInvalid(
                    f"{at}.mode: {name} ({mode}) is not supported; only TRIANGLES (4) can be shaded - re-export with triangulated meshes"
                )
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise ModelInvalid(f"{at}.attributes: POSITION is required")
            pos = _accessor_data(doc, attrs["POSITION"], f"{at}.attributes.POSITION")
            if pos.shape[1] != 3:
                raise ModelInvalid(f"{at}.attributes.POSITION: must be VEC3")
            for name, ref in attrs.items():
                data = _accessor_data(doc, ref, f"{at}.attributes.{name}")
                if len(data) != len(pos):
                    raise ModelInvalid(
                        f"{at}.attributes.{name}: {len(data)} values but POSITION has {len(pos)}"
                    )
            if "indices" in prim:
                idx = _accessor_data(doc, prim["indices"], f"{at}.indices")
                if idx.shape[1] != 1:
                    raise ModelInvalid(f"{at}.indices: must be SCALAR")
                if len(idx) % 3:
                    raise ModelInvalid(f"{at}.indices: {len(idx)} indices is not a whole number of triangles")
                top = int(idx.max())
                if top >= len(pos) or idx.min() < 0:
                    raise ModelInvalid(
                        f"{at}.indices: index {top} is out of range (POSITION has {len(pos)} vertices)"
                    )
                tris += len(idx) // 3
            else:
                if len(pos) % 3:
                    raise ModelInvalid(
                        f"{at}: {len(pos)} vertices without indices is not a whole number of triangles"
                    )
                tris += len(pos) // 3
            if "material" in prim:
                _index(prim["material"], len(materials), f"{at}.material", "materials")
            lo, hi = np.minimum(lo, pos.min(axis=0)), np.maximum(hi, pos.max(axis=0))
        mesh_tris.append(tris)
        mesh_bounds.append((lo, hi))
    nodes = _array(gltf, "nodes")
    cameras = _array(gltf, "cameras")
    for n, node in enumerate(nodes):
        if "mesh" in node:
            _index(node["mesh"], len(meshes), f"nodes[{n}].mesh", "meshes")
        if "camera" in node:
            _index(node["camera"], len(cameras), f"nodes[{n}].camera", "cameras")
        children = node.get("children", [])
        if not isinstance(children, list):
            raise ModelInvalid(f"nodes[{n}].children: must be an array")
        for c in children:
            _index(c, len(nodes), f"nodes[{n}].children", "nodes")
    _, roots = _scene_roots(gltf)
    # walk the scene: world bounds and triangles, refusing cycles
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    triangles = 0
    stack: list[tuple[int, F64, tuple[int, ...]]] = [(r, np.eye(4), ()) for r in roots]
    while stack:
        n, parent, path = stack.pop()
        if n in path:
            raise ModelInvalid(f"nodes[{n}]: is its own ancestor (a cycle in the node tree)")
        world = parent @ _node_matrix(nodes[n], f"nodes[{n}]")
        if "mesh" in nodes[n]:
            bounds = mesh_bounds[nodes[n]["mesh"]]
            triangles += mesh_tris[nodes[n]["mesh"]]
            if bounds is not None:
                corners = np.array(
                    [
                        [x, y, z, 1.0]
                        for x in (bounds[0][0], bounds[1][0])
                        for y in (bounds[0][1], bounds[1][1])
                        for z in (bounds[0][2], bounds[1][2])
                    ]
                )
                pts = (world @ corners.T).T[:, :3]
                lo, hi = np.minimum(lo, pts.min(axis=0)), np.maximum(hi, pts.max(axis=0))
        for c in nodes[n].get("children", []):
            stack.append((c, world, (*path, n)))
    if triangles == 0 or not np.isfinite(lo).all():
        raise ModelInvalid("the scene has no triangles to show (no node of the scene refers to a mesh)")
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
        version=str(gltf["asset"]["version"]),
        binary=doc.binary,
        meshes=len(meshes),
        primitives=primitives,
        triangles=triangles,
        nodes=len(nodes),
        materials=tuple(str(m.get("name", f"material{i}")) for i, m in enumerate(materials)),
        textures=len(textures),
        cameras=len(cameras),
        extensions_used=tuple(str(e) for e in used),
        bounds_min_m=(float(lo[0]), float(lo[1]), float(lo[2])),
        bounds_max_m=(float(hi[0]), float(hi[1]), float(hi[2])),
        warnings=tuple(warnings),
    )


def _texture_refs(material: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    refs: list[tuple[str, dict[str, Any]]] = []

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                name = f"{key}.{k}" if key else k
                if k.endswith("Texture") and isinstance(v, dict):
                    refs.append((name, v))
                else:
                    walk(v, name)

    walk(material, "")
    return refs


def validate_file(path: Path) -> ModelReport:
    """Validates a .glb or .gltf file; raises `ModelInvalid` naming the first problem found."""
    return _validate(_read(Path(path)))


# ----------------------------------------------------------------------------------------------------------
# Normalisation and GLB packing
# ----------------------------------------------------------------------------------------------------------


def import_model(path: Path, *, unit_m: float | None = None, up: str | None = None) -> ImportResult:
    """Validates and normalises a model; returns the normalised GLB and its report."""
    doc = _read(Path(path))
    report = _validate(doc)
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
    gltf = json.loads(json.dumps(doc.gltf))  # a deep copy we can edit
    nodes = gltf.setdefault("nodes", [])
    scene_index, roots = _scene_roots(gltf)
    root = {"name": ROOT_NODE_NAME, "children": roots}
    if not np.allclose(matrix, np.eye(4)):
        root["matrix"] = [float(v) for v in matrix.T.reshape(-1)]
    nodes.append(root)
    if scene_index is None:
        gltf["scenes"] = [{"nodes": [len(nodes) - 1]}]
        gltf["scene"] = 0
    else:
        gltf["scenes"][scene_index]["nodes"] = [len(nodes) - 1]
    glb = pack_glb(gltf, doc)
    out_report = _validate(_Doc(*_parse_glb_doc(glb)))
    return ImportResult(glb=glb, report=out_report, notes=tuple(notes))


def _parse_glb_doc(glb: bytes) -> tuple[dict[str, Any], list[bytes], bool, Path]:
    gltf, bin_chunk = _parse_glb(glb)
    return gltf, _load_buffers(gltf, bin_chunk, Path(".")), True, Path(".")


def pack_glb(gltf: dict[str, Any], doc: _Doc) -> bytes:
    """One GLB with every buffer and external image embedded in its binary chunk."""
    blob = bytearray()
    offsets: list[int] = []
    for data in doc.buffers:
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
        data = _read_uri(uri, doc.base_dir, f"images[{i}].uri")
        mime = (
            "image/png"
            if data[:8] == b"\x89PNG\r\n\x1a\n"
            else "image/jpeg"
            if data[:2] == b"\xff\xd8"
            else None
        )
        if mime is None and data[:4] == b"RIFF":
            mime = "image/webp"
        if mime is None:
            raise ModelInvalid(f"images[{i}]: not a PNG, JPEG or WebP image")
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
    out += struct.pack("<4sII", GLB_MAGIC, 2, total)
    out += struct.pack("<II", len(text), CHUNK_JSON) + text
    if blob:
        out += struct.pack("<II", len(blob), CHUNK_BIN) + bytes(blob)
    return bytes(out)
