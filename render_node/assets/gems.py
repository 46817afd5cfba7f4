"""Cut stones: the round brilliant's geometry at ideal proportions, and what the stones are made of.

`round_brilliant(diameter_mm)` is the 57-facet round brilliant (table, 8 star, 8 bezel, 16 upper girdle facets
on the crown; 8 pavilion mains and 16 lower girdle facets on the pavilion) with a thin girdle of 16 facets, at
Tolkowsky-like proportions (`BrilliantCut`): a convex polyhedron, flat-shaded (vertices split per facet), table
up (+Y), the girdle centred on the origin. The renderer traces light inside it against its facet planes
(docs/rendering.md, "Gemstones").

`GEMS` holds the stones the catalog sells (a variant's `gem` text starts with the stone's name): index of
refraction, dispersion and body colour, written into the model as standard glTF extensions (`material_for`); a
variant of another stone than the model's is drawn through a material override of the same values
(`variants.overrides_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import trimesh

F64 = npt.NDArray[np.float64]
MM = 1e-3


@dataclass(frozen=True)
class BrilliantCut:
    """Proportions of a round brilliant, as a grading report gives them (percentages of the girdle diameter)."""

    table_pct: float = 56.0
    """Table width, corner to corner."""
    crown_angle_deg: float = 34.5
    pavilion_angle_deg: float = 40.75
    girdle_pct: float = 2.0
    """Girdle thickness."""
    star_pct: float = 50.0
    """How far the star facets reach from the table's edge towards the girdle."""
    lower_girdle_pct: float = 77.0
    """How far the lower girdle facets reach from the girdle towards the culet."""


IDEAL = BrilliantCut()


def brilliant_vertices(diameter_m: float, cut: BrilliantCut = IDEAL) -> F64:
    """The corners of a round brilliant (n, 3), metres, table up, girdle centred at Y = 0."""
    radius = diameter_m / 2
    half_girdle = cut.girdle_pct / 200 * diameter_m
    crown = math.radians(cut.crown_angle_deg)
    pavilion = math.radians(cut.pavilion_angle_deg)
    table_r = cut.table_pct / 200 * diameter_m
    eighth = math.pi / 4
    half = math.cos(eighth / 2)  # radius of an edge's midpoint over its corners' (22.5 degrees apart)
    # the bezel facet k (kite) at azimuth k x 45 degrees: normal tilted by the crown angle, through the girdle
    crown_c = radius * math.sin(crown) + half_girdle * math.cos(crown)
    table_y = (crown_c - table_r * math.sin(crown)) / math.cos(crown)
    table_edge_r = table_r * half
    star_r = table_edge_r + cut.star_pct / 100 * (radius - table_edge_r)
    star_y = (crown_c - star_r * half * math.sin(crown)) / math.cos(crown)
    # the pavilion main k at azimuth k x 45 degrees, through the girdle's lower edge
    pav_c = radius * math.sin(pavilion) + half_girdle * math.cos(pavilion)
    culet_y = -pav_c / math.cos(pavilion)
    lower_r = radius * (1 - cut.lower_girdle_pct / 100)
    lower_y = (lower_r * half * math.sin(pavilion) - pav_c) / math.cos(pavilion)
    pts: list[tuple[float, float, float]] = []

    def ring(r: float, y: float, count: int, phase: float) -> None:
        for k in range(count):
            a = (k + phase) * 2 * math.pi / count
            pts.append((r * math.cos(a), y, r * math.sin(a)))

    ring(table_r, table_y, 8, 0.0)  # table corners, at the bezels' azimuths
    ring(star_r, star_y, 8, 0.5)  # star points, between them
    ring(radius, half_girdle, 16, 0.0)  # girdle, upper edge: under the bezels and between them
    ring(radius, -half_girdle, 16, 0.0)  # girdle, lower edge
    ring(lower_r, lower_y, 8, 0.5)  # lower girdle points, between the pavilion mains
    pts.append((0.0, culet_y, 0.0))  # the culet (pointed)
    return np.array(pts)


def facet_planes(vertices: F64, tolerance: float = 1e-9) -> F64:
    """The facet planes of the convex hull of `vertices` (n, 4): outward unit normal, offset (n.p = d on the
    facet), coplanar hull triangles merged."""
    hull = trimesh.convex.convex_hull(vertices)
    normals = np.asarray(hull.face_normals)
    offsets = np.sum(normals * np.asarray(hull.triangles_center), axis=1)
    planes: list[F64] = []
    for n, d in zip(normals, offsets, strict=True):
        if not any(np.dot(n, p[:3]) > 1 - 1e-6 and abs(d - p[3]) < tolerance + 1e-6 * abs(d) for p in planes):
            planes.append(np.array([*n, d]))
    return np.array(planes)


def faceted_mesh(vertices: F64) -> trimesh.Trimesh:
    """The convex hull of `vertices` with one flat normal per facet: every facet's triangles own their corners
    (a cut stone's facets are flat mirrors; smooth normals across them would round it)."""
    hull = trimesh.convex.convex_hull(vertices)
    tris = np.asarray(hull.triangles)
    flat = tris.reshape(-1, 3)
    faces = np.arange(len(flat)).reshape(-1, 3)
    normals = np.repeat(np.asarray(hull.face_normals), 3, axis=0)
    return trimesh.Trimesh(flat, faces, vertex_normals=normals, process=False)


def round_brilliant(diameter_mm: float, cut: BrilliantCut = IDEAL) -> trimesh.Trimesh:
    """A round brilliant of `diameter_mm` across the girdle (table up, +Y; girdle centred at the origin)."""
    return faceted_mesh(brilliant_vertices(diameter_mm * MM, cut))


@dataclass(frozen=True)
class Gem:
    """A stone's optics: refractive index (sodium D line), Abbe number, and its body colour: the fraction of
    each of red, green and blue left after `attenuation_mm` inside it."""

    ior: float
    abbe: float
    attenuation_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    attenuation_mm: float = math.inf


GEMS: dict[str, Gem] = {
    # near colourless (a G colour: a trace of yellow over a long path)
    "diamond": Gem(2.42, 55.3, (1.0, 0.985, 0.95), 20.0),
    # corundum: chromium makes a ruby red, iron and titanium a sapphire blue
    "ruby": Gem(1.762, 72.2, (0.92, 0.06, 0.12), 2.0),
    "sapphire": Gem(1.762, 72.2, (0.08, 0.20, 0.85), 2.0),
}


def gem_of(text: str | None) -> Gem:
    """The stone a catalog variant's `gem` text names ('diamond 0.30 ct G VS1', 'ruby 1.0 ct'); a diamond
    when it names none of `GEMS`."""
    name = (text or "diamond").split()[0].lower() if (text or "").strip() else "diamond"
    return GEMS.get(name, GEMS["diamond"])


def dispersion_of(gem: Gem) -> float:
    """KHR_materials_dispersion's `dispersion` of the stone: 20 / its Abbe number (diamond 0.3617)."""
    return round(20.0 / gem.abbe, 4)


def attenuation_distance_m(gem: Gem) -> float:
    """KHR_materials_volume's `attenuationDistance` of the stone in metres (math.inf: colourless)."""
    return gem.attenuation_mm * MM if math.isfinite(gem.attenuation_mm) else math.inf


def material_for(gem: Gem, depth_mm: float) -> dict[str, Any]:
    """The glTF material extensions and extras of a stone: KHR_materials_transmission (1), _ior, _volume (the
    body colour; thickness: the stone's depth), _dispersion (20 / Abbe number), and `extras.gem` (trace light
    inside the facets). Keys starting with `KHR_` are extensions; `extras` is the material's extras."""
    volume: dict[str, Any] = {"thicknessFactor": depth_mm * MM, "attenuationColor": list(gem.attenuation_rgb)}
    if math.isfinite(gem.attenuation_mm):
        volume["attenuationDistance"] = attenuation_distance_m(gem)
    return {
        "KHR_materials_transmission": {"transmissionFactor": 1.0},
        "KHR_materials_ior": {"ior": gem.ior},
        "KHR_materials_volume": volume,
        "KHR_materials_dispersion": {"dispersion": dispersion_of(gem)},
        "extras": {"gem": "faceted"},
    }
