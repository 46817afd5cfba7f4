"""Cut stones drawn offscreen (EGL; llvmpipe without a GPU) with answers known in advance: a brilliant seen face-up
under a sky over a black floor returns the sky's light through its crown (total internal reflection at the
pavilion), where a stone of low index leaks it to the floor and goes dark; a diamond's dispersion colours its
facets (fire); a ruby is red and a sapphire blue; the catalog's stones are drawn by the gem path."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from render_node.assets.gems import GEMS, Gem, material_for, round_brilliant
from render_node.render.types import CameraPose, EnvFile, Intrinsics, PoseView, RenderRequest
from tests.render_models import write_glb

pytestmark = pytest.mark.gl

SIZE_PX = 160
DIAMETER_MM = 5.0


@pytest.fixture(scope="module")
def sky_over_black(tmp_path_factory: pytest.TempPathFactory) -> EnvFile:
    """A lat-long environment: white above the horizon, black below (a lit room over a black counter)."""
    image = np.zeros((64, 128, 3), np.uint8)
    image[:32] = 255
    path = tmp_path_factory.mktemp("sky") / "sky-over-black.png"
    Image.fromarray(image).save(path)
    return EnvFile(path)


def _stone(path: Path, gem: Gem, *, dispersion: bool = True, flag: bool = True) -> Path:
    """A GLB of one round brilliant (girdle at the origin, table up) of `gem`."""
    mesh = round_brilliant(DIAMETER_MM)
    pos = np.asarray(mesh.vertices, np.float32)
    nrm = np.asarray(mesh.vertex_normals, np.float32)
    idx = np.asarray(mesh.faces, np.uint32).reshape(-1)
    ext = material_for(gem, depth_mm=3.0)
    extras = ext.pop("extras") if flag else {}
    if not dispersion:
        ext.pop("KHR_materials_dispersion")
    blobs = [pos.tobytes(), nrm.tobytes(), idx.tobytes()]
    binary = b"".join(blobs)
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    doc = {
        "asset": {"version": "2.0"},
        "extensionsUsed": sorted(ext),
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": int(offsets[i]), "byteLength": len(b)} for i, b in enumerate(blobs)],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
             "min": pos.min(0).tolist(), "max": pos.max(0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(pos), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": len(idx), "type": "SCALAR"},
        ],
        "materials": [{"name": "gem", "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0,
                                                               "roughnessFactor": 0},
                       "extensions": ext, **({"extras": extras} if extras else {})}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    return write_glb(path, doc, binary)


def _view(elevation_deg: float, azimuth_deg: float = 0.0) -> PoseView:
    """A camera 4 cm from the stone's centre at `elevation_deg` above the girdle plane, looking at it."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    direction = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    eye = 0.04 * direction
    z = direction
    x = np.cross([0.0, 0.0, -1.0] if elevation_deg > 89 else [0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    from scipy.spatial.transform import Rotation

    quat = Rotation.from_matrix(np.stack([x, y, z], 1)).as_quat()
    return PoseView(CameraPose((float(eye[0]), float(eye[1]), float(eye[2])),
                               (float(quat[0]), float(quat[1]), float(quat[2]), float(quat[3]))),
                    Intrinsics.from_fov(10.0, SIZE_PX, SIZE_PX), 0.005, 1.0)


def _stone_pixels(renderer: Any, model: Path, view: PoseView, env: Any = "studio") -> np.ndarray:
    """The stone's pixels (n, 3) float sRGB 0..255: where the transparent frame is opaque."""
    frame = renderer.render(RenderRequest(model, view, (SIZE_PX, SIZE_PX), "transparent", env, shadow=False))
    inside = frame[..., 3] == 255
    assert inside.sum() > 0.15 * SIZE_PX * SIZE_PX, "the stone fills a good part of the frame"
    return np.asarray(frame[..., :3][inside], np.float64)


def test_a_brilliant_face_up_returns_the_light_from_above_by_total_internal_reflection(
    renderer: Any, tmp_path: Path, sky_over_black: EnvFile
) -> None:
    diamond = _stone(tmp_path / "diamond.glb", GEMS["diamond"])
    window = _stone(tmp_path / "window.glb", Gem(1.15, 60.0))
    face_up = _view(90.0)
    bright = _stone_pixels(renderer, diamond, face_up, sky_over_black).mean()
    leaky = _stone_pixels(renderer, window, face_up, sky_over_black).mean()
    # the pavilion sends the sky back up (a bright stone) instead of letting the black floor through
    assert bright > 150, bright
    assert leaky < 0.5 * bright, (leaky, bright)


def _chroma(pixels: np.ndarray) -> float:
    return float(np.mean(pixels.max(axis=1) - pixels.min(axis=1)))


def test_a_diamonds_dispersion_gives_it_fire(renderer: Any, tmp_path: Path) -> None:
    with_fire = _stone(tmp_path / "fire.glb", GEMS["diamond"])
    without = _stone(tmp_path / "plain.glb", GEMS["diamond"], dispersion=False)
    view = _view(35.0, 20.0)
    fire = _chroma(_stone_pixels(renderer, with_fire, view))
    plain = _chroma(_stone_pixels(renderer, without, view))
    assert fire > 2.0 * plain + 3.0, (fire, plain)


@pytest.mark.parametrize(("stone", "hue"), [("ruby", 0), ("sapphire", 2)])
def test_a_ruby_is_red_and_a_sapphire_blue(renderer: Any, tmp_path: Path, stone: str, hue: int) -> None:
    model = _stone(tmp_path / f"{stone}.glb", GEMS[stone])
    mean = _stone_pixels(renderer, model, _view(35.0, 20.0)).mean(axis=0)
    others = [mean[i] for i in range(3) if i != hue]
    assert mean[hue] > 1.6 * max(others), mean


def test_without_its_flag_a_stone_is_drawn_as_a_plain_volume(renderer: Any, tmp_path: Path) -> None:
    flagged = renderer.load_model(_stone(tmp_path / "gem.glb", GEMS["diamond"]))
    plain = renderer.load_model(_stone(tmp_path / "volume.glb", GEMS["diamond"], flag=False))
    assert "GEM" in flagged.material_nodes[0].defines and "TRANSMISSION" not in flagged.material_nodes[0].defines
    assert "GEM" not in plain.material_nodes[0].defines and "VOLUME" in plain.material_nodes[0].defines


def test_the_solitaires_and_studs_stones_are_traced_as_gems(renderer: Any, tmp_path: Path) -> None:
    from render_node.assets._mesh import export_glb, to_scene
    from render_node.assets.jewellery import solitaire_ring, stud_earrings

    for name, parts in (("solitaire", solitaire_ring(16.6, 3.0, "Pt950")), ("studs", stud_earrings())):
        path = tmp_path / f"{name}.glb"
        path.write_bytes(export_glb(to_scene(parts)))
        model = renderer.load_model(path)
        gems = [mn for mn in model.material_nodes if mn.material.name == "gem"]
        assert gems and all("GEM" in mn.defines for mn in gems), name
        assert len(gems) == (1 if name == "solitaire" else 2)
        doc = json.loads(path.read_bytes()[20:20 + struct.unpack_from("<I", path.read_bytes(), 12)[0]])
        assert {m["name"]: m.get("extras") for m in doc["materials"]}["gem"] == {"gem": "faceted"}
