"""The hall's asset build end to end (panda3d offscreen for the probes): the GLB through our own reader, the
probes through the environment-file reader, and what a customer sees in them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from render_node.cli import main
from render_node.hall.build import build_hall, ensure_hall, is_stale
from render_node.hall.files import hall_paths
from render_node.hall.layout import EYE_HEIGHT_M, hall_plan, yaw_quaternion
from render_node.render.engine import PandaRenderer
from render_node.render.env_files import read_equirect
from render_node.render.gltf import read_gltf
from render_node.render.types import CameraPose, EnvFile, Intrinsics, PoseView, RenderRequest, TurntableView

ROOT = Path(__file__).resolve().parents[2]
ENV_FILES = ("brdf_lut.npz", "studio.npz", "counter.npz", "car.npz")


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh assets folder with the hall built in it (the checkout's environment maps copied when built)."""
    d = tmp_path_factory.mktemp("assets")
    env = ROOT / "assets" / "env"
    if all((env / n).is_file() for n in ENV_FILES):
        (d / "env").mkdir()
        for n in ENV_FILES:
            shutil.copy(env / n, d / "env" / n)
    report = ensure_hall(d)
    assert not report.skipped
    return d


@pytest.fixture(scope="module")
def renderer(assets: Path) -> Iterator[PandaRenderer]:
    r = PandaRenderer(assets / "env")
    yield r
    r.close()


def test_the_hall_builds_once_and_is_skipped_while_nothing_changes(assets: Path) -> None:
    files = hall_paths(assets)
    stamp = files.glb.stat().st_mtime_ns
    assert build_hall(assets) == files.glb
    assert files.glb.stat().st_mtime_ns == stamp
    assert set(files.probes) == {p.id for p in hall_plan().probes}
    assert all(p.name == f"{pid}.hdr" and p.is_file() for pid, p in files.probes.items())
    assert not is_stale(assets)


def test_a_missing_probe_makes_the_hall_stale(assets: Path, tmp_path: Path) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(assets / "hall", copy / "hall")
    next(iter(hall_paths(copy).probes.values())).unlink()
    assert is_stale(copy)


def test_every_hall_material_is_unlit_with_its_light_baked_into_vertex_colours(assets: Path) -> None:
    asset = read_gltf(hall_paths(assets).glb)
    assert all(m.unlit for m in asset.materials)
    by_name = {m.name: m for m in asset.materials}
    assert by_name["glass"].alpha_mode == "BLEND" and by_name["glass"].base_color[3] < 0.5
    assert by_name["floor"].base_color_tex is not None  # the marble tiles
    assert all(by_name[f"sign:{s.id}"].base_color_tex is not None for s in hall_plan().signs)
    triangles = 0
    for prims in asset.meshes:
        for p in prims:
            assert p.colors is not None
            triangles += len(p.indices) // 3
            if asset.materials[p.material or 0].name == "wall":
                lum = p.colors[:, :3].mean(axis=1)
                assert lum.max() > 2 * lum.min()  # light and shade, not one flat colour
    assert 20_000 < triangles < 150_000


def test_a_probe_sees_the_ceiling_lights_above_and_the_floor_below(assets: Path) -> None:
    image, _ = read_equirect(hall_paths(assets).probes["probe-gold"])
    h, w, _ = image.shape
    assert w == 2 * h
    upper, lower = image[: h // 3], image[2 * h // 3 :]
    assert upper.max() > 5.0  # the ceiling panels, far brighter than any wall
    assert lower.max() < 5.0
    floor = lower.reshape(-1, 3).mean(axis=0)
    assert floor[0] > floor[2]  # warm marble, warm light


def test_gold_lit_by_a_probe_reflects_the_hall_not_the_studio(assets: Path, renderer: PandaRenderer) -> None:
    model = ROOT / "assets" / "models" / "bar-au9999-100g.glb"
    if not model.is_file():
        pytest.skip("catalog models are not built (run `showroom assets build`)")
    view = TurntableView(yaw_deg=25, pitch_deg=30)
    probe = hall_paths(assets).probes["probe-gold"]
    hall = renderer.render(RenderRequest(model_path=model, view=view, size_px=(256, 256), env=EnvFile(probe)))
    studio = renderer.render(RenderRequest(model_path=model, view=view, size_px=(256, 256), env="studio"))
    gold = (hall[..., 3] > 0) & (hall[..., :3].min(axis=-1) < 250)
    assert gold.mean() > 0.05
    diff = np.abs(hall[..., :3].astype(int) - studio[..., :3].astype(int))[gold].mean()
    assert diff > 8  # another light: the hall's reflections, not the studio's softboxes


def test_the_hall_seen_from_the_entrance_is_bright_and_warm_with_its_signs(assets: Path, renderer: PandaRenderer) -> None:
    plan = hall_plan()
    x, _, z = plan.welcome_m
    view = PoseView(CameraPose((x, EYE_HEIGHT_M, z), yaw_quaternion(plan.welcome_yaw_deg)),
                    Intrinsics.from_fov(75, 320, 180), near_m=0.05, far_m=200)
    frame = renderer.render(RenderRequest(model_path=hall_paths(assets).glb, view=view, size_px=(320, 180),
                                          env="counter", shadow=False))
    rgb = frame[..., :3].astype(float)
    assert rgb.mean() > 140  # a bright branch, not a grey test scene
    assert rgb[..., 0].mean() > rgb[..., 2].mean() + 5  # warm
    assert (rgb == 255).all(axis=-1).mean() < 0.1  # no holes onto the white background
    red = (rgb[..., 0] > 170) & (rgb[..., 1] < 90) & (rgb[..., 2] < 130)
    assert red.sum() > 20  # the red signs and the wealth corner's sofa are in view


def test_showroom_assets_hall_says_when_the_hall_is_up_to_date(assets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["assets", "hall", "--assets-dir", str(assets)])
    out = capsys.readouterr().out
    assert code == 0 and "up to date" in out
