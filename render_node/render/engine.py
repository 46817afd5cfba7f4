"""`PandaRenderer`: panda3d offscreen (p3headlessgl / EGL, no X) rendering of glTF products into RGBA arrays.

One instance per process. It keeps a small LRU of loaded models, one offscreen buffer per output size, and the
environment maps (loaded from `env_dir`, built there by `build_environments` when missing). A frame is one
`render_frame()` of the one buffer asked for; the colour is copied to RAM by GL and handed back as numpy.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.render import cameras, posing
from render_node.render._geom import make_geom, sphere_mesh
from render_node.render._pipe import headless_pipe
from render_node.render.bake import Baker
from render_node.render.env_files import prefiltered_env_file
from render_node.render.environment import (
    ENV_NAMES,
    LEVELS,
    build_environments,
    environment_face_size,
    environments_present,
    load_brdf_lut,
    load_environment,
)
from render_node.render.errors import EnvironmentInvalid, RenderError, RequestInvalid
from render_node.render.gltf import read_gltf
from render_node.render.placements import (
    EnvInputs,
    PanelLayer,
    PlacementLayer,
    check_panels,
    check_placements,
)
from render_node.render.scene import LoadedModel, SceneBuilder, mat3, mat4
from render_node.render.shaders import ShaderCache
from render_node.render.types import (
    RGBA8,
    EnvFile,
    EnvName,
    GltfCameraView,
    PanelContent,
    PoseView,
    RenderRequest,
    StereoView,
    TurntableView,
)

log = logging.getLogger(__name__)

Shading = Literal["auto", "exact", "baked"]
"""exact: the PBR shader on every pixel; baked: view-space baked shading for uniform dense materials (bake.py);
auto: baked on a software rasteriser (llvmpipe), exact on a GPU."""

MAX_SIZE_PX = 4096
EXPOSURE = {"studio": 0.8, "counter": 1.0, "car": 0.85}
MAX_ENV_EXPOSURE_EV = 16.0
MAX_FILE_ENVS = 8
"""Environment files kept on the GPU at once (the built-in three are always kept): a hall frame binds one
reflection probe per zone."""
MAX_PLACEMENT_MODELS = 32
"""Models kept for placements (a hall's products, apart from the main model's LRU)."""
SHADOW_OPACITY = 0.75
TONEMAP_CODES = {"neutral": 0, "aces": 1, "linear": 2}
"""`u_envInfo.w` of the shaders' `finish()`: the tone map, + 4 for the Sample Viewer's pow(1/2.2) encoding."""


def output_code(request: RenderRequest) -> int:
    """The shaders' output code of a request (tone map and encoding); `RequestInvalid` for an unknown tone map."""
    code = TONEMAP_CODES.get(request.tonemap)
    if code is None:
        raise RequestInvalid(f"unknown tone mapping {request.tonemap!r}; choose one of {', '.join(TONEMAP_CODES)}")
    return code + (4 if request.reference else 0)

def _file_stamp(path: Path, missing: RenderError) -> tuple[str, int, int]:
    """(resolved path, mtime ns, size): a cache key that changes when the file does; `missing` when it is absent."""
    try:
        st = path.stat()
    except OSError:
        raise missing from None
    return str(path.resolve()), st.st_mtime_ns, st.st_size


@dataclass
class _Target:
    """An offscreen buffer of one size with one display region (and camera) per eye."""

    buffer: p3d.GraphicsOutput
    texture: p3d.Texture
    cameras: list[p3d.NodePath]
    lenses: list[p3d.MatrixLens]
    width_px: int
    height_px: int


def _turn_about_y(turn_deg: float) -> npt.NDArray[np.float64]:
    """World -> environment rotation of an environment turned by `turn_deg` about +Y (+Z towards +X)."""
    c, s = math.cos(math.radians(turn_deg)), math.sin(math.radians(turn_deg))
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


def _draw_panel(content: PanelContent, size_px: tuple[int, int]) -> RGBA8:
    from render_node.hall.panels import draw_panel  # PIL and fonts: loaded on the first hall frame only

    return draw_panel(content, size_px)


def _cube_texture(levels: list[npt.NDArray[np.float32]], name: str) -> p3d.Texture:
    """A float16 RGB cube map with the given mip chain; arrays are (6, n, n, 3) in OpenGL face order."""
    tex = p3d.Texture(name)
    size = levels[0].shape[1]
    tex.setup_cube_map(size, p3d.Texture.T_half_float, p3d.Texture.F_rgb16)
    for k, level in enumerate(levels):
        bgr = np.ascontiguousarray(level[..., ::-1], dtype=np.float16).tobytes()
        if k == 0:
            tex.set_ram_image(bgr)
        else:
            arr = p3d.PTA_uchar.empty_array(len(bgr))
            memoryview(arr)[:] = bgr
            tex.set_ram_mipmap_image(k, p3d.CPTA_uchar(arr))
    tex.set_wrap_u(p3d.SamplerState.WM_clamp)
    tex.set_wrap_v(p3d.SamplerState.WM_clamp)
    tex.set_magfilter(p3d.SamplerState.FT_linear)
    tex.set_minfilter(p3d.SamplerState.FT_linear_mipmap_linear if len(levels) > 1 else p3d.SamplerState.FT_linear)
    return tex


class PandaRenderer:
    """Renders `RenderRequest`s offscreen. Not thread-safe: one caller at a time (one per worker process)."""

    def __init__(
        self,
        env_dir: Path,
        *,
        shading: Shading = "auto",
        max_models: int = 8,
        max_targets: int = 3,
        max_placement_models: int = MAX_PLACEMENT_MODELS,
    ) -> None:
        self.env_dir = Path(env_dir)
        self.max_models = max_models
        self.max_targets = max_targets
        self.max_placement_models = max_placement_models
        if not environments_present(self.env_dir):
            log.info("environment maps missing in %s: building them", self.env_dir)
            build_environments(self.env_dir)
        self._pipe = headless_pipe()
        # panda3d's one graphics engine; other renderers in this process keep their buffers inactive between frames.
        self._engine = p3d.GraphicsEngine.get_global_ptr()
        fb = p3d.FrameBufferProperties()
        fb.set_rgba_bits(8, 8, 8, 8)
        fb.set_depth_bits(24)
        host = self._engine.make_output(
            self._pipe, "host", -10, fb, p3d.WindowProperties.size(16, 16), p3d.GraphicsPipe.BF_refuse_window
        )
        if host is None:
            raise RenderError("cannot create an offscreen GL buffer (EGL); is Mesa's libEGL installed?")
        self._host = host
        self._engine.open_windows()
        self._host.set_active(False)
        self._gsg = host.get_gsg()
        self.gl_renderer = f"{self._gsg.get_driver_vendor()} {self._gsg.get_driver_renderer()} {self._gsg.get_driver_version()}"
        self._shaders = ShaderCache()
        self._scene = p3d.NodePath("scene")
        self._scene.set_shader_input("u_envRot", mat3(np.eye(3)))
        self._models: OrderedDict[tuple[str, int, int], LoadedModel] = OrderedDict()
        self._current: LoadedModel | None = None
        self._targets: OrderedDict[tuple[int, int, int], _Target] = OrderedDict()
        self._envs: dict[str, tuple[p3d.Texture, p3d.Texture, float]] = {}
        self._lut: p3d.Texture | None = None
        self._env_name: str | None = None
        self._env_digests: dict[tuple[str, int, int], str] = {}
        self._sky = self._scene.attach_new_node(p3d.GeomNode("sky"))
        self._sky.node().add_geom(make_geom(*sphere_mesh(16, 32)))
        self._sky.node().set_bounds(p3d.OmniBoundingVolume())
        self._sky.node().set_final(True)
        self._sky.set_shader(self._shaders.sky())
        self._sky.set_two_sided(True)
        self._sky.set_depth_write(False)
        self._sky.set_depth_test(False)
        self._sky.set_bin("background", 10)
        self._shadow_np: p3d.NodePath | None = None
        self._baker = Baker(self._engine, self._pipe, self._gsg, self._host, self._shaders, self._scene)
        self._baking: tuple[LoadedModel, bool] | None = None
        self._placement_models: OrderedDict[tuple[str, int, int], LoadedModel] = OrderedDict()
        self._placements = PlacementLayer(
            self._scene, self._shaders, self._load_placement_model, self._env_inputs, self._shadow_node
        )
        self._panels = PanelLayer(self._scene, self._shaders, _draw_panel)
        if shading not in ("auto", "exact", "baked"):
            raise RequestInvalid(f"shading must be auto, exact or baked, got {shading!r}")
        software = any(s in self.gl_renderer.lower() for s in ("llvmpipe", "softpipe", "swrast", "software"))
        self._builder = SceneBuilder(self._shaders, unlit_anisotropy=1 if software else 4)
        self.shading: Literal["exact", "baked"] = ("baked" if software else "exact") if shading == "auto" else shading
        """May be changed between frames (the benchmark and tests compare both on one renderer)."""
        self._closed = False

    # -- resources -----------------------------------------------------------------------------------------

    def _environment(self, env: EnvName | EnvFile, output: int = 0) -> tuple[str, float]:
        """Binds the environment's maps and the output code (tone map, encoding; reference outputs, code >= 4, use
        exposure 1); returns its key (for the baker) and the extra turn about +Y in degrees."""
        name, intensity, turn_deg = self._env_maps(env)
        lut = self._brdf_lut()
        key = f"{name}@{intensity!r}/{output}"
        if key != self._env_name:
            spec, irr, exposure = self._envs[name]
            exposure = 1.0 if output >= 4 else exposure
            for root in (self._scene, self._baker.root):
                root.set_shader_input("u_specEnv", spec)
                root.set_shader_input("u_irrEnv", irr)
                root.set_shader_input("u_envInfo", p3d.LVecBase4f(LEVELS - 1, intensity, exposure, float(output)))
                root.set_shader_input("u_lut", lut)
            self._env_name = key
        return key, turn_deg

    def _env_inputs(self, env: EnvName | EnvFile) -> EnvInputs:
        """The shader inputs of an environment, for a node of its own (a placement lit by its zone's probe)."""
        name, intensity, turn_deg = self._env_maps(env)
        spec, irr, exposure = self._envs[name]
        info = p3d.LVecBase4f(LEVELS - 1, intensity, exposure, 0.0)
        return EnvInputs(spec, irr, info, mat3(_turn_about_y(turn_deg)), self._brdf_lut())

    def _env_maps(self, env: EnvName | EnvFile) -> tuple[str, float, float]:
        """Loads the environment's maps into `_envs`; returns their key, the intensity and the turn about +Y."""
        if isinstance(env, EnvFile):
            if not (math.isfinite(env.rotation_deg) and math.isfinite(env.exposure_ev)):
                raise RequestInvalid("environment rotation and exposure must be finite numbers")
            if not -MAX_ENV_EXPOSURE_EV <= env.exposure_ev <= MAX_ENV_EXPOSURE_EV:
                raise RequestInvalid(f"environment exposure {env.exposure_ev} EV is outside +-{MAX_ENV_EXPOSURE_EV} EV")
            name = self._file_environment(env.path)
            intensity, turn_deg = 2.0**env.exposure_ev, env.rotation_deg
        elif env in ENV_NAMES:
            name, intensity, turn_deg = env, 1.0, 0.0
            if name not in self._envs:
                maps = load_environment(self.env_dir, name)
                spec = _cube_texture(maps.radiance, f"{name}-specular")
                irr = _cube_texture([maps.irradiance], f"{name}-irradiance")
                self._envs[name] = (spec, irr, EXPOSURE.get(name, 1.0))
        else:
            raise RequestInvalid(f"unknown environment {env!r}; choose one of {', '.join(ENV_NAMES)} or a file")
        return name, intensity, turn_deg

    def _brdf_lut(self) -> p3d.Texture:
        if self._lut is None:
            lut_array = load_brdf_lut(self.env_dir)
            lut = p3d.Texture("brdf-lut")
            n = lut_array.shape[0]
            lut.setup_2d_texture(n, n, p3d.Texture.T_half_float, p3d.Texture.F_rgb16)
            rgb = np.concatenate([np.zeros_like(lut_array[..., :1]), lut_array[..., 1:2], lut_array[..., 0:1]], -1)
            lut.set_ram_image(np.ascontiguousarray(rgb, np.float16).tobytes())  # panda stores BGR
            lut.set_wrap_u(p3d.SamplerState.WM_clamp)
            lut.set_wrap_v(p3d.SamplerState.WM_clamp)
            lut.set_minfilter(p3d.SamplerState.FT_linear)
            lut.set_magfilter(p3d.SamplerState.FT_linear)
            self._lut = lut
            self._scene.set_shader_input("u_lut", lut)
        return self._lut

    def _file_environment(self, path: Path) -> str:
        """Loads (prefiltering or reading `<env_dir>/cache/`) an environment file; returns its key in `_envs`."""
        path = Path(path)
        stamp = _file_stamp(path, EnvironmentInvalid(f"environment file not found: {path}"))
        digest = self._env_digests.get(stamp)
        name = f"file:{digest}"
        if digest is None or name not in self._envs:
            face_px = environment_face_size(self.env_dir)
            chain, irr, digest = prefiltered_env_file(path, self.env_dir / "cache", face_px)
            self._env_digests[stamp] = digest
            name = f"file:{digest}"
            self._envs[name] = (
                _cube_texture(chain, f"{path.name}-specular"),
                _cube_texture([irr], f"{path.name}-irradiance"),
                1.0,
            )
            files = [k for k in self._envs if k.startswith("file:") and k != name]
            for old in files[: max(0, len(files) + 1 - MAX_FILE_ENVS)]:
                del self._envs[old]
            self._env_name = None  # rebind even if the key was bound before (an evicted, reloaded file)
        return name

    def load_model(self, path: Path) -> LoadedModel:
        """The model at `path`, loaded (and cached) if needed."""
        path = Path(path)
        key = _file_stamp(path, RequestInvalid(f"model file not found: {path}"))
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            return model
        model = self._builder.build(posing.rest_posed(read_gltf(path)))
        posing.attach(model)
        self._models[key] = model
        while len(self._models) > self.max_models:
            _, old = self._models.popitem(last=False)
            if old is self._current:
                self._current = None
            old.root.remove_node()
        return model

    def _load_placement_model(self, path: Path) -> tuple[tuple[str, int, int], LoadedModel]:
        """A placement's model and its cache key, from the placements' own LRU (the main model's is apart)."""
        key = _file_stamp(path, RequestInvalid(f"placement model file not found: {path}"))
        model = self._placement_models.get(key)
        if model is not None:
            self._placement_models.move_to_end(key)
            return key, model
        model = self._builder.build(posing.rest_posed(read_gltf(path)))
        posing.attach(model)
        self._placement_models[key] = model
        while len(self._placement_models) > self.max_placement_models:
            old_key, old = self._placement_models.popitem(last=False)
            self._placements.forget_model(old_key)
            old.root.remove_node()
        return key, model

    def _target(self, width_px: int, height_px: int, eyes: int) -> _Target:
        key = (width_px, height_px, eyes)
        target = self._targets.get(key)
        if target is None:
            fb = p3d.FrameBufferProperties()
            fb.set_rgba_bits(8, 8, 8, 8)
            fb.set_depth_bits(24)
            total_w = width_px * eyes
            buf = self._engine.make_output(
                self._pipe,
                f"target{width_px}x{height_px}x{eyes}",
                0,
                fb,
                p3d.WindowProperties.size(total_w, height_px),
                p3d.GraphicsPipe.BF_refuse_window,
                self._gsg,
                self._host,
            )
            if buf is None:
                raise RenderError(f"cannot create a {total_w}x{height_px} offscreen buffer")
            tex = p3d.Texture("color")
            buf.add_render_texture(tex, p3d.GraphicsOutput.RTM_copy_ram, p3d.GraphicsOutput.RTP_color)
            buf.set_clear_color_active(True)
            buf.set_clear_depth_active(True)
            cams, lenses = [], []
            for eye in range(eyes):
                dr = buf.make_display_region(eye / eyes, (eye + 1) / eyes, 0, 1)
                lens = p3d.MatrixLens()
                cam = self._scene.attach_new_node(p3d.Camera(f"eye{eye}", lens))
                dr.set_camera(cam)
                cams.append(cam)
                lenses.append(lens)
            target = _Target(buf, tex, cams, lenses, width_px, height_px)
            self._targets[key] = target
            while len(self._targets) > self.max_targets:
                _, old = self._targets.popitem(last=False)
                for cam in old.cameras:
                    cam.remove_node()
                self._engine.remove_window(old.buffer)
        else:
            self._targets.move_to_end(key)
        return target

    def _shadow_node(self, model: LoadedModel) -> p3d.NodePath:
        if getattr(model, "_shadow_quad", None) is None:
            s = model.shadow
            (x0, x1), (z0, z1) = s.x_range_m, s.z_range_m
            lift = max(float(model.bounds_m[1][1] - model.bounds_m[0][1]), 1e-3) * 1e-3
            y = s.ground_y_m + lift
            pos = np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]], np.float32)
            uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
            geom = make_geom(pos, np.array([0, 2, 1, 0, 3, 2], np.uint32), uv=uv)
            node = p3d.GeomNode("contact-shadow")
            node.add_geom(geom)
            quad = p3d.NodePath(node)
            res = s.opacity.shape[0]
            tex = p3d.Texture("shadow")
            tex.setup_2d_texture(res, res, p3d.Texture.T_unsigned_byte, p3d.Texture.F_luminance)
            tex.set_ram_image(np.ascontiguousarray((s.opacity * 255 + 0.5).astype(np.uint8)).tobytes())
            tex.set_wrap_u(p3d.SamplerState.WM_clamp)
            tex.set_wrap_v(p3d.SamplerState.WM_clamp)
            tex.set_minfilter(p3d.SamplerState.FT_linear)
            quad.set_shader(self._shaders.shadow())
            quad.set_shader_input("t_shadow", tex)
            quad.set_shader_input("u_shadow", p3d.LVecBase4f(SHADOW_OPACITY, 0, 0, 0))
            quad.set_transparency(p3d.TransparencyAttrib.M_premultiplied_alpha)
            quad.set_depth_write(False)
            quad.set_bin("background", 20)
            model._shadow_quad = quad  # type: ignore[attr-defined]
        q: p3d.NodePath = model._shadow_quad  # type: ignore[attr-defined]
        return q

    # -- cameras -------------------------------------------------------------------------------------------

    def eye_cameras(self, request: RenderRequest, model: LoadedModel) -> list[cameras.EyeCamera]:
        """The cameras of the request (two for a StereoView, left first)."""
        size = request.size_px
        view = request.view
        if isinstance(view, TurntableView):
            return [cameras.turntable_camera(view, model.bounds_m, size, model.hull_m)]
        if isinstance(view, PoseView):
            return [cameras.pose_camera(view)]
        if isinstance(view, StereoView):
            return list(cameras.stereo_cameras(view))
        if isinstance(view, GltfCameraView):
            found = model.asset.camera_nodes()
            if not 0 <= view.index < len(found):
                raise RequestInvalid(f"{model.asset.path.name} has {len(found)} camera(s); there is no camera {view.index}")
            cam, world = found[view.index]
            radius = float(np.linalg.norm(model.bounds_m[1] - model.bounds_m[0])) / 2
            return [
                cameras.gltf_camera(
                    cam.kind, cam.yfov_rad, cam.xmag, cam.ymag, cam.znear_m, cam.zfar_m, world, size, radius
                )
            ]
        raise RequestInvalid(f"unsupported view {type(view).__name__}")

    # -- the frame -----------------------------------------------------------------------------------------

    def render(self, request: RenderRequest) -> RGBA8:
        """`(h, w, 4) uint8` straight-alpha sRGB RGBA; a StereoView gives `(h, 2w, 4)`, left eye on the left."""
        if self._closed:
            raise RenderError("the renderer is closed")
        w, h = request.size_px
        if not (16 <= w <= MAX_SIZE_PX and 16 <= h <= MAX_SIZE_PX):
            raise RequestInvalid(f"size {w}x{h} is outside 16..{MAX_SIZE_PX} pixels per side")
        if request.background not in ("white", "transparent", "env"):
            raise RequestInvalid(f"unknown background {request.background!r}")
        check_placements(request.placements)
        check_panels(request.panels)
        output = output_code(request)
        model = self.load_model(request.model_path)
        eyes = self.eye_cameras(request, model)
        if eyes[0].intrinsics.width_px != w or eyes[0].intrinsics.height_px != h:
            eyes = [
                cameras.EyeCamera(e.camera_to_world, e.intrinsics.scaled_to(w, h), e.near_m, e.far_m, e.ortho_half_m)
                for e in eyes
            ]
        # Placements first: loading their environment files may make the main environment rebind.
        self._placements.update(request.placements)
        self._panels.update(request.panels)
        env_key, env_turn_deg = self._environment(request.env, output)
        if self._current is not model:
            if self._current is not None:
                self._current.root.detach_node()
                self._shadow_node(self._current).detach_node()
            model.root.reparent_to(self._scene)
            self._current = model
        model.apply_overrides(request.overrides)
        posing.apply(model, request.pose)
        quad = self._shadow_node(model)
        if request.shadow and not request.reference:  # the Sample Viewer draws no contact shadow
            quad.reparent_to(self._scene)
        else:
            quad.detach_node()
        yaw = request.view.yaw_deg if isinstance(request.view, TurntableView) else 0.0
        # An environment file's turn about +Y (+Z towards +X) adds to the turntable's: both are about +Y.
        # Turntable: the lights stay where the photographer put them, the product turns.
        env_rot = _turn_about_y(yaw + env_turn_deg)
        self._scene.set_shader_input("u_envRot", mat3(env_rot))
        self._baker.root.set_shader_input("u_envRot", mat3(env_rot))
        baked = self.shading == "baked" and not request.reference  # reference: the exact shader on every pixel
        if self._baking is None or self._baking[0] is not model or self._baking[1] != baked:
            self._baker.attach(model, baked)  # once per model and mode (a hall has nothing to bake)
            self._baking = (model, baked)
        if self._baker.active:
            self._baker.prepare(eyes[0].camera_to_world, env_rot, env_key)

        target = self._target(w, h, len(eyes))
        for other in self._targets.values():
            other.buffer.set_active(other is target)
        for cam, lens, eye in zip(target.cameras, target.lenses, eyes, strict=True):
            cam.set_mat(mat4(eye.camera_to_world))
            lens.set_user_mat(mat4(cameras.projection(eye)))
        if request.background == "env":
            head = np.mean([e.position_m for e in eyes], axis=0)
            self._sky.reparent_to(self._scene)
            self._sky.set_pos(*head.tolist())
            self._sky.set_scale((eyes[0].near_m + eyes[0].far_m) / 2)
            target.buffer.set_clear_color(p3d.LColor(0, 0, 0, 1))
        else:
            self._sky.detach_node()
            white = request.background == "white"
            target.buffer.set_clear_color(p3d.LColor(1, 1, 1, 1) if white else p3d.LColor(0, 0, 0, 0))
        try:
            self._engine.render_frame()
        finally:
            target.buffer.set_active(False)
            self._baker.disable_until_next_frame()
        return self._read(target, request.background == "transparent")

    def _read(self, target: _Target, unpremultiply: bool) -> RGBA8:
        tex = target.texture
        ram = tex.get_ram_image_as("RGBA")
        total_w = target.width_px * len(target.cameras)
        if len(ram) != total_w * target.height_px * 4:
            raise RenderError("the GL read-back returned no frame")
        img: RGBA8 = np.frombuffer(memoryview(ram), np.uint8).reshape(target.height_px, total_w, 4)[::-1].copy()
        if unpremultiply:
            a = img[..., 3:4]
            part = (a > 0) & (a < 255)
            if part.any():
                scaled = np.minimum(img[..., :3].astype(np.uint16) * 255 // np.maximum(a, 1), 255).astype(np.uint8)
                img[..., :3] = np.where(part, scaled, img[..., :3])
        return img

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._placements.clear()
        self._panels.clear()
        for model in (*self._models.values(), *self._placement_models.values()):
            model.root.remove_node()
        self._models.clear()
        self._placement_models.clear()
        for target in self._targets.values():
            self._engine.remove_window(target.buffer)
        self._targets.clear()
        self._engine.remove_window(self._baker.buffer)
        self._engine.remove_window(self._host)
        self._scene.remove_node()

    def __enter__(self) -> PandaRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
