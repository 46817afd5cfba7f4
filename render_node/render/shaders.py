"""GLSL of the renderer: one lean single-pass metallic-roughness shader with image-based lighting, the sky, and
the contact shadow. Variants are made by #defines (only the texture fetches a material needs are compiled in).

Lighting: diffuse from the irradiance cube, specular from the GGX-prefiltered radiance cube at
lod = roughness * maxLod with the split-sum BRDF LUT. Material extensions (docs/rendering.md, "Material
extensions"): the dielectric Fresnel from KHR_materials_ior and _specular; _anisotropy bends the reflected
normal; _sheen adds a Charlie lobe; _clearcoat a second GGX lobe on its own normal; `extras.flakes` metallic paint's
flakes; _transmission and _volume
the environment seen through, attenuated (_dispersion: per channel); _iridescence a thin film's Fresnel.
Output: exposure, Khronos PBR Neutral tone mapping, sRGB encoding, premultiplied alpha.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import panda3d.core as p3d

from render_node.render.glsl_common import COMMON_FRAG as _COMMON_FRAG
from render_node.render.glsl_common import GLSL_VERSION
from render_node.render.glsl_lobes import (
    FLAKE_COVER,
    FLAKE_FRAME,
    FLAKE_RADIUS,
    FLAKE_RESOLVE,
    GEM_BOUNCES,
    GEM_MAX_PLANES,
    GEM_OBSERVER,
    GEM_OBSERVER_DEG,
)
from render_node.render.glsl_pbr import PBR_FRAG, PBR_VERT, slot_sampler

__all__ = ["GEM_MAX_PLANES", "GLSL_VERSION", "PBR_FRAG", "PBR_VERT", "ShaderCache", "slot_sampler"]


SKY_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
out vec3 v_dir;
void main() {
  vec4 p = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  gl_Position = p.xyww;
  v_dir = p3d_Vertex.xyz;
}
"""

SKY_FRAG = (
    _COMMON_FRAG
    + """
in vec3 v_dir;
out vec4 o_color;
void main() {
  vec3 c = textureLod(u_specEnv, mat3(u_envRot) * normalize(v_dir), 1.2).rgb * u_envInfo.y;
  o_color = vec4(finish(c), 1.0);
}
"""
)

SHADOW_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
in vec2 a_uv0;
out vec2 v_uv;
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  v_uv = a_uv0;
}
"""

SHADOW_FRAG = """
uniform sampler2D t_shadow;
uniform vec4 u_shadow;  // opacity, -, -, -
in vec2 v_uv;
out vec4 o_color;
void main() {
  float a = texture(t_shadow, v_uv).r * u_shadow.x;
  o_color = vec4(0.0, 0.0, 0.0, a);
}
"""

PANEL_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
in vec2 a_uv0;
out vec2 v_uv;
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  v_uv = a_uv0;
}
"""

PANEL_FRAG = """
uniform sampler2D t_panel;
in vec2 v_uv;
out vec4 o_color;
void main() {
  vec4 c = texture(t_panel, v_uv);  // sRGB as drawn: a live panel is a lit screen, shown as it is
  if (c.a < 0.004) discard;
  o_color = vec4(c.rgb * c.a, c.a);
}
"""

FLAT_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
void main() { gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex; }
"""




def _with_defines(source: str, defines: Iterable[str]) -> str:
    if "GEM" in defines:
        defines = [*defines, f"GEM_MAX_PLANES={GEM_MAX_PLANES}", f"GEM_BOUNCES={GEM_BOUNCES}",
                   f"GEM_OBSERVER={GEM_OBSERVER}",
                   f"GEM_OBSERVER_COS=vec2({math.cos(math.radians(GEM_OBSERVER_DEG[1]))},"
                   f"{math.cos(math.radians(GEM_OBSERVER_DEG[0]))})"]
    if "FLAKES" in defines:
        defines = [*defines, f"FLAKE_RADIUS={FLAKE_RADIUS}", f"FLAKE_COVER={FLAKE_COVER}",
                   f"FLAKE_RESOLVE=vec2({FLAKE_RESOLVE[0]},{FLAKE_RESOLVE[1]})",
                   # GLSL's mat3() is column-major: the rows' transpose
                   "FLAKE_FRAME=mat3(" + ",".join(str(FLAKE_FRAME[r][c]) for c in range(3) for r in range(3)) + ")"]
    lines = "".join(f"#define {d.replace('=', ' ', 1)}\n" for d in sorted(defines))
    return GLSL_VERSION + lines + source


class ShaderCache:
    """Compiles each shader variant once (keyed by its #defines)."""

    def __init__(self) -> None:
        # panda3d caches shaders by source text; a tag per cache keeps each renderer's shaders its own (two
        # renderers in one process, e.g. a test and a CLI call, must not share or release each other's).
        self._tag = f"// renderer {id(self)}\n"
        self._pbr: dict[frozenset[str], p3d.Shader] = {}
        self._sky: p3d.Shader | None = None
        self._shadow: p3d.Shader | None = None
        self._baked: p3d.Shader | None = None
        self._panel: p3d.Shader | None = None

    def pbr(self, defines: frozenset[str]) -> p3d.Shader:
        shader = self._pbr.get(defines)
        if shader is None:
            shader = p3d.Shader.make(
                p3d.Shader.SL_GLSL, _with_defines(PBR_VERT, defines) + self._tag, _with_defines(PBR_FRAG, defines)
            )
            self._pbr[defines] = shader
        return shader

    def sky(self) -> p3d.Shader:
        if self._sky is None:
            self._sky = p3d.Shader.make(p3d.Shader.SL_GLSL, GLSL_VERSION + SKY_VERT + self._tag, GLSL_VERSION + SKY_FRAG)
        return self._sky

    def baked(self) -> p3d.Shader:
        """The shader of view-space baked shading: one texture fetch per pixel (see bake.py)."""
        if self._baked is None:
            self._baked = p3d.Shader.make(p3d.Shader.SL_GLSL, GLSL_VERSION + BAKED_VERT + self._tag, GLSL_VERSION + BAKED_FRAG)
        return self._baked

    def panel(self) -> p3d.Shader:
        """A live panel: its texture, unlit (one fetch per pixel)."""
        if self._panel is None:
            self._panel = p3d.Shader.make(p3d.Shader.SL_GLSL, GLSL_VERSION + PANEL_VERT + self._tag, GLSL_VERSION + PANEL_FRAG)
        return self._panel

    def shadow(self) -> p3d.Shader:
        if self._shadow is None:
            self._shadow = p3d.Shader.make(p3d.Shader.SL_GLSL, GLSL_VERSION + SHADOW_VERT + self._tag, GLSL_VERSION + SHADOW_FRAG)
        return self._shadow


BAKED_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_ModelMatrixInverseTranspose;
uniform mat4 p3d_ViewMatrix;
uniform mat4 u_viewRot;  // world -> camera rotation (upper 3x3)
uniform vec4 u_tile;  // uv offset xy, uv scale, disc shrink
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec2 v_uv;
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  vec3 pos = (p3d_ModelMatrix * p3d_Vertex).xyz;
  vec3 camPos = -transpose(mat3(p3d_ViewMatrix)) * p3d_ViewMatrix[3].xyz;
  mat3 vr = mat3(u_viewRot);
  vec3 n = normalize(vr * (mat3(p3d_ModelMatrixInverseTranspose) * p3d_Normal));
  vec3 v = normalize(vr * (camPos - pos));
  // The sphere point that mirrors the camera axis (+Z) into this vertex's own reflection direction: the
  // environment is looked up exactly where the exact shader looks (as in sphere mapping).
  vec3 r = reflect(-v, n);
  vec3 ns = normalize(r + vec3(0.0, 0.0, 1.0) + vec3(0.0, 0.0, 1e-5));
  v_uv = u_tile.xy + (ns.xy * (0.5 * u_tile.w) + 0.5) * u_tile.z;
}
"""

BAKED_FRAG = """
uniform sampler2D t_baked;
in vec2 v_uv;
out vec4 o_color;
void main() {
  o_color = vec4(texture(t_baked, v_uv).rgb, 1.0);
}
"""
