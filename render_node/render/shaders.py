"""GLSL of the renderer: one lean single-pass metallic-roughness shader with image-based lighting, the sky, and
the contact shadow. Variants are made by #defines (only the texture fetches a material needs are compiled in).

Lighting: diffuse from the irradiance cube, specular from the GGX-prefiltered radiance cube at
lod = roughness * maxLod with the split-sum BRDF LUT; clearcoat adds a second specular lobe on the geometric
normal. Output: exposure, Khronos PBR Neutral tone mapping, sRGB encoding, premultiplied alpha.
"""

from __future__ import annotations

from collections.abc import Iterable

import panda3d.core as p3d

GLSL_VERSION = "#version 330\n"

PBR_VERT = """
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_ModelMatrixInverseTranspose;
uniform mat4 p3d_ViewMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec3 v_nrm;
out vec3 v_toCam;
#if defined(NORMAL_MAP) && !defined(HAS_TANGENT)
out vec3 v_pos;
#endif
#ifdef HAS_UV0
in vec2 a_uv0;
out vec2 v_uv0;
#endif
#ifdef HAS_UV1
in vec2 a_uv1;
out vec2 v_uv1;
#endif
#ifdef HAS_TANGENT
in vec4 a_tangent;
out vec4 v_tan;
#endif
#ifdef HAS_COLOR
in vec4 a_color;
out vec4 v_col;
#endif
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  vec3 pos = (p3d_ModelMatrix * p3d_Vertex).xyz;
  vec3 camPos = -transpose(mat3(p3d_ViewMatrix)) * p3d_ViewMatrix[3].xyz;
  v_toCam = camPos - pos;
#if defined(NORMAL_MAP) && !defined(HAS_TANGENT)
  v_pos = pos;
#endif
  v_nrm = mat3(p3d_ModelMatrixInverseTranspose) * p3d_Normal;
#ifdef HAS_UV0
  v_uv0 = a_uv0;
#endif
#ifdef HAS_UV1
  v_uv1 = a_uv1;
#endif
#ifdef HAS_TANGENT
  v_tan = vec4(mat3(p3d_ModelMatrix) * a_tangent.xyz, a_tangent.w);
#endif
#ifdef HAS_COLOR
  v_col = a_color;
#endif
}
"""

_COMMON_FRAG = """
uniform mat4 u_envRot;  // world direction -> environment direction (upper 3x3)
uniform samplerCube u_specEnv;
uniform samplerCube u_irrEnv;
uniform sampler2D u_lut;
uniform vec4 u_envInfo;  // max lod, intensity, exposure, -

vec3 pbr_neutral(vec3 color) {
  const float start = 0.8 - 0.04;
  const float desat = 0.15;
  float x = min(color.r, min(color.g, color.b));
  float offset = x < 0.08 ? x - 6.25 * x * x : 0.04;
  color -= offset;
  float peak = max(color.r, max(color.g, color.b));
  if (peak < start) return color;
  const float d = 1.0 - start;
  float newPeak = 1.0 - d * d / (peak + d - start);
  color *= newPeak / peak;
  float g = 1.0 - 1.0 / (desat * (peak - newPeak) + 1.0);
  return mix(color, vec3(newPeak), g);
}

vec3 to_srgb(vec3 c) {
  c = clamp(c, 0.0, 1.0);
  return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}

vec3 finish(vec3 linear) {
  return to_srgb(pbr_neutral(linear * u_envInfo.z));
}
"""

PBR_FRAG = (
    _COMMON_FRAG
    + """
uniform vec4 u_baseColor;
uniform vec4 u_mr;  // metallic, roughness, normal scale, occlusion strength
uniform vec4 u_emissive;  // rgb, alpha cutoff
uniform vec4 u_extra;  // clearcoat, clearcoat roughness, transmission, dielectric f0
in vec3 v_nrm;
in vec3 v_toCam;
#if defined(NORMAL_MAP) && !defined(HAS_TANGENT)
in vec3 v_pos;
#endif
#ifdef HAS_UV0
in vec2 v_uv0;
#endif
#ifdef HAS_UV1
in vec2 v_uv1;
#endif
#ifdef HAS_TANGENT
in vec4 v_tan;
#endif
#ifdef HAS_COLOR
in vec4 v_col;
#endif
#ifdef BASE_MAP
uniform sampler2D t_base;
uniform mat4 x_base;
#endif
#ifdef MR_MAP
uniform sampler2D t_mr;
uniform mat4 x_mr;
#endif
#ifdef NORMAL_MAP
uniform sampler2D t_normal;
uniform mat4 x_normal;
#endif
#ifdef OCCLUSION_MAP
uniform sampler2D t_occlusion;
uniform mat4 x_occlusion;
#endif
#ifdef EMISSIVE_MAP
uniform sampler2D t_emissive;
uniform mat4 x_emissive;
#endif
out vec4 o_color;

void main() {
  vec4 base = u_baseColor;
#ifdef HAS_COLOR
  base *= v_col;
#endif
#ifdef BASE_MAP
  base *= texture(t_base, (mat3(x_base) * vec3(BASE_UV, 1.0)).xy);
#endif
#ifdef ALPHA_MASK
  if (base.a < u_emissive.w) discard;
  base.a = 1.0;
#endif
#ifdef UNLIT
  o_color = vec4(finish(base.rgb) * base.a, base.a);
  return;
#endif
  float metallic = u_mr.x;
  float rough = u_mr.y;
#ifdef MR_MAP
  vec4 mr = texture(t_mr, (mat3(x_mr) * vec3(MR_UV, 1.0)).xy);
  metallic *= mr.b;
  rough *= mr.g;
#endif
  rough = clamp(rough, 0.03, 1.0);
  vec3 ng = normalize(v_nrm);
#ifdef DOUBLE_SIDED
  if (!gl_FrontFacing) ng = -ng;
#endif
  vec3 v = normalize(v_toCam);
  vec3 n = ng;
#ifdef NORMAL_MAP
  vec3 tn = texture(t_normal, (mat3(x_normal) * vec3(NORMAL_UV, 1.0)).xy).xyz * 2.0 - 1.0;
  tn.xy *= u_mr.z;
#ifdef HAS_TANGENT
  vec3 t = normalize(v_tan.xyz - ng * dot(ng, v_tan.xyz));
  vec3 b = cross(ng, t) * v_tan.w;
#else
  vec2 uv = NORMAL_UV;
  vec3 dp1 = dFdx(v_pos), dp2 = dFdy(v_pos);
  vec2 duv1 = dFdx(uv), duv2 = dFdy(uv);
  vec3 dp2perp = cross(dp2, ng), dp1perp = cross(ng, dp1);
  vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
  vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
  float invmax = inversesqrt(max(max(dot(t, t), dot(b, b)), 1e-20));
  t *= invmax;
  b *= invmax;
#endif
  n = normalize(t * tn.x + b * tn.y + ng * tn.z);
#endif
  float nv = clamp(dot(n, v), 1e-3, 1.0);
  vec3 r = reflect(-v, n);
  vec3 f0 = mix(vec3(u_extra.w), base.rgb, metallic);
  vec2 ab = texture(u_lut, vec2(nv, rough)).rg;
  vec3 specW = f0 * ab.x + ab.y;
  vec3 spec = textureLod(u_specEnv, mat3(u_envRot) * r, rough * u_envInfo.x).rgb * specW;
  vec3 diffuse = texture(u_irrEnv, mat3(u_envRot) * n).rgb * base.rgb * (1.0 - metallic) * (1.0 - specW);
#ifdef TRANSMISSION
  vec3 through = textureLod(u_specEnv, mat3(u_envRot) * refract(-v, n, 1.0 / 1.5), rough * u_envInfo.x).rgb;
  diffuse = mix(diffuse, through * base.rgb * (1.0 - specW), u_extra.z * (1.0 - metallic));
#endif
#ifdef OCCLUSION_MAP
  float ao = 1.0 + u_mr.w * (texture(t_occlusion, (mat3(x_occlusion) * vec3(OCCLUSION_UV, 1.0)).xy).r - 1.0);
  diffuse *= ao;
  spec *= clamp(pow(nv + ao, exp2(-16.0 * rough - 1.0)) - 1.0 + ao, 0.0, 1.0);
#endif
  vec3 color = (diffuse + spec) * u_envInfo.y;
#ifdef CLEARCOAT
  float cnv = clamp(dot(ng, v), 1e-3, 1.0);
  float crough = clamp(u_extra.y, 0.03, 1.0);
  vec2 cab = texture(u_lut, vec2(cnv, crough)).rg;
  float cspecW = 0.04 * cab.x + cab.y;
  vec3 cspec = textureLod(u_specEnv, mat3(u_envRot) * reflect(-v, ng), crough * u_envInfo.x).rgb * cspecW;
  color = color * (1.0 - u_extra.x * cspecW) + u_extra.x * cspec * u_envInfo.y;
#endif
  vec3 emissive = u_emissive.rgb;
#ifdef EMISSIVE_MAP
  emissive *= texture(t_emissive, (mat3(x_emissive) * vec3(EMISSIVE_UV, 1.0)).xy).rgb;
#endif
  color += emissive;
  float alpha = base.a;
#ifdef TRANSMISSION
  alpha = max(alpha * (1.0 - u_extra.z * (1.0 - metallic)), max(specW.r, max(specW.g, specW.b)));
#endif
#ifdef BLEND
  o_color = vec4(finish(color) * alpha, alpha);
#else
  o_color = vec4(finish(color), 1.0);
#endif
}
"""
)

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
