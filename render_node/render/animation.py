"""glTF animations, sampled in numpy: channels on a node's translation, rotation, scale or morph weights.

A `Sampler` holds key times (strictly increasing seconds) and values, interpolated as the glTF 2.0 spec says:
- LINEAR: linear between the two keys around t; rotations by spherical linear interpolation (the shorter arc);
- STEP: the value of the key at or before t, held until the next key;
- CUBICSPLINE: each key has (in-tangent, value, out-tangent); between keys k and k+1 with td = t[k+1] - t[k]
  and s = (t - t[k]) / td, p = (2s^3 - 3s^2 + 1) v_k + td (s^3 - 2s^2 + s) b_k + (-2s^3 + 3s^2) v_k+1
  + td (s^3 - s^2) a_k+1 (the tangents are per second, so they scale with the key spacing); rotations are
  normalised afterwards.
Before the first key the first value holds, after the last key the last value holds (clamping; no looping here:
the caller wraps `t` if it wants a loop).

`Animation.pose_at(t_s)` gives the local translation/rotation/scale and morph weights of every targeted node at
`t_s`. Pure numpy: no panda3d, no files (the glTF reader, `render_node/gltf/rigging.py`, builds these).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

Interpolation = Literal["LINEAR", "STEP", "CUBICSPLINE"]
Path = Literal["translation", "rotation", "scale", "weights"]
INTERPOLATIONS: tuple[Interpolation, ...] = ("LINEAR", "STEP", "CUBICSPLINE")
PATHS: tuple[Path, ...] = ("translation", "rotation", "scale", "weights")

__all__ = ["INTERPOLATIONS", "PATHS", "Animation", "Channel", "NodePose", "Sampler", "quat_matrix", "slerp",
           "trs_matrix"]


def slerp(q0: F64, q1: F64, s: float) -> F64:
    """Spherical linear interpolation of unit quaternions (x, y, z, w) along the shorter arc; unit result."""
    d = float(np.dot(q0, q1))
    if d < 0.0:
        q1, d = -q1, -d
    if d > 0.9995:  # nearly the same rotation: linear, then normalised (avoids dividing by sin ~ 0)
        q = q0 + s * (q1 - q0)
    else:
        theta = np.arccos(d)
        q = (np.sin((1 - s) * theta) * q0 + np.sin(s * theta) * q1) / np.sin(theta)
    out: F64 = q / np.linalg.norm(q)
    return out


def quat_matrix(q: F64) -> F64:
    """The 3x3 rotation of a unit quaternion (x, y, z, w), column vectors (p' = R @ p)."""
    x, y, z, w = (float(v) for v in q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def trs_matrix(t: F64, r: F64, s: F64) -> F64:
    """T x R x S as one 4x4 (column vectors), glTF's order."""
    m = np.eye(4)
    m[:3, :3] = quat_matrix(r) * np.asarray(s, np.float64)[None, :]
    m[:3, 3] = t
    return m


@dataclass(frozen=True)
class Sampler:
    """Key times `(n,)` seconds, strictly increasing, and values: `(n, k)` for LINEAR and STEP, `(3n, k)` for
    CUBICSPLINE (in-tangent, value, out-tangent per key); k = 3 (translation, scale), 4 (rotation) or the
    number of morph targets (weights)."""

    times_s: F64
    values: F64
    interpolation: Interpolation = "LINEAR"

    def sample(self, t_s: float, rotation: bool = False) -> F64:
        """The value at `t_s` (clamped to the first and last keys). `rotation`: slerp, unit quaternions."""
        times = self.times_s
        n = len(times)
        cubic = self.interpolation == "CUBICSPLINE"
        vals = self.values.reshape(n, 3, -1)[:, 1] if cubic else self.values

        def key(k: int) -> F64:
            v: F64 = vals[k].astype(np.float64)
            return v / np.linalg.norm(v) if rotation else v

        if t_s <= times[0] or n == 1:
            return key(0)
        if t_s >= times[-1]:
            return key(n - 1)
        k = int(np.searchsorted(times, t_s, side="right")) - 1  # times[k] <= t < times[k + 1]
        if self.interpolation == "STEP":
            return key(k)
        td = float(times[k + 1] - times[k])
        s = (t_s - float(times[k])) / td
        if cubic:
            tri = self.values.reshape(n, 3, -1).astype(np.float64)
            v0, b0 = tri[k, 1], tri[k, 2]
            v1, a1 = tri[k + 1, 1], tri[k + 1, 0]
            s2, s3 = s * s, s * s * s
            p: F64 = ((2 * s3 - 3 * s2 + 1) * v0 + td * (s3 - 2 * s2 + s) * b0 + (-2 * s3 + 3 * s2) * v1
                      + td * (s3 - s2) * a1)
            return p / np.linalg.norm(p) if rotation else p
        if rotation:
            return slerp(key(k), key(k + 1), s)
        out: F64 = (1 - s) * key(k) + s * key(k + 1)
        return out


@dataclass(frozen=True)
class Channel:
    """One animated property: `node`'s `path`, driven by `sampler` (an index into the animation's samplers)."""

    node: int
    path: Path
    sampler: int


@dataclass
class NodePose:
    """What an animation sets on one node at one time; None where it leaves the node's own value."""

    translation: F64 | None = None
    rotation: F64 | None = None
    scale: F64 | None = None
    weights: F64 | None = None


@dataclass(frozen=True)
class Animation:
    name: str
    channels: tuple[Channel, ...]
    samplers: tuple[Sampler, ...]
    duration_s: float = field(default=0.0)
    """The last key time of any of its samplers."""

    def pose_at(self, t_s: float) -> dict[int, NodePose]:
        """The animated properties of every targeted node at `t_s` seconds (clamped to the keys)."""
        out: dict[int, NodePose] = {}
        for ch in self.channels:
            value = self.samplers[ch.sampler].sample(t_s, rotation=ch.path == "rotation")
            setattr(out.setdefault(ch.node, NodePose()), ch.path, value)
        return out
