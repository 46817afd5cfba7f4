"""A model's KHR_lights_punctual lights as the PBR shader's uniforms (`#define PUNCTUAL_LIGHTS`, glsl_lights.py).

Up to `MAX_PUNCTUAL_LIGHTS` lights, in node order, in the model's world space (the main model is drawn at the
scene's origin, so that is the frame's world): per light its position and kind, the direction it shines (the
node's -Z) and range, its colour x intensity (lux or candela), and the spot cone as the extension's recommended
scale and offset of cos(angle). The baker cannot express them: a model with lights is drawn by the exact shader.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.render.glsl_lights import MAX_PUNCTUAL_LIGHTS
from render_node.render.gltf import Light

__all__ = ["MAX_PUNCTUAL_LIGHTS", "light_inputs"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
_KIND_CODE = {"directional": 0.0, "point": 1.0, "spot": 2.0}


def _cone(light: Light) -> tuple[float, float]:
    """(scale, offset) with the spot's angular attenuation = clamp(cos(angle) x scale + offset, 0, 1)^2."""
    if light.kind != "spot":
        return (0.0, 1.0)
    cos_outer, cos_inner = math.cos(light.outer_cone_rad), math.cos(light.inner_cone_rad)
    scale = 1.0 / max(1e-3, cos_inner - cos_outer)
    return (scale, -cos_outer * scale)


def light_inputs(placed: list[tuple[Light, F64]], model_name: str = "") -> dict[str, p3d.PTA_LVecBase4f | p3d.LVecBase4f]:
    """The shader inputs of `placed` lights (from `GltfAsset.light_nodes()`): u_lightCount and the arrays
    u_lightPos (xyz, kind 0 directional / 1 point / 2 spot), u_lightDir (xyz the direction it shines, range or 0),
    u_lightColor (rgb x intensity) and u_lightCone (spot scale, offset)."""
    if len(placed) > MAX_PUNCTUAL_LIGHTS:
        log.warning("%s: %d punctual lights; the first %d are drawn", model_name, len(placed), MAX_PUNCTUAL_LIGHTS)
    arrays = {name: p3d.PTA_LVecBase4f.empty_array(MAX_PUNCTUAL_LIGHTS)
              for name in ("u_lightPos", "u_lightDir", "u_lightColor", "u_lightCone")}
    used = placed[:MAX_PUNCTUAL_LIGHTS]
    for i, (light, world) in enumerate(used):
        direction = -world[:3, 2]
        direction = direction / max(float(np.linalg.norm(direction)), 1e-12)
        arrays["u_lightPos"][i] = p3d.LVecBase4f(*(float(x) for x in world[:3, 3]), _KIND_CODE[light.kind])
        arrays["u_lightDir"][i] = p3d.LVecBase4f(*(float(x) for x in direction), light.range_m or 0.0)
        arrays["u_lightColor"][i] = p3d.LVecBase4f(*(c * light.intensity for c in light.color), 0.0)
        arrays["u_lightCone"][i] = p3d.LVecBase4f(*_cone(light), 0.0, 0.0)
    out: dict[str, p3d.PTA_LVecBase4f | p3d.LVecBase4f] = dict(arrays)
    out["u_lightCount"] = p3d.LVecBase4f(float(len(used)), 0.0, 0.0, 0.0)
    return out
