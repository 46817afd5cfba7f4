"""Hall frames on the panda3d offscreen renderer: a main model (the hall) plus products placed at world matrices,
each lit by its own environment, plus live panels. What a customer would notice: products stand where the
hall plan puts them, each counter's light shows on its products, panels show their text, and nothing of a hall
frame leaks into the next product picture."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from render_node.render import cameras
from render_node.render.types import (
    CameraPose,
    EnvFile,
    Intrinsics,
    MaterialOverride,
    PanelContent,
    PanelQuad,
    Placement,
    PoseView,
    RenderRequest,
    StereoView,
    TurntableView,
)
from tests.render_models import gold_ring, write_glb

pytestmark = pytest.mark.gl

ROOM_HALF_M = (6.0, 3.0, 6.0)
"""The stand-in hall: a room 12 m x 3 m x 12 m (floor at Y = 0) seen from inside, all unlit vertex colours."""


def room_glb(path: Path) -> Path:
    """A box room seen from inside (walls a warm grey, the floor darker), every material KHR_materials_unlit with
    its colour in COLOR_0: the shape of a baked hall."""
    hx, hy, hz = ROOM_HALF_M
    faces = [  # (corner points, colour)
        ([(-hx, 0, -hz), (hx, 0, -hz), (hx, 0, hz), (-hx, 0, hz)], (0.35, 0.32, 0.30)),  # floor, normal +Y
        ([(-hx, hy, hz), (hx, hy, hz), (hx, hy, -hz), (-hx, hy, -hz)], (0.80, 0.78, 0.74)),  # ceiling
        ([(-hx, 0, -hz), (-hx, hy, -hz), (hx, hy, -hz), (hx, 0, -hz)], (0.70, 0.66, 0.60)),  # north wall
        ([(hx, 0, hz), (hx, hy, hz), (-hx, hy, hz), (-hx, 0, hz)], (0.70, 0.66, 0.60)),  # south wall
        ([(-hx, 0, hz), (-hx, hy, hz), (-hx, hy, -hz), (-hx, 0, -hz)], (0.66, 0.62, 0.56)),  # west wall
        ([(hx, 0, -hz), (hx, hy, -hz), (hx, hy, hz), (hx, 0, hz)], (0.66, 0.62, 0.56)),  # east wall
    ]
    pos, col, nrm, idx = [], [], [], []
    for quad, colour in faces:
        p = np.asarray(quad, np.float32)
        n = np.cross(p[1] - p[0], p[2] - p[0])
        n = n / np.linalg.norm(n)
        if float(n @ (np.array([0.0, hy / 2, 0.0]) - p.mean(0))) < 0:  # wind every face to be seen from inside
            p, n = p[::-1], -n
        base = len(pos)
        pos += list(p)
        nrm += [n] * 4
        col += [(*colour, 1.0)] * 4
        idx += [base, base + 1, base + 2, base, base + 2, base + 3]
    pos_a, nrm_a = np.asarray(pos, np.float32), np.asarray(nrm, np.float32)
    col_a, idx_a = np.asarray(col, np.float32), np.asarray(idx, np.uint32)
    binary = pos_a.tobytes() + nrm_a.tobytes() + col_a.tobytes() + idx_a.tobytes()
    offsets = np.cumsum([0, pos_a.nbytes, nrm_a.nbytes, col_a.nbytes]).tolist()
    views = [{"buffer": 0, "byteOffset": o, "byteLength": n}
             for o, n in zip(offsets, [pos_a.nbytes, nrm_a.nbytes, col_a.nbytes, idx_a.nbytes], strict=True)]
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos_a), "type": "VEC3",
             "min": pos_a.min(0).tolist(), "max": pos_a.max(0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(nrm_a), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": len(col_a), "type": "VEC4"},
            {"bufferView": 3, "componentType": 5125, "count": len(idx_a), "type": "SCALAR"},
        ],
        "materials": [{"name": "baked", "extensions": {"KHR_materials_unlit": {}},
                       "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2}, "indices": 3,
                                    "material": 0}]}],
        "nodes": [{"mesh": 0, "name": "room"}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    return write_glb(path, doc, binary)


def flat_env_hdr(path: Path, rgb: tuple[float, float, float]) -> Path:
    """An equirectangular Radiance file of one colour: a probe that lights everything in that colour."""
    from render_node.render.environment import write_rgbe

    img = np.empty((32, 64, 3), np.float32)
    img[:] = rgb
    write_rgbe(path, img)
    return path


def translation(x: float, y: float, z: float, scale: float = 1.0, yaw_deg: float = 0.0) -> tuple[float, ...]:
    """Row-major 4x4: turn about +Y by `yaw_deg`, scale, then move to (x, y, z)."""
    c, s = math.cos(math.radians(yaw_deg)) * scale, math.sin(math.radians(yaw_deg)) * scale
    return (c, 0.0, s, x, 0.0, scale, 0.0, y, -s, 0.0, c, z, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hall")
    return {
        "room": room_glb(d / "room.glb"),
        "ring": gold_ring(d / "ring.glb", triangles=20_000, roughness=0.3),  # dense: bakeable as a main model
        "red": flat_env_hdr(d / "probe-red.hdr", (1.6, 0.05, 0.05)),
        "blue": flat_env_hdr(d / "probe-blue.hdr", (0.05, 0.1, 1.6)),
    }


K = Intrinsics.from_fov(60.0, 320, 240)
EYE = CameraPose((0.0, 1.0, 1.0))
"""Standing 1 m south of the origin at 1 m, looking north (-Z): the scene below sits in front of this camera."""


def pose_view() -> PoseView:
    return PoseView(EYE, K)


def project(point_m: tuple[float, float, float]) -> tuple[int, int]:
    eye = cameras.pose_camera(pose_view())
    u, v = cameras.project_points(eye, np.array([point_m]))[0]
    return round(float(u)), round(float(v))


def hall_request(models: dict[str, Path], **kw: Any) -> RenderRequest:
    return RenderRequest(models["room"], pose_view(), (320, 240), "white", shadow=False, **kw)


def ring_at(models: dict[str, Path], x: float, env: Any = "studio", **kw: Any) -> Placement:
    # The 18 mm ring magnified 10x, standing on its edge facing the camera (turned about X by 90 degrees).
    s = 10.0
    m = (s, 0.0, 0.0, x, 0.0, 0.0, -s, 0.9, 0.0, s, 0.0, -0.5, 0.0, 0.0, 0.0, 1.0)
    return Placement(models["ring"], m, env=env, **kw)


def saturation_hue(px: np.ndarray) -> tuple[float, float]:
    rgb = px[..., :3].reshape(-1, 3).astype(float)
    return float(rgb[:, 0].mean()), float(rgb[:, 2].mean())


def window(img: np.ndarray, uv: tuple[int, int], half: int = 6) -> np.ndarray:
    u, v = uv
    return img[v - half:v + half + 1, u - half:u + half + 1]


def test_a_placement_appears_where_its_matrix_puts_it(renderer: Any, models: dict[str, Path]) -> None:
    empty = renderer.render(hall_request(models))
    for x in (-0.35, 0.3):
        img = renderer.render(hall_request(models, placements=(ring_at(models, x),)))
        centre = project((x, 0.9, -0.5))
        # The ring's band: 9 cm from its centre (radius of the magnified torus), left of the centre.
        band = project((x - 0.09, 0.9, -0.5))
        changed = np.abs(img[..., :3].astype(int) - empty[..., :3]).sum(-1) > 40
        assert window(changed, band, 2).mean() > 0.5, "the ring's band shows where the matrix puts it"
        assert not window(changed, centre, 2).any(), "the ring's hole shows the hall behind it"
        ys, xs = np.nonzero(changed)
        assert abs((xs.min() + xs.max()) / 2 - centre[0]) < 4 and abs((ys.min() + ys.max()) / 2 - centre[1]) < 4


def test_the_same_model_placed_twice_is_drawn_twice(renderer: Any, models: dict[str, Path]) -> None:
    empty = renderer.render(hall_request(models))
    img = renderer.render(hall_request(models, placements=(ring_at(models, -0.35), ring_at(models, 0.3))))
    changed = np.abs(img[..., :3].astype(int) - empty[..., :3]).sum(-1) > 40
    for x in (-0.35, 0.3):
        assert window(changed, project((x - 0.09, 0.9, -0.5)), 2).mean() > 0.5


def test_each_placement_is_lit_by_its_own_probe(renderer: Any, models: dict[str, Path]) -> None:
    red, blue = EnvFile(models["red"]), EnvFile(models["blue"])
    silver = (MaterialOverride("metal", base_color_rgba=(0.95, 0.95, 0.95, 1.0)),)
    img = renderer.render(hall_request(models, placements=(
        ring_at(models, -0.35, red, overrides=silver), ring_at(models, 0.3, blue, overrides=silver))))
    left = window(img, project((-0.35 - 0.09, 0.9, -0.5)), 2)
    right = window(img, project((0.3 - 0.09, 0.9, -0.5)), 2)
    r_left, b_left = saturation_hue(left)
    r_right, b_right = saturation_hue(right)
    assert r_left > b_left + 60, "the ring at the red counter reflects red"
    assert b_right > r_right + 60, "the ring at the blue counter reflects blue"


def test_overrides_of_two_placements_of_one_model_stay_apart(renderer: Any, models: dict[str, Path]) -> None:
    silver = (MaterialOverride("metal", base_color_rgba=(0.95, 0.95, 0.95, 1.0)),)
    img = renderer.render(hall_request(models, placements=(
        ring_at(models, -0.35), ring_at(models, 0.3, overrides=silver))))
    r_gold, b_gold = saturation_hue(window(img, project((-0.35 - 0.09, 0.9, -0.5)), 2))
    r_silver, b_silver = saturation_hue(window(img, project((0.3 - 0.09, 0.9, -0.5)), 2))
    assert r_gold - b_gold > 50, "the gold ring stays gold"
    assert abs(r_silver - b_silver) < 25, "its silver twin is neutral"


PRICE = PanelContent("price_tag", "足金金条 10克", "Au99.99 Gold Bar 10 g", ("¥ 6,352.80",))


def test_a_panel_shows_its_text_in_panel_colours_where_its_quad_projects(renderer: Any, models: dict[str, Path]) -> None:
    empty = renderer.render(hall_request(models))
    quad = PanelQuad((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.23), PRICE, px_per_m=800)
    img = renderer.render(hall_request(models, panels=(quad,)))
    changed = np.abs(img[..., :3].astype(int) - empty[..., :3]).sum(-1) > 40
    ys, xs = np.nonzero(changed)
    (u0, v0), (u1, v1) = project((-0.25, 1.115, 0.0)), project((0.25, 0.885, 0.0))
    assert abs(xs.min() - u0) <= 2 and abs(xs.max() - u1) <= 2 and abs(ys.min() - v0) <= 2 and abs(ys.max() - v1) <= 2
    card = img[v0 + 3:v1 - 3, u0 + 3:u1 - 3, :3].astype(int)
    r, g, b = card[..., 0], card[..., 1], card[..., 2]
    ivory = card.min(-1) > 225
    red = (r > g + 70) & (r > b + 50)
    dark = card.max(-1) < 110
    assert ivory.mean() > 0.4, "the tag is an ivory card"
    assert red.mean() > 0.03, "the price is in the bank's red"
    assert dark.mean() > 0.01, "the name is in dark ink"
    # The price sits low on the card and the name high: the text is upright; the name starts at the left.
    rows_red, rows_dark = np.nonzero(red.any(1))[0], np.nonzero(dark.any(1))[0]
    assert rows_red.mean() > rows_dark.mean() + 5
    assert np.nonzero(dark.any(0))[0].min() < card.shape[1] * 0.3


def test_panel_textures_are_drawn_once_for_repeated_frames(renderer: Any, models: dict[str, Path]) -> None:
    quads = tuple(PanelQuad((x, 1.0, -0.5), (0.0, 0.0, 1.0), (0.2, 0.1), PRICE) for x in (-0.3, 0.0, 0.3))
    before = renderer._panels.textures_drawn
    for yaw in (0.0, 2.0, 4.0):
        half = math.radians(yaw) / 2
        view = PoseView(CameraPose((0.0, 1.0, 1.0), (0.0, math.sin(half), 0.0, math.cos(half))), K)
        renderer.render(RenderRequest(models["room"], view, (320, 240), "white", shadow=False, panels=quads))
    assert renderer._panels.textures_drawn - before <= 1, "one content, one texture, drawn once"


def test_a_product_picture_after_a_hall_frame_is_the_picture_before_it(
    renderer: Any, models: dict[str, Path]
) -> None:
    product = RenderRequest(models["ring"], TurntableView(30, 25), (320, 180), "transparent")
    before = renderer.render(product)
    hall = hall_request(models, placements=(ring_at(models, -0.35, EnvFile(models["red"])), ring_at(models, 0.3)),
                        panels=(PanelQuad((0.0, 1.3, -0.5), (0.0, 0.0, 1.0), (0.4, 0.2), PRICE),))
    renderer.render(hall)
    after = renderer.render(product)
    assert np.array_equal(before, after)
    stereo = RenderRequest(models["ring"], StereoView(CameraPose((0.0, 0.02, 0.12)), K), (320, 240), "white")
    before = renderer.render(stereo)
    renderer.render(hall)
    assert np.array_equal(before, renderer.render(stereo))


def test_a_hall_frame_after_a_product_picture_is_the_same_hall_frame(renderer: Any, models: dict[str, Path]) -> None:
    hall = hall_request(models, placements=(ring_at(models, -0.35, EnvFile(models["blue"])),),
                        panels=(PanelQuad((0.2, 1.3, -0.5), (0.0, 0.0, 1.0), (0.4, 0.2), PRICE),))
    first = renderer.render(hall)
    renderer.render(RenderRequest(models["ring"], TurntableView(0, 20), (320, 180), "white"))
    assert np.array_equal(first, renderer.render(hall))


def test_placements_get_the_exact_shader_whatever_the_main_models_shading(
    renderer: Any, models: dict[str, Path]
) -> None:
    # The ring drawn as the main model is baked on llvmpipe; a copy of it made for a placement right after must
    # still be shaded exactly. Each step uses overrides of its own, so that each makes a new copy of the ring.
    frames = []
    try:
        for shading, roughness in (("baked", 0.3), ("exact", 0.3000001)):
            renderer.shading = shading
            renderer.render(RenderRequest(models["ring"], TurntableView(30, 25), (320, 180), "white"))
            rough = (MaterialOverride("metal", roughness=roughness),)
            frames.append(renderer.render(hall_request(models, placements=(
                ring_at(models, -0.35, overrides=rough), ring_at(models, 0.3, EnvFile(models["blue"]), overrides=rough)))))
    finally:
        renderer.shading = "baked"
    diff = np.abs(frames[0].astype(int) - frames[1])
    assert diff.max() <= 2, "the placed rings look the same whether the main model was baked or not"


@pytest.mark.parametrize(
    ("matrix", "message"),
    [((1.0,) * 15, "16 numbers"), ((math.nan,) + (0.0,) * 15, "finite"), ((0.0,) * 16, "singular")],
)
def test_a_bad_placement_matrix_is_refused_with_a_clear_error(
    renderer: Any, models: dict[str, Path], matrix: tuple[float, ...], message: str
) -> None:
    from render_node.render.errors import RequestInvalid

    with pytest.raises(RequestInvalid, match=message):
        renderer.render(hall_request(models, placements=(Placement(models["ring"], matrix),)))
