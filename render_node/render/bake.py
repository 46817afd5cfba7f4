"""View-space baked shading: the exact PBR + IBL shader run on a sphere per material, reused by every pixel.

On a CPU rasteriser (Mesa llvmpipe) each texture fetch and each line of per-pixel shading costs real time, so
the exact shader (three environment fetches and the BRDF per pixel) runs at about half the speed of
fixed-function shading. For a material that is the same everywhere (no textures, opaque, one-sided) on a finely
tessellated mesh, the shaded colour depends only on the normal relative to the view and the environment. Each
frame, before the product is drawn, the exact shader renders one small sphere per such material, seen with the
frame's camera orientation and environment rotation, into a tile of an atlas. The product's pixels then read
their colour from the tile at their normal, rotated per vertex so that its own view direction sits on the
sphere's axis (exact n.v, Fresnel and rim). One fetch per pixel; the result matches the exact shader to the eye
(tests compare the two).

The baking pass is part of the same `render_frame()`; nothing is cached between frames, so moving cameras (VR)
and changing overrides are always right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

from render_node.render import cameras
from render_node.render._geom import make_geom, sphere_mesh
from render_node.render.scene import LoadedModel, MaterialNode, mat3, mat4, material_inputs
from render_node.render.shaders import ShaderCache
from render_node.render.types import Intrinsics

F64 = npt.NDArray[np.float64]

TILE_PX = 128
TILES_PER_SIDE = 4
MAX_TILES = TILES_PER_SIDE * TILES_PER_SIDE
_CAMERA_DISTANCE = 1000.0
_PER_VERTEX_ONLY = {"HAS_UV0", "HAS_UV1", "HAS_TANGENT", "HAS_COLOR"}


@dataclass
class _Tile:
    sphere: p3d.NodePath
    camera: p3d.NodePath
    lens: p3d.MatrixLens
    region: p3d.DisplayRegion
    centre_m: F64


class Baker:
    """Owns the atlas buffer (drawn before every other buffer) and one sphere, camera and tile per material."""

    def __init__(
        self,
        engine: p3d.GraphicsEngine,
        pipe: p3d.GraphicsPipe,
        gsg: p3d.GraphicsStateGuardian,
        host: p3d.GraphicsOutput,
        shaders: ShaderCache,
        scene: p3d.NodePath,
    ) -> None:
        self.shaders = shaders
        self.scene = scene
        fb = p3d.FrameBufferProperties()
        fb.set_rgba_bits(8, 8, 8, 8)
        fb.set_depth_bits(16)
        side = TILE_PX * TILES_PER_SIDE
        buf = engine.make_output(
            pipe, "bake-atlas", -50, fb, p3d.WindowProperties.size(side, side), p3d.GraphicsPipe.BF_refuse_window, gsg, host
        )
        if buf is None:
            raise RuntimeError("cannot create the bake atlas buffer")
        self.buffer = buf
        self.texture = p3d.Texture("bake-atlas")
        buf.add_render_texture(self.texture, p3d.GraphicsOutput.RTM_bind_or_copy, p3d.GraphicsOutput.RTP_color)
        self.texture.set_minfilter(p3d.SamplerState.FT_linear)
        self.texture.set_magfilter(p3d.SamplerState.FT_linear)
        self.texture.set_wrap_u(p3d.SamplerState.WM_clamp)
        self.texture.set_wrap_v(p3d.SamplerState.WM_clamp)
        buf.set_clear_color_active(False)
        buf.set_clear_depth_active(False)
        buf.set_active(False)
        # The spheres live in their own scene; the renderer gives it the same environment inputs as the main one.
        self.root = p3d.NodePath("bake-scene")
        pos, idx = sphere_mesh(48, 96)
        geom = make_geom(pos, idx, normals=pos)
        self.tiles: list[_Tile] = []
        for i in range(MAX_TILES):
            tx, ty = i % TILES_PER_SIDE, i // TILES_PER_SIDE
            region = buf.make_display_region(
                tx / TILES_PER_SIDE, (tx + 1) / TILES_PER_SIDE, ty / TILES_PER_SIDE, (ty + 1) / TILES_PER_SIDE
            )
            lens = p3d.MatrixLens()
            cam = self.root.attach_new_node(p3d.Camera(f"bake{i}", lens))
            region.set_camera(cam)
            region.set_active(False)
            region.set_clear_color_active(True)
            region.set_clear_color(p3d.LColor(0.5, 0.5, 0.5, 1))
            region.set_clear_depth_active(True)
            node = p3d.GeomNode(f"sphere{i}")
            node.add_geom(geom)
            sphere = self.root.attach_new_node(node)
            centre = np.array([i * 10.0, -10_000.0, 0.0])
            sphere.set_pos(*centre.tolist())
            sphere.hide()
            cam.node().set_scene(self.root)
            self.tiles.append(_Tile(sphere, cam, lens, region, centre))
        self._model: LoadedModel | None = None
        self._assigned: list[MaterialNode] = []
        self._baked_key: tuple[object, ...] | None = None

    def attach(self, model: LoadedModel, enabled: bool) -> None:
        """Gives the model's bakeable materials a tile and the baked shader (or restores the exact shader)."""
        if self._model is model and enabled == bool(self._assigned):
            return
        self._assigned = []
        self._baked_key = None
        for mn in model.material_nodes:
            if enabled and mn.bakeable and len(self._assigned) < MAX_TILES:
                i = len(self._assigned)
                tx, ty = i % TILES_PER_SIDE, i // TILES_PER_SIDE
                mn.node.set_shader(self.shaders.baked(), 10)
                mn.node.set_shader_input("t_baked", self.texture)
                mn.node.set_shader_input(
                    "u_tile", p3d.LVecBase4f(tx / TILES_PER_SIDE, ty / TILES_PER_SIDE, 1 / TILES_PER_SIDE, 1 - 3.0 / TILE_PX)
                )
                sphere = self.tiles[i].sphere
                # paint's flakes depend on the point, not only the normal: the sphere draws their average glow
                average = {"FLAKES_AVERAGE"} if "FLAKES" in mn.defines else set()
                sphere.set_shader(self.shaders.pbr((mn.defines - _PER_VERTEX_ONLY) | average))
                for name, value in material_inputs(mn.material, mn.defines).items():
                    sphere.set_shader_input(name, value)
                self._assigned.append(mn)
            else:
                mn.node.set_shader(self.shaders.pbr(mn.defines), 10)
        self._model = model

    @property
    def active(self) -> bool:
        return bool(self._assigned)

    def prepare(self, camera_to_world: F64, env_rotation: F64, env_name: str) -> None:
        """Points every used tile's camera like the frame's camera and copies the current material factors.

        The atlas is re-drawn only when what it shows changed: the camera's orientation relative to the
        environment (a turntable spin at one pitch keeps it), the environment, or a material's factors."""
        rot = np.asarray(camera_to_world, dtype=np.float64)[:3, :3]
        self.scene.set_shader_input("u_viewRot", mat3(rot.T))
        key = (
            env_name,
            tuple(np.round(np.asarray(env_rotation, dtype=np.float64) @ rot, 5).reshape(-1).tolist()),
            tuple((mn.color, mn.metallic, mn.roughness) for mn in self._assigned),
        )
        if key == self._baked_key:
            self.buffer.set_active(False)
            return
        self._baked_key = key
        for i, tile in enumerate(self.tiles):
            used = i < len(self._assigned)
            tile.region.set_active(used)
            if not used:
                tile.sphere.hide()
                continue
            mn = self._assigned[i]
            tile.sphere.show()
            tile.sphere.set_shader_input("u_baseColor", p3d.LVecBase4f(*mn.color))
            m = mn.material
            tile.sphere.set_shader_input("u_mr", p3d.LVecBase4f(mn.metallic, mn.roughness, m.normal_scale, m.occlusion_strength))
            pose = np.eye(4)
            pose[:3, :3] = rot
            pose[:3, 3] = tile.centre_m + rot[:, 2] * _CAMERA_DISTANCE
            eye = cameras.EyeCamera(
                pose,
                Intrinsics.from_fov(45.0, TILE_PX, TILE_PX),
                _CAMERA_DISTANCE - 2.0,
                _CAMERA_DISTANCE + 2.0,
                ortho_half_m=(1.0, 1.0),
            )
            tile.camera.set_mat(mat4(pose))
            tile.lens.set_user_mat(mat4(cameras.projection(eye)))
        self.buffer.set_active(self.active)

    def disable_until_next_frame(self) -> None:
        """After a frame: the atlas keeps its pixels, but the buffer is not drawn by other renderers' frames."""
        self.buffer.set_active(False)

    def disable(self) -> None:
        self.buffer.set_active(False)
        self._baked_key = None
