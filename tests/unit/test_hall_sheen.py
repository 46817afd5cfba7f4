"""The velvet trays' baked sheen (render_node/hall/_sheen.py; docs/hall.md, "Velvet"): the Charlie lobe ported from
the PBR shader, and known answers on a velvet floor under one area light: seen from above it is about its diffuse
colour, at a grazing angle far brighter (sheen), where a material without sheen looks the same from everywhere;
and the built hall's trays brighten towards the customer's grazing view."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from render_node.hall import _materials
from render_node.hall._sheen import Sheen, sheen_albedo, sheen_dv, tray_eyes, with_sheen
from render_node.hall.bake import AreaLight, Occluders, bake_vertices, direct_light

VELVET = _materials.MATERIALS["velvet"]


def test_the_sheen_albedo_is_the_shaders_curve_small_facing_and_large_grazing() -> None:
    nv = np.array([1.0, 0.7, 0.4, 0.2, 0.05])
    e = sheen_albedo(nv, 0.55)
    assert np.all(np.diff(e) > 0)  # rises towards grazing
    # the three.js fit at roughness 0.55: exp(a nv + b) / pi with a = -8.48 r^2 + 14.3 r - 9.95, b = ...
    r = 0.55
    a, b = -8.48 * r * r + 14.3 * r - 9.95, 1.97 * r * r - 3.27 * r + 0.72
    assert e[0] == pytest.approx((np.exp(a + b) + 0.1 * (r - 0.25)) / np.pi, rel=1e-9)
    assert e[-1] > 4 * e[0]


def test_the_sheen_lobe_for_direct_light_peaks_across_the_surface() -> None:
    # the Charlie distribution is zero at the normal and grows as the half vector leaves it (fibres from the side)
    nl, nv = np.array([0.7, 0.7, 0.7]), np.array([0.7, 0.7, 0.7])
    normal, near, across = sheen_dv(nl, nv, np.array([1.0, 0.95, 0.3]), 0.55)
    assert normal == 0.0
    assert across > 3 * near > 0


def _floor() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    xs = np.linspace(-0.2, 0.2, 5)
    points = np.array([[x, 0.0, z] for x in xs for z in xs])
    return points, np.tile([0.0, 1.0, 0.0], (len(points), 1))


def _velvet(eye: tuple[float, float, float], sheen: Sheen | None) -> float:
    points, normals = _floor()
    lights = [AreaLight((0.0, 2.5, 0.0), (0.6, 0.6), (20.0, 20.0, 20.0))]
    occ = Occluders.of([])
    albedo = np.asarray(VELVET.albedo)[None, :]
    light, radiance = bake_vertices(points, normals, np.broadcast_to(albedo, points.shape), lights, occ)
    if sheen is None:
        return float(radiance.mean())
    eyes = np.tile(eye, (len(points), 1))
    out = with_sheen(points, normals, eyes, albedo, light, direct_light(points, normals, lights, occ), sheen, lights,
                     occ)
    return float(out.mean())


def test_velvet_brightens_towards_grazing_views_where_a_plain_fabric_does_not() -> None:
    assert VELVET.sheen is not None
    above, grazing = (0.0, 1.6, 0.0), (3.0, 0.35, 0.0)  # the eye straight above; about 7 degrees above the floor
    plain_above, plain_grazing = _velvet(above, None), _velvet(grazing, None)
    assert plain_grazing == pytest.approx(plain_above)  # a diffuse bake is the same from everywhere
    seen_above, seen_grazing = _velvet(above, VELVET.sheen), _velvet(grazing, VELVET.sheen)
    assert seen_above == pytest.approx(plain_above, rel=0.5)  # facing it: about its diffuse colour
    assert seen_grazing > 1.4 * seen_above  # at grazing angles the pile's sheen (1.6x)
    # the sheen takes the colour of the sheen, a paler red than the velvet
    points, normals = _floor()
    lights = [AreaLight((0.0, 2.5, 0.0), (0.6, 0.6), (20.0, 20.0, 20.0))]
    occ = Occluders.of([])
    light, _ = bake_vertices(points, normals, np.broadcast_to(VELVET.albedo, points.shape), lights, occ)
    rgb = with_sheen(points, normals, np.tile(grazing, (len(points), 1)), np.asarray(VELVET.albedo)[None, :], light,
                     direct_light(points, normals, lights, occ), VELVET.sheen, lights, occ).mean(axis=0)
    assert rgb[0] > rgb[1] and rgb[0] > rgb[2]
    assert rgb[1] / rgb[0] > VELVET.albedo[1] / VELVET.albedo[0]


def test_each_tray_point_is_seen_from_the_customer_in_front_of_its_own_tray() -> None:
    trays = [((-9.96, 0.9, -3.26), (-9.44, 0.91, -1.14)), ((-9.96, 0.9, 1.34), (-9.44, 0.91, 3.66))]
    eyes = tray_eyes(np.array([[-9.7, 0.91, -2.0], [-9.7, 0.91, 2.0]]), trays)
    assert eyes[0] == pytest.approx([-9.44 + 0.7, 1.6, -2.2])
    assert eyes[1] == pytest.approx([-9.44 + 0.7, 1.6, 2.5])


def test_the_halls_bake_gives_velvet_its_sheen_rising_towards_the_customers_grazing_view() -> None:
    from render_node.hall._mesh import Chunk
    from render_node.hall.build import bake_chunks
    from render_node.hall.layout import hall_plan

    plan = hall_plan()
    lo, hi = next((b.min_m, b.max_m) for b in plan.boxes if b.id == "case-jewellery-tray")
    xs, zs = np.linspace(lo[0], hi[0], 4), np.linspace(lo[2], hi[2], 12)
    points = np.array([[x, hi[1], z] for x in xs for z in zs])
    normals = np.tile([0.0, 1.0, 0.0], (len(points), 1))
    faces = np.zeros((0, 3), np.int64)
    uv = np.zeros((len(points), 2))
    # the same points as velvet and as a plain fabric in one bake (they share its lights and ambient light)
    velvet, fabric = bake_chunks(plan, [Chunk("velvet", points, normals, uv, faces),
                                        Chunk("fabric", points, normals, uv, faces)])
    plain = fabric / np.asarray(_materials.reflectance("fabric")) * np.asarray(VELVET.albedo)
    gain = velvet.sum(axis=1) / plain.sum(axis=1)  # the sheen's share, per point
    v = tray_eyes(points, [(lo, hi)]) - points
    grazing = 1 - v[:, 1] / np.linalg.norm(v, axis=1)
    # the lights' own lobes vary along the tray too (their positions), so a rank correlation, not a strict order
    assert np.corrcoef(np.argsort(np.argsort(gain)), np.argsort(np.argsort(grazing)))[0, 1] > 0.6
    order = np.argsort(grazing)
    quarter = len(order) // 4
    assert gain[order[-quarter:]].mean() > 1.2 * gain[order[:quarter]].mean()
    assert gain.min() > 1.2  # the sheen adds everywhere the customer looks at the tray from
