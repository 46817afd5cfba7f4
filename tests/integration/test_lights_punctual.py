"""KHR_lights_punctual drawn offscreen (EGL; llvmpipe without a GPU) with answers known in advance: a white,
fully rough dielectric floor (Lambert diffuse + GGX, F0 0.04) seen straight down by an orthographic glTF camera
(2 x 2 m of floor, +X to the right, -Z up the image), rendered in the reference preset with linear tone mapping
(so a pixel's linear value is its byte / 255 to the power 2.2). At normal incidence (n.l = n.v = n.h = v.h = 1)
the floor sends back (0.96 / pi + 0.04 x 1/pi x 1/4) = 0.97 / pi of the illuminance that reaches it."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.render.types import EnvFile, GltfCameraView, RenderRequest
from tests.render_models import DOWN, gold_ring, lit_floor, uniform_env, write_glb

pytestmark = pytest.mark.gl

SIZE = (128, 128)
Image_ = npt.NDArray[np.float64]
HALF_M = 1.0
"""The camera's xmag = ymag: the frame shows x, z in -1..1 m."""
WHITE_FLOOR = 0.97 / math.pi
"""Linear value of the floor per lux arriving along its normal, seen along its normal."""
WHITE = {"name": "white", "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0,
                                                   "roughnessFactor": 1}}


def _floor(path: Path, lights: list[dict[str, Any]], placed: list[dict[str, Any]]) -> Path:
    """A 4 x 4 m white floor at y = 0 (normal +Y), an orthographic camera 3 m above looking down, and `lights`
    placed by the nodes `placed` (each a node dict with `light`, its index)."""
    return lit_floor(path, WHITE, lights, placed, HALF_M)


@pytest.fixture(scope="module")
def grey_env(tmp_path_factory: pytest.TempPathFactory) -> EnvFile:
    """A uniform sky of sRGB 100 (linear 0.127): a white Lambert floor under it is that bright."""
    return uniform_env(tmp_path_factory.mktemp("grey") / "grey.png", 100)


def _linear(renderer: Any, path: Path, env: EnvFile, reference: bool = True) -> Image_:
    """The frame's linear RGB (h, w, 3) float: the reference preset's pow(1/2.2) undone."""
    renderer.shading = "baked"  # a model with lights must still be drawn exactly (the baker cannot express them)
    img = renderer.render(RenderRequest(path, GltfCameraView(0), SIZE, "white", env, shadow=False,
                                        tonemap="linear", reference=reference))
    out: Image_ = (img[..., :3].astype(np.float64) / 255.0) ** 2.2
    return out


def _at(img: Image_, x_m: float, z_m: float) -> float:
    """Mean linear grey of the 3 x 3 pixels that see the floor at (x, 0, z)."""
    h, w = img.shape[:2]
    col = round((x_m / HALF_M + 1) / 2 * w - 0.5)
    row = round((z_m / HALF_M + 1) / 2 * h - 0.5)
    return float(img[row - 1 : row + 2, col - 1 : col + 2].mean())


def test_a_directional_light_from_above_lights_a_white_floor_by_its_illuminance(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    lux = 2.0
    lit = _floor(tmp_path / "sun.glb", [{"type": "directional", "intensity": lux}], [{"light": 0, "rotation": DOWN}])
    dark = _floor(tmp_path / "none.glb", [], [])
    on = _linear(renderer, lit, black_env)
    off = _linear(renderer, dark, black_env)
    assert _at(off, 0, 0) < 0.005  # no light, nothing seen
    assert _at(on, 0, 0) == pytest.approx(lux * WHITE_FLOOR, rel=0.04)
    # a directional light is the same everywhere on the floor
    assert _at(on, 0.7, -0.6) == pytest.approx(_at(on, 0, 0), rel=0.03)


def test_a_directional_light_adds_its_share_to_the_environment_light(
    renderer: Any, tmp_path: Path, grey_env: EnvFile
) -> None:
    lux = 1.0
    lit = _floor(tmp_path / "sun.glb", [{"type": "directional", "intensity": lux}], [{"light": 0, "rotation": DOWN}])
    dark = _floor(tmp_path / "none.glb", [], [])
    on, off = _linear(renderer, lit, grey_env), _linear(renderer, dark, grey_env)
    sky = (100 / 255) ** 2.2  # the shader's sRGB decoding differs a little from gamma 2.2
    assert _at(off, 0, 0) == pytest.approx(sky, rel=0.12)
    # on / off: (sky + 0.97 / pi x 1 lux) / sky, about 3.4
    assert _at(on, 0, 0) / _at(off, 0, 0) == pytest.approx((_at(off, 0, 0) + lux * WHITE_FLOOR) / _at(off, 0, 0),
                                                           rel=0.05)


def test_a_directional_light_from_the_side_lights_by_the_cosine_and_from_below_not_at_all(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    tilt = math.radians(60)  # DOWN turned back 60 degrees about +X: it shines along (0, -cos 60, -sin 60)
    rot = [math.sin((-math.pi / 2 + tilt) / 2), 0.0, 0.0, math.cos((-math.pi / 2 + tilt) / 2)]
    slanted = _floor(tmp_path / "slant.glb", [{"type": "directional", "intensity": 2.0}], [{"light": 0, "rotation": rot}])
    up = [math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)]  # -Z to +Y: shining up from under the floor
    below = _floor(tmp_path / "below.glb", [{"type": "directional", "intensity": 2.0}], [{"light": 0, "rotation": up}])
    # n.l = cos 60 = 0.5; seen from above the half-vector is 30 degrees off: the diffuse term dominates
    assert _at(_linear(renderer, slanted, black_env), 0, 0) == pytest.approx(2.0 * 0.5 * WHITE_FLOOR, rel=0.08)
    assert _at(_linear(renderer, below, black_env), 0, 0) < 0.005


def test_a_point_light_falls_off_by_the_inverse_square_of_its_distance(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    candela = 0.5
    near = _floor(tmp_path / "near.glb", [{"type": "point", "intensity": candela}],
                  [{"light": 0, "translation": [0, 0.5, 0]}])
    far = _floor(tmp_path / "far.glb", [{"type": "point", "intensity": candela}],
                 [{"light": 0, "translation": [0, 1.0, 0]}])
    at_near, at_far = _at(_linear(renderer, near, black_env), 0, 0), _at(_linear(renderer, far, black_env), 0, 0)
    assert at_near == pytest.approx(candela / 0.25 * WHITE_FLOOR, rel=0.05)
    assert at_far == pytest.approx(candela / 1.0 * WHITE_FLOOR, rel=0.05)
    assert at_near / at_far == pytest.approx(4.0, rel=0.06)
    # across the floor: E = I cos / d^2 = I h / d^3 at horizontal offset r; (0.7 m from under a 1 m high light)
    img = _linear(renderer, far, black_env)
    d = math.hypot(0.7, 1.0)
    expected = candela * (1.0 / d) / d**2 * (0.96 / math.pi)  # the diffuse term; a rough specular adds a little
    assert expected < _at(img, 0.7, 0) < expected * 1.15


def test_a_point_light_range_ends_its_light(renderer: Any, tmp_path: Path, black_env: EnvFile) -> None:
    ranged = _floor(tmp_path / "range.glb", [{"type": "point", "intensity": 0.5, "range": 1.2}],
                    [{"light": 0, "translation": [0, 1.0, 0]}])
    img = _linear(renderer, ranged, black_env)
    # d = 1: window 1 - (1 / 1.2)^4 = 0.518; past 1.2 m (0.7 m across: d = 1.22) nothing
    assert _at(img, 0, 0) == pytest.approx(0.5 * (1 - (1 / 1.2) ** 4) * WHITE_FLOOR, rel=0.06)
    assert _at(img, 0.75, 0) < 0.003


def test_a_spot_light_lights_inside_its_cone_and_not_outside(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    spot = {"type": "spot", "intensity": 0.5, "spot": {"innerConeAngle": math.radians(15),
                                                       "outerConeAngle": math.radians(25)}}
    path = _floor(tmp_path / "spot.glb", [spot], [{"light": 0, "translation": [0, 1.0, 0], "rotation": DOWN}])
    img = _linear(renderer, path, black_env)
    assert _at(img, 0, 0) == pytest.approx(0.5 * WHITE_FLOOR, rel=0.05)  # the centre: full intensity at 1 m
    inside = math.tan(math.radians(10))  # within the inner cone: as bright as a point light
    d = math.hypot(inside, 1.0)
    assert _at(img, inside, 0) == pytest.approx(0.5 / d**3 * (0.96 / math.pi), rel=0.1)
    outside = math.tan(math.radians(30))
    for x, z in ((outside, 0), (-outside, 0), (0, outside), (0, -outside), (0.8, 0.8)):
        assert _at(img, x, z) < 0.003, (x, z)
    # between the cones the light fades: dimmer than inside, brighter than outside
    edge = math.tan(math.radians(20))
    assert 0.003 < _at(img, edge, 0) < 0.8 * _at(img, inside, 0)


def test_a_model_with_lights_draws_its_lights_in_the_product_preset_too(
    renderer: Any, tmp_path: Path, black_env: EnvFile
) -> None:
    lit = _floor(tmp_path / "sun.glb", [{"type": "directional", "intensity": 2.0}], [{"light": 0, "rotation": DOWN}])
    dark = _floor(tmp_path / "none.glb", [], [])
    on = renderer.render(RenderRequest(lit, GltfCameraView(0), SIZE, "white", black_env, shadow=False))
    off = renderer.render(RenderRequest(dark, GltfCameraView(0), SIZE, "white", black_env, shadow=False))
    assert on[64, 64, :3].mean() > 150 and off[64, 64, :3].mean() < 5


def _with_lights(src: Path, dst: Path, lights: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> Path:
    """`src` (a GLB) with `lights` and the nodes that place them added to its scene."""
    data = src.read_bytes()
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_len])
    doc["extensionsUsed"] = [*doc.get("extensionsUsed", []), "KHR_lights_punctual"]
    doc.setdefault("extensions", {})["KHR_lights_punctual"] = {"lights": lights}
    for node in nodes:
        doc["nodes"].append(node)
        doc["scenes"][doc.get("scene", 0)]["nodes"].append(len(doc["nodes"]) - 1)
    return write_glb(dst, doc, data[20 + json_len + 8 :])


def test_a_model_with_lights_is_never_baked(renderer: Any, tmp_path: Path) -> None:
    ring = gold_ring(tmp_path / "ring.glb", triangles=40_000)
    lit = _with_lights(ring, tmp_path / "ring_lit.glb", [{"type": "point", "intensity": 0.02}],
                       [{"translation": [0.0, 0.03, 0.02], "extensions": {"KHR_lights_punctual": {"light": 0}}}])
    assert all(mn.bakeable for mn in renderer.load_model(ring).material_nodes)  # the ring alone: the baker's
    assert not any(mn.bakeable for mn in renderer.load_model(lit).material_nodes)
    frames = []
    for shading in ("baked", "exact"):
        renderer.shading = shading
        frames.append(renderer.render(RenderRequest(lit, size_px=(160, 120), shadow=False)))
    renderer.shading = "baked"
    assert np.array_equal(frames[0], frames[1])
    renderer.shading = "exact"
    unlit = renderer.render(RenderRequest(ring, size_px=(160, 120), shadow=False))
    renderer.shading = "baked"
    assert np.abs(frames[1].astype(int) - unlit.astype(int)).max() > 40  # the light's highlight
