"""The glTF reader's KHR material extensions (ior, specular, anisotropy, sheen, clearcoat textures, volume,
dispersion, iridescence): the values the shader receives, the defaults of a file without them, and files
refused with the field named. No GL."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from render_node.gltf import read_model
from render_node.gltf.materials import Material
from render_node.render.errors import ModelInvalid

_PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _read(tmp_path: Path, material: dict[str, Any]) -> Material:
    """The one material of a one-triangle glTF (with a 1-pixel texture 0 to name)."""
    data = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes() + struct.pack("<3H", 0, 1, 2) + b"\0\0"
    uri = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [material],
        "buffers": [{"byteLength": len(data), "uri": uri}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}, {"buffer": 0, "byteOffset": 36, "byteLength": 6}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"},
                      {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"}],
        "images": [{"uri": "data:image/png;base64," + base64.b64encode(_PNG_1PX).decode()}],
        "textures": [{"source": 0}],
    }
    path = tmp_path / "m.gltf"
    path.write_text(json.dumps(doc))
    return read_model(path).materials[0]


def test_a_material_without_extensions_has_the_specs_defaults(tmp_path: Path) -> None:
    m = _read(tmp_path, {})
    assert (m.ior, m.specular, m.specular_color) == (1.5, 1.0, (1.0, 1.0, 1.0))
    assert math.isclose(m.dielectric_f0, 0.04)
    assert (m.anisotropy, m.anisotropy_rotation_rad, m.anisotropy_tex) == (0.0, 0.0, None)
    assert not m.has_sheen and not m.has_volume and not m.has_iridescence and m.dispersion == 0
    assert m.attenuation_distance_m == math.inf and m.attenuation_color == (1.0, 1.0, 1.0)


def test_every_extension_value_is_read(tmp_path: Path) -> None:
    tex = {"index": 0}
    m = _read(tmp_path, {"extensions": {
        "KHR_materials_ior": {"ior": 2.4},
        "KHR_materials_specular": {"specularFactor": 0.5, "specularColorFactor": [1, 0.5, 0.25],
                                   "specularTexture": tex, "specularColorTexture": tex},
        "KHR_materials_anisotropy": {"anisotropyStrength": 0.7, "anisotropyRotation": 1.2, "anisotropyTexture": tex},
        "KHR_materials_sheen": {"sheenColorFactor": [0.9, 0.8, 0.7], "sheenRoughnessFactor": 0.4,
                                "sheenColorTexture": tex, "sheenRoughnessTexture": tex},
        "KHR_materials_clearcoat": {"clearcoatFactor": 1, "clearcoatRoughnessFactor": 0.1, "clearcoatTexture": tex,
                                    "clearcoatRoughnessTexture": tex,
                                    "clearcoatNormalTexture": {"index": 0, "scale": 0.5}},
        "KHR_materials_transmission": {"transmissionFactor": 1, "transmissionTexture": tex},
        "KHR_materials_volume": {"thicknessFactor": 0.002, "thicknessTexture": tex,
                                 "attenuationColor": [0.9, 0.1, 0.1], "attenuationDistance": 0.004},
        "KHR_materials_dispersion": {"dispersion": 0.33},
        "KHR_materials_iridescence": {"iridescenceFactor": 0.8, "iridescenceIor": 1.6, "iridescenceTexture": tex,
                                      "iridescenceThicknessMinimum": 50, "iridescenceThicknessMaximum": 500,
                                      "iridescenceThicknessTexture": tex},
    }})
    assert math.isclose(m.dielectric_f0, (1.4 / 3.4) ** 2)
    assert (m.specular, m.specular_color) == (0.5, (1.0, 0.5, 0.25))
    assert (m.anisotropy, m.anisotropy_rotation_rad) == (0.7, 1.2)
    assert (m.sheen_color, m.sheen_roughness, m.has_sheen) == ((0.9, 0.8, 0.7), 0.4, True)
    assert (m.clearcoat, m.clearcoat_roughness, m.clearcoat_normal_scale) == (1.0, 0.1, 0.5)
    assert (m.thickness, m.attenuation_color, m.attenuation_distance_m, m.has_volume) == (
        0.002, (0.9, 0.1, 0.1), 0.004, True)
    assert (m.dispersion, m.iridescence, m.iridescence_ior, m.iridescence_thickness_nm) == (0.33, 0.8, 1.6, (50, 500))
    assert m.has_iridescence
    textures = (m.iridescence_tex, m.iridescence_thickness_tex, m.specular_tex, m.specular_color_tex, m.anisotropy_tex, m.sheen_color_tex, m.sheen_roughness_tex,
                m.clearcoat_tex, m.clearcoat_roughness_tex, m.clearcoat_normal_tex, m.transmission_tex, m.thickness_tex)
    assert all(t is not None and t.image == 0 for t in textures)


def test_an_ior_of_zero_is_a_full_mirror_and_volume_needs_transmission(tmp_path: Path) -> None:
    m = _read(tmp_path, {"extensions": {"KHR_materials_ior": {"ior": 0}, "KHR_materials_volume": {"thicknessFactor": 1},
                                        "KHR_materials_iridescence": {"iridescenceFactor": 1,
                                                                      "iridescenceThicknessMaximum": 0}}})
    assert m.dielectric_f0 == 1.0
    assert not m.has_volume, "a volume is only drawn for a transmissive material"
    assert not m.has_iridescence, "a film of no thickness is no film"


@pytest.mark.parametrize(
    ("extensions", "field"),
    [
        ({"KHR_materials_ior": {"ior": 0.5}}, "extensions.KHR_materials_ior.ior"),
        ({"KHR_materials_volume": {"attenuationDistance": 0}}, "extensions.KHR_materials_volume.attenuationDistance"),
        ({"KHR_materials_specular": {"specularColorFactor": [1, 1]}}, "KHR_materials_specular.specularColorFactor"),
        ({"KHR_materials_sheen": {"sheenRoughnessFactor": "soft"}}, "KHR_materials_sheen.sheenRoughnessFactor"),
        ({"KHR_materials_anisotropy": {"anisotropyTexture": {"index": 3}}}, "anisotropyTexture.index"),
        ({"KHR_materials_dispersion": {"dispersion": -1}}, "extensions.KHR_materials_dispersion.dispersion"),
    ],
)
def test_a_broken_extension_is_refused_with_its_field_named(
    tmp_path: Path, extensions: dict[str, Any], field: str
) -> None:
    with pytest.raises(ModelInvalid, match=field.replace(".", r"\.")):
        _read(tmp_path, {"extensions": extensions})


def test_product_models_carry_the_gems_ior_and_the_paints_clearcoat(tmp_path: Path) -> None:
    import trimesh

    from render_node.assets._mesh import Part, export_glb, to_scene

    parts = [Part(trimesh.creation.icosphere(2, 0.01), name, name) for name in ("gem", "paint", "metal")]
    path = tmp_path / "parts.glb"
    path.write_bytes(export_glb(to_scene(parts)))
    mats = {m.name: m for m in read_model(path).materials}
    assert math.isclose(mats["gem"].dielectric_f0, (1.42 / 3.42) ** 2), "a diamond's ior 2.42"
    assert (mats["paint"].clearcoat, mats["paint"].clearcoat_roughness) == (1.0, 0.04)
    assert (mats["metal"].ior, mats["metal"].clearcoat) == (1.5, 0.0), "other materials are unchanged"
