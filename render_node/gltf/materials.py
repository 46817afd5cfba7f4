"""glTF metallic-roughness materials and their texture references, read and checked.

Every texture a material names must exist, with an existing image and sampler; factors must be numbers of the
right arity. The KHR extensions the renderer approximates (clearcoat, transmission, ior, emissive strength,
unlit, texture transform) are read here; others are kept in the file and ignored.
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
    transmission: float = 0.0
    ior: float = 1.5
    unlit: bool = False


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
    tr = _obj(doc, ext, "KHR_materials_transmission", e_at)
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
        clearcoat=_num(doc, cc, "clearcoatFactor", 0.0, f"{e_at}.KHR_materials_clearcoat"),
        clearcoat_roughness=_num(doc, cc, "clearcoatRoughnessFactor", 0.0, f"{e_at}.KHR_materials_clearcoat"),
        transmission=_num(doc, tr, "transmissionFactor", 0.0, f"{e_at}.KHR_materials_transmission"),
        ior=_num(doc, _obj(doc, ext, "KHR_materials_ior", e_at), "ior", 1.5, f"{e_at}.KHR_materials_ior"),
        unlit="KHR_materials_unlit" in ext,
    )


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
