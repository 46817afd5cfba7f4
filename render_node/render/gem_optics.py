"""What the gem path needs besides the shader: a cut stone's facet planes, the refractive index of each colour, its
body's absorption, and the stone of a variant (a `MaterialOverride`'s ior, dispersion and volume) laid over the
file's material (docs/rendering.md, "Gemstones")."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.gltf.materials import Material
from render_node.render.shaders import GEM_MAX_PLANES
from render_node.render.types import MaterialOverride

F64 = npt.NDArray[np.float64]

_GEM_WAVELENGTHS_UM = (0.65, 0.55, 0.44)
"""Where the gem path takes the red, green and blue refractive indices (Cauchy's n = A + B / wavelength^2)."""

OPTICS_DEFINES = frozenset({"GEM", "VOLUME", "TRANSMISSION", "DISPERSION"})
"""Shader variants that read a material's optics (ior, dispersion, volume): where an override of them shows."""


def gem_iors(ior: float, dispersion: float) -> tuple[float, float, float]:
    """Refractive indices of red, green and blue light in a stone of `ior` (at the sodium D line, 589 nm) and
    KHR_materials_dispersion `dispersion` (20 / its Abbe number): Cauchy's equation through the Abbe number's
    F (486 nm) and C (656 nm) lines. Diamond (2.42, 0.36): 2.413, 2.426, 2.451."""
    if dispersion <= 0 or ior <= 1:
        return (ior, ior, ior)
    abbe = 20.0 / dispersion
    b = (ior - 1) / (abbe * (1 / 0.4861**2 - 1 / 0.6563**2))
    red, green, blue = (ior + b * (1 / w**2 - 1 / 0.5893**2) for w in _GEM_WAVELENGTHS_UM)
    return (red, green, blue)


def gem_planes(
    positions: npt.NDArray[np.floating[Any]], indices: npt.NDArray[np.integer[Any]], max_planes: int = GEM_MAX_PLANES
) -> F64 | None:
    """The facet planes (n, 4: outward unit normal, offset d with n.p = d on the facet) of a primitive that is
    one convex polyhedron, coplanar triangles merged; None when it is not convex (some vertex off its hull, e.g.
    two stones in one primitive) or has more than `max_planes` facets."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(np.asarray(positions, dtype=np.float64), axis=0)
    if len(pts) < 4 or len(pts) > 4096:
        return None
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return None
    size = float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))
    tol = 1e-4 * size
    planes: list[F64] = []
    for eq in hull.equations:  # (nx, ny, nz, c) with n.p + c = 0 on the facet, n outward
        n, d = eq[:3], -eq[3]
        if not any(float(n @ q[:3]) > 1 - 1e-5 and abs(d - q[3]) < tol for q in planes):
            planes.append(np.array([*n, d]))
            if len(planes) > max_planes:
                return None
    out: F64 = np.array(planes)
    centres = np.asarray(positions, dtype=np.float64)[np.asarray(indices)].reshape(-1, 3, 3).mean(axis=1)
    off = np.abs(centres @ out[:, :3].T - out[:, 3])
    if np.any(off.min(axis=1) > tol):  # a triangle on no facet (e.g. two stones in one primitive): not convex
        return None
    return out


def with_optics(mat: Material, overrides: tuple[MaterialOverride, ...]) -> Material:
    """The file's material with the ior, dispersion and volume (attenuation colour and distance) of the overrides
    matching it by name, later ones winning: a ruby variant's stone in a model built with a diamond. The material
    itself when none of them sets any. Clamped to what glTF allows: ior at least 1, dispersion at least 0, colour
    channels in 0..1; a distance that is not positive reads as a colourless body (infinite)."""
    changes: dict[str, Any] = {}
    for o in overrides:
        if o.material not in ("*", mat.name):
            continue
        if o.ior is not None:
            changes["ior"] = max(float(o.ior), 1.0)
        if o.dispersion is not None:
            changes["dispersion"] = max(float(o.dispersion), 0.0)
        if o.attenuation_rgb is not None:
            changes["attenuation_color"] = tuple(min(max(float(c), 0.0), 1.0) for c in o.attenuation_rgb)
        if o.attenuation_distance_m is not None:
            changes["attenuation_distance_m"] = float(o.attenuation_distance_m) if o.attenuation_distance_m > 0 \
                else math.inf
    return dataclasses.replace(mat, **changes) if changes else mat


def gem_inputs(mat: Material, facets: int) -> dict[str, p3d.LVecBase4f]:
    """The gem path's optics: the red, green and blue refractive indices with the number of facets (u_gem), and
    the body's absorption per metre of each (u_gemAbsorb, from the volume's attenuation colour and distance)."""
    per_m = [0.0, 0.0, 0.0]
    if math.isfinite(mat.attenuation_distance_m):
        per_m = [-math.log(max(c, 1e-4)) / mat.attenuation_distance_m for c in mat.attenuation_color]
    return {
        "u_gem": p3d.LVecBase4f(*gem_iors(mat.ior, mat.dispersion), float(facets)),
        "u_gemAbsorb": p3d.LVecBase4f(*per_m, 0.0),
    }


def plane_array(planes: F64) -> p3d.PTA_LVecBase4f:
    """The facet planes as the shader's uniform array (`GEM_MAX_PLANES` long)."""
    array = p3d.PTA_LVecBase4f.empty_array(GEM_MAX_PLANES)
    for i, plane in enumerate(planes):
        array[i] = p3d.LVecBase4f(*(float(x) for x in plane))
    return array
