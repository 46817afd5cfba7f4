"""A brushed finish's streaks (`extras.brush`; docs/rendering.md, "Finishes"): the reader's fields and refusals, and,
drawn offscreen on an 18 mm gold band lying flat (anisotropic round the band), streaks that mark the brushed band,
run round it (the difference they make changes across the band, not along it), and vanish when it is polished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.gltf.document import parse_document
from render_node.gltf.materials import Material, read_material
from render_node.render.errors import ModelInvalid
from render_node.render.types import MaterialOverride, RenderRequest, TurntableView


def _read(extras: dict[str, Any]) -> Material:
    m = {"name": "metal", "extras": extras}
    doc = parse_document(json.dumps({"asset": {"version": "2.0"}, "materials": [m]}).encode(), "band.gltf", None)
    return read_material(doc, 0, m)


def test_the_reader_takes_the_brush_from_the_material_extras() -> None:
    assert _read({"brush": {"spacing": 0.0003, "contrast": 2}}).brush == (0.0003, 1.0)
    assert _read({"brush": {}}).brush == (0.0004, 0.35)
    assert _read({}).brush is None
    with pytest.raises(ModelInvalid, match=r"materials\[0\]\.extras\.brush\.spacing"):
        _read({"brush": {"spacing": 0.5}})


def test_the_catalogs_brushed_products_carry_the_brush() -> None:
    from render_node.assets.procedural import BRUSH, material_extensions
    from showroom.catalog import load_catalog

    root = Path(__file__).resolve().parents[2]
    catalog = load_catalog((root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    bangle = next(p for p in catalog.products if p.id == "bangle-au999-classic")
    assert material_extensions(bangle)["metal"]["extras"] == {"brush": BRUSH}


def _band(path: Path, brush: bool) -> Path:
    """An 18 mm gold band lying flat (the asset pipeline's metal, normals and tangents round the band)."""
    import trimesh

    from render_node.assets._mesh import Part, export_glb, to_scene

    mesh = trimesh.creation.torus(0.009, 0.0016, major_sections=160, minor_sections=48)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))  # type: ignore[no-untyped-call]
    ext: dict[str, Any] = {"KHR_materials_anisotropy": {"anisotropyStrength": 0.85}}
    if brush:
        ext["extras"] = {"brush": {"spacing": 0.0003, "contrast": 0.5}}
    path.write_bytes(export_glb(to_scene([Part(mesh, "metal", "band", crease_deg=80.0)]), {"metal": ext}))
    return path


def _grey(renderer: Any, path: Path, anisotropy: float | None = None) -> npt.NDArray[np.float64]:
    overrides = () if anisotropy is None else (MaterialOverride(material="metal", anisotropy=anisotropy),)
    img = renderer.render(RenderRequest(path, TurntableView(0, 15), (512, 512), "white", overrides=overrides,
                                        shadow=False))
    out: npt.NDArray[np.float64] = img[..., :3].astype(np.float64).mean(axis=2)
    return out


@pytest.mark.gl
def test_streaks_mark_a_brushed_band_run_round_it_and_vanish_when_polished(renderer: Any, tmp_path: Path) -> None:
    plain, brushed = _band(tmp_path / "plain.glb", False), _band(tmp_path / "brushed.glb", True)
    assert "BRUSH" in renderer.load_model(brushed).material_nodes[0].defines
    a, b = _grey(renderer, brushed), _grey(renderer, plain)
    ring = b < 250
    assert np.abs(a - b)[ring].mean() > 2.0  # the streaks change the brushed band
    # round the band: at the front of the ring (the image's centre column, below the hole) the band runs left to
    # right, so the difference changes from row to row (across the streaks) more than from column to column
    d = a - b
    h, w = d.shape
    cols = slice(w // 2 - 30, w // 2 + 30)
    rows = [y for y in range(h // 2, h) if ring[y, cols].all() and ring[y + 1, cols].all()]
    assert len(rows) > 10
    down = np.abs(d[rows[0] + 1: rows[-1] + 1, cols] - d[rows[0]: rows[-1], cols]).mean()
    across = np.abs(np.diff(d[rows[0]: rows[-1], cols], axis=1)).mean()
    assert down > 2 * across
    # polished (the variant's anisotropy 0): no streaks, the same pixels as without them
    assert np.abs(_grey(renderer, brushed, 0.0) - _grey(renderer, plain, 0.0)).max() <= 1.0
