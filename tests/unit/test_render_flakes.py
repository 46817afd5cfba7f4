"""Metallic paint's flakes (`extras.flakes`; docs/rendering.md, "Metallic paint"): the reader's fields, and known
answers drawn offscreen on a flat painted floor seen straight down by an orthographic glTF camera (2 x 2 m of floor
at 128 px, 15.6 mm a pixel) under one directional light 40 degrees off the vertical and a black environment. The
plain paint is smooth (its highlight is off the frame, only its tail at one edge); flakes big enough to cover
pixels are isolated bright points (those tilted to mirror the light to the camera); flakes far smaller than a
pixel are drawn as their average, again without isolated points."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.ndimage import median_filter

from render_node.gltf.document import Document, parse_document
from render_node.gltf.materials import Flakes, read_material
from render_node.render.errors import ModelInvalid
from render_node.render.types import EnvFile, GltfCameraView, RenderRequest
from tests.render_models import lit_floor

SIZE = (128, 128)
SUN_DEG = 40.0
SUN = [-math.cos(math.radians(SUN_DEG)) * math.sqrt(0.5), -math.sin(math.radians(SUN_DEG)) * math.sqrt(0.5), 0.0,
       math.sqrt(0.5)]
"""A node rotation that turns -Z to (sin 40, -cos 40, 0): a light shining down, 40 degrees off the vertical (its
mirror image in the floor is 2.5 m off the frame's centre, outside the frame)."""


def _doc(material: dict[str, Any]) -> Document:
    return parse_document(json.dumps({"asset": {"version": "2.0"}, "materials": [material]}).encode(), "paint.gltf",
                          None)


def test_the_reader_takes_flakes_from_the_material_extras_with_defaults_and_clamps() -> None:
    m = {"name": "paint", "extras": {"flakes": {"size": 0.002, "density": 1.5, "tilt": 0.2}}}
    mat = read_material(_doc(m), 0, m)
    assert mat.flakes == Flakes(size_m=0.002, density=1.0, tilt=0.2, roughness=Flakes().roughness)
    plain = {"name": "paint", "extras": {"gem": False}}
    assert read_material(_doc(plain), 0, plain).flakes is None
    assert read_material(_doc({"extras": {"flakes": {}}}), 0, {"extras": {"flakes": {}}}).flakes == Flakes()


@pytest.mark.parametrize("flakes", [{"size": 0}, {"size": -1}, {"size": 2}, {"size": "big"}, {"density": None}])
def test_the_reader_refuses_bad_flakes_naming_the_field(flakes: dict[str, Any]) -> None:
    m = {"name": "paint", "extras": {"flakes": flakes}}
    with pytest.raises(ModelInvalid, match=r"materials\[0\]\.extras\.flakes\."):
        read_material(_doc(m), 0, m)


def _floor(path: Path, flakes: dict[str, Any] | None) -> Path:
    """A 4 x 4 m floor at y = 0 in dark blue paint under a clearcoat, `flakes` as its extras (None: plain), an
    orthographic camera 3 m above looking down at 2 x 2 m of it, and the 20-degree sun (3 lux)."""
    paint: dict[str, Any] = {
        "name": "paint",
        "pbrMetallicRoughness": {"baseColorFactor": [0.03, 0.06, 0.2, 1], "metallicFactor": 0.2,
                                 "roughnessFactor": 0.3},
        "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.04}},
    }
    if flakes is not None:
        paint["extras"] = {"flakes": flakes}
    return lit_floor(path, paint, [{"type": "directional", "intensity": 3.0}], [{"light": 0, "rotation": SUN}])


def _luma(renderer: Any, path: Path, env: EnvFile) -> npt.NDArray[np.float64]:
    img = renderer.render(RenderRequest(path, GltfCameraView(0), SIZE, "white", env, shadow=False))
    out: npt.NDArray[np.float64] = img[..., :3].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    return out


def _sparkles(luma: npt.NDArray[np.float64]) -> int:
    """Pixels at least 40 of 255 brighter than the median of the 7 x 7 pixels around them."""
    return int(np.count_nonzero(luma - median_filter(luma, size=7, mode="nearest") >= 40))


@pytest.mark.gl
def test_flakes_bigger_than_a_pixel_sparkle_where_plain_paint_is_even(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    plain = _luma(renderer, _floor(tmp_path / "plain.glb", None), black_env)
    flaked = _luma(renderer, _floor(tmp_path / "flakes.glb", {"size": 0.06, "density": 0.6, "tilt": 0.45,
                                                              "roughness": 0.3}), black_env)
    assert _sparkles(plain) == 0  # the paint's own highlight is a smooth glow at the frame's left edge
    # 1100 cells of 3.8 px, 60 % with a flake: some of them mirror the sun to the camera
    assert _sparkles(flaked) >= 100
    bright = flaked - np.median(flaked) >= 40
    assert bright.mean() < 0.08  # sparse: isolated points, not a brighter paint
    # the paint between the flakes is the plain paint, a little dimmed by the flakes' share of it
    assert np.median(flaked) == pytest.approx(np.median(plain), abs=6)


@pytest.mark.gl
def test_flakes_far_under_a_pixel_are_their_average_not_noise(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    plain = _luma(renderer, _floor(tmp_path / "plain.glb", None), black_env)
    fine = _luma(renderer, _floor(tmp_path / "fine.glb", {"size": 0.003, "density": 0.6, "tilt": 0.45,
                                                            "roughness": 0.3}), black_env)
    assert _sparkles(fine) == 0
    assert fine.std() < plain.std() + 3  # as smooth as the plain paint
    # their average glow: a lobe as wide as their tilts catches the sun, 40 degrees off, that the paint's misses
    assert fine.mean() > plain.mean() + 1


def _flaked_ring(path: Path, size_m: float) -> Path:
    """The 18 mm test ring (dense: bakeable) in red paint with a clearcoat and flakes `size_m` apart."""
    from render_node.assets._glb_ext import with_material_extensions
    from tests.render_models import gold_ring

    glb = gold_ring(path, triangles=20_000).read_bytes()
    path.write_bytes(with_material_extensions(glb, {"metal": {
        "KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.04},
        "extras": {"flakes": {"size": size_m, "density": 0.6, "tilt": 0.25, "roughness": 0.12}}}}))
    return path


@pytest.mark.gl
def test_the_baked_path_draws_the_flakes_average_as_the_exact_shader_does_under_a_pixel(
    renderer: Any, tmp_path: Path
) -> None:
    from skimage.metrics import structural_similarity

    from render_node.render.types import TurntableView

    ring = _flaked_ring(tmp_path / "ring.glb", 1e-5)  # flakes of 10 um: far under a pixel
    loaded = renderer.load_model(ring)
    assert "FLAKES" in loaded.material_nodes[0].defines and loaded.material_nodes[0].bakeable
    frames = {}
    for mode in ("exact", "baked"):
        renderer.shading = mode
        frames[mode] = renderer.render(RenderRequest(ring, TurntableView(30, 20), (256, 256), "white"))[..., :3]
    renderer.shading = "exact"
    a, b = (frames[m].astype(np.float64).mean(axis=2) for m in ("exact", "baked"))
    assert structural_similarity(a, b, data_range=255) > 0.9  # type: ignore[no-untyped-call]


def test_the_product_models_car_paint_carries_its_flakes_and_the_renderer_draws_them(tmp_path: Path) -> None:
    """The asset pipeline writes `extras.flakes` on every model's `paint` (the cars' body and mirrors), and the
    renderer's reader turns the variant with flakes on for it."""
    import trimesh

    from render_node.assets._mesh import Part, export_glb, to_scene
    from render_node.render.gltf import read_gltf

    box = trimesh.creation.box((1.0, 0.5, 2.0))
    glb = tmp_path / "painted.glb"
    glb.write_bytes(export_glb(to_scene([Part(box, "paint", "body")])))
    paint = next(m for m in read_gltf(glb).materials if m.name == "paint")
    assert paint.flakes is not None and paint.clearcoat == 1.0
    assert 0.001 <= paint.flakes.size_m <= 0.005 and 0 < paint.flakes.density <= 1
