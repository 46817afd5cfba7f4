"""glTF skins in numpy: joint matrices from the node hierarchy and linear blend skinning of a primitive.

A skin is a list of joint nodes and one inverse bind matrix per joint. For a mesh drawn under node M:

    joint_matrix[j] = inverse(world(M)) @ world(joint j) @ inverse_bind[j]

(the mesh node's own transform cancels, as the glTF spec asks: a skinned mesh follows its joints, not its node)
and every vertex is moved by the weighted sum of up to four joint matrices (JOINTS_0 / WEIGHTS_0; weights sum
to 1, the reader normalises them). Normals and tangents are moved by the blend of the joints' inverse-transpose
3x3 (right under non-uniform scale) and renormalised. Pure numpy, no panda3d.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]

MAX_INFLUENCES = 4
"""Joints per vertex; files with more (JOINTS_1 / WEIGHTS_1) keep each vertex's 4 heaviest, renormalised."""

__all__ = ["MAX_INFLUENCES", "Skin", "joint_matrices", "normal_matrices", "skin_vertices"]


@dataclass(frozen=True)
class Skin:
    joints: tuple[int, ...]
    """Node indices."""
    inverse_bind: F64
    """(len(joints), 4, 4), column vectors; identity where the file gives none."""
    name: str = ""


def joint_matrices(skin: Skin, world: Mapping[int, F64], mesh_world: F64) -> F32:
    """`(joints, 4, 4) float32` skinning matrices of `skin` for a mesh whose node's world matrix is `mesh_world`."""
    singular = abs(float(np.linalg.det(mesh_world[:3, :3]))) < 1e-18  # a mesh node scaled to nothing
    inv_mesh = np.linalg.pinv(mesh_world) if singular else np.linalg.inv(mesh_world)
    joints = np.stack([world[j] for j in skin.joints])
    out: F32 = np.einsum("ij,njk,nkl->nil", inv_mesh, joints, skin.inverse_bind).astype(np.float32)
    return out


def normal_matrices(mats: F32) -> F32:
    """Inverse-transpose of each 3x3 (a singular joint, e.g. scaled to 0, keeps its own 3x3): computed once per
    skin and pose, shared by every primitive of the skin (`Rig.deform`)."""
    m3 = mats[:, :3, :3].astype(np.float64)
    out = m3.copy()
    ok = np.abs(np.linalg.det(m3)) > 1e-12
    if ok.any():
        out[ok] = np.transpose(np.linalg.inv(m3[ok]), (0, 2, 1))
    result: F32 = out.astype(np.float32)
    return result


def _unit(v: F32) -> F32:
    out: F32 = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.float32(1e-12))
    return out


def _blend_rows(rows: F32, idx: npt.NDArray[np.intp], w: F32) -> F32:
    """Per vertex, the weighted sum of its (up to 4) joints' rows of `rows` `(J, k)`: four gathers and
    multiply-adds, so the cost does not grow with the skin's joint count."""
    out: F32 = rows[idx[:, 0]] * w[:, 0:1]
    for k in range(1, idx.shape[1]):
        out += rows[idx[:, k]] * w[:, k:k + 1]
    return out


def _apply3(m: F32, v: F32) -> F32:
    """`m` `(n, 3, 3)` applied to `v` `(n, 3)`."""
    out: F32 = m[:, :, 0] * v[:, 0:1]
    out += m[:, :, 1] * v[:, 1:2]
    out += m[:, :, 2] * v[:, 2:3]
    return out


def skin_vertices(
    positions: F32,
    normals: F32 | None,
    tangents: F32 | None,
    joints: U16,
    weights: F32,
    mats: F32,
    normal_mats: F32 | None = None,
) -> tuple[F32, F32 | None, F32 | None]:
    """Linear blend skinning: `joints` `(n, 4)` indices into `mats` `(J, 4, 4)`, `weights` `(n, 4)` summing to 1;
    `normal_mats` `(J, 3, 3)` is `normal_matrices(mats)` when the caller has it already.

    Returns the skinned (positions, normals, tangents); tangents keep their handedness w."""
    idx = joints.astype(np.intp)
    w = weights.astype(np.float32)
    j = mats.shape[0]
    blended = _blend_rows(np.ascontiguousarray(mats[:, :3, :], np.float32).reshape(j, 12), idx, w).reshape(-1, 3, 4)
    lin = blended[:, :, :3]
    pos: F32 = _apply3(lin, positions.astype(np.float32)) + blended[:, :, 3]
    nrm = tan = None
    if normals is not None:
        nm = normal_matrices(mats) if normal_mats is None else normal_mats
        nblend = _blend_rows(np.ascontiguousarray(nm, np.float32).reshape(j, 9), idx, w).reshape(-1, 3, 3)
        nrm = _unit(_apply3(nblend, normals.astype(np.float32)))
    if tangents is not None:
        t3 = _apply3(lin, tangents[:, :3].astype(np.float32))
        tan = np.concatenate([_unit(t3), tangents[:, 3:4].astype(np.float32)], axis=1)
    return pos.astype(np.float32), nrm, tan
