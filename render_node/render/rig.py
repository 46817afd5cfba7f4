"""An animated model's moving parts and how they deform its meshes at a pose. Pure numpy, no panda3d.

The glTF reader (`render_node/gltf/rigging.py`) fills a `Rig`: the node tree's rest transforms, skins, the
morph targets and skin weights of every primitive that moves, the default morph weights and the animations.
`Rig.deform(animation, t_s, morph)` evaluates one pose:

1. every node's local transform: its rest translation/rotation/scale, replaced by the animation's channels at
   `t_s` (clamped to the keys); world matrices down the tree;
2. every mesh's morph weights: the animation's, else its node's `weights`, else the mesh's, else 0; then
   `morph` (target name -> weight, names from the mesh's `extras.targetNames`) overrides by name;
3. each moving primitive: morph targets first, then the skin (glTF's order), flat-shaded primitives (no
   NORMAL in the file) get their face normals again.

A mesh drawn by several nodes is deformed once, by the first of them (file order) and its skin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from render_node.render.animation import Animation, NodePose, trs_matrix
from render_node.render.morph import MorphTarget, morph
from render_node.render.skinning import Skin, joint_matrices, normal_matrices, skin_vertices

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]

__all__ = ["TRS", "Deformable", "Deformed", "Rig"]

TRS = tuple[F64, F64, F64]


@dataclass(frozen=True)
class Deformable:
    """The base vertices of one primitive that moves, with its skin weights and morph targets."""

    mesh: int
    primitive: int
    positions: F32
    normals: F32 | None
    tangents: F32 | None
    joints: U16 | None = None
    """(n, 4) indices into the skin's joints."""
    weights: F32 | None = None
    """(n, 4), each row summing to 1."""
    targets: tuple[MorphTarget, ...] = ()
    flat: bool = False
    """Unwelded triangles with face normals (the file had no NORMAL): normals are recomputed after deforming."""


@dataclass(frozen=True)
class Deformed:
    mesh: int
    primitive: int
    positions: F32
    normals: F32 | None
    tangents: F32 | None


@dataclass
class Rig:
    local: list[F64]
    """Every node's rest local 4x4."""
    rest: dict[int, TRS]
    """Rest (translation, rotation xyzw, scale) of the nodes given as TRS (the ones an animation may drive)."""
    children: list[tuple[int, ...]]
    roots: tuple[int, ...]
    node_mesh: dict[int, int]
    """Node -> mesh, for the nodes that draw one."""
    node_skin: dict[int, int]
    node_weights: dict[int, tuple[float, ...]]
    mesh_weights: list[tuple[float, ...]]
    """Per mesh: its default morph weights (one per target; empty without targets)."""
    target_names: list[tuple[str, ...]]
    """Per mesh: its targets' names (`extras.targetNames`), empty when the file names none."""
    skins: list[Skin]
    deformables: list[Deformable]
    animations: list[Animation] = field(default_factory=list)

    @property
    def moves(self) -> bool:
        """True when something deforms (a skin or morph targets): the model needs `deform()` per pose."""
        return bool(self.deformables)

    def animated_locals(self, animation: int | None, t_s: float) -> dict[int, F64]:
        """Local 4x4 of every node whose translation, rotation or scale `animation` drives, at `t_s`."""
        if animation is None:
            return {}
        return self._locals(self.animations[animation].pose_at(t_s))

    def _locals(self, poses: dict[int, NodePose]) -> dict[int, F64]:
        out: dict[int, F64] = {}
        for idx, p in poses.items():
            if idx in self.rest and (p.translation is not None or p.rotation is not None or p.scale is not None):
                t, r, s = self.rest[idx]
                out[idx] = trs_matrix(t if p.translation is None else p.translation,
                                      r if p.rotation is None else p.rotation, s if p.scale is None else p.scale)
        return out

    def animation_index(self, name: str | int | None) -> int | None:
        """The animation called `name` (or with that index); None for None. Raises KeyError for no such one."""
        if name is None:
            return None
        if isinstance(name, int):
            if not 0 <= name < len(self.animations):
                raise KeyError(f"animation {name} does not exist (the model has {len(self.animations)})")
            return name
        for i, a in enumerate(self.animations):
            if a.name == name:
                return i
        names = ", ".join(repr(a.name) for a in self.animations) or "none"
        raise KeyError(f"no animation called {name!r} (the model has {names})")

    def world_matrices(self, poses: dict[int, NodePose]) -> dict[int, F64]:
        """World 4x4 of every node reachable from the roots, with the animated nodes' properties applied."""
        world: dict[int, F64] = {}
        animated = self._locals(poses)
        stack: list[tuple[int, F64]] = [(r, np.eye(4)) for r in self.roots]
        while stack:
            idx, parent = stack.pop()
            world[idx] = parent @ animated.get(idx, self.local[idx])
            stack.extend((c, world[idx]) for c in self.children[idx])
        return world

    def mesh_morph_weights(self, poses: dict[int, NodePose],
                           morph_by_name: Sequence[tuple[str, float]] = ()) -> dict[int, tuple[float, ...]]:
        """Per drawn mesh with targets: its morph weights at this pose (see the module docstring, step 2)."""
        out: dict[int, tuple[float, ...]] = {}
        for node in sorted(self.node_mesh):
            mesh = self.node_mesh[node]
            n = len(self.mesh_weights[mesh])
            if mesh in out or n == 0:
                continue
            p = poses.get(node)
            if p is not None and p.weights is not None:
                w = [float(v) for v in p.weights]
            else:
                w = list(self.node_weights.get(node, self.mesh_weights[mesh]))
            names = self.target_names[mesh]
            for name, value in morph_by_name:
                if name in names:
                    w[names.index(name)] = float(value)
            out[mesh] = tuple(w)
        return out

    def deform(self, animation: int | None = None, t_s: float = 0.0,
               morph_by_name: Sequence[tuple[str, float]] = ()) -> list[Deformed]:
        """The deformed vertices of every moving primitive at this pose (rest pose: `animation` None)."""
        poses = self.animations[animation].pose_at(t_s) if animation is not None else {}
        world = self.world_matrices(poses)
        weights = self.mesh_morph_weights(poses, morph_by_name)
        first_node: dict[int, int] = {}
        for n in sorted(self.node_mesh):
            if n in world:  # drawn by the scene
                first_node.setdefault(self.node_mesh[n], n)
        mats: dict[int, tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]] = {}
        """Per skinned node: its joint matrices and their normal matrices, once per pose for all its primitives."""
        out: list[Deformed] = []
        for d in self.deformables:
            if d.mesh not in first_node:
                continue
            node = first_node[d.mesh]
            pos, nrm, tan = d.positions, d.normals, d.tangents
            if d.targets:
                pos, nrm, tan = morph(pos, nrm, tan, d.targets, weights.get(d.mesh, (0.0,) * len(d.targets)))
            skin = self.node_skin.get(node)
            if skin is not None and d.joints is not None and d.weights is not None:
                if node not in mats:
                    jm = joint_matrices(self.skins[skin], world, world[node])
                    mats[node] = (jm, normal_matrices(jm))
                jm, nm = mats[node]
                pos, nrm, tan = skin_vertices(pos, nrm, tan, d.joints, d.weights, jm, nm)
            if d.flat:
                tri = pos.reshape(-1, 3, 3)
                face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
                face /= np.maximum(np.linalg.norm(face, axis=1, keepdims=True), np.float32(1e-20))
                nrm = np.repeat(face, 3, axis=0).astype(np.float32)
            out.append(Deformed(d.mesh, d.primitive, pos, nrm, tan))
        return out
