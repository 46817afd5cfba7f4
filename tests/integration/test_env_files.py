"""Environment lights from files (`--env FILE`): a synthetic lat-long with a warm light on +X lights a chrome
sphere from that side; a 180-degree turn moves it; a PNG works; the prefiltered maps are cached; bad files are
refused with a message naming the file and the fault. A look: test-artifacts/env-files/."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from render_node.render import env_files, environment
from render_node.render.errors import EnvironmentInvalid

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "env-files"
WARM = (8.0, 4.0, 1.2)


def warm_right_panorama(width_px: int = 128) -> npt.NDArray[Any]:
    """(h, w, 3) float32 linear RGB: dark everywhere, a bright warm area around +X (longitude +90 degrees)."""
    h = width_px // 2
    img = np.full((h, width_px, 3), 0.02, np.float32)
    lon = (np.arange(width_px) + 0.5) / width_px * 360 - 180
    lat = 90 - (np.arange(h) + 0.5) / h * 180
    lat_g, lon_g = np.meshgrid(lat, lon, indexing="ij")
    img[(np.abs(lon_g - 90) < 35) & (lat_g > -30) & (lat_g < 50)] = WARM
    return img


def write_hdr(path: Path, rgb: npt.NDArray[Any]) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1], dtype=np.float32))
    return path


def write_exr(path: Path, rgb: npt.NDArray[Any]) -> Path:
    os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"
    ok, buf = cv2.imencode(".exr", np.ascontiguousarray(rgb[..., ::-1], dtype=np.float32))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def chrome_sphere(path: Path) -> Path:
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    mesh.apply_translation([0, 0.05, 0])
    mat = PBRMaterial(  # type: ignore[no-untyped-call]
        name="chrome", baseColorFactor=[0.95, 0.95, 0.95, 1.0], metallicFactor=1.0, roughnessFactor=0.35)
    mesh.visual = trimesh.visual.TextureVisuals(material=mat)  # type: ignore[no-untyped-call]
    mesh.export(path)
    return path


def halves(frame: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Mean linear-ish RGB of the product's left and right halves (pixels that are not the white background)."""
    rgb = frame[..., :3].astype(np.float64)
    product = np.abs(rgb - 255).sum(-1) > 20
    cols = np.nonzero(product.any(axis=0))[0]
    mid = (cols.min() + cols.max()) / 2
    x = np.arange(frame.shape[1])[None, :]
    left, right = product & (x < mid), product & (x > mid)
    return rgb[left].mean(0), rgb[right].mean(0)


# --- files: checks and cache (no GL) ------------------------------------------------------------------------


def test_the_second_use_of_a_file_reads_the_cache_instead_of_prefiltering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hdr = write_hdr(tmp_path / "warm.hdr", warm_right_panorama())
    calls: list[int] = []
    real = environment.prefilter_environment

    def counting(radiance: Callable[[npt.NDArray[Any]], npt.NDArray[Any]], face_size_px: int = 64) -> tuple[list[npt.NDArray[Any]], npt.NDArray[Any]]:
        calls.append(face_size_px)
        return real(radiance, face_size_px)

    monkeypatch.setattr(environment, "prefilter_environment", counting)
    cache = tmp_path / "cache"
    first, irr1, digest = env_files.prefiltered_env_file(hdr, cache, 64)
    assert calls == [64]
    assert env_files.cache_path(cache, digest, 64).is_file()
    second, irr2, _ = env_files.prefiltered_env_file(hdr, cache, 64)
    assert calls == [64], "the second use must not prefilter again"
    assert len(first) == len(second) and np.allclose(irr1, irr2, rtol=1e-2, atol=1e-3)
    # The same bytes under another name hit the same entry (the key is the content, not the path).
    (tmp_path / "copy.hdr").write_bytes(hdr.read_bytes())
    env_files.prefiltered_env_file(tmp_path / "copy.hdr", cache, 64)
    assert calls == [64]


def test_a_png_is_linearised_from_srgb(tmp_path: Path) -> None:
    png = tmp_path / "grey.png"
    Image.fromarray(np.full((16, 32, 3), 188, np.uint8)).save(png)
    image, _ = env_files.read_equirect(png)
    assert image.shape == (16, 32, 3)
    assert abs(float(image.mean()) - 0.5) < 0.01, "sRGB 188 is about 0.5 linear"


def test_the_warm_light_lands_on_plus_x_in_the_cube(tmp_path: Path) -> None:
    image, _ = env_files.read_equirect(write_hdr(tmp_path / "warm.hdr", warm_right_panorama()))
    px, mx = env_files.equirect_radiance(image, np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], np.float32))
    assert px[0] > 5 and px[0] > 2 * px[2] and mx.max() < 0.05


def _nan_exr(path: Path) -> Path:
    img = warm_right_panorama(64)
    img[5, 7] = np.nan
    return write_exr(path, img)


def _negative_exr(path: Path) -> Path:
    img = warm_right_panorama(64)
    img[3, 4] = -1.0
    return write_exr(path, img)


def _garbage_exr(path: Path) -> Path:
    path.write_bytes(b"\x76\x2f\x31\x01" + b"\x02\x00\x00\x00" + os.urandom(200))
    return path


def _truncated_exr(path: Path) -> Path:
    whole = write_exr(path, warm_right_panorama(64)).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _huge_hdr(path: Path) -> Path:
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 60000 +X 120000\n" + b"\0" * 64)
    return path


def _square_png(path: Path) -> Path:
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
    return path


def _text(path: Path) -> Path:
    path.write_text("not a panorama at all\n")
    return path


BAD_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("notes.hdr", _text, "is not an image"),
    ("square.png", _square_png, "64 x 64 pixels is not a 2:1 equirectangular"),
    ("huge.hdr", _huge_hdr, "120000 x 60000 pixels is too large"),
    ("nan.exr", _nan_exr, "contains NaN or infinite values (first at row 5, column 7)"),
    ("negative.exr", _negative_exr, "contains negative values (first at row 3, column 4"),
    ("garbage.exr", _garbage_exr, "unreadable EXR"),
    ("truncated.exr", _truncated_exr, "unreadable EXR"),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_environment_file_is_refused_with_its_name_and_fault(
    tmp_path: Path, name: str, make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path / name)
    with pytest.raises(EnvironmentInvalid) as caught:
        env_files.read_equirect(path)
    assert caught.value.message.startswith(f"environment file {name}: ")
    assert message in caught.value.message


# --- rendering ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("assets") / "env"
    environment.build_environments(d, face_size_px=64)
    return d


@pytest.mark.gl
def test_a_warm_light_on_one_side_lights_that_side_of_a_chrome_sphere_and_turns_with_the_rotation(
    renderer: object, tmp_path: Path
) -> None:
    from render_node.render.engine import PandaRenderer
    from render_node.render.types import EnvFile, RenderRequest, TurntableView

    assert isinstance(renderer, PandaRenderer)
    sphere = chrome_sphere(tmp_path / "sphere.glb")
    hdr = write_hdr(tmp_path / "warm.hdr", warm_right_panorama())

    def shot(rotation_deg: float, background: str = "white") -> npt.NDArray[Any]:
        request = RenderRequest(sphere, TurntableView(0.0, 0.0), (192, 192), background,  # type: ignore[arg-type]
                                EnvFile(hdr, rotation_deg), shadow=False)
        return renderer.render(request)

    frame = shot(0.0)
    left, right = halves(frame)
    assert right.mean() > 1.5 * left.mean(), f"the lit (+X, right) side is brighter: left {left}, right {right}"
    assert right[0] > right[2] + 20, f"the light's warm tint shows on the lit side: {right}"
    turned_left, turned_right = halves(shot(180.0))
    assert turned_left.mean() > 1.5 * turned_right.mean(), f"a 180-degree turn moves the light: {turned_left} {turned_right}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([frame, shot(180.0), shot(0.0, "env")], axis=1)).save(ARTIFACTS / "warm-sphere.png")


@pytest.mark.gl
def test_an_8_bit_png_environment_lights_the_product(renderer: object, tmp_path: Path) -> None:
    from render_node.render.engine import PandaRenderer
    from render_node.render.types import EnvFile, RenderRequest, TurntableView

    assert isinstance(renderer, PandaRenderer)
    sphere = chrome_sphere(tmp_path / "sphere.glb")
    linear = np.clip(warm_right_panorama() / 8.0, 0, 1)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    png = tmp_path / "warm.png"
    Image.fromarray((srgb * 255 + 0.5).astype(np.uint8)).save(png)
    frame = renderer.render(RenderRequest(sphere, TurntableView(0.0, 0.0), (192, 192), "white", EnvFile(png, 0.0, 3.0),
                                          shadow=False))
    left, right = halves(frame)
    assert right.mean() > 1.5 * left.mean(), f"left {left}, right {right}"


def _showroom(*args: str, assets_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EGL_PLATFORM": "surfaceless", "SHOWROOM_ASSETS_DIR": str(assets_dir)}
    return subprocess.run(
        [sys.executable, "-m", "render_node", "render", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240
    )


@pytest.mark.gl
def test_the_cli_renders_with_an_env_file_caches_it_and_refuses_a_bad_one(env_dir: Path, tmp_path: Path) -> None:
    sphere = chrome_sphere(tmp_path / "sphere.glb")
    hdr = write_hdr(tmp_path / "warm.hdr", warm_right_panorama(256))  # bytes no other test has cached
    cached = env_files.cache_path(env_dir / "cache", hashlib.sha256(hdr.read_bytes()).hexdigest(), 64)
    assert not cached.exists()
    args = ("--model", str(sphere), "--size", "160x120", "--env", str(hdr), "--env-rotation-deg", "90", "--env-exposure", "0.5")
    done = _showroom(*args, "-o", str(tmp_path / "a.png"), assets_dir=env_dir.parent, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cached.is_file(), "the first render prefilters and caches"
    stamp = cached.stat().st_mtime_ns
    done = _showroom(*args, "-o", str(tmp_path / "b.png"), assets_dir=env_dir.parent, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cached.stat().st_mtime_ns == stamp, "the second render reads the cache, it does not write it again"
    assert np.asarray(Image.open(tmp_path / "b.png")).shape == (120, 160, 4)

    bad = _square_png(tmp_path / "square.png")
    done = _showroom("--model", str(sphere), "--env", str(bad), "-o", str(tmp_path / "c.png"), assets_dir=env_dir.parent, cwd=tmp_path)
    assert done.returncode == 2
    assert "environment file square.png: 64 x 64 pixels is not a 2:1 equirectangular" in done.stderr
    assert "Traceback" not in done.stderr
    done = _showroom("--model", str(sphere), "--env", "studio", "--env-exposure", "1", "-o", str(tmp_path / "d.png"),
                     assets_dir=env_dir.parent, cwd=tmp_path)
    assert done.returncode == 2 and "apply to --env FILE" in done.stderr


@pytest.mark.gl
def test_the_studios_own_lat_long_file_lights_like_the_built_in_studio(renderer: object, env_dir: Path, tmp_path: Path) -> None:
    from render_node.render.engine import PandaRenderer
    from render_node.render.types import EnvFile, RenderRequest, TurntableView

    assert isinstance(renderer, PandaRenderer)
    sphere = chrome_sphere(tmp_path / "sphere.glb")
    view = TurntableView(30.0, 15.0)
    built_in = renderer.render(RenderRequest(sphere, view, (160, 160), "white", "studio", shadow=False))
    # studio.hdr is written in the same lat-long layout; the built-in studio's tone exposure is 0.8 = 2^-0.32 EV.
    from_file = renderer.render(RenderRequest(sphere, view, (160, 160), "white",
                                              EnvFile(env_dir / "studio.hdr", 0.0, float(np.log2(0.8))), shadow=False))
    assert np.abs(built_in.astype(int) - from_file.astype(int)).mean() < 2.0
