"""The face's morph targets: the 15 Oculus visemes and the ARKit blinks, as vertex offsets of the `Face` mesh.

Each viseme is a mix of a few moves of the mouth, every one a smooth field over the rest-pose head:
- `jaw(deg)`: the lower face (below the mouth line, fading at the cheeks and the throat), the lower teeth and the
  tongue turn down about `head.JAW_PIVOT`;
- `close`: the lips meet on the mouth line (PP presses them);
- `spread` / `pucker`: the corners go out and up (E, ih) or in, with the lips forward (oh, ou);
- `raise_upper`, `tuck_lower`: the upper lip lifts off the teeth; the lower lip rolls under the upper teeth (FF).
Blinks slide each eye's upper lid down (and the lower one up) on its sphere until their edges meet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.guide.character import head
from render_node.guide.character.sdf import smoothstep

F64 = npt.NDArray[np.float64]

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
TARGET_NAMES = (*(f"viseme_{v}" for v in VISEMES), "eyeBlinkLeft", "eyeBlinkRight")
AA_JAW_DEG = 12.0
"""How far viseme_aa opens the jaw (the tests measure the lower lip's drop against it)."""


@dataclass(frozen=True)
class Mix:
    jaw_deg: float = 0.0
    close: float = 0.0
    spread: float = 0.0
    pucker: float = 0.0
    raise_upper_m: float = 0.0
    tuck_lower: float = 0.0
    tongue_out_m: float = 0.0


MIXES: dict[str, Mix] = {
    "sil": Mix(),
    "PP": Mix(close=1.0, pucker=0.08),
    "FF": Mix(jaw_deg=2.0, tuck_lower=1.0, raise_upper_m=0.0012),
    "TH": Mix(jaw_deg=4.0, tongue_out_m=0.011, spread=0.1),
    "DD": Mix(jaw_deg=5.0, spread=0.15, raise_upper_m=0.0006),
    "kk": Mix(jaw_deg=6.0, spread=0.2, raise_upper_m=0.0005),
    "CH": Mix(jaw_deg=3.0, pucker=0.55, raise_upper_m=0.0012),
    "SS": Mix(jaw_deg=1.5, spread=0.4, raise_upper_m=0.0012),
    "nn": Mix(jaw_deg=4.0, spread=0.12),
    "RR": Mix(jaw_deg=4.0, pucker=0.45),
    "aa": Mix(jaw_deg=AA_JAW_DEG, raise_upper_m=0.0014, spread=0.05),
    "E": Mix(jaw_deg=6.5, spread=0.5, raise_upper_m=0.0012),
    "ih": Mix(jaw_deg=4.0, spread=0.42, raise_upper_m=0.0008),
    "oh": Mix(jaw_deg=9.0, pucker=0.55),
    "ou": Mix(jaw_deg=5.0, pucker=0.9),
}


def _rot_x(p: F64, pivot: F64, angle: F64) -> F64:
    """Points turned about the x axis through `pivot` by per-point `angle` (rad; positive opens the jaw)."""
    q = p - pivot
    c, s = np.cos(angle), np.sin(angle)
    y = q[:, 1] * c - q[:, 2] * s
    z = q[:, 1] * s + q[:, 2] * c
    return np.stack([p[:, 0], y + pivot[1], z + pivot[2]], axis=1)


def jaw_weight(p: F64) -> F64:
    """How much of the jaw's turn a skin point takes: 1 on the chin and lower lip, 0 above the mouth line, the
    change spread wider past the mouth's corners; fading towards the ears and down the throat."""
    x, y, z = np.abs(p[:, 0]), p[:, 1], p[:, 2]
    beyond = np.maximum(x - head.MOUTH_HALF_WIDTH * 0.9, 0.0)
    half = 0.0012 + 0.9 * beyond
    centre = head.mouth_line(np.minimum(x, head.MOUTH_HALF_WIDTH * 0.9)) - 0.6 * beyond
    w = smoothstep(centre + half, centre - half, y)
    w = w * smoothstep(-0.035, 0.03, z)
    throat = smoothstep(1.4, 1.452, y + 0.35 * np.maximum(z - 0.02, 0.0))
    return np.asarray(w * throat)


def _mouth_region(p: F64, rx: float = 0.03, ry: float = 0.016) -> F64:
    x, y = p[:, 0], p[:, 1] - head.mouth_line(p[:, 0])
    return np.asarray(np.exp(-((x / rx) ** 2 + (y / ry) ** 2)) * smoothstep(0.045, 0.07, p[:, 2]))


def _lip_band(p: F64, upper: bool) -> F64:
    """1 on the upper (lower) lip near the mouth line, fading over 1.6 cm up (down) and past the corners."""
    dy = p[:, 1] - head.mouth_line(p[:, 0])
    side = dy > 0 if upper else dy <= 0
    v = smoothstep(0.017, 0.005, np.abs(dy))
    h = smoothstep(head.MOUTH_HALF_WIDTH + 0.008, head.MOUTH_HALF_WIDTH - 0.004, np.abs(p[:, 0]))
    d = smoothstep(0.05, 0.066, p[:, 2])
    return np.asarray(np.where(side, v * h * d, 0.0))


def skin_delta(p: F64, m: Mix) -> F64:
    """The offsets `(n, 3)` of the head's skin points `p` for the mix `m`."""
    out = np.zeros_like(p)
    if m.close:
        gap = head.SLIT_HALF_M + 0.00045
        out[:, 1] += m.close * gap * (_lip_band(p, False) - _lip_band(p, True))
        out[:, 2] -= m.close * 0.0008 * (_lip_band(p, False) + _lip_band(p, True))
    if m.spread or m.pucker:
        r = _mouth_region(p)
        u = p[:, 0] / head.MOUTH_HALF_WIDTH
        out[:, 0] += (m.spread * 0.0048 - m.pucker * 0.0062) * np.clip(u, -1.6, 1.6) * r
        out[:, 1] += m.spread * 0.0018 * np.clip(u * u, 0, 1.5) * r
        out[:, 2] -= m.spread * 0.0022 * np.clip(u * u, 0, 1.5) * r
        lips = np.exp(-((p[:, 0] / 0.022) ** 2 + ((p[:, 1] - head.mouth_line(p[:, 0])) / 0.009) ** 2))
        lips *= smoothstep(0.06, 0.075, p[:, 2])
        out[:, 2] += m.pucker * 0.0045 * lips
        # rounded lips: the middle of the opening bulges open a little
        out[:, 1] += m.pucker * 0.0012 * (_lip_band(p, True) - _lip_band(p, False)) * (1 - np.clip(u * u, 0, 1))
    if m.raise_upper_m:
        out[:, 1] += m.raise_upper_m * _lip_band(p, True)
    if m.tuck_lower:
        band = _lip_band(p, False)
        out[:, 1] += m.tuck_lower * 0.0042 * band
        out[:, 2] -= m.tuck_lower * 0.0048 * band
    if m.jaw_deg:
        moved = _rot_x(p + out, head.JAW_PIVOT, np.radians(m.jaw_deg) * jaw_weight(p))
        out = moved - p
    return out


def rigid_jaw_delta(p: F64, m: Mix, lower: F64, tongue: bool = False) -> F64:
    """Offsets of teeth or tongue points: the `lower` ones (0..1) turn with the jaw; the tongue can come forward."""
    q = p.copy()
    if tongue and m.tongue_out_m:
        q[:, 2] += m.tongue_out_m
        q[:, 1] += m.tongue_out_m * 0.25
    moved = _rot_x(q, head.JAW_PIVOT, np.radians(m.jaw_deg) * lower)
    return moved - p


def lid_delta(shell: head.Shell, side: str) -> F64:
    """The blink of one eye: its lids' vertices slide on their spheres so both edges reach the meeting line."""
    assert shell.phi_deg is not None and shell.lam_deg is not None and shell.radius is not None
    assert shell.lid_index is not None
    out = np.zeros_like(shell.surface.positions)
    frame = head._eye_frame(side)
    centre = head.EYES[side]
    for which in ("upper", "lower"):
        sel = shell.lid_index == head.LID_CODES.index((side, which))
        phi, lam, rad = shell.phi_deg[sel], shell.lam_deg[sel], shell.radius[sel]
        lat = lam * (1.0 if side == "Left" else -1.0)
        edge, meet = head.lid_edge_deg(lat, which), head.blink_edge_deg(lat)
        end = head.LID_TOP_DEG * (1.0 if which == "upper" else -1.0)
        # between the edge and the far end: stretched linearly; the rim (beyond the edge) shifted
        t = (phi - edge) / (end - edge)
        beyond = t < 0
        new_phi = np.where(beyond, phi - edge + meet, meet + t * (end - meet))
        d = head.eye_direction(np.radians(new_phi), np.radians(lam))
        out[sel] = (d * rad[:, None]) @ frame.T + centre - shell.surface.positions[sel]
    return out


Delta = Callable[[str], F64 | None]
