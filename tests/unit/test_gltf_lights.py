"""KHR_lights_punctual in the one glTF reader: the lights' fields and defaults, where the scene's nodes put them
(the world transform through the node tree; they shine down the node's -Z), their shader inputs, and the refusals
that name the field. No GL here."""

from __future__ import annotations

import base64
import copy
import json
import math
import struct
from typing import Any

import numpy as np
import pytest

from render_node.gltf import Light, read_model_bytes
from render_node.render.errors import ModelInvalid
from render_node.render.lights import MAX_PUNCTUAL_LIGHTS, light_inputs

Doc = dict[str, Any]
_DATA = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes()
EXT = "KHR_lights_punctual"


def _doc(lights: list[Any], nodes: list[Doc] | None = None) -> Doc:
    """One triangle (node 0) and `nodes` after it, all roots; the lights in the document's extension."""
    extra = nodes if nodes is not None else [{"extensions": {EXT: {"light": 0}}}]
    return {
        "asset": {"version": "2.0"},
        "extensionsUsed": [EXT],
        "extensionsRequired": [EXT],
        "extensions": {EXT: {"lights": lights}},
        "scene": 0,
        "scenes": [{"nodes": list(range(1 + len(extra)))}],
        "nodes": [{"mesh": 0}, *extra],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": 36, "uri": "data:application/octet-stream;base64," + base64.b64encode(_DATA).decode()}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
    }


def _read(doc: Doc) -> Any:
    return read_model_bytes(json.dumps(doc).encode(), "lamp.gltf")


def _refusal(doc: Doc) -> str:
    with pytest.raises(ModelInvalid) as err:
        _read(doc)
    return str(err.value)


def test_lights_are_read_with_the_extension_s_defaults() -> None:
    asset = _read(_doc([{"type": "directional"}, {"type": "point", "color": [1, 0.5, 0], "intensity": 20, "range": 4,
                                                  "name": "bulb"},
                        {"type": "spot", "intensity": 100, "spot": {"innerConeAngle": 0.1, "outerConeAngle": 0.3}},
                        {"type": "spot", "spot": {}}]))
    sun, bulb, spot, plain_spot = asset.lights
    assert sun == Light("directional", (1.0, 1.0, 1.0), 1.0, None)
    assert (bulb.kind, bulb.color, bulb.intensity, bulb.range_m, bulb.name) == ("point", (1.0, 0.5, 0.0), 20.0, 4.0,
                                                                                 "bulb")
    assert (spot.inner_cone_rad, spot.outer_cone_rad, spot.intensity) == (0.1, 0.3, 100.0)
    assert (plain_spot.inner_cone_rad, plain_spot.outer_cone_rad) == (0.0, pytest.approx(math.pi / 4))


def test_a_file_without_the_extension_has_no_lights() -> None:
    doc = _doc([], nodes=[])
    del doc["extensions"], doc["extensionsUsed"], doc["extensionsRequired"]
    asset = _read(doc)
    assert asset.lights == [] and asset.light_nodes() == []


def test_a_light_takes_its_node_s_world_transform_and_shines_down_its_minus_z() -> None:
    # the lamp's parent stands 2 m up and is turned 90 degrees about +X (its -Z points down, -Y); the lamp is
    # 1 m along the parent's -Z, which is world -Y: so at (0, 1, 0), shining down
    half = math.sqrt(0.5)
    nodes: list[Doc] = [{"translation": [0, 2, 0], "rotation": [-half, 0, 0, half], "children": [2]},
             {"translation": [0, 0, -1], "scale": [3, 3, 3], "extensions": {EXT: {"light": 1}}}]
    doc = _doc([{"type": "point"}, {"type": "spot", "spot": {"outerConeAngle": 0.5}}], nodes)
    doc["scenes"][0]["nodes"] = [0, 1]
    asset = _read(doc)
    [(light, world)] = asset.light_nodes()
    assert light.kind == "spot"
    np.testing.assert_allclose(world[:3, 3], [0, 1, 0], atol=1e-9)
    inputs = light_inputs(asset.light_nodes())
    pos, direction = inputs["u_lightPos"][0], inputs["u_lightDir"][0]
    assert list(pos) == pytest.approx([0, 1, 0, 2])  # a spot (kind 2)
    assert list(direction) == pytest.approx([0, -1, 0, 0])  # down, unit length despite the node's scale; no range
    assert inputs["u_lightCount"][0] == 1


def test_a_light_on_a_node_outside_the_scene_is_not_placed() -> None:
    doc = _doc([{"type": "point"}])
    doc["scenes"][0]["nodes"] = [0]
    assert _read(doc).light_nodes() == []


def test_shader_inputs_hold_the_intensity_colour_range_and_the_spot_cone() -> None:
    spot = Light("spot", (1.0, 0.5, 0.25), 8.0, 5.0, inner_cone_rad=math.radians(10), outer_cone_rad=math.radians(20))
    inputs = light_inputs([(spot, np.eye(4))])
    assert list(inputs["u_lightColor"][0])[:3] == pytest.approx([8, 4, 2])
    assert inputs["u_lightDir"][0][3] == 5.0
    scale, offset = inputs["u_lightCone"][0][0], inputs["u_lightCone"][0][1]
    # the extension's smooth falloff: 1 at the inner angle, 0 at the outer
    assert math.cos(math.radians(10)) * scale + offset == pytest.approx(1.0, abs=1e-5)
    assert math.cos(math.radians(20)) * scale + offset == pytest.approx(0.0, abs=1e-5)


def test_only_the_first_lights_reach_the_shader() -> None:
    many = [(Light("point", intensity=float(i)), np.eye(4)) for i in range(MAX_PUNCTUAL_LIGHTS + 3)]
    inputs = light_inputs(many)
    assert inputs["u_lightCount"][0] == MAX_PUNCTUAL_LIGHTS
    assert inputs["u_lightColor"][MAX_PUNCTUAL_LIGHTS - 1][0] == MAX_PUNCTUAL_LIGHTS - 1


BAD = [
    ([{"type": "area"}], "extensions.KHR_lights_punctual.lights[0].type", None),
    ([{}], "extensions.KHR_lights_punctual.lights[0].type", None),
    ([{"type": "point", "color": [1, 2, 0]}], "extensions.KHR_lights_punctual.lights[0].color", None),
    ([{"type": "point", "color": [1, 1]}], "extensions.KHR_lights_punctual.lights[0].color", None),
    ([{"type": "point", "intensity": -1}], "extensions.KHR_lights_punctual.lights[0].intensity", None),
    ([{"type": "point", "intensity": "bright"}], "extensions.KHR_lights_punctual.lights[0].intensity", None),
    ([{"type": "point", "range": 0}], "extensions.KHR_lights_punctual.lights[0].range", None),
    ([{"type": "spot"}], "extensions.KHR_lights_punctual.lights[0].spot", None),
    ([{"type": "spot", "spot": {"outerConeAngle": 2.0}}], "lights[0].spot.outerConeAngle", None),
    ([{"type": "spot", "spot": {"innerConeAngle": 0.5, "outerConeAngle": 0.4}}], "lights[0].spot.innerConeAngle", None),
    ([{"type": "point", "spot": {}}], "extensions.KHR_lights_punctual.lights[0].spot", None),
    ("not a list", "extensions.KHR_lights_punctual.lights", None),
    ([{"type": "point"}], "nodes[1].extensions.KHR_lights_punctual.light", [{"extensions": {EXT: {"light": 3}}}]),
    ([{"type": "point"}], "nodes[1].extensions.KHR_lights_punctual.light", [{"extensions": {EXT: {"light": "0"}}}]),
    ([{"type": "point"}], "nodes[1].extensions.KHR_lights_punctual", [{"extensions": {EXT: 0}}]),
]


@pytest.mark.parametrize(("lights", "field", "nodes"), BAD)
def test_a_malformed_light_is_refused_naming_the_field(lights: Any, field: str, nodes: list[Doc] | None) -> None:
    message = _refusal(_doc(copy.deepcopy(lights), nodes))
    assert message.startswith("lamp.gltf: ") and field in message


def test_a_glb_with_lights_reads_like_its_json() -> None:
    doc = _doc([{"type": "directional", "intensity": 3}])
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    glb = struct.pack("<III", 0x46546C67, 2, 20 + len(js)) + struct.pack("<II", len(js), 0x4E4F534A) + js
    asset = read_model_bytes(glb, "lamp.glb")
    assert asset.lights[0].intensity == 3.0 and len(asset.light_nodes()) == 1
