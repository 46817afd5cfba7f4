"""The reference preset (the glTF Sample Viewer's conventions) and the catalog's environment, rendered offscreen
(EGL; Mesa llvmpipe without a GPU): what changes in the picture, and what does not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from render_node.render.cameras import reference_request
from render_node.render.errors import RequestInvalid
from render_node.render.types import RenderRequest, ToneMap, TurntableView
from tests.render_models import gold_ring

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from render_node.render.environment import build_environments

    d = tmp_path_factory.mktemp("assets") / "env"
    build_environments(d, face_size_px=64)
    return d


@pytest.fixture(scope="module")
def renderer(env_dir: Path) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(env_dir)  # auto: the baked path on llvmpipe, which the reference preset must not take
    yield r
    r.close()


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gold_ring(tmp_path_factory.mktemp("models") / "ring.glb", triangles=20_000)


def _luma(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = frame[..., :3].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    return out


def test_the_reference_preset_draws_no_contact_shadow(renderer: Any, ring: Path) -> None:
    view = TurntableView(0.0, 25.0)
    product = renderer.render(RenderRequest(ring, view, (240, 180), "transparent"))
    reference = renderer.render(RenderRequest(ring, view, (240, 180), "transparent", reference=True))
    shadow = (product[..., 3] > 0) & (reference[..., 3] == 0)
    assert shadow.sum() > 300, "the product picture has a shadow around the ring that the reference one has not"
    assert product[shadow][:, :3].max() == 0, "and it is the black contact shadow"
    ring_px = reference[..., 3] == 255
    assert (product[ring_px][:, 3] == 255).all(), "the ring itself is where it was"


def test_the_reference_preset_takes_the_exact_shader_even_where_the_renderer_bakes(renderer: Any, ring: Path) -> None:
    assert renderer.shading == "baked", "llvmpipe: auto means baked here"
    request = RenderRequest(ring, TurntableView(20.0, 20.0), (200, 150), "white", reference=True)
    baked_renderer = renderer.render(request)
    renderer.shading = "exact"
    try:
        exact_renderer = renderer.render(request)
        product_exact = renderer.render(RenderRequest(ring, TurntableView(20.0, 20.0), (200, 150), "white"))
    finally:
        renderer.shading = "baked"
    product_baked = renderer.render(RenderRequest(ring, TurntableView(20.0, 20.0), (200, 150), "white"))
    assert np.array_equal(baked_renderer, exact_renderer), "the same pixels whatever the renderer's shading"
    assert not np.array_equal(product_exact, product_baked), "(while a product picture does change with it)"


def test_the_tone_mapping_choice_changes_the_picture_as_each_operator_should(renderer: Any, ring: Path) -> None:
    tonemaps: tuple[ToneMap, ...] = ("neutral", "aces", "linear")
    frames = {tm: renderer.render(reference_request(ring, 0, (240, 180), "studio", tm, "transparent")) for tm in tonemaps}
    body = frames["neutral"][..., 3] == 255
    assert body.sum() > 1000
    luma = {tm: _luma(f)[body].mean() for tm, f in frames.items()}
    # ACES (Hill's fit) darkens mid-tones and rolls highlights off harder than PBR Neutral; linear only clips.
    assert luma["aces"] < luma["neutral"] - 5, luma
    clipped = {tm: int((f[body][:, :3] == 255).any(axis=-1).sum()) for tm, f in frames.items()}
    assert clipped["linear"] > clipped["neutral"], clipped
    default = renderer.render(RenderRequest(ring, TurntableView(0.0, 0.0, 1.0, 45.0), (240, 180), "transparent",
                                            env="studio", shadow=False))
    assert np.abs(_luma(default)[body] - _luma(frames["neutral"])[body]).mean() > 2, (
        "reference: exposure 1 and gamma 2.2 instead of the studio's 0.8 and the sRGB curve")
    with pytest.raises(RequestInvalid, match="tone mapping"):
        renderer.render(RenderRequest(ring, size_px=(64, 48), tonemap="filmic"))  # type: ignore[arg-type]


def _red_or_blue_sky(path: Path, blue: bool) -> Path:
    rgb = np.full((32, 64, 3), 0.05, np.float32)
    rgb[:8, :, 2 if blue else 0] = 8.0  # a bright sky band
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV writes BGR
    return path


def test_an_environment_file_named_in_the_catalog_lights_the_product_by_default(
    env_dir: Path, tmp_path: Path, project_root: Path
) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(env_dir, assets / "env")
    _red_or_blue_sky(assets / "env" / "blue-sky.hdr", blue=True)
    (assets / "models").mkdir()
    ring_glb = project_root / "assets" / "models" / "ring-band-classic.lod2.glb"
    if not ring_glb.is_file():
        pytest.skip("assets are not built (showroom assets build)")
    shutil.copy(ring_glb, assets / "models" / "ring-band-classic.glb")
    catalog = (project_root / "assets" / "catalog.toml").read_text(encoding="utf-8")
    (assets / "catalog.toml").write_text(catalog, encoding="utf-8")
    env = {**os.environ, "EGL_PLATFORM": "surfaceless"}
    cmd = [sys.executable, "-m", "render_node", "render", "ring-band-classic", "--size", "200x150", "--no-shadow",
           "--assets-dir", str(assets)]
    subprocess.run([*cmd, "-o", str(tmp_path / "a.png")], check=True, env=env, capture_output=True, timeout=240)
    hall = catalog.replace("schema_version = 1\n", 'schema_version = 1\n[halls.metals]\nenvironment = "blue-sky.hdr"\n')
    (assets / "catalog.toml").write_text(hall, encoding="utf-8")
    done = subprocess.run([*cmd, "-o", str(tmp_path / "b.png")], check=True, env=env, capture_output=True, text=True,
                          timeout=240)
    assert "blue-sky.hdr" in done.stderr
    a = np.asarray(Image.open(tmp_path / "a.png").convert("RGB")).astype(float)
    b = np.asarray(Image.open(tmp_path / "b.png").convert("RGB")).astype(float)
    ring_px = (a < 250).any(axis=-1)
    assert (b[ring_px][:, 2] - b[ring_px][:, 0]).mean() > (a[ring_px][:, 2] - a[ring_px][:, 0]).mean() + 10, (
        "the blue sky of the catalog's environment file shows in the ring's reflections")
    (assets / "catalog.toml").write_text(hall.replace("blue-sky.hdr", "missing.hdr"), encoding="utf-8")
    refused = subprocess.run([*cmd, "-o", str(tmp_path / "c.png")], env=env, capture_output=True, text=True,
                             timeout=240)
    assert refused.returncode != 0 and "halls.metals.environment: no environment file 'missing.hdr'" in refused.stderr


def test_the_reference_preset_looks_through_the_files_own_camera(env_dir: Path, tmp_path: Path) -> None:
    from tests.render_models import box_with_cameras

    model = box_with_cameras(tmp_path / "cams.glb", [{"translation": [0, 0, 4], "yfov": 0.8, "aspectRatio": 2.0}])
    env = {**os.environ, "EGL_PLATFORM": "surfaceless"}
    done = subprocess.run([sys.executable, "-m", "render_node", "render", "--model", str(model), "--preset", "reference",
                           "--tonemap", "aces", "--assets-dir", str(env_dir.parent), "-o", str(tmp_path / "r.png")],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "preset=reference tonemap=aces" in done.stderr
    frame = np.asarray(Image.open(tmp_path / "r.png"))
    assert frame.shape[:2] == (720, 1440), "the camera's 2:1 aspect at 720 px high"
    centre = frame[300:420, 640:800, :3].astype(float).mean(axis=(0, 1))
    assert centre[0] - centre[2] > 40, f"the camera looks straight at the red box: {centre}"
