"""The guide's animations, sampled from pose functions at a fixed rate (LINEAR keys):

- `idle` (8 s loop): breathing, two blinks (morph weights), small turns of the head, hands held in front;
- `talk` (4 s loop): breathing in the chest and shoulders only; the neck takes the chest's motion back, so the
  Neck and Head world transforms stay those of t = 0 (the portrait's mouth and eye patches line up);
- `welcome` (2.5 s): the right hand rises to chest height, open palm to the guest, and comes back to the talk pose;
- `point` (3 s): the right arm shows the way to the character's right at counter height, holds, comes back;
- `walk` (1 s loop, in place): legs, counter-swinging arms, a small bob of the hips.
Head constant (talk, welcome, point): nothing above the chest moves in those clips but the neck's compensation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.guide.character.rig import NAMES, PARENT, WORLD, local_translation

F64 = npt.NDArray[np.float64]
Quat = F64

FPS = 24


def quat(axis: tuple[float, float, float] | F64, deg: float) -> Quat:
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    h = math.radians(deg) / 2
    return np.array([*(a * math.sin(h)), math.cos(h)])


def qmul(a: Quat, b: Quat) -> Quat:
    x1, y1, z1, w1 = a
    x2, y2, z2, w2 = b
    return np.array([w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2])


def qinv(q: Quat) -> Quat:
    return np.array([-q[0], -q[1], -q[2], q[3]])


def qmat(q: Quat) -> F64:
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def mat_quat(m: F64) -> Quat:
    t = np.trace(m)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = np.array([0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s])
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = np.array([(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s])
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = np.array([(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s])
    return np.asarray(q / np.linalg.norm(q))


def _frame(a: F64, hint: F64) -> F64:
    """Orthonormal columns [a, b, a x b] with b the part of `hint` across `a`."""
    a = a / np.linalg.norm(a)
    b = hint - a * (hint @ a)
    b = b / np.linalg.norm(b)
    return np.asarray(np.stack([a, b, np.cross(a, b)], axis=1))


def smooth(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


@dataclass
class Pose:
    """Local rotations (and a few translations / scales) of the joints at one instant; the rest elsewhere."""

    rot: dict[str, Quat]
    trans: dict[str, F64]
    scale: dict[str, F64]

    @classmethod
    def rest(cls) -> Pose:
        return cls({}, {}, {})

    def world_rot(self, name: str) -> F64:
        m = np.eye(3)
        chain = []
        n: str | None = name
        while n is not None:
            chain.append(n)
            n = PARENT[n]
        for j in reversed(chain):
            m = m @ qmat(self.rot.get(j, np.array([0, 0, 0, 1.0])))
        return m

    def world_pos(self, name: str) -> F64:
        """Where a joint is (scales are ignored: only the neck's compensation uses them)."""
        chain = []
        n: str | None = name
        while n is not None:
            chain.append(n)
            n = PARENT[n]
        pos, m = np.zeros(3), np.eye(3)
        for j in reversed(chain):
            pos = pos + m @ self.trans.get(j, local_translation(j))
            m = m @ qmat(self.rot.get(j, np.array([0, 0, 0, 1.0])))
        return pos

    def set_world_rot(self, name: str, world: F64) -> None:
        parent = PARENT[name]
        pw = self.world_rot(parent) if parent else np.eye(3)
        self.rot[name] = mat_quat(pw.T @ world)


def arm_ik(pose: Pose, side: str, wrist: F64, elbow_hint: F64, roll_deg: float = 0.0,
           hand_bend: tuple[F64, float] | None = None) -> None:
    """Puts `side`'s arm so its wrist is at `wrist` (world), the elbow bending towards `elbow_hint`; `roll_deg`
    turns the forearm about itself (palm up/down), `hand_bend` (axis in the forearm's frame, deg) bends the wrist."""
    s0, e0, w0 = WORLD[f"{side}UpperArm"], WORLD[f"{side}LowerArm"], WORLD[f"{side}Hand"]
    l1, l2 = float(np.linalg.norm(e0 - s0)), float(np.linalg.norm(w0 - e0))
    s = pose.world_pos(f"{side}UpperArm")
    to = wrist - s
    d = min(float(np.linalg.norm(to)), (l1 + l2) * 0.999)
    u = to / np.linalg.norm(to)
    a = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))
    pole = elbow_hint - u * (elbow_hint @ u)
    pole /= np.linalg.norm(pole)
    elbow = s + u * a + pole * h
    w = s + u * d
    back = np.array([0.0, 0.0, -1.0])
    rest_upper = _frame(e0 - s0, back)
    rest_lower = _frame(w0 - e0, back)
    upper = _frame(elbow - s, pole)
    lower = _frame(w - elbow, pole)
    r_upper = upper @ rest_upper.T
    r_lower = lower @ rest_lower.T
    if roll_deg:
        r_lower = qmat(quat(w - elbow, roll_deg)) @ r_lower
    pose.set_world_rot(f"{side}UpperArm", r_upper)
    pose.set_world_rot(f"{side}LowerArm", r_lower)
    if hand_bend is not None:
        pose.rot[f"{side}Hand"] = quat(hand_bend[0], hand_bend[1])


# --- the poses -------------------------------------------------------------------------------------------------

def breathe(pose: Pose, t: float, period_s: float, depth: float = 1.0) -> None:
    """Chest rises and widens, the shoulders lift; the neck takes it back (Neck and Head stay put)."""
    b = 0.5 - 0.5 * math.cos(2 * math.pi * t / period_s)
    dy = 0.0022 * b * depth
    sc = np.array([1.0 + 0.012 * b * depth, 1.0, 1.0 + 0.016 * b * depth])
    chest_t = local_translation("Chest") + np.array([0.0, dy, 0.0])
    pose.trans["Chest"] = chest_t
    pose.scale["Chest"] = sc
    neck = local_translation("Neck")
    pose.trans["Neck"] = (neck - np.array([0.0, dy, 0.0])) / sc
    pose.scale["Neck"] = 1.0 / sc
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        pose.rot[f"{side}Shoulder"] = quat((0.0, 0.0, 1.0), 1.1 * b * depth * sx)
        pose.trans[f"{side}Shoulder"] = local_translation(f"{side}Shoulder") / sc
        pose.scale[f"{side}Shoulder"] = 1.0 / sc


def hands_held(pose: Pose, t: float = 0.0) -> None:
    """The host's rest: forearms forward, hands together in front of the waist, left over right."""
    arm_ik(pose, "Left", np.array([0.05, 0.985, 0.128]), np.array([0.6, -0.2, -1.0]), roll_deg=-60.0,
           hand_bend=(np.array([0.0, 0.0, 1.0]), 28.0))
    arm_ik(pose, "Right", np.array([-0.05, 0.975, 0.118]), np.array([-0.6, -0.2, -1.0]), roll_deg=60.0,
           hand_bend=(np.array([0.0, 0.0, 1.0]), -28.0))


def talk_pose(t: float) -> Pose:
    p = Pose.rest()
    breathe(p, t, 4.0)
    hands_held(p)
    return p


def idle_pose(t: float) -> Pose:
    p = Pose.rest()
    breathe(p, t, 4.0)
    hands_held(p)
    # small head turns: look a little left, back, a little right, back; a slight nod
    yaw = 5.0 * math.sin(2 * math.pi * t / 8.0) + 1.5 * math.sin(2 * math.pi * t / 4.0)
    pitch = 1.5 * math.sin(2 * math.pi * t / 8.0 + 1.0)
    p.rot["Neck"] = qmul(quat((0, 1, 0), yaw * 0.4), quat((1, 0, 0), pitch * 0.4))
    p.rot["Head"] = qmul(quat((0, 1, 0), yaw * 0.6), quat((1, 0, 0), pitch * 0.6))
    return p


def welcome_pose(t: float) -> Pose:
    """The right hand rises to chest height in front of the body, the open palm towards the guest, and goes back;
    the left stays at the waist."""
    p = talk_pose(t)
    rest = p.world_pos("RightHand")
    k = smooth(t / 0.7) * (1 - smooth((t - 1.6) / 0.85))
    raised = np.array([-0.13, 1.21, 0.17])
    wrist = rest * (1 - k) + raised * k
    roll = 60.0 * (1 - k) + WELCOME_ROLL_DEG * k
    bend = -28.0 * (1 - k) + WELCOME_BEND_DEG * k
    arm_ik(p, "Right", wrist, np.array([-0.6, -1.0, -0.3]), roll_deg=roll,
           hand_bend=(np.array([0.0, 0.0, 1.0]), bend))
    return p


WELCOME_ROLL_DEG = -75.0
WELCOME_BEND_DEG = -60.0


def point_pose(t: float) -> Pose:
    p = talk_pose(t)
    rest = p.world_pos("RightHand")
    k = smooth(t / 0.8) * (1 - smooth((t - 2.0) / 0.9))
    target = np.array([-0.52, 1.08, 0.2])
    wrist = rest * (1 - k) + target * k
    roll = 60.0 * (1 - k) + 100.0 * k
    bend = -28.0 * (1 - k) + 8.0 * k
    arm_ik(p, "Right", wrist, np.array([-0.5, -0.6, -1.0]), roll_deg=roll, hand_bend=(np.array([0.0, 0.0, 1.0]), bend))
    return p


def walk_pose(t: float) -> Pose:
    p = Pose.rest()
    ph = 2 * math.pi * t / 1.0
    for side, sgn in (("Left", 1.0), ("Right", -1.0)):
        swing = 22.0 * math.sin(ph) * sgn  # + forward
        knee = 6.0 + 42.0 * max(0.0, -math.sin(ph + (0.0 if sgn > 0 else math.pi) - 0.6)) ** 2
        p.rot[f"{side}UpperLeg"] = quat((1, 0, 0), -swing)
        p.rot[f"{side}LowerLeg"] = quat((1, 0, 0), knee)
        p.rot[f"{side}Foot"] = quat((1, 0, 0), -0.5 * knee + 0.3 * swing)
        arm = -14.0 * math.sin(ph) * sgn
        p.rot[f"{side}UpperArm"] = qmul(quat((0, 0, 1), 4.0 * sgn), quat((1, 0, 0), -arm))
        p.rot[f"{side}LowerArm"] = quat((1, 0, 0), -12.0 - 6.0 * max(0.0, math.sin(ph) * sgn))
    bob = 0.012 * math.cos(2 * ph)
    p.trans["Hips"] = local_translation("Hips") + np.array([0.0, -0.012 + bob, 0.0])
    p.rot["Hips"] = qmul(quat((0, 1, 0), 4.0 * math.sin(ph)), quat((0, 0, 1), 1.5 * math.cos(ph)))
    p.rot["Spine"] = quat((0, 1, 0), -3.0 * math.sin(ph))
    p.rot["Chest"] = quat((0, 1, 0), -2.5 * math.sin(ph))
    p.rot["Head"] = quat((0, 1, 0), 1.5 * math.sin(ph))
    return p


@dataclass(frozen=True)
class Clip:
    name: str
    duration_s: float
    pose: Callable[[float], Pose]
    blinks: tuple[float, ...] = ()
    """Times a blink peaks (both eyes; weights keys)."""


CLIPS = (
    Clip("idle", 8.0, idle_pose, blinks=(2.25, 5.875)),  # on keys (FPS)
    Clip("talk", 4.0, talk_pose),
    Clip("welcome", 2.5, welcome_pose),
    Clip("point", 3.0, point_pose),
    Clip("walk", 1.0, walk_pose),
)


@dataclass(frozen=True)
class Track:
    joint: str
    path: str
    times_s: F64
    values: F64


def blink_weight(t: float, peaks: tuple[float, ...]) -> float:
    w = 0.0
    for c in peaks:
        d = t - c
        if -0.08 <= d <= 0.0:
            w = max(w, 1 + d / 0.08)
        elif 0.0 < d <= 0.14:
            w = max(w, 1 - d / 0.14)
    return w


def sample(clip: Clip) -> list[Track]:
    """Every joint's translation, rotation and scale keys, at FPS (the last key on the clip's end)."""
    n = round(clip.duration_s * FPS) + 1
    times = np.linspace(0.0, clip.duration_s, n)
    poses = [clip.pose(float(t)) for t in times]
    tracks = []
    for j in NAMES:
        rot = np.array([p.rot.get(j, np.array([0, 0, 0, 1.0])) for p in poses])
        for i in range(1, len(rot)):  # keep the shorter arc between keys
            if rot[i] @ rot[i - 1] < 0:
                rot[i] = -rot[i]
        tracks.append(Track(j, "rotation", times, rot))
        tr = np.array([p.trans.get(j, local_translation(j)) for p in poses])
        if np.ptp(tr, axis=0).max() > 1e-9:
            tracks.append(Track(j, "translation", times, tr))
        sc = np.array([p.scale.get(j, np.ones(3)) for p in poses])
        if np.ptp(sc, axis=0).max() > 1e-9:
            tracks.append(Track(j, "scale", times, sc))
    return tracks


def blink_keys(clip: Clip) -> tuple[F64, F64] | None:
    """(times, weights of eyeBlinkLeft/Right per key) for a clip that blinks; None for one that does not."""
    if not clip.blinks:
        return None
    n = round(clip.duration_s * FPS) + 1
    times = np.linspace(0.0, clip.duration_s, n)
    return times, np.array([blink_weight(float(t), clip.blinks) for t in times])

