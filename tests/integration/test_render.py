"""The panda3d offscreen renderer (EGL; Mesa llvmpipe without a GPU): what a customer would see in the frame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from render_node.render.errors import ModelInvalid, RequestInvalid
from render_node.render.types import (
    CameraPose,
    GltfCameraView,
    Intrinsics,
    MaterialOverride,
    PoseView,
    RenderRequest,
    StereoView,
    TurntableView,
)
from tests.render_models import box_with_cameras, gold_ring

pytestmark = pytest.mark.gl

SAMPLES = (
    "AnisotropyStrengthTest",
    "ClearCoatCarPaint",
    "ClearCoatTest",
    "MetalRoughSpheresNoTextures",
    "SunglassesKhronos",
    "TransmissionRoughnessTest",
)


@pytest.fixture(scope="session")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gold_ring(tmp_path_factory.mktemp("models") / "ring.glb")


def _product_mask(img: np.ndarray) -> np.ndarray:
    """Pixels that differ clearly from a white background (product and shadow)."""
    return np.abs(img[..., :3].astype(int) - 255).sum(-1) > 30


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rgb.astype(float) / 255
    mx, mn = x.max(-1), x.min(-1)
    d = np.where(mx - mn == 0, 1e-9, mx - mn)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
    s = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0)
    return h, s, mx


def _ring_pixels(img: np.ndarray) -> np.ndarray:
    """Pixels of the ring itself on a transparent render: fully opaque."""
    return img[img[..., 3] == 255][:, :3]


def test_gold_ring_is_gold_with_bright_highlights_and_no_muddy_brown(renderer, ring: Path) -> None:
    img = renderer.render(RenderRequest(ring, TurntableView(30, 25), (640, 360), "transparent"))
    px = _ring_pixels(img)
    assert len(px) > 0.05 * 640 * 360
    h, s, v = _hsv(px)
    assert 35 <= float(np.median(h)) <= 55, "gold hue is yellow-orange"
    assert float(np.median(s)) > 0.3, "gold is saturated, not grey"
    assert float(np.median(v)) > 0.55, "gold is bright, not muddy brown"
    assert float(np.percentile(v, 99)) > 0.93, "the environment's softboxes make bright highlights on metal"
    assert float(np.percentile(v, 5)) < float(np.percentile(v, 95)) - 0.25, "reflections give contrast"


def test_silver_override_turns_the_same_ring_neutral(renderer, ring: Path) -> None:
    silver = (MaterialOverride("metal", base_color_rgba=(0.97, 0.96, 0.91, 1.0)),)
    img = renderer.render(RenderRequest(ring, TurntableView(30, 25), (640, 360), "transparent", overrides=silver))
    _, s, _ = _hsv(_ring_pixels(img))
    assert float(np.median(s)) < 0.15
    gold = renderer.render(RenderRequest(ring, TurntableView(30, 25), (640, 360), "transparent"))
    _, s_gold, _ = _hsv(_ring_pixels(gold))
    assert float(np.median(s_gold)) > 0.3, "overrides of one request do not leak into the next"


def test_transparent_background_has_clear_corners_opaque_product_and_a_soft_shadow(renderer, ring: Path) -> None:
    img = renderer.render(RenderRequest(ring, TurntableView(0, 30), (640, 360), "transparent"))
    alpha = img[..., 3]
    assert alpha[:20, :20].max() == 0 and alpha[-20:, -20:].max() == 0
    assert (alpha == 255).mean() > 0.05
    partial = (alpha > 0) & (alpha < 255)
    assert partial.mean() > 0.02, "the contact shadow is partly transparent"
    assert img[partial][:, :3].max() < 60, "the shadow is dark, not a coloured halo"
    no_shadow = renderer.render(RenderRequest(ring, TurntableView(0, 30), (640, 360), "transparent", shadow=False))
    assert ((no_shadow[..., 3] > 0) & (no_shadow[..., 3] < 255)).mean() < 0.005


def test_white_and_environment_backgrounds(renderer, ring: Path) -> None:
    white = renderer.render(RenderRequest(ring, TurntableView(0, 15), (320, 180), "white"))
    assert (white[:10, :10] == 255).all()
    env = renderer.render(RenderRequest(ring, TurntableView(0, 15), (320, 180), "env", env="counter"))
    assert (env[..., 3] == 255).all()
    assert env[:10, :10, :3].mean() < 250, "the environment shows behind the product"


def test_turntable_frames_the_product_at_every_yaw_without_breathing(renderer, ring: Path) -> None:
    boxes = []
    for yaw in (0, 45, 90, 180, 270):
        img = renderer.render(RenderRequest(ring, TurntableView(yaw, 0), (320, 320), "transparent", shadow=False))
        ys, xs = np.nonzero(img[..., 3] == 255)
        assert xs.min() > 5 and xs.max() < 314 and ys.min() > 5 and ys.max() < 314, "the product stays in frame"
        boxes.append(xs.max() - xs.min())
    assert max(boxes) - min(boxes) <= 4, "a round ring keeps its size through a spin"
    assert max(boxes) > 0.6 * 320, "the product fills the frame"


def test_baked_shading_matches_exact_shading_to_the_eye(renderer, ring: Path) -> None:
    from skimage.metrics import structural_similarity

    frames = {}
    try:
        for shading in ("exact", "baked"):
            renderer.shading = shading
            for yaw in (30, 200):
                frames[shading, yaw] = renderer.render(RenderRequest(ring, TurntableView(yaw, 25), (640, 360), "white"))
    finally:
        renderer.shading = "baked"
    for yaw in (30, 200):
        exact, baked = frames["exact", yaw], frames["baked", yaw]
        assert structural_similarity(exact[..., :3], baked[..., :3], channel_axis=2) > 0.95
        mask = _product_mask(exact)
        assert abs(float(exact[mask][:, :3].mean()) - float(baked[mask][:, :3].mean())) < 6


def test_stereo_pair_is_side_by_side_with_parallax(renderer, ring: Path) -> None:
    k = Intrinsics.from_fov(60, 320, 360)
    half = math.radians(-30) / 2  # looking 30 degrees down at the ring on the counter
    head = CameraPose((0.0, 0.0306, 0.05), (math.sin(half), 0.0, 0.0, math.cos(half)))
    img = renderer.render(RenderRequest(ring, StereoView(head, k, ipd_m=0.064), (320, 360), "transparent"))
    assert img.shape == (360, 640, 4)
    left, right = img[:, :320, 3] == 255, img[:, 320:, 3] == 255
    assert left.mean() > 0.01 and right.mean() > 0.01
    cx_left = np.nonzero(left)[1].mean()
    cx_right = np.nonzero(right)[1].mean()
    assert cx_left > cx_right + 5, "the left eye sees the product further right than the right eye"


def test_pose_view_with_intrinsics_puts_the_product_at_the_principal_point(renderer, ring: Path) -> None:
    # Camera 0.15 m in front of the (lying) ring's centre, level with it, looking at it (-Z); principal point
    # moved right.
    k = Intrinsics(500.0, 500.0, 400.0, 180.0, 640, 360)
    pose = CameraPose((0.0, 0.0016, 0.15))
    img = renderer.render(RenderRequest(ring, PoseView(pose, k), (640, 360), "transparent", shadow=False))
    ys, xs = np.nonzero(img[..., 3] == 255)
    assert abs((xs.min() + xs.max()) / 2 - 400) < 6
    assert abs((ys.min() + ys.max()) / 2 - 180) < 6
    # A ring of 18 mm seen from 0.15 m at f = 500 px spans about 500 * 0.018 / 0.15 = 60 px (+ perspective).
    assert 55 < xs.max() - xs.min() < 75


def test_gltf_camera_is_honoured(renderer, tmp_path: Path) -> None:
    yfov = 0.6
    model = box_with_cameras(
        tmp_path / "cams.glb",
        [
            {"translation": [0, 0, 5], "yfov": yfov, "aspectRatio": 2.0},
            {"translation": [1.0, 0, 5], "yfov": yfov},  # shifted right: the box appears left of centre
        ],
    )
    img = renderer.render(RenderRequest(model, GltfCameraView(0), (400, 200), "white", shadow=False))
    ys, xs = np.nonzero(_product_mask(img))
    # The front face (z = 0.5) is 4.5 m from the camera: half height 0.5 -> 0.5 / 4.5 / tan(yfov/2) * 100 px.
    half = 0.5 / 4.5 / math.tan(yfov / 2) * 100
    assert abs((ys.max() - ys.min()) / 2 - half) < 2.5
    assert abs((xs.min() + xs.max()) / 2 - 200) < 2
    img = renderer.render(RenderRequest(model, GltfCameraView(1), (400, 200), "white", shadow=False))
    xs = np.nonzero(_product_mask(img))[1]
    shift = 1.0 / 4.5 / math.tan(yfov / 2) * 100
    assert abs((xs.min() + xs.max()) / 2 - (200 - shift)) < 3
    with pytest.raises(RequestInvalid, match="camera"):
        renderer.render(RenderRequest(model, GltfCameraView(5), (400, 200)))


def test_broken_model_is_refused_with_a_clear_error(renderer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF" + (2).to_bytes(4, "little") + (4096).to_bytes(4, "little") + bytes(20))
    with pytest.raises(ModelInvalid, match="truncated"):
        renderer.render(RenderRequest(bad))
    with pytest.raises(RequestInvalid):
        renderer.render(RenderRequest(tmp_path / "missing.glb"))


def test_the_renderer_refuses_an_escaping_uri_with_the_validators_message(renderer, tmp_path: Path) -> None:
    import json

    from render_node.assets.gltf_import import validate_file

    (tmp_path / "secret.bin").write_bytes(bytes(44))
    (tmp_path / "model").mkdir()
    model = tmp_path / "model" / "tri.gltf"
    model.write_text(json.dumps({
        "asset": {"version": "2.0"},
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": 36, "uri": "../secret.bin"}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
    }))
    with pytest.raises(ModelInvalid) as validated:
        validate_file(model)
    assert str(validated.value) == "tri.gltf: buffers[0].uri: '../secret.bin' leaves the model's folder"
    with pytest.raises(ModelInvalid) as rendered:
        renderer.render(RenderRequest(model))
    assert str(rendered.value) == str(validated.value)


@pytest.mark.parametrize("name", SAMPLES)
def test_khronos_sample_loads_and_renders_with_plausible_coverage(renderer, gltf_samples: Path, name: str) -> None:
    model = next((gltf_samples / name).glob("*.glb"))
    img = renderer.render(RenderRequest(model, TurntableView(0, 10), (480, 270), "white"))
    cover = _product_mask(img).mean()
    assert 0.03 < cover < 0.9, f"{name}: coverage {cover:.3f}"
    assert img[..., :3].std() > 10, "not a flat image"


def test_every_catalog_product_renders_with_sensible_coverage(renderer, project_root: Path) -> None:
    catalog_path = project_root / "assets" / "catalog.toml"
    models = project_root / "assets" / "models"
    if not catalog_path.is_file() or not any(models.glob("*.glb")):
        pytest.skip("catalog models are not built (run `showroom assets build`)")
    from render_node.assets.variants import overrides_for
    from showroom.catalog import ProductKind, load_catalog

    catalog = load_catalog(catalog_path.read_text(encoding="utf-8"))
    for product in catalog:
        path = models / product.model
        assert path.is_file(), f"{product.id}: {path.name} not built"
        variant = product.variants[0]
        env = "car" if product.kind is ProductKind.CAR else "studio"
        img = renderer.render(
            RenderRequest(path, TurntableView(30, 15), (320, 180), "transparent", env, overrides=overrides_for(product, variant))
        )
        cover = (img[..., 3] > 30).mean()
        thin = product.kind in (ProductKind.NECKLACE, ProductKind.BRACELET, ProductKind.EARRINGS)  # fine chains, wires
        assert (0.005 if thin else 0.03) < cover < 0.9, f"{product.id}: coverage {cover:.3f}"
        if variant.purity is not None and variant.purity.value in ("Au9999", "Au999"):
            h, s, v = _hsv(_ring_pixels(img))
            lit = v > 0.25
            assert 35 <= float(np.median(h[lit])) <= 55 and float(np.median(s[lit])) > 0.3, f"{product.id} is not gold"


def test_a_renderer_after_another_threads_renderer_still_draws(env_dir: Path, ring: Path) -> None:
    """An in-process pool renders on its own thread; a renderer made later on this thread must not go blank."""
    import threading

    from render_node.render.engine import PandaRenderer

    request = RenderRequest(ring, TurntableView(30, 25), (320, 180), "transparent")
    seen: list[np.ndarray] = []

    def on_a_thread() -> None:
        with PandaRenderer(env_dir) as r:
            seen.append(r.render(request))

    t = threading.Thread(target=on_a_thread)
    t.start()
    t.join()
    with PandaRenderer(env_dir) as here:
        img = here.render(request)
    assert (seen[0][..., 3] > 200).mean() > 0.05
    assert (img[..., 3] > 200).mean() > 0.05, "the product is drawn, not a blank frame"
    h, s, _ = _hsv(_ring_pixels(img))
    assert 35 <= float(np.median(h)) <= 55 and float(np.median(s)) > 0.3, "and it is still gold"
