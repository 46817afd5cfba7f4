"""Small product models for the AR and try-on tests, written with trimesh at real size (metres), following the
renderer's convention (+Y up, resting on Y = 0, centred in X and Z, front towards +Z), material "metal"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

GOLD = (1.0, 0.766, 0.336, 1.0)


def _export(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(name="metal", baseColorFactor=GOLD, metallicFactor=1.0,
                                                     roughnessFactor=0.2))
    lo, hi = mesh.bounds
    mesh.apply_translation([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])
    trimesh.Scene(mesh).export(str(path))
    return path


def gold_bar(path: Path, size_mm: tuple[float, float, float] = (31.0, 55.0, 3.1)) -> Path:
    """A bar standing on its short edge: width x height x depth in millimetres, bevelled."""
    w, h, d = (v / 1000 for v in size_mm)
    box = trimesh.creation.box(extents=[w, h, d])
    return _export(box, path)


def ring(path: Path, inner_diameter_mm: float = 17.2, band_mm: float = 2.2, width_mm: float = 2.5) -> Path:
    """An upright band ring: hole along Z."""
    r_tube = band_mm / 2000
    major = inner_diameter_mm / 2000 + r_tube
    torus = trimesh.creation.torus(major_radius=major, minor_radius=r_tube, major_sections=96, minor_sections=24)
    torus.apply_scale([1.0, 1.0, (width_mm / 1000) / (2 * r_tube)])
    return _export(torus, path)


def bangle(path: Path, inner_diameter_mm: float = 58.0, wire_mm: float = 5.0) -> Path:
    return ring(path, inner_diameter_mm, wire_mm, wire_mm)


def necklace(path: Path, width_mm: float = 130.0, height_mm: float = 150.0) -> Path:
    """A chain hanging in a U from two ends at the top, with a round pendant at the bottom, facing +Z."""
    w, h = width_mm / 1000, height_mm / 1000
    pend_r = 0.009
    t = np.linspace(-1, 1, 120)
    xs = t * w / 2
    ys = h - 2 * pend_r - (h - 2 * pend_r) * (1 - np.abs(t) ** 1.6)
    parts = []
    for i in range(len(t) - 1):
        a = np.array([xs[i], ys[i] + 2 * pend_r, 0.0])
        b = np.array([xs[i + 1], ys[i + 1] + 2 * pend_r, 0.0])
        seg = trimesh.creation.cylinder(radius=0.0009, segment=np.stack([a, b]), sections=8)
        parts.append(seg)
    disc = trimesh.creation.cylinder(radius=pend_r, height=0.002, sections=48)
    disc.apply_translation([0.0, pend_r, 0.0])
    parts.append(disc)
    return _export(trimesh.util.concatenate(parts), path)


def earrings(path: Path) -> Path:
    """A pair of round studs 14 mm apart, facing +Z."""
    parts = []
    for x in (-0.007, 0.007):
        s = trimesh.creation.icosphere(subdivisions=3, radius=0.003)
        s.apply_scale([1.0, 1.0, 0.6])
        s.apply_translation([x, 0.003, 0.0])
        parts.append(s)
    return _export(trimesh.util.concatenate(parts), path)


def env_dir(fallback: Path) -> Path:
    """The checkout's built environment maps when they are current (`showroom assets build`), else `fallback`
    (where the renderer builds them, slowly, on first use)."""
    from render_node.render.environment import environments_present

    built = Path(__file__).resolve().parents[1] / "assets" / "env"
    return built if environments_present(built) else fallback
