"""The reader's part for what moves: skins, morph targets and animations, checked with the field named.

Called by `model.build_model` (so `showroom assets validate` refuses what the renderer would): a `Rig` (see
`render_node/render/rig.py`) or None for a model with no skin, no morph target and no animation. Rules:
- skins: `joints` a non-empty array of distinct nodes of the scene; `inverseBindMatrices` a MAT4 float
  accessor with one matrix per joint (identity when absent); a node with `skin` draws a mesh whose every
  primitive has JOINTS_0 and WEIGHTS_0;
- JOINTS_0: VEC4 unsigned byte or short, every index below the skin's joint count; WEIGHTS_0: VEC4 float or
  normalized unsigned byte/short, no negative value, every vertex with some weight; rows are normalised to sum
  to 1. JOINTS_1/WEIGHTS_1 (more than 4 influences) are read and each vertex keeps its 4 heaviest joints;
- morph targets: POSITION, NORMAL, TANGENT (others are ignored) VEC3 with one value per vertex; every primitive
  of a mesh has the same number of targets; `weights` of a mesh or node has one value per target;
- animations: samplers' `input` SCALAR float times, strictly increasing; `interpolation` LINEAR, STEP or
  CUBICSPLINE; `output` count = keys (x 3 for CUBICSPLINE) (x targets for weights) with 3 (translation,
  scale), 4 (rotation) or 1 (weights) components; channels target an existing node (one without `matrix`
  for translation/rotation/scale; one drawing a mesh with targets for weights). Channels without a node or
  with another path (extensions) are ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from render_node.gltf.accessors import read_accessor
from render_node.gltf.document import Document
from render_node.render.animation import INTERPOLATIONS, PATHS, Animation, Channel, Sampler
from render_node.render.morph import MorphTarget
from render_node.render.rig import TRS, Deformable, Rig
from render_node.render.skinning import MAX_INFLUENCES, Skin

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

__all__ = ["read_rig"]

_TARGET_ATTRIBUTES = ("POSITION", "NORMAL", "TANGENT")
_PATH_COMPONENTS = {"translation": 3, "rotation": 4, "scale": 3, "weights": 1}


def _rows(arr: npt.NDArray[Any], rows: npt.NDArray[np.uint32] | None) -> npt.NDArray[Any]:
    return arr if rows is None else arr[rows]


def _skin(doc: Document, si: int, s: dict[str, Any], in_scene: set[int]) -> Skin:
    where = f"skins[{si}]"
    joints = s.get("joints")
    if not isinstance(joints, list) or not joints:
        raise doc.fail(f"{where}.joints", "must be a non-empty array of node indices")
    idx = tuple(doc.index(j, "nodes", f"{where}.joints[{k}]") for k, j in enumerate(joints))
    if len(set(idx)) != len(idx):
        raise doc.fail(f"{where}.joints", "names a node twice")
    for k, j in enumerate(idx):
        if j not in in_scene:
            raise doc.fail(f"{where}.joints[{k}]", f"nodes[{j}] is not in the scene")
    if "inverseBindMatrices" in s:
        m = read_accessor(doc, s["inverseBindMatrices"], f"{where}.inverseBindMatrices")
        if m.shape[1] != 16 or m.dtype.kind != "f":
            raise doc.fail(f"{where}.inverseBindMatrices", "must be a MAT4 float accessor")
        if len(m) != len(idx):
            raise doc.fail(f"{where}.inverseBindMatrices", f"{len(m)} matrices for {len(idx)} joints")
        ibm = m.astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major in the file
    else:
        ibm = np.tile(np.eye(4), (len(idx), 1, 1))
    return Skin(joints=idx, inverse_bind=ibm, name=str(s.get("name", "")))


def _influences(doc: Document, attrs: dict[str, Any], n: int, joint_count: int, where: str,
                rows: npt.NDArray[np.uint32] | None) -> tuple[npt.NDArray[np.uint16], F32]:
    """(joints, weights) `(n, 4)` of a skinned primitive: the 4 heaviest of its sets, weights summing to 1."""
    js, ws = [], []
    k = 0
    while f"JOINTS_{k}" in attrs or f"WEIGHTS_{k}" in attrs:
        jn, wn = f"JOINTS_{k}", f"WEIGHTS_{k}"
        if jn not in attrs or wn not in attrs:
            raise doc.fail(f"{where}.attributes", f"{jn} and {wn} come in pairs")
        j = read_accessor(doc, attrs[jn], f"{where}.attributes.{jn}")
        w = read_accessor(doc, attrs[wn], f"{where}.attributes.{wn}")
        if j.shape[1] != 4 or j.dtype.kind != "u" or j.dtype.itemsize > 2:
            raise doc.fail(f"{where}.attributes.{jn}", "must be VEC4 unsigned byte or unsigned short")
        if w.shape[1] != 4 or w.dtype.kind != "f":
            raise doc.fail(f"{where}.attributes.{wn}", "must be VEC4 float or normalized unsigned byte/short")
        for name, arr in ((jn, j), (wn, w)):
            if len(arr) != n:
                raise doc.fail(f"{where}.attributes.{name}", f"{len(arr)} values but POSITION has {n}")
        if np.any(w < 0):
            raise doc.fail(f"{where}.attributes.{wn}", "holds a negative weight")
        used = w > 0
        if np.any(j[used] >= joint_count):
            bad = int(j[used].max())
            raise doc.fail(f"{where}.attributes.{jn}", f"joint {bad} is out of range (the skin has {joint_count})")
        js.append(np.where(used, j, 0).astype(np.uint16))
        ws.append(w.astype(np.float32))
        k += 1
    if not js:
        raise doc.fail(f"{where}.attributes", "JOINTS_0 and WEIGHTS_0 are required on a skinned mesh")
    joints, weights = np.concatenate(js, axis=1), np.concatenate(ws, axis=1)
    if joints.shape[1] > MAX_INFLUENCES:
        top = np.argsort(-weights, axis=1, kind="stable")[:, :MAX_INFLUENCES]
        joints = np.take_along_axis(joints, top, axis=1)
        weights = np.take_along_axis(weights, top, axis=1)
    total = weights.sum(axis=1, keepdims=True)
    if np.any(total <= 1e-6):
        v = int(np.argmax(total[:, 0] <= 1e-6))
        raise doc.fail(f"{where}.attributes.WEIGHTS_0", f"vertex {v} has no joint weight")
    return _rows(joints, rows), _rows((weights / total).astype(np.float32), rows)


def _targets(doc: Document, p: dict[str, Any], n: int, where: str,
             rows: npt.NDArray[np.uint32] | None) -> tuple[MorphTarget, ...]:
    targets = p.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise doc.fail(f"{where}.targets", "must be an array of objects")
    out = []
    for ti, t in enumerate(targets):
        arrays: dict[str, F32] = {}
        for name in _TARGET_ATTRIBUTES:
            if name not in t:
                continue
            at = f"{where}.targets[{ti}].{name}"
            arr = read_accessor(doc, t[name], at)
            if arr.shape[1] != 3:
                raise doc.fail(at, f"has {arr.shape[1]} components, expected 3")
            if len(arr) != n:
                raise doc.fail(at, f"{len(arr)} values but POSITION has {n}")
            arrays[name] = np.ascontiguousarray(_rows(arr.astype(np.float32), rows))
        out.append(MorphTarget(arrays.get("POSITION"), arrays.get("NORMAL"), arrays.get("TANGENT")))
    return tuple(out)


def _weights(doc: Document, obj: dict[str, Any], count: int, where: str) -> tuple[float, ...] | None:
    if "weights" not in obj:
        return None
    w = obj["weights"]
    if (not isinstance(w, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in w)
            or not np.all(np.isfinite(np.asarray(w, np.float64)))):
        raise doc.fail(f"{where}.weights", "must be an array of numbers")
    if len(w) != count:
        raise doc.fail(f"{where}.weights", f"{len(w)} weights for {count} morph targets")
    return tuple(float(v) for v in w)


def _sampler(doc: Document, where: str, s: dict[str, Any]) -> tuple[Sampler, int]:
    """The sampler and its output's components per element (checked against each channel's path later)."""
    interp = s.get("interpolation", "LINEAR")
    if interp not in INTERPOLATIONS:
        raise doc.fail(f"{where}.interpolation", f"{interp!r} is not LINEAR, STEP or CUBICSPLINE")
    times = read_accessor(doc, s.get("input"), f"{where}.input")
    if times.shape[1] != 1 or times.dtype.kind != "f":
        raise doc.fail(f"{where}.input", "must be SCALAR float key times")
    t = times.reshape(-1).astype(np.float64)
    if np.any(np.diff(t) <= 0):
        raise doc.fail(f"{where}.input", "key times must be strictly increasing")
    out = read_accessor(doc, s.get("output"), f"{where}.output")
    if out.dtype.kind != "f":
        raise doc.fail(f"{where}.output", "must be float or normalized integers")
    return Sampler(times_s=t, values=out.astype(np.float64), interpolation=interp), int(out.shape[1])


def _animation(doc: Document, ai: int, a: dict[str, Any], nodes_json: list[dict[str, Any]],
               node_targets: dict[int, int]) -> Animation:
    where = f"animations[{ai}]"
    samplers_json, channels_json = a.get("samplers"), a.get("channels")
    for key, value in (("samplers", samplers_json), ("channels", channels_json)):
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise doc.fail(f"{where}.{key}", "must be a non-empty array of objects")
    assert isinstance(samplers_json, list) and isinstance(channels_json, list)
    read = [_sampler(doc, f"{where}.samplers[{i}]", s) for i, s in enumerate(samplers_json)]
    samplers = [s for s, _ in read]
    channels = []
    for ci, c in enumerate(channels_json):
        at = f"{where}.channels[{ci}]"
        si = c.get("sampler")
        if isinstance(si, bool) or not isinstance(si, int) or not 0 <= si < len(samplers):
            raise doc.fail(f"{at}.sampler", f"must be an index into {where}.samplers (it has {len(samplers)})")
        target = c.get("target")
        if not isinstance(target, dict):
            raise doc.fail(f"{at}.target", "must be an object")
        path = target.get("path")
        if "node" not in target or path not in PATHS:
            continue  # no node (an extension animates something else) or an extension's path: ignored
        node = doc.index(target["node"], "nodes", f"{at}.target.node")
        sampler, ncomp = samplers[si], read[si][1]
        per_key = 3 if sampler.interpolation == "CUBICSPLINE" else 1
        if path == "weights":
            n_targets = node_targets.get(node, 0)
            if n_targets == 0:
                raise doc.fail(f"{at}.target", f"animates weights of nodes[{node}], which draws no morph targets")
            per_key *= n_targets
        elif "matrix" in nodes_json[node]:
            raise doc.fail(f"{at}.target", f"animates {path} of nodes[{node}], which has a matrix (glTF: TRS only)")
        if ncomp != _PATH_COMPONENTS[path]:
            raise doc.fail(f"{where}.samplers[{si}].output", f"has {ncomp} components; {path} needs "
                                                               f"{_PATH_COMPONENTS[path]}")
        keys = len(sampler.times_s)
        if len(sampler.values) != keys * per_key:
            raise doc.fail(f"{where}.samplers[{si}].output",
                           f"{len(sampler.values)} values for {keys} keys ({keys * per_key} expected for {path}, "
                           f"{sampler.interpolation})")
        if path == "weights":  # one row of n_targets per key (x 3 for cubic: in, value, out)
            sampler = Sampler(sampler.times_s, sampler.values.reshape(keys * per_key // node_targets[node], -1),
                              sampler.interpolation)
            samplers[si] = sampler
        channels.append(Channel(node=node, path=path, sampler=si))
    duration = max((float(s.times_s[-1]) for s in samplers), default=0.0)
    return Animation(name=str(a.get("name", f"animation{ai}")), channels=tuple(channels), samplers=tuple(samplers),
                     duration_s=duration)


def _rest(nd: dict[str, Any]) -> TRS:
    return (np.asarray(nd.get("translation", [0, 0, 0]), np.float64),
            np.asarray(nd.get("rotation", [0, 0, 0, 1]), np.float64),
            np.asarray(nd.get("scale", [1, 1, 1]), np.float64))


def read_rig(doc: Document, meshes: list[list[Any]], locals_: list[F64], children: list[tuple[int, ...]],
             roots: tuple[int, ...], in_scene: set[int]) -> Rig | None:
    """The model's rig, or None when nothing in it moves. `meshes` holds the reader's `Primitive`s."""
    nodes_json, meshes_json = doc.array("nodes"), doc.array("meshes")
    skins_json, anims_json = doc.array("skins"), doc.array("animations")
    has_targets = any(p.get("targets") for m in meshes_json for p in m.get("primitives", []))
    if not skins_json and not anims_json and not has_targets:
        return None
    skins = [_skin(doc, i, s, in_scene) for i, s in enumerate(skins_json)]
    node_mesh = {i: nd["mesh"] for i, nd in enumerate(nodes_json) if "mesh" in nd}
    node_skin = {i: doc.index(nd["skin"], "skins", f"nodes[{i}].skin") for i, nd in enumerate(nodes_json)
                 if "skin" in nd}
    for i in node_skin:
        if i not in node_mesh:
            raise doc.fail(f"nodes[{i}].skin", "is set on a node without a mesh")
    mesh_skin: dict[int, int] = {}
    for i in sorted(node_skin):
        mesh_skin.setdefault(node_mesh[i], node_skin[i])
    deformables: list[Deformable] = []
    mesh_weights: list[tuple[float, ...]] = []
    target_names: list[tuple[str, ...]] = []
    for mi, mesh in enumerate(meshes_json):
        n_targets: int | None = None
        for pi, p in enumerate(mesh.get("primitives", [])):
            prim, where = meshes[mi][pi], f"meshes[{mi}].primitives[{pi}]"
            rows = prim.rows  # set where the reader unwelded it: the file's vertex count is POSITION's
            n = len(prim.positions) if rows is None else int(doc.array("accessors")[p["attributes"]["POSITION"]]["count"])
            targets = _targets(doc, p, n, where, rows)
            if n_targets is not None and len(targets) != n_targets:
                raise doc.fail(f"{where}.targets", f"{len(targets)} targets, but primitives[0] has {n_targets}")
            n_targets = len(targets)
            joints = weights = None
            if mi in mesh_skin:
                count = len(skins[mesh_skin[mi]].joints)
                joints, weights = _influences(doc, p["attributes"], n, count, where, rows)
            if targets or joints is not None:
                deformables.append(Deformable(mi, pi, prim.positions, prim.normals, prim.tangents, joints, weights,
                                              targets, flat=rows is not None))
        mesh_weights.append(_weights(doc, mesh, n_targets or 0, f"meshes[{mi}]") or (0.0,) * (n_targets or 0))
        names = mesh.get("extras", {}).get("targetNames", []) if isinstance(mesh.get("extras"), dict) else []
        ok = isinstance(names, list) and len(names) == (n_targets or 0) and all(isinstance(x, str) for x in names)
        target_names.append(tuple(names) if ok else ())
    node_targets = {i: len(mesh_weights[m]) for i, m in node_mesh.items()}
    node_weights = {}
    for i, nd in enumerate(nodes_json):
        w = _weights(doc, nd, node_targets.get(i, 0), f"nodes[{i}]")
        if w is not None:
            node_weights[i] = w
    animations = [_animation(doc, ai, a, nodes_json, node_targets) for ai, a in enumerate(anims_json)]
    rest = {i: _rest(nd) for i, nd in enumerate(nodes_json) if "matrix" not in nd}
    return Rig(local=locals_, rest=rest, children=children, roots=roots, node_mesh=node_mesh, node_skin=node_skin,
               node_weights=node_weights, mesh_weights=mesh_weights, target_names=target_names, skins=skins,
               deformables=deformables, animations=animations)
