"""KHR_lights_punctual: the file's lights (directional, point, spot), read and checked.

The lights live in the document's `extensions.KHR_lights_punctual.lights`; a node places one with
`extensions.KHR_lights_punctual.light` (its index). A light sits at its node's world position and shines down the
node's -Z axis (directional and spot). Units are the extension's: `intensity` in lux (lm/m2) for a directional
light, candela (lm/sr) for point and spot lights; `color` is linear RGB in 0..1. Every refusal names the field:
`lamp.gltf: extensions.KHR_lights_punctual.lights[0].spot.outerConeAngle: must be more than innerConeAngle ...`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from render_node.gltf.document import Document

EXTENSION = "KHR_lights_punctual"
LightKind = Literal["directional", "point", "spot"]
_KINDS = ("directional", "point", "spot")


@dataclass(frozen=True)
class Light:
    """One light of the file. `range_m` None: no cut-off (pure inverse square); angles in radians from -Z."""

    kind: LightKind
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    """Lux for a directional light, candela for point and spot lights."""
    range_m: float | None = None
    inner_cone_rad: float = 0.0
    outer_cone_rad: float = math.pi / 4
    name: str = ""


def _number(doc: Document, obj: dict[str, Any], key: str, default: float, where: str) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise doc.fail(f"{where}.{key}", f"must be a number (got {value!r})")
    return float(value)


def _object(doc: Document, value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise doc.fail(where, "must be an object")
    return value


def _light(doc: Document, i: int, spec: object) -> Light:
    where = f"extensions.{EXTENSION}.lights[{i}]"
    obj = _object(doc, spec, where)
    kind = obj.get("type")
    if kind not in _KINDS:
        raise doc.fail(f"{where}.type", f"{kind!r} is not directional, point or spot")
    color = obj.get("color", [1.0, 1.0, 1.0])
    if (not isinstance(color, list) or len(color) != 3
            or not all(isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 1 for c in color)):
        raise doc.fail(f"{where}.color", f"must be 3 numbers in 0..1 (linear RGB; got {color!r})")
    intensity = _number(doc, obj, "intensity", 1.0, where)
    if intensity < 0:
        raise doc.fail(f"{where}.intensity", f"must be at least 0 (got {intensity!r})")
    range_m: float | None = None
    if "range" in obj:
        range_m = _number(doc, obj, "range", 0.0, where)
        if range_m <= 0:
            raise doc.fail(f"{where}.range", f"must be more than 0 (got {range_m!r})")
    inner, outer = 0.0, math.pi / 4
    if kind == "spot":
        cone = _object(doc, obj.get("spot"), f"{where}.spot")
        inner = _number(doc, cone, "innerConeAngle", 0.0, f"{where}.spot")
        outer = _number(doc, cone, "outerConeAngle", math.pi / 4, f"{where}.spot")
        if not 0 < outer <= math.pi / 2:
            raise doc.fail(f"{where}.spot.outerConeAngle", f"must be in (0, pi/2] radians (got {outer!r})")
        if not 0 <= inner < outer:
            raise doc.fail(f"{where}.spot.innerConeAngle",
                           f"must be at least 0 and less than outerConeAngle {outer!r} (got {inner!r})")
    elif "spot" in obj:
        raise doc.fail(f"{where}.spot", f"is only allowed on a spot light (this one is {kind})")
    name = obj.get("name", "")
    return Light(kind=kind, color=(float(color[0]), float(color[1]), float(color[2])), intensity=intensity,
                 range_m=range_m, inner_cone_rad=inner, outer_cone_rad=outer, name=str(name))


def read_lights(doc: Document) -> list[Light]:
    """The document's lights (empty without the extension)."""
    ext = doc.json.get("extensions", {})
    if not isinstance(ext, dict):
        raise doc.fail("extensions", "must be an object")
    if EXTENSION not in ext:
        return []
    block = _object(doc, ext[EXTENSION], f"extensions.{EXTENSION}")
    lights = block.get("lights", [])
    if not isinstance(lights, list):
        raise doc.fail(f"extensions.{EXTENSION}.lights", "must be an array")
    return [_light(doc, i, spec) for i, spec in enumerate(lights)]


def node_light(doc: Document, node: dict[str, Any], where: str, count: int) -> int | None:
    """The index of the light a node places (`extensions.KHR_lights_punctual.light`), or None."""
    ext = node.get("extensions", {})
    if not isinstance(ext, dict):
        raise doc.fail(f"{where}.extensions", "must be an object")
    if EXTENSION not in ext:
        return None
    at = f"{where}.extensions.{EXTENSION}"
    value = _object(doc, ext[EXTENSION], at).get("light")
    if isinstance(value, bool) or not isinstance(value, int):
        raise doc.fail(f"{at}.light", f"must be an index into extensions.{EXTENSION}.lights (got {value!r})")
    if not 0 <= value < count:
        raise doc.fail(f"{at}.light", f"lights[{value}] does not exist (the file has {count})")
    return value
