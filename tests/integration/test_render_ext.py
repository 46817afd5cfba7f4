"""KHR material extensions drawn offscreen (EGL; llvmpipe without a GPU), with answers known in advance: a
denser dielectric reflects more, `specular 0` removes its reflection, an anisotropic disc stretches a highlight
along the anisotropy direction, sheen brightens at grazing angles, a clearcoat follows its own normal texture,
and a volume tints what is seen through it. Materials are checked on the exact shader and, where the baker
can express them, on the baked path too."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from render_node.render.types import RenderRequest, TurntableView
from tests.render_models import write_glb

pytestmark = pytest.mark.gl

Doc = dict[str, Any]
SIZE = (320, 320)


def _sphere(rings: int = 64, segments: int = 128) -> tuple[np.ndarray, ...]:
    """A UV sphere of radius 0.05 m: positions, normals, tangents (along +longitude), UVs, indices."""
    lat = np.linspace(0, np.pi, rings + 1)
    lon = np.linspace(0, 2 * np.pi, segments + 1)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    nrm = np.stack([np.sin(la) * np.sin(lo), np.cos(la), np.sin(la) * np.cos(lo)], -1).reshape(-1, 3)
    tan = np.stack([np.cos(lo), np.zeros_like(lo), -np.sin(lo), np.ones_like(lo)], -1).reshape(-1, 4)
    uv = np.stack([lo / (2 * np.pi), la / np.pi], -1).reshape(-1, 2)
    i, j = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
    a = (i * (segments + 1) + j).ravel()
    b = a + segments + 1
    idx = np.stack([a, b, a + 1, a + 1, b, b + 1], -1).reshape(-1)
    return 0.05 * nrm, nrm, tan, uv, idx


def _dome(rings: int = 48, segments: int = 128, cap_deg: float = 40.0) -> tuple[np.ndarray, ...]:
    """A domed disc facing +Z (a spherical cap, 0.04 m across, like a brushed medal's face): positions, normals,
    tangents along +X (in the surface), UVs (planar), indices."""
    radius_m = 0.02 / np.sin(np.radians(cap_deg))
    polar = np.linspace(0, np.radians(cap_deg), rings + 1)
    az = np.linspace(0, 2 * np.pi, segments + 1)
    po, a_ = np.meshgrid(polar, az, indexing="ij")
    nrm = np.stack([np.sin(po) * np.cos(a_), np.sin(po) * np.sin(a_), np.cos(po)], -1).reshape(-1, 3)
    pos = radius_m * nrm - np.array([0, 0, radius_m * np.cos(np.radians(cap_deg))])
    x = np.array([1.0, 0.0, 0.0])
    tan = x - nrm * (nrm @ x)[:, None]
    tan /= np.linalg.norm(tan, axis=1, keepdims=True)
    tan = np.concatenate([tan, np.ones((len(tan), 1))], axis=1)
    uv = pos[:, :2] / 0.04 + 0.5
    i, j = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
    a = (i * (segments + 1) + j).ravel()
    b = a + segments + 1
    idx = np.stack([a, b, a + 1, a + 1, b, b + 1], -1).reshape(-1)
    return pos, nrm, tan, uv, idx


def _png(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _model(path: Path, mesh: tuple[np.ndarray, ...], material: Doc, images: tuple[bytes, ...] = ()) -> Path:
    """A GLB of one primitive (POSITION, NORMAL, TANGENT, TEXCOORD_0) with `material` and `images` (textures i
    -> image i), the material's extensions declared as used."""
    pos, nrm, tan, uv, idx = mesh
    arrays = [pos.astype(np.float32), nrm.astype(np.float32), tan.astype(np.float32), uv.astype(np.float32),
              idx.astype(np.uint32)]
    blobs = [a.tobytes() for a in arrays] + list(images)
    views, offset, binary = [], 0, b""
    for blob in blobs:
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob)})
        binary += blob + b"\0" * (-len(blob) % 4)
        offset = len(binary)
    kinds = ("VEC3", "VEC3", "VEC4", "VEC2")
    accessors = [{"bufferView": i, "componentType": 5126, "count": len(pos), "type": kind}
                 for i, kind in enumerate(kinds)]
    accessors[0] |= {"min": pos.min(0).tolist(), "max": pos.max(0).tolist()}
    accessors.append({"bufferView": 4, "componentType": 5125, "count": len(idx), "type": "SCALAR"})
    doc: Doc = {
        "asset": {"version": "2.0"},
        "extensionsUsed": sorted(material.get("extensions", {})),
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": accessors,
        "images": [{"bufferView": 5 + i, "mimeType": "image/png"} for i in range(len(images))],
        "textures": [{"source": i} for i in range(len(images))],
        "materials": [material],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1, "TANGENT": 2, "TEXCOORD_0": 3},
                                    "indices": 4, "material": 0}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    if not images:
        for key in ("images", "textures"):
            del doc[key]
    return write_glb(path, doc, binary)


def _material(base: tuple[float, ...], metallic: float, roughness: float, **extensions: Doc) -> Doc:
    return {"name": "m", "pbrMetallicRoughness": {"baseColorFactor": list(base), "metallicFactor": metallic,
                                                 "roughnessFactor": roughness},
            "extensions": {f"KHR_materials_{k}": v for k, v in extensions.items()}}


def _render(renderer: Any, path: Path, shading: str = "exact", background: str = "transparent") -> np.ndarray:
    renderer.shading = shading
    try:
        return renderer.render(RenderRequest(path, TurntableView(0, 0), SIZE, background, shadow=False))
    finally:
        renderer.shading = "baked"


def _object(img: np.ndarray) -> np.ndarray:
    """(n, 3) float RGB of the object's own pixels (opaque)."""
    out: np.ndarray = img[img[..., 3] == 255][:, :3].astype(float)
    return out


def _on_white(img: np.ndarray) -> np.ndarray:
    """(n, 3) float RGB of the object's pixels as a customer sees them over a white page (alpha composited)."""
    px = img[img[..., 3] > 0].astype(float)
    out: np.ndarray = px[:, :3] * px[:, 3:] / 255 + 255 * (1 - px[:, 3:] / 255)
    return out


def _luma(img: np.ndarray) -> np.ndarray:
    out: np.ndarray = img[..., :3].astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    return out


# --- KHR_materials_ior and KHR_materials_specular: the dielectric's Fresnel ---

@pytest.mark.parametrize("shading", ["exact", "baked"])
def test_a_denser_dielectric_reflects_more_and_specular_zero_reflects_nothing(
    renderer: Any, tmp_path: Path, shading: str
) -> None:
    black = (0.0, 0.0, 0.0, 1.0)  # no diffuse: every lit pixel is the dielectric's reflection
    glass = _render(renderer, _model(tmp_path / "glass.glb", _sphere(), _material(black, 0.0, 0.25)), shading)
    diamond = _render(renderer, _model(tmp_path / "diamond.glb", _sphere(),
                                       _material(black, 0.0, 0.25, ior={"ior": 2.4})), shading)
    matte = _render(renderer, _model(tmp_path / "none.glb", _sphere(),
                                     _material(black, 0.0, 0.25, specular={"specularFactor": 0.0})), shading)
    n_glass, n_diamond = _object(glass).mean(), _object(diamond).mean()
    assert len(_object(glass)) > 0.2 * SIZE[0] * SIZE[1]
    # f0 = ((n - 1) / (n + 1))^2: 0.040 at 1.5, 0.170 at 2.4: the diamond's reflections are clearly brighter
    assert n_diamond > 1.5 * n_glass, (n_glass, n_diamond)
    assert n_glass > 8, "a black dielectric still reflects its environment"
    assert _object(matte).max() <= 2, "specularFactor 0 removes the dielectric's reflection (black base: black)"


def test_specular_colour_tints_a_dielectrics_reflections(renderer: Any, tmp_path: Path) -> None:
    black = (0.0, 0.0, 0.0, 1.0)
    tinted = _material(black, 0.0, 0.25, ior={"ior": 2.0}, specular={"specularColorFactor": [1.0, 0.25, 0.25]})
    px = _object(_render(renderer, _model(tmp_path / "tinted.glb", _sphere(), tinted)))
    assert px[:, 0].mean() > 1.5 * px[:, 1].mean(), "red specular colour: red reflections"
    assert abs(px[:, 1].mean() - px[:, 2].mean()) < 3


def test_specular_texture_alpha_scales_the_reflection_where_it_is_painted(renderer: Any, tmp_path: Path) -> None:
    black = (0.0, 0.0, 0.0, 1.0)
    tex = np.full((64, 64, 4), 255)
    tex[:, 32:, 3] = 0  # u >= 0.5 (longitudes 180..360 degrees, the sphere's back and -X side): no reflection
    mat = _material(black, 0.0, 0.25, ior={"ior": 2.4}, specular={"specularTexture": {"index": 0}})
    img = _render(renderer, _model(tmp_path / "half.glb", _sphere(), mat, (_png(tex),)))
    ys, xs = np.nonzero(img[..., 3] == 255)
    cx = xs.mean()
    lum = _luma(img)
    right = lum[ys[xs > cx + 10], xs[xs > cx + 10]].mean()  # +X: longitudes 0..90, reflecting
    left = lum[ys[xs < cx - 10], xs[xs < cx - 10]].mean()  # -X: longitudes 270..360, not
    assert right > 10 and left < 2, (left, right)


# --- KHR_materials_anisotropy: stretched highlights ---

def _stretch(img: np.ndarray) -> float:
    """How much the object's shading varies across X relative to across Y (mean |d/dx| / mean |d/dy| of luma
    inside the object): a highlight stretched along X has its edges across Y (a small value)."""
    lum = _luma(img)
    inside = img[..., 3] == 255
    inner = inside[1:-1, 1:-1] & inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
    dx = np.abs(lum[1:-1, 2:] - lum[1:-1, :-2])[inner]
    dy = np.abs(lum[2:, 1:-1] - lum[:-2, 1:-1])[inner]
    return float(dx.mean() / max(dy.mean(), 1e-6))


def test_an_anisotropic_disc_stretches_its_highlights_along_the_anisotropy_direction(
    renderer: Any, tmp_path: Path
) -> None:
    steel = (0.9, 0.9, 0.9, 1.0)
    plain = _render(renderer, _model(tmp_path / "plain.glb", _dome(), _material(steel, 1.0, 0.15)))
    along_x = _render(renderer, _model(tmp_path / "x.glb", _dome(),
                                       _material(steel, 1.0, 0.15, anisotropy={"anisotropyStrength": 0.9})))
    along_y = _render(renderer, _model(tmp_path / "y.glb", _dome(), _material(
        steel, 1.0, 0.15, anisotropy={"anisotropyStrength": 0.9, "anisotropyRotation": np.pi / 2})))
    iso, sx, sy = _stretch(plain), _stretch(along_x), _stretch(along_y)
    assert sx < 0.5 * iso, f"tangent +X: highlights stretch along X ({sx:.2f} vs isotropic {iso:.2f})"
    assert sy > 2.0 * iso, f"rotated 90 degrees: along Y ({sy:.2f} vs isotropic {iso:.2f})"
    # the baker's sphere has no tangent: an anisotropic material is drawn by the exact shader on both paths
    baked = _render(renderer, tmp_path / "x.glb", "baked")
    assert np.abs(baked.astype(int) - along_x.astype(int)).max() <= 1


def test_an_anisotropy_texture_sets_direction_and_strength(renderer: Any, tmp_path: Path) -> None:
    steel = (0.9, 0.9, 0.9, 1.0)
    tex = np.zeros((8, 8, 4))
    tex[..., :] = (128, 255, 255, 255)  # direction +Y in tangent space ((0.5, 1.0) -> (0, 1)), full strength
    mat = _material(steel, 1.0, 0.15, anisotropy={"anisotropyStrength": 0.9, "anisotropyTexture": {"index": 0}})
    plain = _render(renderer, _model(tmp_path / "plain.glb", _dome(), _material(steel, 1.0, 0.15)))
    mapped = _render(renderer, _model(tmp_path / "mapped.glb", _dome(), mat, (_png(tex),)))
    assert _stretch(mapped) > 2.0 * _stretch(plain)


# --- KHR_materials_sheen: brighter at grazing angles ---

def _rings(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the sphere's centre (facing the camera) and its rim (grazing), from the silhouette."""
    ys, xs = np.nonzero(img[..., 3] == 255)
    cy, cx, radius = ys.mean(), xs.mean(), (xs.max() - xs.min()) / 2
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    rho = np.hypot(yy - cy, xx - cx) / radius
    opaque = img[..., 3] == 255
    return opaque & (rho < 0.4), opaque & (rho > 0.85) & (rho < 0.96)


@pytest.mark.parametrize("shading", ["exact", "baked"])
def test_sheen_brightens_a_dark_fabric_at_grazing_angles(renderer: Any, tmp_path: Path, shading: str) -> None:
    velvet = (0.03, 0.01, 0.02, 1.0)
    bare = _render(renderer, _model(tmp_path / "bare.glb", _sphere(), _material(velvet, 0.0, 0.9)), shading)
    sheen = {"sheenColorFactor": [1.0, 1.0, 1.0], "sheenRoughnessFactor": 0.5}
    soft = _render(renderer, _model(tmp_path / "sheen.glb", _sphere(), _material(velvet, 0.0, 0.9, sheen=sheen)),
                   shading)
    centre, rim = _rings(bare)
    gain = _luma(soft) - _luma(bare)
    assert gain[rim].mean() > 15, "the rim glows"
    # the baker's 128 px sphere blurs the last few per cent of the radius, where sheen peaks: a softer rim
    ratio = 3.0 if shading == "exact" else 2.0
    assert gain[rim].mean() > ratio * max(gain[centre].mean(), 1.0), (gain[centre].mean(), gain[rim].mean())


# --- KHR_materials_clearcoat: its own factor texture and normal ---

def _high_frequency(img: np.ndarray) -> float:
    lum = _luma(img)
    inside = img[..., 3] == 255
    lap = np.abs(4 * lum[1:-1, 1:-1] - lum[:-2, 1:-1] - lum[2:, 1:-1] - lum[1:-1, :-2] - lum[1:-1, 2:])
    return float(lap[inside[1:-1, 1:-1] & inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2]
                     & inside[1:-1, 2:]].mean())


def test_a_clearcoat_follows_its_own_normal_texture_and_factor_texture(renderer: Any, tmp_path: Path) -> None:
    paint = (0.5, 0.02, 0.02, 1.0)
    bumps = np.zeros((64, 64, 4))
    u = np.arange(64) / 64
    bumps[..., 0] = 128 + 100 * np.sin(2 * np.pi * 16 * u)[None, :]  # ripples across U (round the sphere)
    bumps[..., 1], bumps[..., 2], bumps[..., 3] = 128, 255, 255
    smooth = _material(paint, 0.0, 0.7, clearcoat={"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05})
    rippled = _material(paint, 0.0, 0.7, clearcoat={"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05,
                                                    "clearcoatNormalTexture": {"index": 0}})
    none = _material(paint, 0.0, 0.7, clearcoat={"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05,
                                                 "clearcoatTexture": {"index": 0}})
    black = np.zeros((4, 4, 4))
    black[..., 3] = 255
    img_smooth = _render(renderer, _model(tmp_path / "smooth.glb", _sphere(), smooth))
    img_rippled = _render(renderer, _model(tmp_path / "rippled.glb", _sphere(), rippled, (_png(bumps),)))
    img_none = _render(renderer, _model(tmp_path / "none.glb", _sphere(), none, (_png(black),)))
    img_bare = _render(renderer, _model(tmp_path / "bare.glb", _sphere(), _material(paint, 0.0, 0.7)))
    assert _high_frequency(img_rippled) > 2 * _high_frequency(img_smooth), "the coat's reflections ripple"
    assert np.abs(img_none.astype(int) - img_bare.astype(int)).max() <= 2, "a black clearcoatTexture: no coat"
    assert _object(img_smooth)[:, 1].mean() > _object(img_bare)[:, 1].mean() + 5, "a coat adds white reflections"


# --- KHR_materials_volume: attenuation of the light through a transmissive volume ---

def test_a_volume_tints_the_light_through_it_by_its_attenuation_colour(renderer: Any, tmp_path: Path) -> None:
    white = (1.0, 1.0, 1.0, 1.0)
    clear = _material(white, 0.0, 0.05, transmission={"transmissionFactor": 1.0},
                      volume={"thicknessFactor": 0.1})
    ruby = _material(white, 0.0, 0.05, transmission={"transmissionFactor": 1.0},
                     volume={"thicknessFactor": 0.1, "attenuationColor": [0.9, 0.1, 0.15], "attenuationDistance": 0.05})
    img_clear = _render(renderer, _model(tmp_path / "clear.glb", _sphere(), clear))
    img_ruby = _render(renderer, _model(tmp_path / "ruby.glb", _sphere(), ruby))
    c, r = _on_white(img_clear).mean(0), _on_white(img_ruby).mean(0)
    assert abs(c[0] - c[1]) < 12, f"a clear volume stays neutral {c}"
    assert r[0] > r[1] + 30 and r[0] > r[2] + 30, f"a ruby-coloured volume is red {r}"


def test_a_volume_with_dispersion_splits_colours_at_the_edges_of_what_it_refracts(
    renderer: Any, tmp_path: Path
) -> None:
    white = (1.0, 1.0, 1.0, 1.0)
    glass = {"transmission": {"transmissionFactor": 1.0}, "volume": {"thicknessFactor": 0.1}, "ior": {"ior": 2.4}}
    plain = _render(renderer, _model(tmp_path / "plain.glb", _sphere(), _material(white, 0.0, 0.02, **glass)))
    fiery = _render(renderer, _model(tmp_path / "fiery.glb", _sphere(),
                                     _material(white, 0.0, 0.02, **glass, dispersion={"dispersion": 5.0})))

    def chroma(img: np.ndarray) -> float:
        px = img[img[..., 3] > 0][:, :3].astype(float)
        return float((px.max(1) - px.min(1)).mean())

    assert chroma(fiery) > chroma(plain) + 3, (chroma(plain), chroma(fiery))


# --- KHR_materials_iridescence: a thin film's colours, changing with the angle ---

@pytest.mark.parametrize("shading", ["exact", "baked"])
def test_a_thin_film_colours_a_neutral_reflection_and_its_colour_turns_towards_the_rim(
    renderer: Any, tmp_path: Path, shading: str
) -> None:
    black = (0.0, 0.0, 0.0, 1.0)
    bare = _render(renderer, _model(tmp_path / "bare.glb", _sphere(), _material(black, 0.0, 0.2)), shading)
    film = {"iridescenceFactor": 1.0, "iridescenceIor": 1.8, "iridescenceThicknessMaximum": 450}
    bubble = _render(renderer, _model(tmp_path / "film.glb", _sphere(),
                                      _material(black, 0.0, 0.2, iridescence=film)), shading)
    centre, rim = _rings(bare)

    def mean_rgb(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out: np.ndarray = img[mask][:, :3].astype(float).mean(0)
        return out

    def hue(rgb: np.ndarray) -> np.ndarray:
        out: np.ndarray = rgb / rgb.sum()
        return out

    bare_c, bare_r = hue(mean_rgb(bare, centre)), hue(mean_rgb(bare, rim))
    film_c, film_r = hue(mean_rgb(bubble, centre)), hue(mean_rgb(bubble, rim))
    # the studio's light is slightly warm: compare colours (rgb / sum) with the film's and without
    assert np.abs(bare_c - bare_r).max() < 0.02, f"no film: one colour at every angle {bare_c} {bare_r}"
    assert np.abs(film_c - bare_c).max() > 0.05, f"the film colours the reflection {bare_c} -> {film_c}"
    assert np.abs(film_c - film_r).max() > 0.05, f"the film's colour changes with the angle {film_c} {film_r}"
    empty = _render(renderer, _model(tmp_path / "none.glb", _sphere(), _material(
        black, 0.0, 0.2, iridescence={"iridescenceFactor": 1.0, "iridescenceThicknessMaximum": 0})), shading)
    assert np.abs(empty.astype(int) - bare.astype(int)).max() <= 1, "a film of no thickness is no film"


def test_a_transmissive_base_colour_tints_what_is_seen_through_it(renderer: Any, tmp_path: Path) -> None:
    clear = _render(renderer, _model(tmp_path / "clear.glb", _sphere(), _material(
        (1.0, 1.0, 1.0, 1.0), 0.0, 0.05, transmission={"transmissionFactor": 1.0})))
    blue = _render(renderer, _model(tmp_path / "blue.glb", _sphere(), _material(
        (0.15, 0.35, 1.0, 1.0), 0.0, 0.05, transmission={"transmissionFactor": 1.0})))
    c, b = _on_white(clear).mean(0), _on_white(blue).mean(0)
    assert abs(c[0] - c[2]) < 12, f"clear glass stays neutral {c}"
    assert b[2] > b[0] + 30, f"blue glass is blue {b}"
