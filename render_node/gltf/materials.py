"""glTF metallic-roughness materials and their texture references, read and checked.

Every texture a material names must exist, with an existing image and sampler; factors must be numbers of the
right arity. The KHR material extensions the renderer draws are read here: ior, specular, anisotropy, sheen,
clearcoat (with its own textures and normal), transmission, volume, emissive strength, unlit and texture
transform, dispersion, iridescence; others are kept in the file and ignored. `extras.gem` marks a cut stone,
`extras.flakes` a metallic paint's flakes (docs/rendering.md, "Metallic paint").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from render_node.gltf.document import Document

F64 = npt.NDArray[np.float64]
AlphaMode = Literal["OPAQUE", "MASK", "BLEND"]
_IMAGE_EXTENSIONS = ("EXT_texture_webp", "KHR_texture_basisu", "MSFT_texture_dds")


@dataclass(frozen=True)
class TextureRef:
    """A material's use of a texture: the image index, its sampler and UV set, and a KHR_texture_transform."""

    image: int
    texcoord: int = 0
    wrap_s: int = 10497
    wrap_t: int = 10497
    mag_filter: int | None = None
    min_filter: int | None = None
    uv_offset: tuple[float, float] = (0.0, 0.0)
    uv_scale: tuple[float, float] = (1.0, 1.0)
    uv_rotation_rad: float = 0.0

    @property
    def has_transform(self) -> bool:
        return self.uv_offset != (0.0, 0.0) or self.uv_scale != (1.0, 1.0) or self.uv_rotation_rad != 0.0

    def uv_matrix(self) -> F64:
        """3x3 matrix applied to (u, v, 1), as KHR_texture_transform defines it."""
        c, s = math.cos(self.uv_rotation_rad), math.sin(self.uv_rotation_rad)
        t = np.array([[1, 0, self.uv_offset[0]], [0, 1, self.uv_offset[1]], [0, 0, 1]], dtype=np.float64)
        r = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], dtype=np.float64)
        sc = np.diag([self.uv_scale[0], self.uv_scale[1], 1.0])
        m: F64 = t @ r @ sc
        return m


@dataclass(frozen=True)
class Flakes:
    """A metallic paint's flakes (`extras.flakes` of a material; docs/rendering.md, "Metallic paint"): small
    mirror-like platelets in the base coat, one at most per cube of `size_m` (object space, metres) and in a
    `density` share of them, each normal tilted by a random tangent offset of up to `tilt` per axis (0.25: up to
    about 20 degrees) and as rough as `roughness`."""

    size_m: float = 0.003
    density: float = 0.5
    tilt: float = 0.3
    roughness: float = 0.15


@dataclass(frozen=True)
class Material:
    """glTF metallic-roughness material with the KHR extensions the renderer approximates."""

    name: str = ""
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 1.0
    roughness: float = 1.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_color_tex: TextureRef | None = None
    metal_rough_tex: TextureRef | None = None
    normal_tex: TextureRef | None = None
    normal_scale: float = 1.0
    occlusion_tex: TextureRef | None = None
    occlusion_strength: float = 1.0
    emissive_tex: TextureRef | None = None
    alpha_mode: AlphaMode = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    clearcoat: float = 0.0
    clearcoat_roughness: float = 0.0
    clearcoat_tex: TextureRef | None = None
    clearcoat_roughness_tex: TextureRef | None = None
    clearcoat_normal_tex: TextureRef | None = None
    clearcoat_normal_scale: float = 1.0
    transmission: float = 0.0
    transmission_tex: TextureRef | None = None
    ior: float = 1.5
    specular: float = 1.0
    specular_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    specular_tex: TextureRef | None = None
    specular_color_tex: TextureRef | None = None
    anisotropy: float = 0.0
    anisotropy_rotation_rad: float = 0.0
    anisotropy_tex: TextureRef | None = None
    sheen_color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sheen_roughness: float = 0.0
    sheen_color_tex: TextureRef | None = None
    sheen_roughness_tex: TextureRef | None = None
    thickness: float = 0.0
    thickness_tex: TextureRef | None = None
    attenuation_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    attenuation_distance_m: float = math.inf
    dispersion: float = 0.0
    iridescence: float = 0.0
    iridescence_ior: float = 1.3
    iridescence_thickness_nm: tuple[float, float] = (100.0, 400.0)
    iridescence_tex: TextureRef | None = None
    iridescence_thickness_tex: TextureRef | None = None
    unlit: bool = False
    gem: bool = False
    """`extras.gem` ("faceted" or true): a cut stone whose light is traced inside its facets (docs/rendering.md,
    "Gemstones"); drawn so only with transmission and a volume, on a convex primitive."""
    flakes: Flakes | None = None
    """`extras.flakes`: metallic paint's flakes in the base coat (docs/rendering.md, "Metallic paint")."""
    brush: tuple[float, float] | None = None
    """`extras.brush`: a brushed finish's streaks round a band, (spacing in metres of the widest, contrast)
    (docs/rendering.md, "Finishes")."""

    @property
    def has_iridescence(self) -> bool:
        """A thin film on top (KHR_materials_iridescence); a film of no thickness is none."""
        thickest_nm = self.iridescence_thickness_nm[1] if self.iridescence_thickness_tex is None else max(
            self.iridescence_thickness_nm)
        return self.iridescence > 0 and thickest_nm > 0

    @property
    def has_sheen(self) -> bool:
        return max(self.sheen_color) > 0 or self.sheen_color_tex is not None

    @property
    def has_volume(self) -> bool:
        """A volume the light crosses (KHR_materials_volume): only with transmission, and only when thick."""
        return self.transmission > 0 and self.thickness > 0

    @property
    def dielectric_f0(self) -> float:
        """Normal-incidence reflectance of the dielectric from its index of refraction (0.04 at ior 1.5)."""
        return ((self.ior - 1) / (self.ior + 1)) ** 2


def _obj(doc: Document, parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise doc.fail(f"{where}.{key}", "must be an object")
    return value


def _num(doc: Document, obj: dict[str, Any], key: str, default: float, where: str) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise doc.fail(f"{where}.{key}", f"must be a number (got {value!r})")
    return float(value)


def _nums(doc: Document, obj: dict[str, Any], key: str, default: tuple[float, ...], where: str) -> tuple[float, ...]:
    value = obj.get(key, default)
    if (not isinstance(value, list | tuple) or len(value) != len(default)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise doc.fail(f"{where}.{key}", f"must be {len(default)} numbers (got {value!r})")
    return tuple(float(v) for v in value)


def read_texture_ref(doc: Document, info: object, where: str) -> TextureRef | None:
    """A material's textureInfo, or None when it names no image the renderer can decode."""
    if info is None:
        return None
    if not isinstance(info, dict):
        raise doc.fail(where, "must be an object")
    ti = doc.index(info.get("index"), "textures", f"{where}.index")
    tex = doc.array("textures")[ti]
    source = tex.get("source")
    at = f"textures[{ti}]"
    extensions = _obj(doc, tex, "extensions", at)
    for ext in _IMAGE_EXTENSIONS:
        if source is None and isinstance(extensions.get(ext), dict):
            source = extensions[ext].get("source")
    if source is None:
        return None
    image = doc.index(source, "images", f"{at}.source")
    sampler: dict[str, Any] = {}
    if "sampler" in tex:
        sampler = doc.array("samplers")[doc.index(tex["sampler"], "samplers", f"{at}.sampler")]
    s_at = f"samplers[{tex.get('sampler')}]"
    filters = {}
    for key in ("wrapS", "wrapT", "magFilter", "minFilter"):
        value = sampler.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise doc.fail(f"{s_at}.{key}", f"must be a GL enum (got {value!r})")
        filters[key] = value
    xf = _obj(doc, _obj(doc, info, "extensions", where), "KHR_texture_transform", f"{where}.extensions")
    x_at = f"{where}.extensions.KHR_texture_transform"
    texcoord = xf.get("texCoord", info.get("texCoord", 0))
    if isinstance(texcoord, bool) or not isinstance(texcoord, int) or texcoord < 0:
        raise doc.fail(f"{where}.texCoord", f"must be an integer >= 0 (got {texcoord!r})")
    offset = _nums(doc, xf, "offset", (0.0, 0.0), x_at)
    scale = _nums(doc, xf, "scale", (1.0, 1.0), x_at)
    return TextureRef(
        image=image,
        texcoord=min(texcoord, 1),
        wrap_s=filters["wrapS"] or 10497,
        wrap_t=filters["wrapT"] or 10497,
        mag_filter=filters["magFilter"],
        min_filter=filters["minFilter"],
        uv_offset=(offset[0], offset[1]),
        uv_scale=(scale[0], scale[1]),
        uv_rotation_rad=_num(doc, xf, "rotation", 0.0, x_at),
    )


def read_material(doc: Document, idx: int, m: dict[str, Any]) -> Material:
    where = f"materials[{idx}]"
    pbr = _obj(doc, m, "pbrMetallicRoughness", where)
    p_at = f"{where}.pbrMetallicRoughness"
    ext = _obj(doc, m, "extensions", where)
    e_at = f"{where}.extensions"
    bc = _nums(doc, pbr, "baseColorFactor", (1.0, 1.0, 1.0, 1.0), p_at)
    em = _nums(doc, m, "emissiveFactor", (0.0, 0.0, 0.0), where)
    strength = _num(doc, _obj(doc, ext, "KHR_materials_emissive_strength", e_at), "emissiveStrength", 1.0,
                    f"{e_at}.KHR_materials_emissive_strength")
    cc = _obj(doc, ext, "KHR_materials_clearcoat", e_at)
    cc_at = f"{e_at}.KHR_materials_clearcoat"
    tr = _obj(doc, ext, "KHR_materials_transmission", e_at)
    tr_at = f"{e_at}.KHR_materials_transmission"
    sp = _obj(doc, ext, "KHR_materials_specular", e_at)
    sp_at = f"{e_at}.KHR_materials_specular"
    an = _obj(doc, ext, "KHR_materials_anisotropy", e_at)
    an_at = f"{e_at}.KHR_materials_anisotropy"
    sh = _obj(doc, ext, "KHR_materials_sheen", e_at)
    sh_at = f"{e_at}.KHR_materials_sheen"
    vo = _obj(doc, ext, "KHR_materials_volume", e_at)
    vo_at = f"{e_at}.KHR_materials_volume"
    ior = _num(doc, _obj(doc, ext, "KHR_materials_ior", e_at), "ior", 1.5, f"{e_at}.KHR_materials_ior")
    if ior != 0 and ior < 1:
        raise doc.fail(f"{e_at}.KHR_materials_ior.ior", f"must be 0 or at least 1 (got {ior!r})")
    attenuation_m = _num(doc, vo, "attenuationDistance", math.inf, vo_at) if "attenuationDistance" in vo else math.inf
    if attenuation_m <= 0:
        raise doc.fail(f"{vo_at}.attenuationDistance", f"must be positive (got {attenuation_m!r})")
    ir = _obj(doc, ext, "KHR_materials_iridescence", e_at)
    ir_at = f"{e_at}.KHR_materials_iridescence"
    dispersion = _num(doc, _obj(doc, ext, "KHR_materials_dispersion", e_at), "dispersion", 0.0,
                      f"{e_at}.KHR_materials_dispersion")
    if dispersion < 0:
        raise doc.fail(f"{e_at}.KHR_materials_dispersion.dispersion", f"must be at least 0 (got {dispersion!r})")
    cc_normal = cc.get("clearcoatNormalTexture")
    spc = _nums(doc, sp, "specularColorFactor", (1.0, 1.0, 1.0), sp_at)
    shc = _nums(doc, sh, "sheenColorFactor", (0.0, 0.0, 0.0), sh_at)
    att = _nums(doc, vo, "attenuationColor", (1.0, 1.0, 1.0), vo_at)
    alpha_mode = m.get("alphaMode", "OPAQUE")
    if alpha_mode not in ("OPAQUE", "MASK", "BLEND"):
        raise doc.fail(f"{where}.alphaMode", f"{alpha_mode!r} is not OPAQUE, MASK or BLEND")
    normal = m.get("normalTexture")
    occl = m.get("occlusionTexture")
    normal_tex = read_texture_ref(doc, normal, f"{where}.normalTexture")
    occlusion_tex = read_texture_ref(doc, occl, f"{where}.occlusionTexture")
    # every other texture a material or extension names must exist too (the renderer may ignore it)
    for key, ref in _texture_refs(ext, e_at):
        read_texture_ref(doc, ref, key)
    return Material(
        name=str(m.get("name", f"material_{idx}")),
        base_color=(bc[0], bc[1], bc[2], bc[3]),
        metallic=_num(doc, pbr, "metallicFactor", 1.0, p_at),
        roughness=_num(doc, pbr, "roughnessFactor", 1.0, p_at),
        emissive=(em[0] * strength, em[1] * strength, em[2] * strength),
        base_color_tex=read_texture_ref(doc, pbr.get("baseColorTexture"), f"{p_at}.baseColorTexture"),
        metal_rough_tex=read_texture_ref(doc, pbr.get("metallicRoughnessTexture"),
                                         f"{p_at}.metallicRoughnessTexture"),
        normal_tex=normal_tex,
        normal_scale=_num(doc, normal, "scale", 1.0, f"{where}.normalTexture") if isinstance(normal, dict) else 1.0,
        occlusion_tex=occlusion_tex,
        occlusion_strength=(_num(doc, occl, "strength", 1.0, f"{where}.occlusionTexture")
                            if isinstance(occl, dict) else 1.0),
        emissive_tex=read_texture_ref(doc, m.get("emissiveTexture"), f"{where}.emissiveTexture"),
        alpha_mode=alpha_mode,
        alpha_cutoff=_num(doc, m, "alphaCutoff", 0.5, where),
        double_sided=bool(m.get("doubleSided", False)),
        clearcoat=_num(doc, cc, "clearcoatFactor", 0.0, cc_at),
        clearcoat_roughness=_num(doc, cc, "clearcoatRoughnessFactor", 0.0, cc_at),
        clearcoat_tex=read_texture_ref(doc, cc.get("clearcoatTexture"), f"{cc_at}.clearcoatTexture"),
        clearcoat_roughness_tex=read_texture_ref(doc, cc.get("clearcoatRoughnessTexture"),
                                                 f"{cc_at}.clearcoatRoughnessTexture"),
        clearcoat_normal_tex=read_texture_ref(doc, cc_normal, f"{cc_at}.clearcoatNormalTexture"),
        clearcoat_normal_scale=(_num(doc, cc_normal, "scale", 1.0, f"{cc_at}.clearcoatNormalTexture")
                                if isinstance(cc_normal, dict) else 1.0),
        transmission=_num(doc, tr, "transmissionFactor", 0.0, tr_at),
        transmission_tex=read_texture_ref(doc, tr.get("transmissionTexture"), f"{tr_at}.transmissionTexture"),
        ior=ior,
        specular=_num(doc, sp, "specularFactor", 1.0, sp_at),
        specular_color=(spc[0], spc[1], spc[2]),
        specular_tex=read_texture_ref(doc, sp.get("specularTexture"), f"{sp_at}.specularTexture"),
        specular_color_tex=read_texture_ref(doc, sp.get("specularColorTexture"), f"{sp_at}.specularColorTexture"),
        anisotropy=min(max(_num(doc, an, "anisotropyStrength", 0.0, an_at), 0.0), 1.0),
        anisotropy_rotation_rad=_num(doc, an, "anisotropyRotation", 0.0, an_at),
        anisotropy_tex=read_texture_ref(doc, an.get("anisotropyTexture"), f"{an_at}.anisotropyTexture"),
        sheen_color=(shc[0], shc[1], shc[2]),
        sheen_roughness=min(max(_num(doc, sh, "sheenRoughnessFactor", 0.0, sh_at), 0.0), 1.0),
        sheen_color_tex=read_texture_ref(doc, sh.get("sheenColorTexture"), f"{sh_at}.sheenColorTexture"),
        sheen_roughness_tex=read_texture_ref(doc, sh.get("sheenRoughnessTexture"), f"{sh_at}.sheenRoughnessTexture"),
        thickness=max(_num(doc, vo, "thicknessFactor", 0.0, vo_at), 0.0),
        thickness_tex=read_texture_ref(doc, vo.get("thicknessTexture"), f"{vo_at}.thicknessTexture"),
        attenuation_color=(att[0], att[1], att[2]),
        attenuation_distance_m=attenuation_m,
        dispersion=dispersion,
        iridescence=_num(doc, ir, "iridescenceFactor", 0.0, ir_at),
        iridescence_ior=_num(doc, ir, "iridescenceIor", 1.3, ir_at),
        iridescence_thickness_nm=(max(_num(doc, ir, "iridescenceThicknessMinimum", 100.0, ir_at), 0.0),
                                  max(_num(doc, ir, "iridescenceThicknessMaximum", 400.0, ir_at), 0.0)),
        iridescence_tex=read_texture_ref(doc, ir.get("iridescenceTexture"), f"{ir_at}.iridescenceTexture"),
        iridescence_thickness_tex=read_texture_ref(doc, ir.get("iridescenceThicknessTexture"),
                                                   f"{ir_at}.iridescenceThicknessTexture"),
        unlit="KHR_materials_unlit" in ext,
        gem=_gem(doc, m, where),
        flakes=_flakes(doc, m, where),
        brush=_brush(doc, m, where),
    )


def _brush(doc: Document, m: dict[str, Any], where: str) -> tuple[float, float] | None:
    """The material's `extras.brush`: `spacing` (metres, 0 < spacing <= 0.01; default 0.0004) and `contrast`
    (0..1, clamped; default 0.35); absent or null: none."""
    extras = m.get("extras")
    if not isinstance(extras, dict) or extras.get("brush") is None:
        return None
    at = f"{where}.extras"
    value = _obj(doc, extras, "brush", at)
    spacing = _num(doc, value, "spacing", 0.0004, f"{at}.brush")
    if not 0 < spacing <= 0.01:
        raise doc.fail(f"{at}.brush.spacing", f"must be in metres, 0 < spacing <= 0.01 (got {spacing!r})")
    return spacing, min(max(_num(doc, value, "contrast", 0.35, f"{at}.brush"), 0.0), 1.0)


def _flakes(doc: Document, m: dict[str, Any], where: str) -> Flakes | None:
    """The material's `extras.flakes`: an object of `size` (metres, > 0), `density`, `tilt`, `roughness` (each
    0..1, clamped), every key optional (the `Flakes` defaults); absent or null: no flakes."""
    extras = m.get("extras")
    if not isinstance(extras, dict) or extras.get("flakes") is None:
        return None
    at = f"{where}.extras"
    value = _obj(doc, extras, "flakes", at)
    at += ".flakes"
    default = Flakes()
    size = _num(doc, value, "size", default.size_m, at)
    if not 0 < size <= 1:
        raise doc.fail(f"{at}.size", f"must be a flake spacing in metres, 0 < size <= 1 (got {size!r})")

    def unit(key: str, fallback: float) -> float:
        return min(max(_num(doc, value, key, fallback, at), 0.0), 1.0)

    return Flakes(size, unit("density", default.density), unit("tilt", default.tilt),
                  unit("roughness", default.roughness))


def _gem(doc: Document, m: dict[str, Any], where: str) -> bool:
    """The material's `extras.gem`: true or "faceted" turn the gem path on; false, null or absent leave it off."""
    extras = m.get("extras")
    if not isinstance(extras, dict) or extras.get("gem") in (None, False):
        return False
    value = extras["gem"]
    if value is True or value == "faceted":
        return True
    raise doc.fail(f"{where}.extras.gem", f'must be true or "faceted" (got {value!r})')


def _texture_refs(obj: Any, where: str) -> list[tuple[str, Any]]:
    """(field, textureInfo) of every `...Texture` key below `obj`."""
    refs: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            at = f"{where}.{k}"
            if k.endswith("Texture"):
                refs.append((at, v))
            else:
                refs.extend(_texture_refs(v, at))
    return refs
