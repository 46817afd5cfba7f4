"""The extra layers of a hall frame: placements (product models at world matrices, each lit by its own
environment) and live panels (unlit textured quads drawn from `PanelContent`).

Both keep their nodes between frames: a request that repeats the previous frame's placements or panels (a head
that only turned) changes nothing in the scene graph, sets no shader input and uploads no texture. A posed
placement (`Placement.pose`: the hall's guide) draws its own copy of its model, posed before every frame; a pose
that changed from the last frame rewrites that copy's vertices only (panda3d copies shared vertex arrays on the
first write), so the model's other placements and the main model keep their own poses. A request
without them detaches everything, so a single-product frame after a hall frame is the frame it was before.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.render import posing
from render_node.render._geom import make_geom
from render_node.render.errors import RequestInvalid
from render_node.render.scene import LoadedModel, mat4
from render_node.render.shaders import ShaderCache
from render_node.render.types import RGBA8, EnvFile, EnvName, ModelPose, PanelContent, PanelQuad, Placement

F64 = npt.NDArray[np.float64]

MAX_VARIANTS = 64
"""Model copies (one per model and overrides) kept for placements."""
MAX_PANEL_TEXTURES = 64
MAX_PANEL_TEXTURE_PX = 1280
"""The longer side of a panel texture at most: the 4.4 m gold chart at 1280 px has more texels than a headset
shows of it from the wealth corner, and draws in about 40 ms (2048: about 110 ms) when the price changes."""
MIN_PANEL_TEXTURE_PX = 16
MIN_PANEL_SHORT_SIDE_PX = 120
"""A panel's texture is at least this tall (or wide, the shorter side): a 12 cm price tag at the default 500 px/m
would be 60 px, too few for its English line when a customer leans in."""
MAX_PANEL_PX_PER_M = 4000
MAX_PLACEMENTS = 256
MAX_PANELS = 256
SHADOW_BIN = "placement-shadow"
"""Contact shadows of placements: drawn after the opaque hall (onto its trays and floor), before its glass."""


@dataclass(frozen=True)
class EnvInputs:
    """The shader inputs of one environment light, as bound on a placement's node."""

    specular: p3d.Texture
    irradiance: p3d.Texture
    info: p3d.LVecBase4f
    rotation: p3d.LMatrix4f
    lut: p3d.Texture


def check_placements(placements: tuple[Placement, ...]) -> None:
    """Refuses what cannot be drawn (before the scene is touched): a matrix that is not 16 finite numbers with an
    invertible 3x3 part."""
    if len(placements) > MAX_PLACEMENTS:
        raise RequestInvalid(f"{len(placements)} placements; at most {MAX_PLACEMENTS} in one frame")
    for i, p in enumerate(placements):
        m = placement_matrix(p)
        if abs(float(np.linalg.det(m[:3, :3]))) < 1e-12:
            raise RequestInvalid(f"placements[{i}].matrix is singular (a zero scale)")


def placement_matrix(p: Placement) -> F64:
    """The placement's model -> world matrix (4x4, column vectors) from its 16 row-major floats."""
    if len(p.matrix) != 16:
        raise RequestInvalid(f"a placement matrix has 16 numbers (row-major 4x4), got {len(p.matrix)}")
    m = np.asarray(p.matrix, dtype=np.float64).reshape(4, 4)
    if not np.isfinite(m).all():
        raise RequestInvalid("a placement matrix must hold finite numbers")
    return m


def check_panels(panels: tuple[PanelQuad, ...]) -> None:
    if len(panels) > MAX_PANELS:
        raise RequestInvalid(f"{len(panels)} panels; at most {MAX_PANELS} in one frame")
    for i, q in enumerate(panels):
        numbers = (*q.center_m, *q.normal, *q.size_m)
        if len(q.center_m) != 3 or len(q.normal) != 3 or len(q.size_m) != 2:
            raise RequestInvalid(f"panels[{i}]: centre and normal have 3 numbers, size 2")
        if not all(math.isfinite(v) for v in numbers):
            raise RequestInvalid(f"panels[{i}]: centre, normal and size must be finite numbers")
        if min(q.size_m) <= 0:
            raise RequestInvalid(f"panels[{i}]: size {q.size_m} must be positive")
        if math.hypot(*q.normal) < 1e-9:
            raise RequestInvalid(f"panels[{i}]: the normal is a zero vector")
        if not 1 <= q.px_per_m <= MAX_PANEL_PX_PER_M:
            raise RequestInvalid(f"panels[{i}]: px_per_m must be within 1..{MAX_PANEL_PX_PER_M}")


def ensure_shadow_bin() -> None:
    """The cull bin of placement shadows (process-wide in panda3d; made once)."""
    bins = p3d.CullBinManager.get_global_ptr()
    if bins.find_bin(SHADOW_BIN) < 0:
        bins.add_bin(SHADOW_BIN, p3d.CullBinEnums.BT_unsorted, 25)


@dataclass
class _Placed:
    placement: Placement
    holder: p3d.NodePath
    poser: posing.Poser | None = None
    """A posed placement's own Poser (on its own copy of the model)."""
    nth: int = 0
    """Which posed placement of its model file in the frame (each has its own copy)."""


def _unposed(p: Placement) -> Placement:
    return p if p.pose is None else replace(p, pose=None)


class PlacementLayer:
    """The placements of the current frame, under one node of the scene. `load` returns a model and its cache
    key; `env_inputs` an environment's textures; `shadow` the model's contact-shadow quad (or None)."""

    def __init__(
        self,
        scene: p3d.NodePath,
        shaders: ShaderCache,
        load: Callable[[Path], tuple[Hashable, LoadedModel]],
        env_inputs: Callable[[EnvName | EnvFile], EnvInputs],
        shadow: Callable[[LoadedModel], p3d.NodePath | None],
    ) -> None:
        ensure_shadow_bin()
        self.root = scene.attach_new_node("placements")
        self._shaders = shaders
        self._load = load
        self._env_inputs = env_inputs
        self._shadow = shadow
        self._placed: list[_Placed] = []
        self._variants: OrderedDict[tuple[Hashable, object], p3d.NodePath] = OrderedDict()
        self._posed: OrderedDict[tuple[Hashable, object, int], tuple[p3d.NodePath, posing.Poser | None]] = (
            OrderedDict())
        """Posed placements' copies: (model key, overrides, nth) -> the copy and its Poser."""
        self._shadows: dict[Hashable, p3d.NodePath | None] = {}

    def update(self, placements: tuple[Placement, ...]) -> None:
        """Makes the scene show exactly `placements` (unchanged ones are left alone; a posed one whose pose alone
        changed is posed again, nothing else)."""
        posed: dict[Path, int] = {}
        for i, p in enumerate(placements):
            nth = 0
            if p.pose is not None:
                nth = posed[Path(p.model_path)] = posed.get(Path(p.model_path), -1) + 1
            if i < len(self._placed):
                placed = self._placed[i]
                if placed.placement == p:
                    continue
                if (_unposed(placed.placement) == _unposed(p) and placed.nth == nth
                        and (placed.placement.pose is None) == (p.pose is None)):
                    _pose(placed.poser, p.pose)
                    placed.placement = p
                    continue
            else:
                placed = _Placed(p, self.root.attach_new_node(f"placement{i}"))
                self._placed.append(placed)
            placed.poser = self._place(placed.holder, p, nth)
            placed.nth = nth
            placed.placement = p
        for placed in self._placed[len(placements):]:
            placed.holder.remove_node()
        del self._placed[len(placements):]

    def _place(self, holder: p3d.NodePath, p: Placement, nth: int = 0) -> posing.Poser | None:
        key, model = self._load(Path(p.model_path))
        env = self._env_inputs(p.env)
        poser = None
        if p.pose is None:
            variant = self._variant(key, model, p)
        else:
            variant, poser = self._posed_copy(key, model, p, nth)
            _pose(poser, p.pose)
        holder.node().remove_all_children()
        holder.set_mat(mat4(placement_matrix(p)))
        variant.instance_to(holder)
        if key not in self._shadows:
            quad = self._shadow(model)
            if quad is not None:
                quad = quad.copy_to(p3d.NodePath("shadows"))
                quad.detach_node()
                quad.set_bin(SHADOW_BIN, 0)
                quad.set_depth_offset(2)
            self._shadows[key] = quad
        shadow = self._shadows[key]
        if shadow is not None:
            shadow.instance_to(holder)
        holder.set_shader_input("u_specEnv", env.specular)
        holder.set_shader_input("u_irrEnv", env.irradiance)
        holder.set_shader_input("u_envInfo", env.info)
        holder.set_shader_input("u_envRot", env.rotation)
        holder.set_shader_input("u_lut", env.lut)
        return poser

    def _posed_copy(self, key: Hashable, model: LoadedModel, p: Placement, nth: int
                    ) -> tuple[p3d.NodePath, posing.Poser | None]:
        """The nth posed copy of a model with the placement's overrides, and its own Poser (None: it does not
        move). Kept like the variants; the copy's vertex arrays become its own on its first pose."""
        pkey = (key, p.overrides, nth)
        found = self._posed.get(pkey)
        if found is None:
            copy = model.copy_with(p.overrides, self._shaders)
            rig = model.asset.rig
            found = (copy, posing.Poser(rig, copy) if rig is not None and (rig.moves or rig.animations) else None)
            self._posed[pkey] = found
            while len(self._posed) > MAX_VARIANTS:
                self._posed.popitem(last=False)
        else:
            self._posed.move_to_end(pkey)
        return found

    def _variant(self, key: Hashable, model: LoadedModel, p: Placement) -> p3d.NodePath:
        vkey = (key, p.overrides)
        variant = self._variants.get(vkey)
        if variant is None:
            variant = model.copy_with(p.overrides, self._shaders)
            self._variants[vkey] = variant
            while len(self._variants) > MAX_VARIANTS:
                self._variants.popitem(last=False)  # live holders keep their instance; the copy goes with them
        else:
            self._variants.move_to_end(vkey)
        return variant

    def forget_model(self, key: Hashable) -> None:
        """Drops the copies of an evicted model (nodes in use by the current frame stay until replaced)."""
        for vkey in [k for k in self._variants if k[0] == key]:
            del self._variants[vkey]
        for pkey in [k for k in self._posed if k[0] == key]:
            del self._posed[pkey]
        self._shadows.pop(key, None)

    def clear(self) -> None:
        self.update(())


def _pose(poser: posing.Poser | None, pose: ModelPose | None) -> None:
    if poser is not None and pose is not None:
        poser.pose(pose.time_s, pose.animation, pose.morph)


def panel_texture_size(quad: PanelQuad) -> tuple[int, int]:
    """(width, height) in pixels of a panel's texture: its size at `px_per_m`, raised until the shorter side has
    120 px, at most 1280 on the longer side."""
    w, h = quad.size_m[0] * quad.px_per_m, quad.size_m[1] * quad.px_per_m
    scale = min(max(1.0, MIN_PANEL_SHORT_SIDE_PX / min(w, h)), MAX_PANEL_TEXTURE_PX / max(w, h))
    return (max(MIN_PANEL_TEXTURE_PX, round(w * scale)), max(MIN_PANEL_TEXTURE_PX, round(h * scale)))


def panel_frame(quad: PanelQuad) -> F64:
    """Model -> world (4x4, column vectors) of a panel: the unit quad's +X is the text's right, +Y its up, +Z the
    normal. Up is the world's +Y kept in the panel's plane; a panel lying flat (normal near +-Y) reads with its
    top towards -Z (north: a customer standing south of it, looking north, reads it)."""
    n = np.asarray(quad.normal, dtype=np.float64)
    n /= np.linalg.norm(n)
    up = np.array([0.0, 1.0, 0.0])
    if abs(float(n @ up)) > 0.98:
        up = np.array([0.0, 0.0, -1.0])
    up = up - n * float(n @ up)
    up /= np.linalg.norm(up)
    right = np.cross(up, n)
    m = np.eye(4)
    m[:3, 0] = right * quad.size_m[0]
    m[:3, 1] = up * quad.size_m[1]
    m[:3, 2] = n
    m[:3, 3] = quad.center_m
    return m


def _unit_quad() -> p3d.Geom:
    pos = np.array([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], np.float32)
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    return make_geom(pos, np.array([0, 1, 2, 0, 2, 3], np.uint32), uv=uv)


@dataclass
class _Shown:
    quad: PanelQuad
    node: p3d.NodePath


class PanelLayer:
    """Live panels of the current frame. Textures are drawn by `draw(content, (w, h)) -> (h, w, 4) uint8 RGBA`
    and cached by (content, size), least recently used first out; a panel that did not change costs nothing."""

    def __init__(
        self,
        scene: p3d.NodePath,
        shaders: ShaderCache,
        draw: Callable[[PanelContent, tuple[int, int]], RGBA8],
        max_textures: int = MAX_PANEL_TEXTURES,
    ) -> None:
        self.root = scene.attach_new_node("panels")
        self.root.set_shader(shaders.panel(), 20)
        self.root.set_depth_offset(1)
        self._geom = _unit_quad()
        self._draw = draw
        self.max_textures = max_textures
        self._textures: OrderedDict[tuple[PanelContent, tuple[int, int]], tuple[p3d.Texture, bool]] = OrderedDict()
        self._shown: list[_Shown] = []
        self.textures_drawn = 0
        """How many textures were drawn so far (the cache's misses)."""

    def update(self, panels: tuple[PanelQuad, ...]) -> None:
        in_use = {(q.content, panel_texture_size(q)) for q in panels}
        for i, q in enumerate(panels):
            if i < len(self._shown):
                shown = self._shown[i]
                if shown.quad == q:
                    key = (q.content, panel_texture_size(q))
                    if key in self._textures:
                        self._textures.move_to_end(key)
                    continue
            else:
                node = p3d.GeomNode(f"panel{i}")
                node.add_geom(self._geom)
                shown = _Shown(q, self.root.attach_new_node(node))
                self._shown.append(shown)
            self._show(shown.node, q, in_use)
            shown.quad = q
        for shown in self._shown[len(panels):]:
            shown.node.remove_node()
        del self._shown[len(panels):]

    def _show(self, node: p3d.NodePath, q: PanelQuad, in_use: set[tuple[PanelContent, tuple[int, int]]]) -> None:
        tex, translucent = self._texture(q, in_use)
        node.set_mat(mat4(panel_frame(q)))
        node.set_shader_input("t_panel", tex)
        if translucent:
            node.set_transparency(p3d.TransparencyAttrib.M_premultiplied_alpha)
            node.set_bin("transparent", 0)
        else:
            node.clear_transparency()
            node.clear_bin()

    def _texture(
        self, q: PanelQuad, in_use: set[tuple[PanelContent, tuple[int, int]]]
    ) -> tuple[p3d.Texture, bool]:
        size = panel_texture_size(q)
        key = (q.content, size)
        found = self._textures.get(key)
        if found is not None:
            self._textures.move_to_end(key)
            return found
        img = np.asarray(self._draw(q.content, size))
        w, h = size
        if img.shape != (h, w, 4) or img.dtype != np.uint8:
            raise RequestInvalid(f"the {q.content.kind} panel was drawn as {img.shape} {img.dtype}, not ({h}, {w}, 4) uint8")
        tex = p3d.Texture(f"panel-{q.content.kind}")
        tex.setup_2d_texture(w, h, p3d.Texture.T_unsigned_byte, p3d.Texture.F_rgba8)
        tex.set_ram_image_as(np.ascontiguousarray(img[::-1]).tobytes(), "RGBA")  # GL rows go bottom-up
        tex.set_wrap_u(p3d.SamplerState.WM_clamp)
        tex.set_wrap_v(p3d.SamplerState.WM_clamp)
        tex.set_magfilter(p3d.SamplerState.FT_linear)
        tex.set_minfilter(p3d.SamplerState.FT_linear_mipmap_linear)
        found = (tex, bool((img[..., 3] < 255).any()))
        self.textures_drawn += 1
        self._textures[key] = found
        for old in [k for k in self._textures if k not in in_use][: max(0, len(self._textures) - self.max_textures)]:
            del self._textures[old]  # a panel still showing keeps its texture through its node
        return found

    def clear(self) -> None:
        self.update(())
