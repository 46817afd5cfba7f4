"""Turns a parsed glTF asset into panda3d nodes with the PBR shader, its material inputs and textures.

Vertex data goes straight from numpy into panda3d's arrays (no per-vertex Python). Each primitive becomes one
GeomNode whose render state picks the shader variant its material needs.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d
from PIL import Image, UnidentifiedImageError

from render_node.render.errors import ModelInvalid
from render_node.render.gem_optics import OPTICS_DEFINES, gem_inputs, gem_planes, plane_array, with_optics
from render_node.render.gem_optics import gem_iors as gem_iors  # re-exported (tests, older callers)
from render_node.render.gltf import GltfAsset, Material, Primitive, TextureRef
from render_node.render.lights import light_inputs
from render_node.render.shaders import ShaderCache, slot_sampler
from render_node.render.shadow import ContactShadow, contact_shadow
from render_node.render.types import MaterialOverride

F64 = npt.NDArray[np.float64]

_WRAP = {
    33071: p3d.SamplerState.WM_clamp,
    33648: p3d.SamplerState.WM_mirror,
    10497: p3d.SamplerState.WM_repeat,
}
_DEFAULT_MATERIAL = Material(name="default", base_color=(0.8, 0.8, 0.8, 1.0), metallic=0.0, roughness=0.6)
MAX_TEXTURE_PX = 2048


def mat4(m: F64) -> p3d.LMatrix4f:
    """Column-vector 4x4 (numpy) -> panda3d's row-vector LMatrix4f."""
    return p3d.LMatrix4f(*np.asarray(m, dtype=np.float64).T.reshape(-1).tolist())


def mat3(m: F64) -> p3d.LMatrix4f:
    """Column-vector 3x3 (numpy) as a 4x4 shader input; GLSL reads it as `mat3(uniform_mat4) * v == m @ v`."""
    full = np.eye(4)
    full[:3, :3] = m
    return mat4(full)


def _fill_array(handle: p3d.GeomVertexArrayData, data: npt.NDArray[np.generic]) -> None:
    raw = np.ascontiguousarray(data).tobytes()
    handle.unclean_set_num_rows(len(data))
    view = memoryview(handle).cast("B")
    view[:] = raw


def _geom(prim: Primitive, with_tangent: bool) -> p3d.Geom:
    cols: list[tuple[str, npt.NDArray[np.float32], int]] = [
        ("vertex", prim.positions, p3d.GeomEnums.C_point),
        ("normal", prim.normals if prim.normals is not None else np.zeros_like(prim.positions), p3d.GeomEnums.C_normal),
    ]
    if prim.texcoords[0] is not None:
        cols.append(("a_uv0", prim.texcoords[0], p3d.GeomEnums.C_texcoord))
    if prim.texcoords[1] is not None:
        cols.append(("a_uv1", prim.texcoords[1], p3d.GeomEnums.C_texcoord))
    if with_tangent and prim.tangents is not None:
        cols.append(("a_tangent", prim.tangents, p3d.GeomEnums.C_vector))
    if prim.colors is not None:
        cols.append(("a_color", prim.colors, p3d.GeomEnums.C_color))
    fmt = p3d.GeomVertexFormat()
    for name, arr, contents in cols:
        afmt = p3d.GeomVertexArrayFormat()
        afmt.add_column(p3d.InternalName.make(name), arr.shape[1], p3d.GeomEnums.NT_float32, contents)
        fmt.add_array(afmt)
    reg = p3d.GeomVertexFormat.register_format(fmt)
    vdata = p3d.GeomVertexData("gltf", reg, p3d.GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(prim.positions))
    for i, (_, arr, _) in enumerate(cols):
        _fill_array(vdata.modify_array(i), arr.astype(np.float32))
    tris = p3d.GeomTriangles(p3d.GeomEnums.UH_static)
    small = len(prim.positions) < 65535
    tris.set_index_type(p3d.GeomEnums.NT_uint16 if small else p3d.GeomEnums.NT_uint32)
    _fill_array(tris.modify_vertices(), prim.indices.astype(np.uint16 if small else np.uint32))
    geom = p3d.Geom(vdata)
    geom.add_primitive(tris)
    return geom


BAKE_MAX_EDGE_FRACTION = 0.02
"""A primitive is smooth and dense enough for view-space baked shading when its area-weighted RMS edge is at most
this fraction of the model's diagonal (a 100k-triangle ring: ~0.005; a bar's flat faces: ~0.5)."""


@dataclass
class MaterialNode:
    """One drawn primitive: its node, glTF material, exact-shader #defines, and whether it may be baked."""

    node: p3d.NodePath
    material: Material
    defines: frozenset[str]
    bakeable: bool
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 1.0
    roughness: float = 1.0
    gem_facets: int = 0
    """A cut stone's number of facet planes (the gem path); 0 for every other material."""

    def factors(
        self, overrides: tuple[MaterialOverride, ...]
    ) -> tuple[tuple[float, float, float, float], float, float]:
        """(base colour, metallic, roughness): the file's factors, then the overrides matching this material."""
        mat = self.material
        color, metallic, rough = mat.base_color, mat.metallic, mat.roughness
        for o in overrides:
            if o.material in ("*", mat.name):
                color = o.base_color_rgba if o.base_color_rgba is not None else color
                metallic = o.metallic if o.metallic is not None else metallic
                rough = o.roughness if o.roughness is not None else rough
        return color, metallic, rough

    def set_factors(self, node: p3d.NodePath, overrides: tuple[MaterialOverride, ...]) -> None:
        """Sets the factors with `overrides` as shader inputs on `node` (this primitive or its copy); on a cut stone
        or a refracting volume also its optics (ior, dispersion, body colour: `gem_optics.with_optics`)."""
        color, metallic, rough = self.factors(overrides)
        mat = self.material
        node.set_shader_input("u_baseColor", p3d.LVecBase4f(*color))
        node.set_shader_input("u_mr", p3d.LVecBase4f(metallic, rough, mat.normal_scale, mat.occlusion_strength))
        if "ANISOTROPY" in self.defines:
            strength = mat.anisotropy
            for o in overrides:
                if o.material in ("*", mat.name) and o.anisotropy is not None:
                    strength = min(max(o.anisotropy, 0.0), 1.0)
            rot = mat.anisotropy_rotation_rad
            node.set_shader_input("u_aniso", p3d.LVecBase4f(math.cos(rot), math.sin(rot), strength,
                                                            mat.clearcoat_normal_scale))
        if self.defines & OPTICS_DEFINES:  # a stone or a volume: the variant's ior, dispersion and body colour
            optics = with_optics(mat, overrides)
            inputs = material_inputs(optics, self.defines)
            for name in ("u_extra", "u_volume", "u_dispersion"):
                if name in inputs:
                    node.set_shader_input(name, inputs[name])
            if "GEM" in self.defines:
                for name, value in gem_inputs(optics, self.gem_facets).items():
                    node.set_shader_input(name, value)


@dataclass
class LoadedModel:
    """A model ready to draw: its node tree (detached until rendered), bounds, cameras, shadow."""

    root: p3d.NodePath
    bounds_m: tuple[F64, F64]
    asset: GltfAsset
    shadow: ContactShadow
    material_nodes: list[MaterialNode] = field(default_factory=list)
    triangle_count: int = 0
    hull_m: F64 | None = None
    """Points of the convex hull (n, 3): what the turntable camera frames."""
    applied: tuple[MaterialOverride, ...] = ()

    def apply_overrides(self, overrides: tuple[MaterialOverride, ...]) -> None:
        """Sets every material's factors from the file, then the overrides on materials matching by name."""
        if overrides == self.applied:
            return
        for mn in self.material_nodes:
            mn.color, mn.metallic, mn.roughness = mn.factors(overrides)
            mn.set_factors(mn.node, overrides)
        self.applied = overrides

    def copy_with(self, overrides: tuple[MaterialOverride, ...], shaders: ShaderCache) -> p3d.NodePath:
        """A detached copy of the node tree (the Geoms shared) with `overrides` applied and the exact PBR shader
        on every primitive, whatever this model's own tree has now (the baker may have swapped shaders there):
        one placement's variant, independent of the model drawn as the main one and of other variants."""
        copy = self.root.copy_to(p3d.NodePath("variants"))
        copy.detach_node()
        for found in copy.find_all_matches(f"**/={MATERIAL_TAG}"):
            mn = self.material_nodes[int(found.get_tag(MATERIAL_TAG))]
            found.set_shader(shaders.pbr(mn.defines - {"PUNCTUAL_LIGHTS"}), 10)  # a hall's probe lights it
            found.clear_shader_input("t_baked")
            found.clear_shader_input("u_tile")
            mn.set_factors(found, overrides)
        return copy


MATERIAL_TAG = "material-node"
"""Tag on each primitive's node: its index in `LoadedModel.material_nodes` (found again in copies)."""

_NOT_BAKEABLE = {"HAS_COLOR", "ALPHA_MASK", "BLEND", "DOUBLE_SIDED", "TRANSMISSION", "VOLUME", "UNLIT", "ANISOTROPY",
                 "GEM", "PUNCTUAL_LIGHTS", "BRUSH"}
"""Besides every texture (`*_MAP`): anisotropy depends on the surface's tangent, which the baker's sphere lacks;
punctual lights on the surface's position, which it lacks too."""


def _uniform(defines: frozenset[str]) -> bool:
    """True when the material looks the same at every point with the same normal and view (no maps, opaque,
    one-sided, isotropic): ior, specular, sheen and a clearcoat without textures are such materials; paint's
    flakes are baked as their average glow (the baker's sphere has `FLAKES_AVERAGE`: no single flakes)."""
    return not (defines & _NOT_BAKEABLE) and not any(d.endswith("_MAP") for d in defines)


def _dense(prim: Primitive) -> bool:
    """True when the primitive is finely tessellated everywhere (small triangles over all of its area)."""
    tri = prim.positions[prim.indices].reshape(-1, 3, 3).astype(np.float64)
    if len(tri) < 500:
        return False
    diagonal_m = float(np.linalg.norm(prim.positions.max(axis=0) - prim.positions.min(axis=0)))
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    edge2 = np.mean([np.sum((tri[:, i] - tri[:, (i + 1) % 3]) ** 2, axis=1) for i in range(3)], axis=0)
    total = float(area.sum())
    if total <= 0:
        return False
    rms_edge = float(np.sqrt(np.sum(edge2 * area) / total))
    return rms_edge <= BAKE_MAX_EDGE_FRACTION * diagonal_m


def _hull_points(points: F64) -> F64 | None:
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(np.round(points, 7), axis=0) if len(points) < 50_000 else points[:: max(1, len(points) // 200_000)]
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return None  # flat or degenerate: the bounds' corners frame it
    out: F64 = pts[hull.vertices]
    return out


ANISOTROPY = 4


def _texture_slots(mat: Material) -> list[tuple[str, TextureRef | None, bool]]:
    """(shader slot, texture, sRGB) of every texture the material's shading reads (extensions only when on)."""
    slots = [
        ("BASE", mat.base_color_tex, True),
        ("MR", mat.metal_rough_tex, False),
        ("NORMAL", mat.normal_tex, False),
        ("OCCLUSION", mat.occlusion_tex, False),
        ("EMISSIVE", mat.emissive_tex, True),
        ("SPECULAR", mat.specular_tex, False),
        ("SPECULAR_COLOR", mat.specular_color_tex, True),
    ]
    if mat.anisotropy > 0:
        slots.append(("ANISOTROPY", mat.anisotropy_tex, False))
    if mat.has_sheen:
        slots += [("SHEEN_COLOR", mat.sheen_color_tex, True), ("SHEEN_ROUGHNESS", mat.sheen_roughness_tex, False)]
    if mat.clearcoat > 0:
        slots += [("CLEARCOAT", mat.clearcoat_tex, False), ("CLEARCOAT_ROUGHNESS", mat.clearcoat_roughness_tex, False),
                  ("CLEARCOAT_NORMAL", mat.clearcoat_normal_tex, False)]
    if mat.transmission > 0:
        slots.append(("TRANSMISSION", mat.transmission_tex, False))
    if mat.has_volume:
        slots.append(("THICKNESS", mat.thickness_tex, False))
    if mat.has_iridescence:
        slots += [("IRIDESCENCE", mat.iridescence_tex, False),
                  ("IRIDESCENCE_THICKNESS", mat.iridescence_thickness_tex, False)]
    return slots


def _needs_tangent_frame(mat: Material) -> bool:
    """A normal map, anisotropy or a clearcoat normal map shade in the surface's tangent frame."""
    return (mat.normal_tex is not None or mat.anisotropy > 0
            or (mat.clearcoat > 0 and mat.clearcoat_normal_tex is not None))


def material_inputs(mat: Material, defines: frozenset[str]) -> dict[str, p3d.LVecBase4f]:
    """The PBR shader's per-material vectors other than the overridable factors (u_baseColor, u_mr): those of
    the extensions only for the variants (`defines`) that declare them, so a plain material's state is as small
    as it was before them."""
    rot = mat.anisotropy_rotation_rad
    per_m = mat.thickness / mat.attenuation_distance_m if math.isfinite(mat.attenuation_distance_m) else 0.0
    out = {
        "u_emissive": p3d.LVecBase4f(*mat.emissive, mat.alpha_cutoff),
        "u_extra": p3d.LVecBase4f(mat.clearcoat, mat.clearcoat_roughness, mat.transmission, mat.dielectric_f0),
    }
    if "SPECULAR" in defines:
        out["u_specular"] = p3d.LVecBase4f(*mat.specular_color, mat.specular)
    if "SHEEN" in defines:
        out["u_sheen"] = p3d.LVecBase4f(*mat.sheen_color, mat.sheen_roughness)
    if defines & {"ANISOTROPY", "CLEARCOAT_NORMAL_MAP"}:
        out["u_aniso"] = p3d.LVecBase4f(math.cos(rot), math.sin(rot), mat.anisotropy, mat.clearcoat_normal_scale)
    if "VOLUME" in defines:
        out["u_volume"] = p3d.LVecBase4f(*mat.attenuation_color, per_m)
    if "IRIDESCENCE" in defines:
        out["u_film"] = p3d.LVecBase4f(mat.iridescence, mat.iridescence_ior, *mat.iridescence_thickness_nm)
    if "DISPERSION" in defines:
        out["u_dispersion"] = p3d.LVecBase4f(mat.dispersion, 0.0, 0.0, 0.0)
    if "BRUSH" in defines and mat.brush is not None:
        out["u_brush"] = p3d.LVecBase4f(1.0 / mat.brush[0], mat.brush[1], 0.0, 0.0)
    if "FLAKES" in defines and mat.flakes is not None:
        f = mat.flakes
        out["u_flakes"] = p3d.LVecBase4f(1.0 / f.size_m, f.density, f.tilt, f.roughness)
    return out


class SceneBuilder:
    """Builds `LoadedModel`s; keeps the shader variants shared across models.

    `unlit_anisotropy` is the anisotropic filtering of unlit materials' textures (a baked hall's floor, walls and
    signs): on a CPU rasteriser 1 (trilinear only) draws a hall in less than half the time of 4, and the
    difference is hard to see on a floor of matt marble; lit materials (the products) keep 4."""

    def __init__(self, shaders: ShaderCache, *, unlit_anisotropy: int = ANISOTROPY) -> None:
        self.shaders = shaders
        self.unlit_anisotropy = unlit_anisotropy

    def _texture(
        self, asset: GltfAsset, ref: TextureRef, srgb: bool, cache: dict[tuple[int, bool], p3d.Texture],
        anisotropy: int = ANISOTROPY,
    ) -> p3d.Texture:
        key = (ref.image, srgb)
        tex = cache.get(key)
        if tex is None:
            if not 0 <= ref.image < len(asset.images):
                raise ModelInvalid(f"{asset.path.name}: texture image {ref.image} does not exist")
            try:
                img: Image.Image = Image.open(io.BytesIO(asset.images[ref.image])).convert("RGBA")
            except (UnidentifiedImageError, OSError) as exc:
                raise ModelInvalid(f"{asset.path.name}: images[{ref.image}] cannot be decoded: {exc}") from None
            if max(img.size) > MAX_TEXTURE_PX:
                scale = MAX_TEXTURE_PX / max(img.size)
                img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
            tex = p3d.Texture(f"img{ref.image}")
            fmt = p3d.Texture.F_srgb_alpha if srgb else p3d.Texture.F_rgba8
            tex.setup_2d_texture(img.width, img.height, p3d.Texture.T_unsigned_byte, fmt)
            tex.set_ram_image_as(img.tobytes(), "RGBA")
            cache[key] = tex
        default = (ref.wrap_s, ref.wrap_t, ref.min_filter, anisotropy) == (10497, 10497, None, ANISOTROPY)
        tex = tex if default else tex.make_copy()
        tex.set_wrap_u(_WRAP.get(ref.wrap_s, p3d.SamplerState.WM_repeat))
        tex.set_wrap_v(_WRAP.get(ref.wrap_t, p3d.SamplerState.WM_repeat))
        tex.set_magfilter(p3d.SamplerState.FT_nearest if ref.mag_filter == 9728 else p3d.SamplerState.FT_linear)
        nearest = ref.min_filter in (9728,)
        tex.set_minfilter(p3d.SamplerState.FT_nearest if nearest else p3d.SamplerState.FT_linear_mipmap_linear)
        tex.set_anisotropic_degree(anisotropy)
        return tex

    def _state(
        self, asset: GltfAsset, np_: p3d.NodePath, prim: Primitive, mat: Material, cache: dict[tuple[int, bool], p3d.Texture],
        punctual: bool = False,
    ) -> tuple[frozenset[str], int]:
        """The shader variant's #defines and the node's inputs; with the number of facets of a cut stone (else 0)."""
        defines: set[str] = set()
        uvs = prim.texcoords
        if uvs[0] is not None:
            defines.add("HAS_UV0")
        if uvs[1] is not None:
            defines.add("HAS_UV1")
        if prim.colors is not None:
            defines.add("HAS_COLOR")
        for key, ref, srgb in _texture_slots(mat):
            if ref is None or uvs[ref.texcoord] is None:
                continue
            name = slot_sampler(key)
            defines |= {f"{key}_MAP", f"{key}_UV=v_uv{ref.texcoord}"}
            anisotropy = self.unlit_anisotropy if mat.unlit else ANISOTROPY
            np_.set_shader_input(f"t_{name}", self._texture(asset, ref, srgb, cache, anisotropy))
            np_.set_shader_input(f"x_{name}", mat3(ref.uv_matrix()))
        if mat.anisotropy > 0:
            defines.add("ANISOTROPY")
        if _needs_tangent_frame(mat):
            if prim.tangents is not None:
                defines.add("HAS_TANGENT")
            else:  # the cotangent frame of the UV set the frame's maps read (else UV 0; without UVs a world frame)
                frame_uvs = [d.split("=")[1] for d in defines
                             if d.split("=")[0] in ("NORMAL_UV", "ANISOTROPY_UV", "CLEARCOAT_NORMAL_UV")]
                tbn_uv = min(frame_uvs, default="v_uv0" if uvs[0] is not None else None)
                if tbn_uv is not None:
                    defines.add(f"TBN_UV={tbn_uv}")
        if mat.alpha_mode == "MASK":
            defines.add("ALPHA_MASK")
        # a cut stone (extras.gem, transmission and a volume, one convex primitive): light traced inside its facets,
        # opaque (what is seen through it is the environment, as the tracing finds it)
        planes = gem_planes(prim.positions, prim.indices) if mat.gem and mat.has_volume else None
        if planes is not None:  # the facets (object space), the optics (`gem_optics`: also set with the factors)
            defines.add("GEM")
            np_.set_shader_input("u_gemPlanes", plane_array(planes))
            for name, value in gem_inputs(mat, len(planes)).items():
                np_.set_shader_input(name, value)
        blend = (mat.alpha_mode == "BLEND" or mat.transmission > 0) and planes is None
        if blend:
            defines.add("BLEND")
            np_.set_transparency(p3d.TransparencyAttrib.M_premultiplied_alpha)
            np_.set_bin("transparent", 0)
            np_.set_depth_write(False)
        if mat.double_sided:
            defines.add("DOUBLE_SIDED")
            np_.set_two_sided(True)
        if mat.clearcoat > 0:
            defines.add("CLEARCOAT")
        if mat.transmission > 0 and planes is None:
            defines.add("TRANSMISSION")
        if mat.specular != 1 or mat.specular_color != (1.0, 1.0, 1.0) or {"SPECULAR_MAP", "SPECULAR_COLOR_MAP"} & defines:
            defines.add("SPECULAR")
        if mat.has_volume and planes is None:
            defines.add("VOLUME")
        if mat.has_volume and mat.dispersion > 0 and planes is None:
            defines.add("DISPERSION")
        if mat.has_sheen:
            defines.add("SHEEN")
        if mat.has_iridescence:
            defines.add("IRIDESCENCE")
        if mat.flakes is not None and mat.flakes.density > 0 and planes is None:
            defines.add("FLAKES")
        if mat.brush is not None and mat.anisotropy > 0:  # streaks round the band (about its thinnest extent)
            defines.add("BRUSH")
            lo, hi = prim.positions.min(axis=0), prim.positions.max(axis=0)
            axis = [0.0, 0.0, 0.0, 0.0]
            axis[int(np.argmin(hi - lo))] = 1.0
            np_.set_shader_input("u_brushAxis", p3d.LVecBase4f(*axis))
            np_.set_shader_input("u_brushCentre", p3d.LVecBase4f(*((lo + hi) / 2).tolist(), 0.0))
        if mat.unlit:
            defines.add("UNLIT")
        elif punctual and planes is None:  # the file's KHR_lights_punctual (not on cut stones: they trace the sky)
            defines.add("PUNCTUAL_LIGHTS")
        frozen = frozenset(defines)
        np_.set_shader(self.shaders.pbr(frozen))
        np_.set_shader_input("u_baseColor", p3d.LVecBase4f(*mat.base_color))
        np_.set_shader_input("u_mr", p3d.LVecBase4f(mat.metallic, mat.roughness, mat.normal_scale, mat.occlusion_strength))
        for name, value in material_inputs(mat, frozen).items():
            np_.set_shader_input(name, value)
        return frozen, 0 if planes is None else len(planes)

    def build(self, asset: GltfAsset) -> LoadedModel:
        root = p3d.NodePath("model")
        tex_cache: dict[tuple[int, bool], p3d.Texture] = {}
        mesh_nodes: dict[int, p3d.NodePath] = {}
        material_nodes: list[MaterialNode] = []
        world = asset.world_matrices()
        placed = asset.light_nodes()
        for name, value in light_inputs(placed, asset.path.name).items() if placed else ():
            root.set_shader_input(name, value)

        def mesh_node(mi: int) -> p3d.NodePath:
            if mi not in mesh_nodes:
                holder = p3d.NodePath(f"mesh{mi}")
                for pi, prim in enumerate(asset.meshes[mi]):
                    mat = asset.materials[prim.material] if prim.material is not None else _DEFAULT_MATERIAL
                    gnode = p3d.GeomNode(f"prim{mi}.{pi}")
                    gnode.add_geom(_geom(prim, _needs_tangent_frame(mat)))
                    np_ = holder.attach_new_node(gnode)
                    defines, facets = self._state(asset, np_, prim, mat, tex_cache, bool(placed))
                    bakeable = _uniform(defines) and _dense(prim)
                    np_.set_tag(MATERIAL_TAG, str(len(material_nodes)))
                    material_nodes.append(
                        MaterialNode(np_, mat, defines, bakeable, mat.base_color, mat.metallic, mat.roughness, facets)
                    )
                mesh_nodes[mi] = holder
            return mesh_nodes[mi]

        def attach(idx: int, parent: p3d.NodePath) -> None:
            node = asset.nodes[idx]
            np_ = parent.attach_new_node(node.name)
            np_.set_mat(mat4(node.matrix))
            if node.mesh is not None and asset.meshes[node.mesh]:
                first = node.mesh not in mesh_nodes
                holder = mesh_node(node.mesh)
                if first:
                    holder.reparent_to(np_)
                else:
                    holder.instance_to(np_)
            for child in node.children:
                attach(child, np_)

        for r in asset.roots:
            attach(r, root)
        tris = []
        for idx, m in world.items():
            mesh = asset.nodes[idx].mesh
            if mesh is None:
                continue
            for prim in asset.meshes[mesh]:
                p = prim.positions.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
                tris.append(p[prim.indices].reshape(-1, 3, 3))
        if not tris:
            raise ModelInvalid(f"{asset.path.name}: the scene draws no triangles")
        all_tris = np.concatenate(tris)
        lo, hi = all_tris.reshape(-1, 3).min(axis=0), all_tris.reshape(-1, 3).max(axis=0)
        shadow = contact_shadow(all_tris)
        hull = _hull_points(all_tris.reshape(-1, 3))
        asset.images = []  # decoded into textures and copied into Geoms: free the file's arrays
        asset.meshes = [[] for _ in asset.meshes]
        return LoadedModel(
            root=root,
            bounds_m=(lo, hi),
            asset=asset,
            shadow=shadow,
            material_nodes=material_nodes,
            triangle_count=len(all_tris),
            hull_m=hull,
        )
