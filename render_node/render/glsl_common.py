"""GLSL shared by the renderer's shaders (render_node/render/shaders.py): the version line and the fragment code
every lit pass ends with (exposure, tone mapping, sRGB encoding)."""

from __future__ import annotations

GLSL_VERSION = "#version 330\n"

COMMON_FRAG = """
uniform mat4 u_envRot;  // world direction -> environment direction (upper 3x3)
uniform samplerCube u_specEnv;
uniform samplerCube u_irrEnv;
uniform sampler2D u_lut;
uniform vec4 u_envInfo;  // max lod, intensity, exposure, output (tone map + 4 x gamma 2.2; see finish)

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

// ACES as the glTF Sample Viewer implements it (TONEMAP_ACES_HILL: Stephen Hill's RRT + ODT fit with the
// sRGB <-> AP1 matrices, columns as in GLSL).
const mat3 ACES_IN = mat3(0.59719, 0.07600, 0.02840, 0.35458, 0.90834, 0.13383, 0.04823, 0.01566, 0.83777);
const mat3 ACES_OUT = mat3(1.60475, -0.10208, -0.00327, -0.53108, 1.10813, -0.07276, -0.07367, -0.00605, 1.07602);

vec3 aces_hill(vec3 color) {
  color = ACES_IN * color;
  vec3 a = color * (color + 0.0245786) - 0.000090537;
  vec3 b = color * (0.983729 * color + 0.4329510) + 0.238081;
  return clamp(ACES_OUT * (a / b), 0.0, 1.0);
}

// Output: u_envInfo.w = tone map (0 PBR Neutral, 1 ACES Hill, 2 linear) + 4 when encoding with the Sample Viewer's
// pow(1/2.2) instead of the sRGB curve. A #define TONEMAP_NEUTRAL / TONEMAP_ACES / TONEMAP_LINEAR fixes the tone
// map at compile time instead.
vec3 finish(vec3 linear) {
  vec3 c = linear * u_envInfo.z;
  int code = int(u_envInfo.w + 0.5);
#if defined(TONEMAP_NEUTRAL)
  c = pbr_neutral(c);
#elif defined(TONEMAP_ACES)
  c = aces_hill(c);
#elif defined(TONEMAP_LINEAR)
  c = clamp(c, 0.0, 1.0);
#else
  int tone = code - 4 * (code / 4);
  if (tone == 1) c = aces_hill(c);
  else if (tone == 0) c = pbr_neutral(c);
#endif
  if (code >= 4) return pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2));
  return to_srgb(c);
}
"""
