"""glTF morph targets in numpy: a primitive's vertices are its base plus the weighted sum of its targets' deltas.

`position = base + sum_i w_i * delta_i` (glTF 2.0, "Morph Targets"), the same for NORMAL (renormalised after)
and TANGENT (xyz; the handedness w is kept). Weights come from the animation, else the node's `weights`, else
the mesh's `weights`, else 0. Pure numpy, no panda3d.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

__all__ = ["MorphTarget", "morph"]


@dataclass(frozen=True)
class MorphTarget:
    """Per-vertex displacements of one target (None where the target does not move that attribute)."""

    positions: F32 | None = None
    normals: F32 | None = None
    tangents: F32 | None = None
    """xyz only."""


def _blend(base: F32, deltas: Sequence[F32 | None], weights: Sequence[float]) -> F32:
    out = base.astype(np.float32, copy=True)
    for delta, w in zip(deltas, weights, strict=True):
        if delta is not None and w != 0.0:
            out += np.float32(w) * delta
    return out


def morph(positions: F32, normals: F32 | None, tangents: F32 | None, targets: Sequence[MorphTarget],
          weights: Sequence[float]) -> tuple[F32, F32 | None, F32 | None]:
    """The morphed (positions, normals, tangents) of one primitive; `weights` has one value per target."""
    if len(weights) != len(targets):
        raise ValueError(f"{len(weights)} morph weights for {len(targets)} targets")
    pos = _blend(positions, [t.positions for t in targets], weights)
    nrm = None
    if normals is not None:
        nrm = _blend(normals, [t.normals for t in targets], weights)
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), np.float32(1e-12))
    tan = None
    if tangents is not None:
        tan = tangents.astype(np.float32, copy=True)
        tan[:, :3] = _blend(tangents[:, :3], [t.tangents for t in targets], weights)
        tan[:, :3] /= np.maximum(np.linalg.norm(tan[:, :3], axis=1, keepdims=True), np.float32(1e-12))
    return pos, nrm, tan
