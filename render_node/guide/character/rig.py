"""The guide's skeleton (joint names, rest positions, hierarchy) and skin weights.

Rest pose: metres, +Y up, facing +Z, feet on y = 0, the character's left on +X, arms hanging in a relaxed A.
Every joint's rest rotation is the identity, so a joint's world rotation is the product of its chain's local
rotations and its inverse bind matrix is a translation.

Weights: each sculpted part is a smooth union of primitives, and every primitive says which bones carry it
(`Binding`). A vertex takes the bindings of the primitives it lies on, blended by how near it is to each
(soft minimum of their distances), so a sleeve follows the arm and the jacket's side does not, however close
the arm hangs. Then each vertex keeps its 4 heaviest joints, summing to 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.guide.character.sdf import Field, Vec, smoothstep

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

JOINTS: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = (
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("Spine", "Hips", (0.0, 1.06, -0.005)),
    ("Chest", "Spine", (0.0, 1.20, -0.01)),
    ("Neck", "Chest", (0.0, 1.375, -0.02)),
    ("Head", "Neck", (0.0, 1.455, -0.012)),
    ("LeftShoulder", "Chest", (0.035, 1.335, -0.02)),
    ("LeftUpperArm", "LeftShoulder", (0.165, 1.335, -0.025)),
    ("LeftLowerArm", "LeftUpperArm", (0.205, 1.07, -0.035)),
    ("LeftHand", "LeftLowerArm", (0.232, 0.835, -0.005)),
    ("RightShoulder", "Chest", (-0.035, 1.335, -0.02)),
    ("RightUpperArm", "RightShoulder", (-0.165, 1.335, -0.025)),
    ("RightLowerArm", "RightUpperArm", (-0.205, 1.07, -0.035)),
    ("RightHand", "RightLowerArm", (-0.232, 0.835, -0.005)),
    ("LeftUpperLeg", "Hips", (0.085, 0.88, 0.0)),
    ("LeftLowerLeg", "LeftUpperLeg", (0.088, 0.485, 0.01)),
    ("LeftFoot", "LeftLowerLeg", (0.09, 0.085, -0.02)),
    ("RightUpperLeg", "Hips", (-0.085, 0.88, 0.0)),
    ("RightLowerLeg", "RightUpperLeg", (-0.088, 0.485, 0.01)),
    ("RightFoot", "RightLowerLeg", (-0.09, 0.085, -0.02)),
)
NAMES = tuple(j[0] for j in JOINTS)
INDEX = {n: i for i, n in enumerate(NAMES)}
PARENT = {n: p for n, p, _ in JOINTS}
WORLD = {n: np.asarray(pos, np.float64) for n, _, pos in JOINTS}
HAND_TIP = {"Left": np.array([0.245, 0.675, 0.0]), "Right": np.array([-0.245, 0.675, 0.0])}
"""Where the middle fingertip is at rest (the hands' length, for the clips' reach)."""


def local_translation(name: str) -> F64:
    parent = PARENT[name]
    return WORLD[name] - (WORLD[parent] if parent else 0.0)


def children(name: str) -> list[str]:
    return [n for n, p, _ in JOINTS if p == name]


Binding = Callable[[F64], F64]
"""points (n, 3) -> weights (n, joints)."""


def fixed(name: str) -> Binding:
    def f(p: F64) -> F64:
        w = np.zeros((len(p), len(NAMES)))
        w[:, INDEX[name]] = 1.0
        return w

    return f


def chain(a: Vec, b: Vec, stops: Sequence[tuple[float, str]], blend: float = 0.08) -> Binding:
    """Along the segment a -> b (t in 0..1): `stops` [(t where the bone starts, bone), ...] in order, each change
    blended over `blend` (fraction of the length) either side."""
    aa, bb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ab = bb - aa

    def f(p: F64) -> F64:
        t = ((p - aa) @ ab) / float(ab @ ab)
        w = np.zeros((len(p), len(NAMES)))
        share = np.ones(len(p))
        for k in range(len(stops) - 1, -1, -1):
            start, bone = stops[k]
            on = smoothstep(start - blend, start + blend, t) if k > 0 else np.ones(len(p))
            w[:, INDEX[bone]] += share * on
            share = share * (1.0 - on)
        return w

    return f


def vertical(stops: Sequence[tuple[float, str]], blend: float = 0.04) -> Binding:
    """By height: [(y where the bone starts, bone), ...] from the bottom up, blended over `blend` m either side."""
    return chain((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), stops, blend)


@dataclass(frozen=True)
class Piece:
    """One primitive of a part and the bones that carry it."""

    field: Field
    binding: Binding


def blended_weights(pieces: Sequence[Piece], p: F64, softness_m: float = 0.012) -> F64:
    """(n, joints) weights of points on a part made of `pieces`: each piece's binding, by a soft minimum of the
    pieces' distances."""
    d = np.stack([pc.field(p) for pc in pieces], axis=1)
    d = np.maximum(d, 0.0)
    near = np.exp(-(d - d.min(axis=1, keepdims=True)) / softness_m)
    near /= near.sum(axis=1, keepdims=True)
    out = np.zeros((len(p), len(NAMES)))
    for i, pc in enumerate(pieces):
        out += near[:, i : i + 1] * pc.binding(p)
    return out


def top4(w: F64) -> tuple[npt.NDArray[np.uint8], F32]:
    """Each row's 4 heaviest joints and their weights, summing to 1."""
    order = np.argsort(-w, axis=1, kind="stable")[:, :4]
    ww = np.take_along_axis(w, order, axis=1)
    ww = np.where(ww < 1e-3, 0.0, ww)
    total = ww.sum(axis=1, keepdims=True)
    ww = ww / np.maximum(total, 1e-12)
    return order.astype(np.uint8), ww.astype(np.float32)
