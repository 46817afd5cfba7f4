"""Draws an animated model's pose: its deformed vertices (numpy, `rig.py`) written into its panda3d Geoms.

CPU skinning and morphing: each pose is computed in numpy and copied into the primitives' vertex arrays
(position, normal, tangent columns; the shaders and the baker are unchanged), see docs/rendering.md for why.

- `rest_posed(asset)`: before the scene is built, the moving primitives take their rest pose (skinned by the
  rest transforms of their joints, morphed by the default weights), so the bounds, the turntable framing and the
  contact shadow are those of the model as it stands;
- `attach(model)`: after building, hangs a `Poser` on the model's root node (None for a model that does not move);
- `poser_of(model).pose(t_s, animation=name, morph=(("viseme_aa", 0.8),))` writes a pose; the renderer draws
  whatever pose is current. `apply(model, request.pose)` does it for a `RenderRequest`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.render.errors import RequestInvalid
from render_node.render.gltf import GltfAsset
from render_node.render.rig import Deformed, Rig
from render_node.render.scene import LoadedModel, mat4
from render_node.render.types import ModelPose

__all__ = ["Poser", "apply", "attach", "poser_of", "rest_posed"]

_TAG = "poser"


def rest_posed(asset: GltfAsset) -> GltfAsset:
    """`asset` with its moving primitives in their rest pose (in place; the rig keeps the file's base vertices)."""
    rig = asset.rig
    if rig is None or not rig.moves:
        return asset
    for d in rig.deform():
        prim = asset.meshes[d.mesh][d.primitive]
        asset.meshes[d.mesh][d.primitive] = dataclasses.replace(
            prim, positions=d.positions, normals=d.normals if d.normals is not None else prim.normals,
            tangents=d.tangents if prim.tangents is not None else None)
    return asset


def _write(vdata: p3d.GeomVertexData, column: str, data: npt.NDArray[np.float32]) -> None:
    index = vdata.get_format().get_array_with(p3d.InternalName.make(column))
    if index < 0:
        return
    handle = vdata.modify_array(index)
    view = memoryview(handle).cast("B")
    raw = np.ascontiguousarray(data, np.float32).tobytes()
    if len(raw) != len(view):
        raise RuntimeError(f"{column}: {len(raw)} bytes for a {len(view)}-byte vertex array")
    view[:] = raw


class Poser:
    """The pose of one loaded model; writes into the Geoms its node tree shares with placement copies."""

    def __init__(self, rig: Rig, root: p3d.NodePath) -> None:
        self.rig = rig
        self._nodes: dict[tuple[int, int], p3d.GeomNode] = {}
        for d in rig.deformables:
            found = root.find(f"**/prim{d.mesh}.{d.primitive}")
            if not found.is_empty():
                node = found.node()
                assert isinstance(node, p3d.GeomNode)
                self._nodes[(d.mesh, d.primitive)] = node
        self._paths = _node_paths(rig, root)
        self._moved: set[int] = set()
        """Nodes whose panda3d transform an animation changed (put back to rest when it no longer drives them)."""
        self._current: tuple[int | None, float, tuple[tuple[str, float], ...]] = (None, 0.0, ())
        self.deform_calls = 0
        """How many poses were computed (tests check that an unchanged pose costs none)."""

    @property
    def animations(self) -> dict[str, float]:
        """Name -> duration in seconds, in file order."""
        return {a.name: a.duration_s for a in self.rig.animations}

    def pose(self, t_s: float = 0.0, animation: str | int | None = None,
             morph: Sequence[tuple[str, float]] = ()) -> None:
        """Deforms the model to `animation` at `t_s` seconds (clamped to its keys; None: the rest pose), then sets
        the morph targets named in `morph`. Raises `RequestInvalid` for an unknown animation or a bad number."""
        if not math.isfinite(t_s) or not all(math.isfinite(w) for _, w in morph):
            raise RequestInvalid("a pose's time and morph weights must be finite numbers")
        try:
            index = self.rig.animation_index(animation)
        except KeyError as exc:
            raise RequestInvalid(str(exc.args[0])) from None
        key = (index, float(t_s) if index is not None else 0.0, tuple((str(n), float(w)) for n, w in morph))
        if key == self._current:
            return
        self.deform_calls += 1
        locals_ = self.rig.animated_locals(index, key[1])
        for node in self._moved - set(locals_):
            self._paths[node].set_mat(mat4(self.rig.local[node]))
        for node, local in locals_.items():
            if node in self._paths:
                self._paths[node].set_mat(mat4(local))
        self._moved = set(locals_) & set(self._paths)
        for d in self.rig.deform(index, key[1], key[2]):
            self._draw(d)
        self._current = key

    def _draw(self, d: Deformed) -> None:
        node = self._nodes.get((d.mesh, d.primitive))
        if node is None:
            return
        vdata = node.modify_geom(0).modify_vertex_data()
        _write(vdata, "vertex", d.positions)
        if d.normals is not None:
            _write(vdata, "normal", d.normals)
        if d.tangents is not None:
            _write(vdata, "a_tangent", d.tangents)


def _node_paths(rig: Rig, root: p3d.NodePath) -> dict[int, p3d.NodePath]:
    """glTF node -> its panda3d node, in the tree `SceneBuilder.build` made: under each node, its mesh (if it
    draws one), then its children in file order; the scene's roots in order under the model's root."""
    out: dict[int, p3d.NodePath] = {}
    stack = [(r, root.get_child(i)) for i, r in enumerate(rig.roots) if i < root.get_num_children()]
    while stack:
        idx, path = stack.pop()
        out[idx] = path
        first = 1 if idx in rig.node_mesh else 0
        for k, child in enumerate(rig.children[idx]):
            if first + k < path.get_num_children():
                stack.append((child, path.get_child(first + k)))
    return out


def attach(model: LoadedModel) -> Poser | None:
    """Hangs a `Poser` on the model's root when it moves (skins, morph targets or animations)."""
    rig = model.asset.rig
    if rig is None or not (rig.moves or rig.animations):
        return None
    poser = Poser(rig, model.root)
    model.root.set_python_tag(_TAG, poser)
    return poser


def poser_of(model: LoadedModel) -> Poser | None:
    """The model's `Poser`, None for a model that does not move."""
    poser = model.root.get_python_tag(_TAG)
    return poser if isinstance(poser, Poser) else None


def apply(model: LoadedModel, pose: ModelPose | None) -> None:
    """Puts the model in `pose` (None: the rest pose); nothing for a model that does not move."""
    poser = poser_of(model)
    if poser is None:
        return
    if pose is None:
        poser.pose()
    else:
        poser.pose(pose.time_s, pose.animation, pose.morph)
