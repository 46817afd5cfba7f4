"""Head-pose traces: the format of `../shared/vr-traces/` (Unity, w-first quaternions, ~60 Hz with gaps),
resampled to a headset rate by slerp, and a synthetic head motion with human speeds.

Orientations come out as WebXR quaternions (x, y, z, w): right-handed, +Y up, the camera looking along -Z.
Unity is left-handed with +Z forward; mirroring Z maps a rotation (x, y, z, w) to (-x, -y, z, w).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Quat = tuple[float, float, float, float]


@dataclass(frozen=True)
class PoseSample:
    t_s: float
    """Seconds from the start of the playback."""
    orientation_xyzw: Quat
    position_m: tuple[float, float, float]


def _normalise(q: Quat) -> Quat:
    n = math.sqrt(sum(c * c for c in q)) or 1.0
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def slerp(a: Quat, b: Quat, u: float) -> Quat:
    """Spherical linear interpolation of unit quaternions (x, y, z, w), the short way round."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if dot < 0:
        b = (-b[0], -b[1], -b[2], -b[3])
        dot = -dot
    if dot > 0.9995:
        return _normalise(tuple(x + u * (y - x) for x, y in zip(a, b, strict=True)))  # type: ignore[arg-type]
    theta = math.acos(min(1.0, dot))
    s = math.sin(theta)
    wa, wb = math.sin((1 - u) * theta) / s, math.sin(u * theta) / s
    return _normalise(tuple(wa * x + wb * y for x, y in zip(a, b, strict=True)))  # type: ignore[arg-type]


def load_trace(path: Path) -> tuple[list[float], list[Quat]]:
    """(times in seconds, WebXR orientations) of a trace file; the header line and malformed lines are skipped."""
    times: list[float] = []
    quats: list[Quat] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            t, w, x, y, z = float(parts[0]), float(parts[2]), float(parts[3]), float(parts[4]), float(parts[5])
        except ValueError:
            continue
        if times and t <= times[-1]:
            continue
        times.append(t)
        quats.append(_normalise((-x, -y, z, w)))
    if len(times) < 2:
        raise ValueError(f"{path} holds fewer than two poses")
    return times, quats


def rotate(q: Quat, v: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z, w = q
    vx, vy, vz = v
    # v' = v + 2 w (q x v) + 2 q x (q x v)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    ccx, ccy, ccz = y * cz - z * cy, z * cx - x * cz, x * cy - y * cx
    return (vx + 2 * (w * cx + ccx), vy + 2 * (w * cy + ccy), vz + 2 * (w * cz + ccz))


def orbit_position(q: Quat, distance_m: float, target_m: tuple[float, float, float]) -> tuple[float, float, float]:
    """Where a camera with orientation `q` sits to look at `target_m` from `distance_m` (it looks along -Z)."""
    back = rotate(q, (0.0, 0.0, distance_m))
    return (target_m[0] + back[0], target_m[1] + back[1], target_m[2] + back[2])


def resample(times: Sequence[float], quats: Sequence[Quat], hz: float, seconds: float, *, start_s: float = 0.0,
             distance_m: float = 0.35, target_m: tuple[float, float, float] = (0.0, 0.02, 0.0)
             ) -> list[PoseSample]:
    """`seconds` of the trace from `start_s`, at `hz`, by slerp between neighbours (looping past the end).

    The head looks at the product: its position orbits `target_m` at `distance_m` (a turntable driven by
    real head motion), so every frame shows the product the way a viewer walking round it would see it.
    """
    duration = times[-1] - times[0]
    out: list[PoseSample] = []
    j = 0
    n = max(1, round(seconds * hz))
    for i in range(n):
        t_play = i / hz
        t = times[0] + ((start_s + t_play) % duration)
        if t < times[j]:
            j = 0
        while j + 2 < len(times) and times[j + 1] < t:
            j += 1
        t0, t1 = times[j], times[j + 1]
        u = 0.0 if t1 <= t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        q = slerp(quats[j], quats[j + 1], u)
        out.append(PoseSample(t_play, q, orbit_position(q, distance_m, target_m)))
    return out


def _axis_angle(axis: tuple[float, float, float], angle_rad: float) -> Quat:
    s = math.sin(angle_rad / 2)
    return (axis[0] * s, axis[1] * s, axis[2] * s, math.cos(angle_rad / 2))


def quat_mul(a: Quat, b: Quat) -> Quat:
    """The product a * b of two (x, y, z, w) quaternions: b first, then a."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


def synthetic_motion(hz: float, seconds: float, *, distance_m: float = 0.35,
                     target_m: tuple[float, float, float] = (0.0, 0.02, 0.0)) -> list[PoseSample]:
    """A head looking round the product: yaw sweeps +-70 deg (peaks ~150 deg/s), pitch nods 0-30 deg."""
    out = []
    for i in range(max(1, round(seconds * hz))):
        t = i / hz
        yaw = math.radians(70) * math.sin(2 * math.pi * 0.33 * t)
        pitch = -math.radians(15 + 15 * math.sin(2 * math.pi * 0.21 * t))
        q = quat_mul(_axis_angle((0, 1, 0), yaw), _axis_angle((1, 0, 0), pitch))
        out.append(PoseSample(t, q, orbit_position(q, distance_m, target_m)))
    return out
