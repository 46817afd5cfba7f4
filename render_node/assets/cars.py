"""Cars at real size: a lofted body (smooth curved sections along the length, wheel arches, a cabin with
tumblehome), glass, head and tail lights, grille and sills, wheels with tyres, rims and brake discs, mirrors.

The body is a loft of cross-sections: at each station along the car (s = 0 at the tail, 1 at the nose) the
section is built from side-view curves (underside with wheel arches, beltline/hood line, roof line) and
plan-view curves (body half-width, cabin half-width); near nose and tail each section shrinks towards its own
centre, so the ends are blunt faces with rounded edges. Faces take their material from where they sit: window
openings are glass, pillars black trim, the lowest band black trim. Lamps, intakes and the SUV's tailgate
screen are separate bands projected onto the shell and lifted a few millimetres off it (smooth outlines, no
z-fighting). The cabin interior is the shell inset 5 cm. Front = +Z, wheels on Y = 0.

The spec is in `_car_spec.py`, the body in `_car_body.py`, lamps, wheels, mirrors and rails in `_car_parts.py`.
"""

from __future__ import annotations

import numpy as np

from render_node.assets._car_body import body_parts, loft
from render_node.assets._car_parts import lamps, mirrors, roof_rails, wheel
from render_node.assets._car_spec import CarSpec, Curve
from render_node.assets._mesh import Part

__all__ = ["SEDAN", "SUV", "CarSpec", "Curve", "car"]


SEDAN = CarSpec(
    length_m=4.85,
    width_m=1.88,
    wheelbase_m=2.90,
    front_axle_s=0.80,
    wheel_radius_m=0.345,
    rim_radius_m=0.24,
    tyre_width_m=0.245,
    track_m=1.60,
    underside=((0.0, 0.34), (0.04, 0.25), (0.12, 0.17), (0.5, 0.15), (0.9, 0.17), (0.97, 0.23), (1.0, 0.30)),
    belt=(
        (0.0, 0.82),
        (0.05, 0.94),
        (0.2, 0.97),
        (0.5, 0.94),
        (0.7, 0.91),
        (0.85, 0.86),
        (0.95, 0.80),
        (1.0, 0.72),
    ),
    roof=(
        (0.0, 0.7),
        (0.08, 0.96),
        (0.16, 1.02),
        (0.3, 1.36),
        (0.45, 1.46),
        (0.58, 1.42),
        (0.68, 1.12),
        (0.715, 0.86),
        (0.76, 0.55),
        (1.0, 0.3),
    ),
    cabin_half_width=((0.0, 0.6), (0.2, 0.66), (0.45, 0.72), (0.65, 0.74), (0.75, 0.8), (1.0, 0.8)),
    windshield=(0.575, 0.705),
    rear_window=(0.17, 0.33),
    side_windows=(0.3, 0.655),
    pillars=(0.47,),
)

SUV = CarSpec(
    length_m=4.72,
    width_m=1.93,
    wheelbase_m=2.81,
    front_axle_s=0.79,
    wheel_radius_m=0.37,
    rim_radius_m=0.245,
    tyre_width_m=0.255,
    track_m=1.64,
    underside=((0.0, 0.40), (0.04, 0.30), (0.1, 0.23), (0.5, 0.21), (0.9, 0.23), (0.97, 0.30), (1.0, 0.38)),
    belt=(
        (0.0, 1.02),
        (0.06, 1.12),
        (0.2, 1.12),
        (0.5, 1.07),
        (0.7, 1.05),
        (0.82, 1.03),
        (0.95, 0.99),
        (1.0, 0.9),
    ),
    roof=(
        (0.0, 1.0),
        (0.012, 1.40),
        (0.05, 1.60),
        (0.14, 1.67),
        (0.45, 1.70),
        (0.62, 1.665),
        (0.705, 1.30),
        (0.745, 1.02),
        (0.8, 0.6),
        (1.0, 0.4),
    ),
    cabin_half_width=((0.0, 0.76), (0.1, 0.77), (0.45, 0.79), (0.65, 0.79), (0.75, 0.84), (1.0, 0.84)),
    windshield=(0.61, 0.735),
    rear_window=(0.002, 0.032),
    side_windows=(0.075, 0.69),
    pillars=(0.43, 0.185),
    cladding=True,
    roof_rails=True,
    spokes=6,
    nose_round_m=0.26,
    tail_round_m=0.2,
    tumblehome=0.16,
    tailgate_glass=True,
)


def car(spec: CarSpec) -> list[Part]:
    parts, shell = body_parts(spec)
    parts += lamps(spec, shell)
    axles = (spec.front_axle_s, spec.front_axle_s - spec.wheelbase_m / spec.length_m)
    wheel_x = spec.track_m / 2
    for axle_s, axle in zip(axles, ("front", "rear"), strict=True):
        z = (axle_s - 0.5) * spec.length_m
        for side in (-1, 1):
            # facing forward (+Z) with +Y up, the car's left is +X
            where = f"{axle}-{'left' if side > 0 else 'right'}"
            for p in wheel(spec, side):
                p.mesh.apply_translation([side * wheel_x, spec.wheel_radius_m, z])
                parts.append(Part(p.mesh, p.material, f"{p.name}-{where}", p.crease_deg))
    # cabin interior: the shell inset a few centimetres, dark, so the eye does not see through the glass
    # (an inset copy cannot poke out through the screens or pillars)
    s_in = np.linspace(spec.rear_window[0] - 0.04, spec.windshield[1] + 0.04, 60)
    inner, _, _ = loft(spec, np.clip(s_in, 0.03, 0.97), inset_m=0.05)
    parts.append(Part(inner, "interior", "interior", crease_deg=30.0))
    parts += mirrors(spec)
    if spec.roof_rails:
        parts.append(roof_rails(spec))
    return parts
