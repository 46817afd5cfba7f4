"""The round brilliant's geometry (facets, angles, proportions, a closed convex solid), the stones' optics, and the
facet planes the renderer traces light against."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from render_node.assets.gems import (
    GEMS,
    IDEAL,
    brilliant_vertices,
    facet_planes,
    gem_of,
    material_for,
    round_brilliant,
)
from render_node.render.scene import gem_iors, gem_planes


def _tilts_deg(planes: np.ndarray) -> np.ndarray:
    """Each facet's angle to the girdle plane, signed: crown facets positive, pavilion facets negative."""
    return np.sign(planes[:, 1]) * np.degrees(np.arccos(np.clip(np.abs(planes[:, 1]), 0, 1)))


def test_a_brilliant_has_the_57_facets_of_the_cut_and_a_faceted_girdle() -> None:
    planes = facet_planes(brilliant_vertices(1.0))
    tilts = np.round(_tilts_deg(planes) * 4) / 4  # to a quarter degree
    crown, pavilion = tilts[planes[:, 1] > 1e-6], tilts[planes[:, 1] < -1e-6]
    girdle = np.abs(planes[:, 1]) <= 1e-6
    assert np.sum(crown == 0.0) == 1  # the table
    assert sorted(np.unique(crown, return_counts=True)[1].tolist()) == [1, 8, 8, 16]  # table, star, bezel, upper girdle
    assert sorted(np.unique(pavilion, return_counts=True)[1].tolist()) == [8, 16]  # pavilion mains, lower girdle
    assert len(crown) + len(pavilion) == 57
    assert girdle.sum() == 16


def test_a_brilliants_angles_and_proportions_are_the_ideal_cuts() -> None:
    d = 1.0
    v = brilliant_vertices(d)
    tilts = _tilts_deg(facet_planes(v))
    assert np.any(np.isclose(tilts, IDEAL.crown_angle_deg, atol=0.01))  # bezel facets
    assert np.any(np.isclose(tilts, -IDEAL.pavilion_angle_deg, atol=0.01))  # pavilion mains
    table = v[v[:, 1] == v[:, 1].max()]
    assert 2 * np.linalg.norm(table[:, [0, 2]], axis=1).max() == pytest.approx(0.56 * d)
    girdle_y = v[np.isclose(np.linalg.norm(v[:, [0, 2]], axis=1), d / 2)][:, 1]
    crown_h, pavilion_d = v[:, 1].max() - girdle_y.max(), girdle_y.min() - v[:, 1].min()
    assert 0.14 < crown_h < 0.165  # 15 % crown height
    assert 0.425 < pavilion_d < 0.435  # 43 % pavilion depth
    assert 0.59 < v[:, 1].max() - v[:, 1].min() < 0.63  # total depth about 60 %
    assert girdle_y.max() - girdle_y.min() == pytest.approx(0.02 * d)  # a thin girdle


def test_a_brilliant_is_a_closed_convex_solid_with_flat_facets() -> None:
    mesh = round_brilliant(4.3)
    welded = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert welded.is_watertight and welded.is_convex
    assert welded.volume == pytest.approx(trimesh.convex.convex_hull(mesh.vertices).volume)
    # 0.30 ct at 3.52 g/cm3 is 0.017 cm3 for a 4.3 mm stone; the model is within 10 %
    assert welded.volume * 1e6 == pytest.approx(0.3 * 0.2 / 3.52, rel=0.1)
    # every corner of a triangle carries the triangle's own normal (a flat facet)
    normals = np.asarray(mesh.vertex_normals)[np.asarray(mesh.faces)]
    assert np.allclose(normals, np.asarray(mesh.face_normals)[:, None, :], atol=1e-6)


def test_the_renderer_finds_the_stones_facet_planes_and_refuses_two_stones_in_one_primitive() -> None:
    mesh = round_brilliant(3.0)
    pos, idx = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    planes = gem_planes(pos, idx)
    assert planes is not None and len(planes) == 73
    assert np.all(pos @ planes[:, :3].T - planes[:, 3] < 1e-9)  # every corner inside or on every facet
    two = np.concatenate([pos, pos + np.array([0.01, 0.0, 0.0])])
    assert gem_planes(two, np.concatenate([idx, idx + len(pos)])) is None
    assert gem_planes(pos, idx, max_planes=40) is None


def test_a_diamond_splits_red_green_and_blue_by_its_dispersion() -> None:
    diamond = GEMS["diamond"]
    red, green, blue = gem_iors(diamond.ior, 20 / diamond.abbe)
    assert red < green < blue
    assert (red, green, blue) == pytest.approx((2.413, 2.426, 2.451), abs=0.002)
    assert gem_iors(1.5, 0.0) == (1.5, 1.5, 1.5)


def test_a_variants_gem_text_names_its_stone() -> None:
    assert gem_of("diamond 0.30 ct G VS1") is GEMS["diamond"]
    assert gem_of("Ruby 1.02 ct") is GEMS["ruby"]
    assert gem_of("sapphire 2 x 0.10 ct") is GEMS["sapphire"]
    assert gem_of(None) is GEMS["diamond"] and gem_of("moissanite") is GEMS["diamond"]
    ruby = material_for(GEMS["ruby"], 2.6)
    assert ruby["KHR_materials_ior"]["ior"] == pytest.approx(1.762)
    assert ruby["KHR_materials_volume"]["attenuationDistance"] == pytest.approx(0.002)
    assert ruby["extras"] == {"gem": "faceted"}
    assert math.isclose(ruby["KHR_materials_dispersion"]["dispersion"], 20 / 72.2, rel_tol=1e-3)
