"""The guide's PBR metallic-roughness materials (glTF), colours given in sRGB 0-255 and linearised here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def linear(srgb: tuple[int, int, int]) -> tuple[float, float, float]:
    c = np.asarray(srgb, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return (float(lin[0]), float(lin[1]), float(lin[2]))


@dataclass(frozen=True)
class Material:
    name: str
    color: tuple[float, float, float]
    """Linear base colour factor (white where vertex colours carry the colour)."""
    roughness: float
    metallic: float = 0.0
    vertex_colors: bool = False


SKIN_SRGB = (236, 190, 164)
LIP_SRGB = (196, 116, 114)
MOUTH_SRGB = (92, 30, 36)
LASH_SRGB = (38, 26, 24)
BLUSH_SRGB = (234, 152, 140)

MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("skin", (1.0, 1.0, 1.0), 0.5, vertex_colors=True),
    Material("hair", linear((62, 40, 28)), 0.45),
    Material("eye_white", linear((240, 238, 234)), 0.06),
    Material("iris", linear((96, 60, 38)), 0.05),
    Material("pupil", linear((12, 10, 10)), 0.04),
    Material("brow", linear((52, 36, 30)), 0.7),
    Material("teeth", linear((242, 238, 228)), 0.3),
    Material("tongue", linear((176, 78, 82)), 0.45),
    Material("jacket", linear((27, 40, 74)), 0.8),
    Material("blouse", linear((246, 246, 243)), 0.75),
    Material("scarf", linear((200, 16, 46)), 0.35),
    Material("badge", (1.0, 0.766, 0.336), 0.25, metallic=1.0),
    Material("trousers", linear((22, 30, 54)), 0.8),
    Material("shoes", linear((20, 20, 24)), 0.35),
)}


def vertex_color(srgb: tuple[int, int, int]) -> F64:
    return np.asarray(linear(srgb), np.float64)
