"""The shape of a car as numbers: side- and plan-view curves, wheels, glazing; `curve` evaluates a curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render_node.assets._mesh import F64

Curve = tuple[tuple[float, float], ...]
"""Control points (s, value) of a side- or plan-view curve, s in [0, 1] from tail to nose."""


@dataclass(frozen=True)
class CarSpec:
    length_m: float
    width_m: float
    wheelbase_m: float
    front_axle_s: float
    wheel_radius_m: float
    rim_radius_m: float
    tyre_width_m: float
    track_m: float
    underside: Curve
    belt: Curve
    roof: Curve
    """Roof line; where it is at or below the beltline there is no cabin."""
    cabin_half_width: Curve
    windshield: tuple[float, float]
    """s range of the windscreen (top, base)."""
    rear_window: tuple[float, float]
    """s range of the rear screen (base, top)."""
    side_windows: tuple[float, float]
    pillars: tuple[float, ...]
    """s of the B (and C) pillars between side windows."""
    cladding: bool = False
    roof_rails: bool = False
    spokes: int = 5
    nose_round_m: float = 0.34
    tail_round_m: float = 0.26
    tumblehome: float = 0.09
    """How far the side glass leans in, per metre of glass height."""
    tailgate_glass: bool = False
    """The rear screen is an upright tailgate window (an SUV) rather than part of a sloping roof."""


def curve(points: Curve, s: F64) -> F64:
    xs, ys = zip(*points, strict=True)
    # smooth interpolation through the control points (monotone cubic)
    from scipy.interpolate import PchipInterpolator

    out: F64 = PchipInterpolator(np.array(xs), np.array(ys))(np.clip(s, 0, 1))
    return out
