"""The hall's light bake (numpy, no GL) against known answers, and the geometry it is baked on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from render_node.hall import _scene, build
from render_node.hall._mesh import Solid, box_chunk, breaks, cull_buried
from render_node.hall.bake import (
    AreaLight,
    BakeParams,
    Occluders,
    ambient_occlusion,
    direct_light,
    hemisphere_directions,
    segments_blocked,
)
from render_node.hall.layout import hall_plan

UP = np.array([[0.0, 1.0, 0.0]])
LIGHT = AreaLight((0.0, 3.0, 0.0), (1.0, 1.0), (10.0, 10.0, 10.0))
ROOM = [((-5.0, -0.1, -5.0), (5.0, 0.0, 5.0))]  # a floor slab
TABLE = ((-0.6, 0.7, -0.6), (0.6, 0.75, 0.6))


def test_a_floor_point_under_a_box_is_darker_than_one_in_the_open() -> None:
    occ = Occluders.of([*ROOM, TABLE])
    points = np.array([[0.0, 0.0, 0.0], [2.5, 0.0, 0.0]])
    lit = direct_light(points, np.repeat(UP, 2, axis=0), [LIGHT], occ)
    assert lit[0].max() == 0.0  # the table hides the whole panel from the point under its middle
    assert lit[1].min() > 0.05
    ao = ambient_occlusion(points, np.repeat(UP, 2, axis=0), occ)
    assert ao[0] < ao[1]


def test_direct_light_from_a_small_panel_is_radiance_times_solid_angle_cosines() -> None:
    small = AreaLight((0.0, 2.0, 0.0), (0.02, 0.02), (5.0, 5.0, 5.0))
    occ = Occluders.of(ROOM)
    points = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    e_over_pi = direct_light(points, np.repeat(UP, 2, axis=0), [small], occ)
    # E = L * A * cos * cos / r^2; the bake returns E / pi.
    for p, e in zip(points, e_over_pi, strict=True):
        r = 2.0 - p[1]
        assert e[0] == pytest.approx(5.0 * 0.02 * 0.02 / (r * r) / math.pi, rel=0.02)
    assert e_over_pi[1, 0] / e_over_pi[0, 0] == pytest.approx(4.0, rel=0.02)  # half the distance: four times


def test_a_point_facing_away_from_a_light_gets_no_direct_light_from_it() -> None:
    occ = Occluders.of([])
    points = np.array([[0.0, 1.0, 0.0], [3.0, 1.0, 0.0], [0.0, 3.5, 0.0]])
    normals = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    lit = direct_light(points, normals, [LIGHT], occ)
    assert np.all(lit == 0.0)  # facing down; facing away sideways; above the panel (which shines downwards)
    assert direct_light(points[1:2], np.array([[-1.0, 0.0, 0.0]]), [LIGHT], occ)[0, 0] > 0


def test_ambient_occlusion_in_an_inside_corner_is_less_than_in_the_open() -> None:
    walls = [((-5.0, 0.0, -5.2), (5.0, 3.0, -5.0)), ((-5.2, 0.0, -5.0), (-5.0, 3.0, 5.0))]
    occ = Occluders.of([*ROOM, *walls])
    points = np.array([[-4.95, 0.0, -4.95], [-4.95, 0.0, 0.0], [0.0, 0.0, 0.0]])
    ao = ambient_occlusion(points, np.repeat(UP, 3, axis=0), occ)
    corner, edge, open_ = ao
    assert corner < edge < open_
    assert open_ == pytest.approx(1.0)
    assert corner < 0.8


def test_a_shadow_ray_is_blocked_by_a_turntable_but_passes_over_it() -> None:
    occ = Occluders.of([], [(0.0, 0.0, 1.0, 0.0, 0.12)])
    origins = np.array([[-2.0, 0.05, 0.0], [-2.0, 0.3, 0.0], [0.0, 0.05, 0.0]])
    deltas = np.array([[[4.0, 0.0, 0.0]], [[4.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])
    assert segments_blocked(origins, deltas, occ)[:, 0].tolist() == [True, False, True]  # inside counts as blocked


def test_the_hemisphere_rays_are_cosine_weighted_and_above_the_surface() -> None:
    d = hemisphere_directions(256)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    assert d[:, 2].min() > 0
    assert d[:, 2].mean() == pytest.approx(2 / 3, abs=0.02)  # E[cos] under a cosine-weighted pdf


def test_a_face_grid_has_lines_on_the_edges_of_the_boxes_that_touch_it() -> None:
    floor = Solid("floor", (-2.0, -0.05, -2.0), (2.0, 0.0, 2.0), "floor", step_m=0.5)
    table = Solid("table", (-0.33, 0.0, 0.21), (0.47, 0.7, 0.93), "wood")
    chunk = box_chunk(floor, [floor, table], (-2.0, 0.0, -2.0), (2.0, 4.0, 2.0), 1.0)
    assert chunk is not None
    assert np.allclose(chunk.normals, [0, 1, 0])  # only the top: the sides and bottom are outside the room
    xs, zs = set(np.round(chunk.positions[:, 0], 4)), set(np.round(chunk.positions[:, 2], 4))
    assert {-0.33, 0.47} <= xs and {0.21, 0.93} <= zs
    kept = cull_buried(chunk, [table], [])
    assert kept.triangles < chunk.triangles  # the floor under the table is gone
    centre = kept.positions[kept.faces].mean(axis=1)
    under = (centre[:, 0] > -0.33) & (centre[:, 0] < 0.47) & (centre[:, 2] > 0.21) & (centre[:, 2] < 0.93)
    assert not under.any()
    assert np.all(np.diff(breaks(0.0, 1.0, 0.3, [0.5])) <= 0.3 + 1e-9)


def test_the_hall_geometry_is_modest_and_every_triangle_faces_its_normal() -> None:
    chunks = _scene.hall_chunks(hall_plan())
    triangles = sum(c.triangles for c in chunks)
    assert 20_000 < triangles < 150_000
    for c in chunks:
        tri = c.positions[c.faces]
        geo = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        assert np.all(np.sum(geo * c.normals[c.faces[:, 0]], axis=1) > 0), c.material
    materials = {c.material for c in chunks}
    assert {"floor", "wall", "ceiling", "wood", "glass", "brass", "light", "ruler", "turntable"} <= materials
    assert {f"sign:{s.id}" for s in hall_plan().signs} <= materials


def test_the_fingerprint_follows_the_bake_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    before = build.hall_fingerprint()
    assert build.hall_fingerprint() == before
    monkeypatch.setattr(build, "BAKE", BakeParams(ao_rays=8))
    assert build.hall_fingerprint() != before
