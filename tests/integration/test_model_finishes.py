"""Finishes of our own band-shaped products (render_node/assets: variants.FINISHES): the band ring's and the
bangle's models carry KHR_materials_anisotropy with a TANGENT around the band, each catalog variant sets its
finish through `overrides_for`, and a brushed band drawn offscreen smears its reflections around the band where
the polished one keeps distinct highlights."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from render_node.assets._mesh import export_glb
from render_node.assets.procedural import material_extensions, product_scene
from render_node.assets.variants import FINISHES, finish_of, has_finishes, overrides_for
from showroom.catalog import Catalog, Product, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text())


def _glb(product: Product, tmp: Path) -> Path:
    path = tmp / product.model
    path.write_bytes(export_glb(product_scene(product), material_extensions(product)))
    return path


def _doc_and_bin(path: Path) -> tuple[dict[str, Any], bytes]:
    glb = path.read_bytes()
    n = struct.unpack_from("<I", glb, 12)[0]
    return json.loads(glb[20:20 + n]), glb[28 + n:]


def _accessor(doc: dict[str, Any], binary: bytes, index: int, width: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(binary[start:start + 4 * width * acc["count"]], dtype=np.float32).reshape(-1, width)


@pytest.mark.parametrize(("product_id", "axis"), [("ring-band-classic", 2), ("bangle-au999-classic", 1)])
def test_band_models_carry_anisotropy_around_the_band(
    catalog: Catalog, tmp_path: Path, product_id: str, axis: int
) -> None:
    product = catalog.get(product_id)
    assert has_finishes(product)
    doc, binary = _doc_and_bin(_glb(product, tmp_path))
    assert "KHR_materials_anisotropy" in doc["extensionsUsed"]
    (metal,) = [m for m in doc["materials"] if m["name"] == "metal"]
    aniso = metal["extensions"]["KHR_materials_anisotropy"]
    assert aniso["anisotropyStrength"] > 0 and aniso["anisotropyRotation"] == 0.0
    (prim,) = [p for m in doc["meshes"] for p in m["primitives"]]
    pos = _accessor(doc, binary, prim["attributes"]["POSITION"], 3).astype(float)
    nrm = _accessor(doc, binary, prim["attributes"]["NORMAL"], 3).astype(float)
    tan = _accessor(doc, binary, prim["attributes"]["TANGENT"], 4).astype(float)
    centre = (pos.min(axis=0) + pos.max(axis=0)) / 2
    radial = pos - centre
    radial[:, axis] = 0
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    # unit, perpendicular to the normal, to the band's axis and to the radius: around the circumference
    assert np.allclose(np.linalg.norm(tan[:, :3], axis=1), 1, atol=1e-4)
    assert np.all(tan[:, 3] == 1.0)
    assert np.abs(np.sum(tan[:, :3] * nrm, axis=1)).max() < 1e-3
    assert np.abs(tan[:, axis]).max() < 1e-3
    assert np.abs(np.sum(tan[:, :3] * radial, axis=1)).max() < 1e-3


def test_models_without_finishes_stay_isotropic(catalog: Catalog, tmp_path: Path) -> None:
    product = catalog.get("ring-solitaire")
    assert not has_finishes(product) and material_extensions(product) == {}
    doc, _ = _doc_and_bin(_glb(product, tmp_path))
    assert "KHR_materials_anisotropy" not in doc.get("extensionsUsed", [])
    assert all("TANGENT" not in p["attributes"] for m in doc["meshes"] for p in m["primitives"])


def test_variants_set_their_finish(catalog: Catalog) -> None:
    ring = catalog.get("ring-band-classic")

    def metal_finish(variant_id: str) -> tuple[float | None, float | None]:
        (o,) = [o for o in overrides_for(ring, ring.variant(variant_id)) if o.anisotropy is not None]
        return o.anisotropy, o.roughness

    assert finish_of(ring.variant("au750-size-12")) == "polished"
    assert metal_finish("au750-size-12") == (0.0, None)
    brushed, satin = FINISHES["brushed"], FINISHES["satin"]
    assert metal_finish("au750-size-12-brushed") == (brushed.anisotropy, brushed.roughness)
    assert metal_finish("au750-size-12-satin") == (satin.anisotropy, satin.roughness)
    assert satin.anisotropy < brushed.anisotropy and (satin.roughness or 0) > (brushed.roughness or 0)
    bangle = catalog.get("bangle-au999-classic")
    assert any(o.anisotropy == brushed.anisotropy for o in overrides_for(bangle, bangle.variant("au999-56mm-brushed")))
    solitaire = catalog.get("ring-solitaire")
    assert all(o.anisotropy is None for v in solitaire.variants for o in overrides_for(solitaire, v))


# --- drawn ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer
    from render_node.render.environment import build_environments

    env = tmp_path_factory.mktemp("env")
    build_environments(env, face_size_px=64)
    r = PandaRenderer(env)
    yield r
    r.close()


def _around_band_variation(img: np.ndarray) -> float:
    """How much the band's brightness changes going around it (front view, the ring's axis towards the camera):
    the relative spread of the mean luminance of 90 angular sectors of its opaque pixels."""
    h, w = img.shape[:2]
    mask = img[..., 3] == 255
    ys, xs = np.nonzero(mask)
    lum = img[ys, xs, :3].astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    angle = np.arctan2(ys - (ys.min() + ys.max()) / 2, xs - (xs.min() + xs.max()) / 2)
    sector = ((angle + np.pi) / (2 * np.pi) * 90).astype(int) % 90
    means = np.array([lum[sector == s].mean() for s in range(90) if np.any(sector == s)])
    return float(means.std() / means.mean())


@pytest.mark.gl
def test_brushed_band_smears_its_highlights_around_the_band(
    catalog: Catalog, tmp_path: Path, renderer: Any
) -> None:
    from render_node.render.types import MaterialOverride, RenderRequest, TurntableView

    ring = catalog.get("ring-band-classic")
    path = _glb(ring, tmp_path)

    def draw(overrides: tuple[MaterialOverride, ...]) -> np.ndarray:
        # a 3/4 view: anisotropy shows at oblique angles (facing the camera, the bent normal is the normal)
        request = RenderRequest(path, TurntableView(35, 20), (256, 256), "transparent", shadow=False,
                                overrides=overrides)
        return renderer.render(request)

    polished = draw(overrides_for(ring, ring.variant("au750-size-12")))
    brushed = draw(overrides_for(ring, ring.variant("au750-size-12-brushed")))
    # the control: the brushed roughness without the anisotropy
    rough = draw((MaterialOverride("metal", roughness=FINISHES["brushed"].roughness, anisotropy=0.0),))
    band = polished[..., 3] == 255
    assert np.array_equal(band, brushed[..., 3] == 255)  # the same band, only its finish differs
    assert np.abs(polished[band, :3].astype(float) - brushed[band, :3].astype(float)).mean() > 8
    # stretched along the band: going around it, the brushed band's brightness varies much less than the
    # polished one's and than an isotropic band as rough (measured: 0.08 against 0.23 and 0.19)
    assert _around_band_variation(brushed) < 0.6 * _around_band_variation(polished)
    assert _around_band_variation(brushed) < 0.6 * _around_band_variation(rough)
