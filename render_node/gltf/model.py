"""A glTF model as the renderer draws it: triangles per material, PBR materials, textures, nodes, cameras.

`read_model(path)` is the one way a glTF file is read: the document (see `document.py`), every accessor of every
primitive (see `accessors.py`), materials, textures, images, samplers, nodes, KHR_lights_punctual lights (see
`lights.py`) and the scene, all checked. The
validator (`showroom assets validate`) is this reader refusing; the renderer draws what it returns. Rules beyond
bytes: primitives are TRIANGLES, TRIANGLE_STRIP or TRIANGLE_FAN (points and lines are refused), indices stay
below the vertex count, every attribute has one value per vertex, references point at existing objects, the
scene's nodes form trees (no cycles, no node twice), and the scene draws at least one triangle.

Coordinates stay glTF's: right-handed, +Y up, metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pygltflib

from render_node.gltf.accessors import read_accessor
from render_node.gltf.document import Document, parse_document, read_document
from render_node.gltf.images import check_image
from render_node.gltf.lights import Light, node_light, read_lights
from render_node.gltf.materials import Material, TextureRef, read_material
from render_node.gltf.rigging import read_rig
from render_node.render.errors import ModelInvalid
from render_node.render.rig import Rig

F32 = npt.NDArray[np.float32]
U32 = npt.NDArray[np.uint32]
F64 = npt.NDArray[np.float64]

MODE_NAMES = {
    pygltflib.POINTS: "POINTS",
    pygltflib.LINES: "LINES",
    pygltflib.LINE_LOOP: "LINE_LOOP",
    pygltflib.LINE_STRIP: "LINE_STRIP",
    pygltflib.TRIANGLES: "TRIANGLES",
    pygltflib.TRIANGLE_STRIP: "TRIANGLE_STRIP",
    pygltflib.TRIANGLE_FAN: "TRIANGLE_FAN",
}
_ATTRIBUTE_COMPONENTS = {"POSITION": (3,), "NORMAL": (3,), "TEXCOORD_0": (2,), "TEXCOORD_1": (2,),
                         "TANGENT": (4,), "COLOR_0": (3, 4)}

__all__ = ["Camera", "GltfAsset", "Light", "Material", "Node", "Primitive", "TextureRef", "node_matrix", "read_model",
           "read_model_bytes"]


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
    rows: U32 | None = None
    """Where the reader unwelded the triangles (no NORMAL in the file: flat shading), the file's vertex of each
    row; skin weights and morph targets are read through it (`rigging.py`)."""


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
    light: int | None = None
    """The KHR_lights_punctual light this node places (it shines down the node's -Z)."""


@dataclass
class GltfAsset:
    """Everything the renderer needs from one glTF file (checked: the scene is a forest and draws triangles)."""

    path: Path
    nodes: list[Node]
    roots: tuple[int, ...]
    meshes: list[list[Primitive]]
    materials: list[Material]
    images: list[bytes]
    cameras: list[Camera]
    extensions_used: tuple[str, ...] = ()
    lights: list[Light] = field(default_factory=list)
    """KHR_lights_punctual lights of the file (placed by nodes: `light_nodes()`)."""
    document: Document | None = field(default=None, repr=False)
    """The checked document it was read from (its JSON and buffers), for tools that rewrite the file."""
    rig: Rig | None = field(default=None, repr=False)
    """Skins, morph targets and animations (None when nothing moves); see `render_node/render/rig.py`."""
    _world: dict[int, F64] = field(default_factory=dict, repr=False)

    def world_matrices(self) -> dict[int, F64]:
        """World 4x4 matrix of every node reachable from the scene roots."""
        if not self._world:
            stack: list[tuple[int, F64]] = [(r, np.eye(4)) for r in self.roots]
            while stack:
                idx, parent = stack.pop()
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

    def light_nodes(self) -> list[tuple[Light, F64]]:
        """The scene's punctual lights in node order, each with its node's world matrix (the light sits at its
        translation and shines down its -Z axis)."""
        world = self.world_matrices()
        return [(self.lights[light], world[i]) for i in sorted(world) if (light := self.nodes[i].light) is not None]

    def bounds(self) -> tuple[F64, F64]:
        """(min xyz, max xyz) in metres of every drawn vertex in world space."""
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        rest = {(d.mesh, d.primitive): d.positions for d in self.rig.deform()} if self.rig and self.rig.moves else {}
        for idx, world in self.world_matrices().items():
            mesh = self.nodes[idx].mesh
            if mesh is None:
                continue
            for pi, prim in enumerate(self.meshes[mesh]):  # skinned and morphed meshes: in their rest pose
                p = rest.get((mesh, pi), prim.positions).astype(np.float64) @ world[:3, :3].T + world[:3, 3]
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
    r = np.asarray(node.get("rotation", [0, 0, 0, 1]), dtype=np.float64)
    s = np.asarray(node.get("scale", [1, 1, 1]), dtype=np.float64)
    if t.shape != (3,) or r.shape != (4,) or s.shape != (3,):
        raise ValueError("translation and scale need 3 numbers, rotation 4")
    x, y, z, w = (float(v) for v in r)
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


def _mode(doc: Document, p: dict[str, Any], where: str) -> int:
    """The primitive's mode, refused unless it draws triangles."""
    mode = p.get("mode", pygltflib.TRIANGLES)
    if isinstance(mode, bool) or not isinstance(mode, int) or mode not in MODE_NAMES:
        raise doc.fail(f"{where}.mode", f"{mode!r} is not a glTF primitive mode")
    if mode not in (pygltflib.TRIANGLES, pygltflib.TRIANGLE_STRIP, pygltflib.TRIANGLE_FAN):
        raise doc.fail(f"{where}.mode", f"{MODE_NAMES[mode]} ({mode}) is not supported; only TRIANGLES (4), "
                                        "TRIANGLE_STRIP (5) and TRIANGLE_FAN (6) can be shaded - re-export with "
                                        "triangulated meshes")
    return int(mode)


def _triangulate(doc: Document, indices: npt.NDArray[np.int64], mode: int, where: str) -> npt.NDArray[np.int64]:
    """Triangle list indices of a TRIANGLES, TRIANGLE_STRIP or TRIANGLE_FAN primitive."""
    name = MODE_NAMES[mode]
    if mode == pygltflib.TRIANGLES:
        if len(indices) % 3:
            raise doc.fail(where, f"{len(indices)} vertices or indices is not a whole number of triangles")
        return indices
    n = len(indices) - 2
    if n <= 0:
        raise doc.fail(where, f"a {name} needs at least 3 vertices or indices, it has {len(indices)}")
    i = np.arange(n)
    if mode == pygltflib.TRIANGLE_STRIP:  # alternate winding
        a, b, c = indices[i], indices[i + 1], indices[i + 2]
        odd = (i % 2) == 1
        strip: npt.NDArray[np.int64] = np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1).reshape(-1)
        return strip
    fan: npt.NDArray[np.int64] = np.stack([np.full(n, indices[0]), indices[i + 1], indices[i + 2]], axis=1).reshape(-1)
    return fan


def _flat_normals(pos: F32, idx: U32) -> tuple[F32, F32, U32]:
    """Unwelds the triangles and gives each its face normal (glTF: missing normals mean flat shading)."""
    p = pos[idx]
    tri = p.reshape(-1, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
    normals = np.repeat(n, 3, axis=0).astype(np.float32)
    return p.astype(np.float32), normals, np.arange(len(idx), dtype=np.uint32)


def _attribute(doc: Document, ref: object, name: str, where: str) -> npt.NDArray[Any]:
    arr = read_accessor(doc, ref, f"{where}.attributes.{name}")
    allowed = _ATTRIBUTE_COMPONENTS.get(name)
    if allowed is not None and arr.shape[1] not in allowed:
        raise doc.fail(f"{where}.attributes.{name}", f"has {arr.shape[1]} components, expected {allowed[0]}")
    return arr


def _primitive(doc: Document, mi: int, pi: int, p: dict[str, Any]) -> Primitive:
    where = f"meshes[{mi}].primitives[{pi}]"
    attrs = p.get("attributes")
    if not isinstance(attrs, dict) or "POSITION" not in attrs:
        raise doc.fail(f"{where}.attributes", "POSITION is required")
    mode = _mode(doc, p, where)
    arrays = {name: _attribute(doc, ref, name, where) for name, ref in attrs.items()}
    pos = np.ascontiguousarray(arrays["POSITION"], dtype=np.float32)
    n = len(pos)
    for name, arr in arrays.items():
        if len(arr) != n:
            raise doc.fail(f"{where}.attributes.{name}", f"{len(arr)} values but POSITION has {n}")
    if "indices" in p:
        idx_arr = read_accessor(doc, p["indices"], f"{where}.indices")
        if idx_arr.shape[1] != 1 or idx_arr.dtype.kind != "u":
            raise doc.fail(f"{where}.indices", "must be SCALAR unsigned integers")
        raw = idx_arr.reshape(-1).astype(np.int64)
        if raw.max() >= n:
            raise doc.fail(f"{where}.indices", f"index {int(raw.max())} is out of range (POSITION has {n} vertices)")
    else:
        raw = np.arange(n, dtype=np.int64)
    indices = _triangulate(doc, raw, mode, where).astype(np.uint32)
    mat = p.get("material")
    if mat is not None:
        mat = doc.index(mat, "materials", f"{where}.material")

    def opt(name: str) -> F32 | None:
        return np.ascontiguousarray(arrays[name], dtype=np.float32) if name in arrays else None

    normals, uv0, uv1, tangents, colors = opt("NORMAL"), opt("TEXCOORD_0"), opt("TEXCOORD_1"), opt("TANGENT"), None
    rows = None
    if "COLOR_0" in arrays:
        c = arrays["COLOR_0"].astype(np.float32)
        if arrays["COLOR_0"].dtype.kind in "iu":  # colours are normalized by definition
            c = c / float(np.iinfo(arrays["COLOR_0"].dtype).max)
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((len(c), 1), np.float32)], axis=1)
        colors = np.ascontiguousarray(c)
    if normals is None:
        sel = rows = indices
        pos, normals, indices = _flat_normals(pos, indices)
        uv0 = uv0[sel] if uv0 is not None else None
        uv1 = uv1[sel] if uv1 is not None else None
        colors = colors[sel] if colors is not None else None
        tangents = None
    else:
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(lengths > 1e-12, normals / np.maximum(lengths, 1e-12),
                           np.array([0, 1, 0], np.float32)).astype(np.float32)
    return Primitive(positions=pos, normals=normals, texcoords=(uv0, uv1), tangents=tangents, colors=colors,
                     indices=indices, material=mat, rows=rows)


def _camera(doc: Document, i: int, c: dict[str, Any]) -> Camera:
    where = f"cameras[{i}]"
    kind = c.get("type", "perspective")
    if kind not in ("perspective", "orthographic"):
        raise doc.fail(f"{where}.type", f"{kind!r} is not perspective or orthographic")
    spec = c.get(kind, {})
    if not isinstance(spec, dict):
        raise doc.fail(f"{where}.{kind}", "must be an object")
    try:
        if kind == "orthographic":
            return Camera(kind="orthographic", xmag=float(spec.get("xmag", 1.0)), ymag=float(spec.get("ymag", 1.0)),
                          znear_m=float(spec.get("znear", 0.01)),
                          zfar_m=float(spec["zfar"]) if "zfar" in spec else None, name=str(c.get("name", "")))
        return Camera(kind="perspective", yfov_rad=float(spec.get("yfov", math.radians(45))),
                      aspect_ratio=float(spec["aspectRatio"]) if "aspectRatio" in spec else None,
                      znear_m=float(spec.get("znear", 0.01)),
                      zfar_m=float(spec["zfar"]) if "zfar" in spec else None, name=str(c.get("name", "")))
    except (TypeError, ValueError):
        raise doc.fail(f"{where}.{kind}", "its values must be numbers") from None


def _node(doc: Document, ni: int, nd: dict[str, Any], light_count: int) -> Node:
    where = f"nodes[{ni}]"
    try:
        matrix = node_matrix(nd)
    except (ValueError, TypeError) as exc:
        raise doc.fail(where, str(exc)) from None
    if not np.isfinite(matrix).all():
        raise doc.fail(where, "its transform holds NaN or infinite values")
    children = nd.get("children", [])
    if not isinstance(children, list):
        raise doc.fail(f"{where}.children", "must be an array")
    return Node(
        name=str(nd.get("name", f"node_{ni}")),
        matrix=matrix,
        children=tuple(doc.index(c, "nodes", f"{where}.children") for c in children),
        mesh=doc.index(nd["mesh"], "meshes", f"{where}.mesh") if "mesh" in nd else None,
        camera=doc.index(nd["camera"], "cameras", f"{where}.camera") if "camera" in nd else None,
        light=node_light(doc, nd, where, light_count),
    )


def _scene_roots(doc: Document, nodes: list[Node]) -> tuple[int, ...]:
    scenes = doc.array("scenes")
    if not scenes:
        child = {c for nd in nodes for c in nd.children}
        return tuple(i for i in range(len(nodes)) if i not in child)
    s = doc.index(doc.json.get("scene", 0), "scenes", "scene")
    roots = scenes[s].get("nodes", [])
    if not isinstance(roots, list):
        raise doc.fail(f"scenes[{s}].nodes", "must be an array")
    return tuple(doc.index(r, "nodes", f"scenes[{s}].nodes") for r in roots)


def _check_forest(doc: Document, nodes: list[Node], roots: tuple[int, ...]) -> None:
    """Refuses a cycle, or a node the scene reaches twice (glTF nodes form disjoint trees)."""
    parent: dict[int, int | None] = {}
    stack: list[tuple[int, int | None]] = [(r, None) for r in roots]
    while stack:
        n, up = stack.pop()
        if n in parent:
            ancestor = up
            while ancestor is not None and ancestor != n:
                ancestor = parent[ancestor]
            if ancestor == n:
                raise doc.fail(f"nodes[{n}]", "is its own ancestor (a cycle in the node tree)")
            raise doc.fail(f"nodes[{n}]", "appears twice in the scene (glTF nodes form trees)")
        parent[n] = up
        stack.extend((c, n) for c in nodes[n].children)


def build_model(doc: Document, path: Path) -> GltfAsset:
    """Reads and checks everything of a parsed document the renderer uses."""
    images = doc.array("images")
    image_bytes = []
    for i in range(len(images)):
        data = doc.image_bytes(i)
        check_image(doc, data, f"images[{i}]")
        image_bytes.append(data)
    materials = [read_material(doc, i, m) for i, m in enumerate(doc.array("materials"))]
    meshes: list[list[Primitive]] = []
    for mi, mesh in enumerate(doc.array("meshes")):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims or not all(isinstance(p, dict) for p in prims):
            raise doc.fail(f"meshes[{mi}].primitives", "must be a non-empty array of objects")
        meshes.append([_primitive(doc, mi, pi, p) for pi, p in enumerate(prims)])
    cameras = [_camera(doc, i, c) for i, c in enumerate(doc.array("cameras"))]
    lights = read_lights(doc)
    nodes = [_node(doc, ni, nd, len(lights)) for ni, nd in enumerate(doc.array("nodes"))]
    roots = _scene_roots(doc, nodes)
    _check_forest(doc, nodes, roots)
    asset = GltfAsset(path=path, nodes=nodes, roots=roots, meshes=meshes, materials=materials, images=image_bytes,
                      cameras=cameras, extensions_used=tuple(doc.json.get("extensionsUsed", [])), lights=lights,
                      document=doc)
    if asset.triangle_count == 0:
        raise doc.fail("scene", "draws no triangles (no node of the scene refers to a mesh)")
    asset.rig = read_rig(doc, meshes, [n.matrix for n in nodes], [n.children for n in nodes], roots,
                         set(asset.world_matrices()))
    return asset


def read_model(path: Path) -> GltfAsset:
    """Reads a .glb or .gltf file. Raises `ModelInvalid` naming the file and the field for anything refused."""
    path = Path(path)
    return build_model(read_document(path), path)


def read_model_bytes(data: bytes, name: str) -> GltfAsset:
    """Reads a model from bytes (a GLB in memory); any file URI in it is refused (there is no folder)."""
    return build_model(parse_document(data, name, None), Path(name))
