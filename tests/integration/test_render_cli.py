"""`showroom render` as an operator runs it: a real process, headless, writing an image file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.render_models import box_with_cameras, gold_ring

pytestmark = pytest.mark.gl


def _showroom(*args: str, env_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EGL_PLATFORM": "surfaceless", "SHOWROOM_ASSETS_DIR": str(env_dir.parent)}
    return subprocess.run(
        [sys.executable, "-m", "render_node", "render", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from render_node.render.environment import build_environments

    d = tmp_path_factory.mktemp("assets")
    build_environments(d / "env", face_size_px=64)
    return d


def test_render_model_file_writes_a_png_with_the_product_on_white(assets_dir: Path, tmp_path: Path) -> None:
    ring = gold_ring(tmp_path / "ring.glb", triangles=20_000)
    out = tmp_path / "out" / "ring.png"
    done = _showroom("--model", str(ring), "--size", "320x180", "--yaw-deg", "40", "-o", str(out), env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    img = np.asarray(Image.open(out))
    assert img.shape == (180, 320, 4)
    cover = (np.abs(img[..., :3].astype(int) - 255).sum(-1) > 30).mean()
    assert 0.05 < cover < 0.9


def test_render_transparent_keeps_alpha_and_gltf_camera_sets_the_aspect(assets_dir: Path, tmp_path: Path) -> None:
    model = box_with_cameras(tmp_path / "cams.glb", [{"translation": [0, 0, 4], "yfov": 0.8, "aspectRatio": 2.0}])
    out = tmp_path / "cam.png"
    done = _showroom("--model", str(model), "--camera", "gltf:0", "--background", "transparent", "-o", str(out),
                     env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    img = np.asarray(Image.open(out))
    assert img.shape == (720, 1440, 4), "the camera's aspect ratio 2:1 at the default height"
    assert img[0, 0, 3] == 0 and img[360, 720, 3] == 255


def test_render_reports_bad_input_without_a_traceback(assets_dir: Path, tmp_path: Path) -> None:
    model = box_with_cameras(tmp_path / "cams.glb", [])
    done = _showroom("--model", str(model), "--camera", "gltf:3", "-o", str(tmp_path / "x.png"), env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 2
    assert "camera" in done.stderr and "Traceback" not in done.stderr
    done = _showroom("--model", str(model), "--size", "big", "-o", str(tmp_path / "x.png"), env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 2 and "--size" in done.stderr
    (tmp_path / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00")
    done = _showroom("--model", str(tmp_path / "broken.glb"), "-o", str(tmp_path / "x.png"), env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 2 and "broken.glb" in done.stderr and "Traceback" not in done.stderr


def test_render_refuses_a_model_whose_buffer_leaves_its_folder_as_validate_does(
    assets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from render_node.cli import main

    (tmp_path / "secret.bin").write_bytes(bytes(44))
    folder = tmp_path / "model"
    folder.mkdir()
    model = folder / "tri.gltf"
    model.write_text(json.dumps(_triangle_referring_to("../secret.bin")))
    assert main(["assets", "validate", str(model)]) == 2
    validated = capsys.readouterr().err.strip().removeprefix("showroom assets: ")
    assert validated == "tri.gltf: buffers[0].uri: '../secret.bin' leaves the model's folder"
    done = _showroom("--model", str(model), "-o", str(tmp_path / "x.png"), env_dir=assets_dir / "env", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"showroom render: {validated}"
    assert not (tmp_path / "x.png").exists()


def _triangle_referring_to(uri: str) -> dict[str, object]:
    return {
        "asset": {"version": "2.0"},
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": 36, "uri": uri}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
    }
