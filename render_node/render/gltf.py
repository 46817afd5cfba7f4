"""A glTF 2.0 / GLB reader into numpy arrays: meshes, metallic-roughness materials, textures, nodes, cameras.

Pure Python + numpy, no GL: the renderer turns the result into panda3d nodes, and the camera math reads the
file's own cameras from it. Broken files raise `ModelInvalid` naming what is wrong and where.

Coordinates stay glTF's: right-handed, +Y up, metres.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from render_node.errors import ModelInvalid

F32 = npt.NDArray[np.float32]
U32 = npt.NDArray[np.uint32]
F64 = npt.NDArray[np.float64]

_GLB_MAGIC = 0x46546C67
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_COMPONENT_DTYPES: dict[int, Any] = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_SUPPORTED_EXTENSIONS = frozenset(
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

AlphaMode = Literal["OPAQUE", "MASK", "BLEND"]


@dataclass(frozen=True)
class TextureRef:
    """A material's use of a texture: the image index, its sampler and UV set, and a KHR_texture_transform."""

    image: int
    texcoord: int = 0
    wrap_s: int = 10497
    wrap_t: int = 10497
    mag_filter: int | None = None
    min_filter: int | None = None
    uv_offset: tuple[float, float] = (0.0, 0.0)
    uv_scale: tuple[float, float] = (1.0, 1.0)
    uv_rotation_rad: float = 0.0

    @property
    def has_transform(self) -> bool:
        return self.uv_offset != (0.0, 0.0) or self.uv_scale != (1.0, 1.0) or self.uv_rotation_rad != 0.0

    def uv_matrix(self) -> F64:
        """3x3 matrix applied to (u, v, 1), as KHR_texture_transform defines it."""
        c, s = math.cos(self.uv_rotation_rad), math.sin(self.uv_rotation_rad)
        t = np.array([[1, 0, self.uv_offset[0]], [0, 1, self.uv_offset[1]], [0, 0, 1]], dtype=np.float64)
        r = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], dtype=np.float64)
        sc = np.diag([self.uv_scale[0], self.uv_scale[1], 1.0])
        m: F64 = t @ r @ sc
        return m


@dataclass(frozen=True)
class Material:
    """glTF metallic-roughness material with the KHR extensions the renderer approximates."""

    name: str = ""
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 1.0
    roughness: float = 1.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_color_tex: TextureRef | None = None
    metal_rough_tex: TextureRef | None = None
    normal_tex: TextureRef | None = None
    normal_scale: float = 1.0
    occlusion_tex: TextureRef | None = None
    occlusion_strength: float = 1.0
    emissive_tex: TextureRef | None = None
    alpha_mode: AlphaMode = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    clearcoat: float = 0.0
    clearcoat_roughness: float = 0.0
    transmission: float = 0.0
    ior: float = 1.5
    unlit: bool = False


@dataclass(frozen=True)
class Primitive:
    """Triangles of one material. Arrays are per vertex; `indices` is (n_triangles * 3,) uint32."""

    positions: F32
    normals: F32 | None
    texcoords: tuple[F32 | None, F32 | None]
    tangents: F32 | None
    colors: F32 | None
    indices: U32
    material: int | None


@dataclass(frozen=True)
class Camera:
    kind: Literal["perspective", "orthographic"]
    yfov_rad: float = math.radians(45.0)
    aspect_ratio: float | None = None
    xmag: float = 1.0
    ymag: float = 1.0
    znear_m: float = 0.01
    zfar_m: float | None = None
    name: str = ""


@dataclass(frozen=True)
class Node:
    name: str
    matrix: F64
    """Local 4x4 transform (column vectors: p' = M @ p)."""
    children: tuple[int, ...] = ()
    mesh: int | None = None
    camera: int | None = None


@dataclass
class GltfAsset:
    """Everything the renderer needs from one glTF file."""

    path: Path
    nodes: list[Node]
    roots: tuple[int, ...]
    meshes: list[list[Primitive]]
    materials: list[Material]
    images: list[bytes]
    cameras: list[Camera]
    extensions_used: tuple[str, ...] = ()
    _world: dict[int, F64] = field(default_factory=dict, repr=False)

    def world_matrices(self) -> dict[int, F64]:
        """World 4x4 matrix of every node reachable from the scene roots."""
        if not self._world:
            stack: list[tuple[int, F64]] = [(r, np.eye(4)) for r in self.roots]
            while stack:
                idx, parent = stack.pop()
                if idx in self._world:
                    raise ModelInvalid(f"{self.path.name}: node {idx} appears twice in the scene graph")
                world = parent @ self.nodes[idx].matrix
                self._world[idx] = world
                stack.extend((c, world) for c in self.nodes[idx].children)
        return self._world

    def camera_nodes(self) -> list[tuple[Camera, F64]]:
        """The scene's cameras in file order of `cameras`, each with the world matrix of its first node."""
        world = self.world_matrices()
        found: dict[int, F64] = {}
        for idx in sorted(world):
            cam = self.nodes[idx].camera
            if cam is not None and cam not in found:
                found[cam] = world[idx]
        return [(self.cameras[i], found[i]) for i in sorted(found)]

    def bounds(self) -> tuple[F64, F64]:
        """(min xyz, max xyz) in metres of every drawn vertex in world space."""
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        for idx, world in self.world_matrices().items():
            mesh = self.nodes[idx].mesh
            if mesh is None:
                continue
            for prim in self.meshes[mesh]:
                p = prim.positions.astype(np.float64) @ world[:3, :3].T + world[:3, 3]
                lo = np.minimum(lo, p.min(axis=0))
                hi = np.maximum(hi, p.max(axis=0))
        if not np.all(np.isfinite(lo)):
            raise ModelInvalid(f"{self.path.name}: the scene draws no triangles")
        return lo, hi

    @property
    def triangle_count(self) -> int:
        world = self.world_matrices()
        return sum(
            len(p.indices) // 3 for i in world if (m := self.nodes[i].mesh) is not None for p in self.meshes[m]
        )


def node_matrix(node: dict[str, Any]) -> F64:
    """A glTF node's local 4x4 transform (its matrix, or translation x rotation x scale)."""
    if "matrix" in node:
        m = np.asarray(node["matrix"], dtype=np.float64)
        if m.shape != (16,):
            raise ValueError("matrix must have 16 numbers")
        return m.reshape(4, 4).T  # glTF stores column-major
    t = np.asarray(node.get("translation", [0, 0, 0]), dtype=np.float64)
    x, y, z, w = (float(v) for v in node.get("rotation", [0, 0, 0, 1]))
    s = np.asarray(node.get("scale", [1, 1, 1]), dtype=np.float64)
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    m = np.eye(4)
    m[:3, :3] = rot * s[None, :]
    m[:3, 3] = t
    return m


class _Reader:
    def __init__(self, path: Path, doc: dict[str, Any], glb_bin: bytes | None) -> None:
        self.path = path
        self.doc = doc
        self.glb_bin = glb_bin
        self._buffers: dict[int, bytes] = {}

    def fail(self, where: str, what: str) -> ModelInvalid:
        return ModelInvalid(f"{self.path.name}: {where}: {what}")

    def _uri_bytes(self, uri: str, where: str) -> bytes:
        if uri.startswith("data:"):
            head, _, payload = uri.partition(",")
            return base64.b64decode(payload) if head.endswith(";base64") else urllib.parse.unquote_to_bytes(payload)
        target = (self.path.parent / urllib.parse.unquote(uri)).resolve()
        if not target.is_file():
            raise self.fail(where, f"file {uri!r} not found beside the model")
        return target.read_bytes()

    def buffer(self, idx: int) -> bytes:
        if idx not in self._buffers:
            bufs = self.doc.get("buffers", [])
            if not 0 <= idx < len(bufs):
                raise self.fail(f"buffers[{idx}]", "no such buffer")
            spec = bufs[idx]
            if "uri" in spec:
                data = self._uri_bytes(spec["uri"], f"buffers[{idx}]")
            elif self.glb_bin is not None:
                data = self.glb_bin
            else:
                raise self.fail(f"buffers[{idx}]", "no uri and no GLB binary chunk")
            if len(data) < int(spec.get("byteLength", 0)):
                raise self.fail(f"buffers[{idx}]", f"byteLength {spec.get('byteLength')} > {len(data)} bytes present")
            self._buffers[idx] = data
        return self._buffers[idx]

    def buffer_view(self, idx: int) -> tuple[bytes, int, int, int | None]:
        views = self.doc.get("bufferViews", [])
        if not 0 <= idx < len(views):
            raise self.fail(f"bufferViews[{idx}]", "no such buffer view")
        v = views[idx]
        data = self.buffer(int(v["buffer"]))
        off, length = int(v.get("byteOffset", 0)), int(v["byteLength"])
        if off + length > len(data):
            raise self.fail(f"bufferViews[{idx}]", "runs past the end of its buffer")
        stride = v.get("byteStride")
        return data, off, length, int(stride) if stride else None

    def accessor(self, idx: int) -> npt.NDArray[Any]:
        accs = self.doc.get("accessors", [])
        if not 0 <= idx < len(accs):
            raise self.fail(f"accessors[{idx}]", "no such accessor")
        a = accs[idx]
        where = f"accessors[{idx}]"
        try:
            dtype = np.dtype(_COMPONENT_DTYPES[int(a["componentType"])])
            ncomp = _TYPE_SIZES[a["type"]]
            count = int(a["count"])
        except KeyError as exc:
            raise self.fail(where, f"bad or missing {exc}") from None
        if "bufferView" in a:
            data, off, length, stride = self.buffer_view(int(a["bufferView"]))
            off += int(a.get("byteOffset", 0))
            elem = dtype.itemsize * ncomp
            stride = stride or elem
            need = stride * (count - 1) + elem if count else 0
            if off + need > len(data) or need > length + int(a.get("byteOffset", 0)) + stride:
                raise self.fail(where, "data runs past the end of its buffer view")
            if stride == elem:
                arr = np.frombuffer(data, dtype=dtype, count=count * ncomp, offset=off).reshape(count, ncomp)
            else:
                raw = np.frombuffer(data, dtype=np.uint8, count=need, offset=off)
                rows = np.lib.stride_tricks.as_strided(raw, shape=(count, elem), strides=(stride, 1))
                arr = np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp)
        else:
            arr = np.zeros((count, ncomp), dtype=dtype)
        if "sparse" in a:
            arr = arr.copy()
            sp = a["sparse"]
            n = int(sp["count"])
            ind_spec, val_spec = sp["indices"], sp["values"]
            d, o, _, _ = self.buffer_view(int(ind_spec["bufferView"]))
            ind = np.frombuffer(
                d, dtype=_COMPONENT_DTYPES[int(ind_spec["componentType"])], count=n,
                offset=o + int(ind_spec.get("byteOffset", 0)),
            )
            d, o, _, _ = self.buffer_view(int(val_spec["bufferView"]))
            vals = np.frombuffer(d, dtype=dtype, count=n * ncomp, offset=o + int(val_spec.get("byteOffset", 0)))
            arr[ind.astype(np.int64)] = vals.reshape(n, ncomp)
        if a.get("normalized") and dtype.kind in "iu":
            info = np.iinfo(dtype)
            arr = np.maximum(arr.astype(np.float32) / float(info.max), -1.0)
        return arr

    def float_attr(self, idx: int, ncomp: int, where: str) -> F32:
        arr = self.accessor(idx)
        if arr.shape[1] != ncomp:
            raise self.fail(where, f"expected {ncomp} components, found {arr.shape[1]}")
        out = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(out)):
            raise self.fail(where, "contains NaN or infinite values")
        return out


def _texture_ref(r: _Reader, info: dict[str, Any] | None, where: str) -> TextureRef | None:
    if info is None:
        return None
    textures = r.doc.get("textures", [])
    ti = int(info.get("index", -1))
    if not 0 <= ti < len(textures):
        raise r.fail(where, f"texture index {ti} does not exist")
    tex = textures[ti]
    source = tex.get("source")
    for ext in ("EXT_texture_webp", "KHR_texture_basisu", "MSFT_texture_dds"):
        if source is None and ext in tex.get("extensions", {}):
            source = tex["extensions"][ext].get("source")
    if source is None:
        return None
    sampler: dict[str, Any] = {}
    if "sampler" in tex:
        samplers = r.doc.get("samplers", [])
        if not 0 <= int(tex["sampler"]) < len(samplers):
            raise r.fail(where, f"sampler {tex['sampler']} does not exist")
        sampler = samplers[int(tex["sampler"])]
    xf = info.get("extensions", {}).get("KHR_texture_transform", {})
    texcoord = int(xf.get("texCoord", info.get("texCoord", 0)))
    return TextureRef(
        image=int(source),
        texcoord=min(texcoord, 1),
        wrap_s=int(sampler.get("wrapS", 10497)),
        wrap_t=int(sampler.get("wrapT", 10497)),
        mag_filter=sampler.get("magFilter"),
        min_filter=sampler.get("minFilter"),
        uv_offset=tuple(float(v) for v in xf.get("offset", (0.0, 0.0)))[:2],  # type: ignore[arg-type]
        uv_scale=tuple(float(v) for v in xf.get("scale", (1.0, 1.0)))[:2],  # type: ignore[arg-type]
        uv_rotation_rad=float(xf.get("rotation", 0.0)),
    )


def _material(r: _Reader, idx: int, m: dict[str, Any]) -> Material:
    where = f"materials[{idx}]"
    pbr = m.get("pbrMetallicRoughness", {})
    ext = m.get("extensions", {})
    bc = tuple(float(v) for v in pbr.get("baseColorFactor", (1, 1, 1, 1)))
    em = tuple(float(v) for v in m.get("emissiveFactor", (0, 0, 0)))
    if len(bc) != 4 or len(em) != 3:
        raise r.fail(where, "baseColorFactor needs 4 numbers and emissiveFactor 3")
    strength = float(ext.get("KHR_materials_emissive_strength", {}).get("emissiveStrength", 1.0))
    cc = ext.get("KHR_materials_clearcoat", {})
    tr = ext.get("KHR_materials_transmission", {})
    alpha_mode = m.get("alphaMode", "OPAQUE")
    if alpha_mode not in ("OPAQUE", "MASK", "BLEND"):
        raise r.fail(where, f"alphaMode {alpha_mode!r} is not OPAQUE, MASK or BLEND")
    normal = m.get("normalTexture")
    occl = m.get("occlusionTexture")
    return Material(
        name=str(m.get("name", f"material_{idx}")),
        base_color=bc,
        metallic=float(pbr.get("metallicFactor", 1.0)),
        roughness=float(pbr.get("roughnessFactor", 1.0)),
        emissive=tuple(c * strength for c in em),  # type: ignore[arg-type]
        base_color_tex=_texture_ref(r, pbr.get("baseColorTexture"), f"{where}.baseColorTexture"),
        metal_rough_tex=_texture_ref(r, pbr.get("metallicRoughnessTexture"), f"{where}.metallicRoughnessTexture"),
        normal_tex=_texture_ref(r, normal, f"{where}.normalTexture"),
        normal_scale=float(normal.get("scale", 1.0)) if normal else 1.0,
        occlusion_tex=_texture_ref(r, occl, f"{where}.occlusionTexture"),
        occlusion_strength=float(occl.get("strength", 1.0)) if occl else 1.0,
        emissive_tex=_texture_ref(r, m.get("emissiveTexture"), f"{where}.emissiveTexture"),
        alpha_mode=alpha_mode,
        alpha_cutoff=float(m.get("alphaCutoff", 0.5)),
        double_sided=bool(m.get("doubleSided", False)),
        clearcoat=float(cc.get("clearcoatFactor", 0.0)),
        clearcoat_roughness=float(cc.get("clearcoatRoughnessFactor", 0.0)),
        transmission=float(tr.get("transmissionFactor", 0.0)),
        ior=float(ext.get("KHR_materials_ior", {}).get("ior", 1.5)),
        unlit="KHR_materials_unlit" in ext,
    )


def _triangulate(indices: npt.NDArray[np.int64], mode: int) -> npt.NDArray[np.int64]:
    if mode == 4:
        return indices[: len(indices) // 3 * 3]
    if mode == 5:  # strip: alternate winding
        n = len(indices) - 2
        if n <= 0:
            return indices[:0]
        i = np.arange(n)
        a, b, c = indices[i], indices[i + 1], indices[i + 2]
        odd = (i % 2) == 1
        a2, b2 = np.where(odd, b, a), np.where(odd, a, b)
        out: npt.NDArray[np.int64] = np.stack([a2, b2, c], axis=1).reshape(-1)
        return out
    if mode == 6:  # fan
        n = len(indices) - 2
        if n <= 0:
            return indices[:0]
        i = np.arange(1, n + 1)
        fan: npt.NDArray[np.int64] = np.stack([np.full(n, indices[0]), indices[i], indices[i + 1]], axis=1).reshape(-1)
        return fan
    return indices[:0]  # points and lines are not drawn


def _flat_normals(pos: F32, idx: U32) -> tuple[F32, F32, U32]:
    """Unwelds the triangles and gives each its face normal (glTF: missing normals mean flat shading)."""
    p = pos[idx]
    tri = p.reshape(-1, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
    normals = np.repeat(n, 3, axis=0).astype(np.float32)
    return p.astype(np.float32), normals, np.arange(len(idx), dtype=np.uint32)


def _primitive(r: _Reader, mi: int, pi: int, p: dict[str, Any]) -> Primitive | None:
    where = f"meshes[{mi}].primitives[{pi}]"
    attrs = p.get("attributes", {})
    if "POSITION" not in attrs:
        raise r.fail(where, "has no POSITION attribute")
    pos = r.float_attr(int(attrs["POSITION"]), 3, f"{where}.POSITION")
    n = len(pos)
    if "indices" in p:
        raw = r.accessor(int(p["indices"])).reshape(-1).astype(np.int64)
        if raw.size and (raw.min() < 0 or raw.max() >= n):
            raise r.fail(where, f"an index points past the {n} vertices")
    else:
        raw = np.arange(n, dtype=np.int64)
    tri = _triangulate(raw, int(p.get("mode", 4)))
    if tri.size == 0:
        return None
    indices = tri.astype(np.uint32)

    def opt(name: str, ncomp: int) -> F32 | None:
        if name not in attrs:
            return None
        arr = r.float_attr(int(attrs[name]), ncomp, f"{where}.{name}")
        if len(arr) != n:
            raise r.fail(where, f"{name} has {len(arr)} entries for {n} vertices")
        return arr

    normals = opt("NORMAL", 3)
    uv0, uv1 = opt("TEXCOORD_0", 2), opt("TEXCOORD_1", 2)
    tangents = opt("TANGENT", 4)
    colors: F32 | None = None
    if "COLOR_0" in attrs:
        c = r.accessor(int(attrs["COLOR_0"])).astype(np.float32)
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((len(c), 1), np.float32)], axis=1)
        colors = np.ascontiguousarray(c)
    if normals is None:
        sel = indices
        pos, normals, indices = _flat_normals(pos, indices)
        uv0 = uv0[sel] if uv0 is not None else None
        uv1 = uv1[sel] if uv1 is not None else None
        colors = colors[sel] if colors is not None else None
        tangents = None
    else:
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(lengths > 1e-12, normals / np.maximum(lengths, 1e-12), np.array([0, 1, 0], np.float32)).astype(
            np.float32
        )
    mat = p.get("material")
    if mat is not None and not 0 <= int(mat) < len(r.doc.get("materials", [])):
        raise r.fail(where, f"material {mat} does not exist")
    return Primitive(
        positions=pos,
        normals=normals,
        texcoords=(uv0, uv1),
        tangents=tangents,
        colors=colors,
        indices=indices,
        material=None if mat is None else int(mat),
    )


def _image_bytes(r: _Reader, idx: int, img: dict[str, Any]) -> bytes:
    where = f"images[{idx}]"
    if "bufferView" in img:
        data, off, length, _ = r.buffer_view(int(img["bufferView"]))
        return data[off : off + length]
    if "uri" in img:
        return r._uri_bytes(img["uri"], where)
    raise r.fail(where, "has neither bufferView nor uri")


def _split_glb(path: Path, data: bytes) -> tuple[dict[str, Any], bytes | None]:
    if len(data) < 20:
        raise ModelInvalid(f"{path.name}: too short to be a GLB file ({len(data)} bytes)")
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != _GLB_MAGIC:
        raise ModelInvalid(f"{path.name}: not a GLB file (bad magic)")
    if version != 2:
        raise ModelInvalid(f"{path.name}: GLB version {version}; only glTF 2.0 is supported")
    if length > len(data):
        raise ModelInvalid(f"{path.name}: truncated: header says {length} bytes, file has {len(data)}")
    off, doc, binary = 12, None, None
    while off + 8 <= length:
        clen, ctype = struct.unpack_from("<II", data, off)
        chunk = data[off + 8 : off + 8 + clen]
        if len(chunk) != clen:
            raise ModelInvalid(f"{path.name}: truncated chunk at byte {off}")
        if ctype == _CHUNK_JSON and doc is None:
            try:
                doc = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelInvalid(f"{path.name}: the JSON chunk is not valid JSON: {exc}") from None
        elif ctype == _CHUNK_BIN and binary is None:
            binary = chunk
        off += 8 + clen
    if doc is None:
        raise ModelInvalid(f"{path.name}: no JSON chunk")
    return doc, binary


def read_gltf(path: Path) -> GltfAsset:
    """Reads a .glb or .gltf file. Raises `ModelInvalid` for anything broken or unsupported."""
    path = Path(path)
    if not path.is_file():
        raise ModelInvalid(f"{path}: no such file")
    data = path.read_bytes()
    if data[:4] == b"glTF":
        doc, binary = _split_glb(path, data)
    else:
        try:
            doc, binary = json.loads(data.decode("utf-8")), None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelInvalid(f"{path.name}: neither GLB nor glTF JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelInvalid(f"{path.name}: the glTF JSON is not an object")
    version = str(doc.get("asset", {}).get("version", ""))
    if not version.startswith("2."):
        raise ModelInvalid(f"{path.name}: asset.version is {version!r}; only glTF 2.0 is supported")
    unsupported = sorted(set(doc.get("extensionsRequired", [])) - _SUPPORTED_EXTENSIONS)
    if unsupported:
        raise ModelInvalid(f"{path.name}: requires unsupported extensions: {', '.join(unsupported)}")
    r = _Reader(path, doc, binary)
    try:
        materials = [_material(r, i, m) for i, m in enumerate(doc.get("materials", []))]
        meshes: list[list[Primitive]] = []
        for mi, mesh in enumerate(doc.get("meshes", [])):
            prims = [_primitive(r, mi, pi, p) for pi, p in enumerate(mesh.get("primitives", []))]
            meshes.append([p for p in prims if p is not None])
        images = [_image_bytes(r, i, img) for i, img in enumerate(doc.get("images", []))]
        cameras = [_camera(c) for c in doc.get("cameras", [])]
        nodes: list[Node] = []
        for ni, nd in enumerate(doc.get("nodes", [])):
            try:
                matrix = node_matrix(nd)
            except (ValueError, TypeError) as exc:
                raise r.fail(f"nodes[{ni}]", str(exc)) from None
            for key, limit in (("mesh", len(meshes)), ("camera", len(cameras))):
                if key in nd and not 0 <= int(nd[key]) < limit:
                    raise r.fail(f"nodes[{ni}]", f"{key} {nd[key]} does not exist")
            children = tuple(int(c) for c in nd.get("children", []))
            if any(not 0 <= c < len(doc.get("nodes", [])) for c in children):
                raise r.fail(f"nodes[{ni}]", "a child index does not exist")
            nodes.append(
                Node(
                    name=str(nd.get("name", f"node_{ni}")),
                    matrix=matrix,
                    children=children,
                    mesh=int(nd["mesh"]) if "mesh" in nd else None,
                    camera=int(nd["camera"]) if "camera" in nd else None,
                )
            )
        scenes = doc.get("scenes", [])
        if scenes:
            si = int(doc.get("scene", 0))
            if not 0 <= si < len(scenes):
                raise r.fail("scene", f"scene {si} does not exist")
            roots = tuple(int(n) for n in scenes[si].get("nodes", []))
        else:
            child = {c for nd in nodes for c in nd.children}
            roots = tuple(i for i in range(len(nodes)) if i not in child)
        if any(not 0 <= i < len(nodes) for i in roots):
            raise r.fail("scenes", "a root node index does not exist")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelInvalid(f"{path.name}: malformed glTF ({type(exc).__name__}: {exc})") from None
    return GltfAsset(
        path=path,
        nodes=nodes,
        roots=roots,
        meshes=meshes,
        materials=materials,
        images=images,
        cameras=cameras,
        extensions_used=tuple(doc.get("extensionsUsed", [])),
    )


def _camera(c: dict[str, Any]) -> Camera:
    kind = c.get("type", "perspective")
    if kind == "orthographic":
        o = c.get("orthographic", {})
        return Camera(
            kind="orthographic",
            xmag=float(o.get("xmag", 1.0)),
            ymag=float(o.get("ymag", 1.0)),
            znear_m=float(o.get("znear", 0.01)),
            zfar_m=float(o["zfar"]) if "zfar" in o else None,
            name=str(c.get("name", "")),
        )
    p = c.get("perspective", {})
    return Camera(
        kind="perspective",
        yfov_rad=float(p.get("yfov", math.radians(45))),
        aspect_ratio=float(p["aspectRatio"]) if "aspectRatio" in p else None,
        znear_m=float(p.get("znear", 0.01)),
        zfar_m=float(p["zfar"]) if "zfar" in p else None,
        name=str(c.get("name", "")),
    )
