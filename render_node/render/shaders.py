"""GLSL of the renderer: one lean single-pass metallic-roughness shader with image-based lighting, the sky, and
the contact shadow. Variants are made by #defines (only the texture fetches a material needs are compiled in).

Lighting: diffuse from the irradiance cube, specular from the GGX-prefiltered radiance cube at
lod = roughness * maxLod with the split-sum BRDF LUT. Material extensions (docs/rendering.md, "Material
extensions"): the dielectric Fresnel from KHR_materials_ior and _specular; _anisotropy bends the reflected
normal; _sheen adds a Charlie lobe; _clearcoat a second GGX lobe on its own normal; _transmission and _volume
the environment seen through, attenuated (_dispersion: per channel); _iridescence a thin film's Fresnel.
Output: exposure, Khronos PBR Neutral tone mapping, sRGB encoding, premultiplied alpha.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import panda3d.core as p3d

GLSL_VERSION = "#version 330\n"

_COMMON_FRAG = """
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

_PBR_FLAGS = """
#if defined(NORMAL_MAP) || defined(ANISOTROPY) || defined(CLEARCOAT_NORMAL_MAP)
#define NEEDS_TBN
#endif
#if defined(NEEDS_TBN) && !defined(HAS_TANGENT)
#define COTANGENT_FRAME
#endif
"""

PBR_VERT = (
    _PBR_FLAGS
    + """
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_ModelMatrixInverseTranspose;
uniform mat4 p3d_ViewMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec3 v_nrm;
out vec3 v_toCam;
#ifdef COTANGENT_FRAME
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
#ifdef GEM
uniform mat4 p3d_ModelViewMatrixInverse;
out vec3 v_objPos;
out vec3 v_objView;  // object space: from the camera to the vertex
out vec3 v_objNrm;
#endif
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  vec3 pos = (p3d_ModelMatrix * p3d_Vertex).xyz;
  vec3 camPos = -transpose(mat3(p3d_ViewMatrix)) * p3d_ViewMatrix[3].xyz;
  v_toCam = camPos - pos;
#ifdef COTANGENT_FRAME
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
#ifdef GEM
  v_objPos = p3d_Vertex.xyz;
  v_objView = p3d_Vertex.xyz - p3d_ModelViewMatrixInverse[3].xyz;
  v_objNrm = p3d_Normal;
#endif
}
"""
)

# One texture slot of the PBR shader: `SLOT(NAME)` declares its sampler and KHR_texture_transform matrix,
# `TEX(NAME)` fetches it at its own UV set (NAME_UV, set by scene.py with the #define NAME_MAP).
_PBR_SLOTS = ("BASE", "MR", "NORMAL", "OCCLUSION", "EMISSIVE", "SPECULAR", "SPECULAR_COLOR", "ANISOTROPY",
              "SHEEN_COLOR", "SHEEN_ROUGHNESS", "CLEARCOAT", "CLEARCOAT_ROUGHNESS", "CLEARCOAT_NORMAL", "TRANSMISSION",
              "THICKNESS", "IRIDESCENCE", "IRIDESCENCE_THICKNESS")


def _slot_declarations() -> str:
    out = []
    for slot in _PBR_SLOTS:
        name = slot_sampler(slot)
        out.append(f"#ifdef {slot}_MAP\nuniform sampler2D t_{name};\nuniform mat4 x_{name};\n"
                   f"#define TEX_{slot} texture(t_{name}, (mat3(x_{name}) * vec3({slot}_UV, 1.0)).xy)\n#endif\n")
    return "".join(out)


def slot_sampler(slot: str) -> str:
    """The GLSL name of a texture slot: `SHEEN_COLOR` -> `sheenColor` (`t_sheenColor`, matrix `x_sheenColor`)."""
    head, *rest = slot.lower().split("_")
    return head + "".join(word.capitalize() for word in rest)


PBR_FRAG = (
    _PBR_FLAGS
    + _COMMON_FRAG
    + """
uniform vec4 u_baseColor;
uniform vec4 u_mr;  // metallic, roughness, normal scale, occlusion strength
uniform vec4 u_emissive;  // rgb, alpha cutoff
uniform vec4 u_extra;  // clearcoat, clearcoat roughness, transmission, dielectric f0 (from the ior)
// the extensions' inputs exist only in the variants that use them (scene.py sets the same set)
#ifdef SPECULAR
uniform vec4 u_specular;  // KHR_materials_specular: colour (rgb), factor
#endif
#ifdef SHEEN
uniform vec4 u_sheen;  // KHR_materials_sheen: colour (rgb), roughness
#endif
#if defined(ANISOTROPY) || defined(CLEARCOAT_NORMAL_MAP)
uniform vec4 u_aniso;  // KHR_materials_anisotropy: cos, sin of the rotation, strength; clearcoat normal scale
#endif
#ifdef VOLUME
uniform vec4 u_volume;  // KHR_materials_volume: attenuation colour (rgb), thickness / attenuation distance
#endif
#ifdef IRIDESCENCE
uniform vec4 u_film;  // KHR_materials_iridescence: factor, film ior, thickness min, max (nm)
#endif
#ifdef DISPERSION
uniform vec4 u_dispersion;  // KHR_materials_dispersion: dispersion (20 / Abbe number), -, -, -
#endif
in vec3 v_nrm;
in vec3 v_toCam;
#ifdef COTANGENT_FRAME
in vec3 v_pos;
#endif
#ifdef GEM
uniform vec4 u_gemPlanes[GEM_MAX_PLANES];  // the stone's facets, object space: outward normal, offset (n.p = d)
uniform vec4 u_gem;  // refractive index of red, green, blue light; number of facets
uniform vec4 u_gemAbsorb;  // absorption per metre of red, green, blue light; -
uniform mat4 p3d_ModelMatrix;
in vec3 v_objPos;
in vec3 v_objView;
in vec3 v_objNrm;
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
"""
    + _slot_declarations()
    + """
out vec4 o_color;

// Directional albedo of the Charlie sheen lobe (Estevez & Kulla 2017) at n.v for a sheen roughness: a curve fit
// of its integral over the hemisphere (three.js, E. Lalish). It scales the sheen's light and dims the layer below.
float sheen_albedo(float nv, float r) {
  float r2 = r * r;
  float a = r < 0.25 ? -339.2 * r2 + 161.4 * r - 25.9 : -8.48 * r2 + 14.3 * r - 9.95;
  float b = r < 0.25 ? 44.0 * r2 - 23.7 * r + 3.26 : 1.97 * r2 - 3.27 * r + 0.72;
  float dg = exp(a * nv + b) + (r < 0.25 ? 0.0 : 0.1 * (r - 0.25));
  return clamp(dg * 0.318309886, 0.0, 1.0);
}

#ifdef IRIDESCENCE
// KHR_materials_iridescence: the Fresnel reflectance of a thin film over the base (Belcour & Barla 2017, "A
// Practical Extension to Microfacet Theory for the Modeling of Varying Iridescence"): the interference of the
// film's first two orders, integrated against the CIE sensitivities (their Gaussian fit), in linear Rec.709.
float schlick(float f0, float c) {
  return f0 + (1.0 - f0) * pow(1.0 - c, 5.0);
}

vec3 film_sensitivity(float opd_nm, vec3 shift) {
  float phase = 6.28318531 * opd_nm * 1.0e-9;
  vec3 val = vec3(5.4856e-13, 4.4201e-13, 5.2481e-13);
  vec3 pos = vec3(1.6810e+06, 1.7953e+06, 2.2084e+06);
  vec3 var = vec3(4.3278e+09, 9.3046e+09, 6.6121e+09);
  vec3 xyz = val * sqrt(6.28318531 * var) * cos(pos * phase + shift) * exp(-phase * phase * var);
  xyz.x += 9.7470e-14 * sqrt(6.28318531 * 4.5282e+09) * cos(2.2399e+06 * phase + shift.x)
           * exp(-4.5282e+09 * phase * phase);
  xyz /= 1.0685e-7;
  return mat3(3.2404542, -0.9692660, 0.0556434, -1.5371385, 1.8760108, -0.2040259,
              -0.4985314, 0.0415560, 1.0572252) * xyz;
}

vec3 film_fresnel(float filmIor, float cos1, float thickness_nm, vec3 baseF0) {
  float eta = mix(1.0, filmIor, smoothstep(0.0, 0.03, thickness_nm));  // no film: the base alone
  float cos2Sq = 1.0 - (1.0 - cos1 * cos1) / (eta * eta);
  if (cos2Sq < 0.0) return vec3(1.0);  // total internal reflection
  float cos2 = sqrt(cos2Sq);
  float r12 = schlick(pow((eta - 1.0) / (eta + 1.0), 2.0), cos1);
  float t121 = 1.0 - r12;
  float phi21 = eta < 1.0 ? 0.0 : 3.14159265;
  vec3 sf0 = sqrt(clamp(baseF0, 0.0, 0.9999));
  vec3 baseIor = (1.0 + sf0) / (1.0 - sf0);
  vec3 r1 = pow((baseIor - eta) / (baseIor + eta), vec3(2.0));
  vec3 r23 = r1 + (1.0 - r1) * pow(1.0 - cos2, 5.0);
  vec3 phi23 = mix(vec3(0.0), vec3(3.14159265), lessThan(baseIor, vec3(eta)));
  float opd = 2.0 * eta * thickness_nm * cos2;
  vec3 phi = vec3(phi21) + phi23;
  vec3 r123 = clamp(r12 * r23, 1e-5, 0.9999);
  vec3 rs = t121 * t121 * r23 / (1.0 - r123);
  vec3 reflectance = r12 + rs;
  vec3 cm = rs - t121;
  for (int m = 1; m <= 2; ++m) {
    cm *= sqrt(r123);
    reflectance += cm * 2.0 * film_sensitivity(float(m) * opd, float(m) * phi);
  }
  return max(reflectance, vec3(0.0));
}
#endif

#ifdef GEM
// A cut stone (docs/rendering.md, "Gemstones"): the view ray refracted at the facet it enters, then bounced
// between the stone's facet planes (a convex polyhedron: the exit is the nearest plane ahead), leaving through a
// facet where the angle allows (Fresnel's share, into the environment) and reflecting the rest (all of it past
// the critical angle: total internal reflection), absorbed along the way; one trace per colour with its own
// index of refraction (dispersion: the fire).

// Unpolarised Fresnel reflectance of a dielectric boundary at cosine `c` of incidence, eta = n(far) / n(near).
float fresnel_exact(float c, float eta) {
  float g2 = eta * eta - 1.0 + c * c;
  if (g2 <= 0.0) return 1.0;  // total internal reflection
  float g = sqrt(g2);
  float a = (g - c) / (g + c);
  float b = (c * (g + c) - 1.0) / (c * (g - c) + 1.0);
  return clamp(0.5 * a * a * (1.0 + b * b), 0.0, 1.0);
}

// The environment's light seen along objDir (object space), less what the observer
// hides: light that would come from right behind the eye (GEM_OBSERVER_DEG from the direction to the camera) is
// blocked by the viewer's head or the camera, which gives a stone its dark contrast pattern (the arrows).
vec3 g_toCam;
vec3 gem_env(vec3 objDir, float lod) {
  vec3 w = normalize(mat3(p3d_ModelMatrix) * objDir);
  float observer = 1.0 - GEM_OBSERVER * smoothstep(GEM_OBSERVER_COS.x, GEM_OBSERVER_COS.y, dot(w, g_toCam));
  return textureLod(u_specEnv, mat3(u_envRot) * w, lod).rgb * observer;
}

// Light that leaves the stone towards the eye, traced backwards from the entry point `p` along the refracted
// direction `d` (object space) for a refractive index `ior`.
vec3 gem_trace(vec3 p, vec3 d, float ior) {
  vec3 light = vec3(0.0);
  vec3 through = vec3(1.0);
  int count = int(u_gem.w + 0.5);
  for (int bounce = 0; bounce < GEM_BOUNCES; ++bounce) {
    float tExit = 1e9;
    vec3 nExit = -d;
    for (int i = 0; i < GEM_MAX_PLANES; ++i) {
      if (i >= count) break;
      vec4 plane = u_gemPlanes[i];
      float dn = dot(plane.xyz, d);
      if (dn > 1e-5) {
        float t = (plane.w - dot(plane.xyz, p)) / dn;
        if (t < tExit) {
          tExit = t;
          nExit = plane.xyz;
        }
      }
    }
    tExit = max(tExit, 0.0);
    p += d * tExit;
    through *= exp(-u_gemAbsorb.rgb * tExit);
    float c = dot(d, nExit);
    float f = fresnel_exact(c, 1.0 / ior);
    if (f < 1.0) light += through * (1.0 - f) * gem_env(refract(d, -nExit, ior), 0.0);
    through *= f;
    d = reflect(d, nExit);
  }
  // what is still inside after the last bounce: the environment's soft light along the last direction
  return light + through * gem_env(d, 3.0);
}
#endif

void main() {
#ifdef GEM
  {
    g_toCam = normalize(v_toCam);
    vec3 d0 = normalize(v_objView);
    vec3 gn = normalize(v_objNrm);
    float c0 = clamp(-dot(d0, gn), 1e-4, 1.0);
    float fFront = fresnel_exact(c0, u_gem.y);
    vec3 color = fFront * gem_env(reflect(d0, gn), 0.0);
    vec3 inside;
    if (u_gem.x == u_gem.z) {
      inside = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.y), u_gem.y);
    } else {
      inside.r = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.x), u_gem.x).r;
      inside.g = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.y), u_gem.y).g;
      inside.b = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.z), u_gem.z).b;
    }
    color += (1.0 - fFront) * inside * u_baseColor.rgb;
    o_color = vec4(finish(color * u_envInfo.y + u_emissive.rgb), 1.0);
    return;
  }
#endif
  vec4 base = u_baseColor;
#ifdef HAS_COLOR
  base *= v_col;
#endif
#ifdef BASE_MAP
  base *= TEX_BASE;
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
  vec4 mr = TEX_MR;
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
#ifdef NEEDS_TBN
#ifdef HAS_TANGENT
  vec3 t = normalize(v_tan.xyz - ng * dot(ng, v_tan.xyz));
  vec3 b = cross(ng, t) * v_tan.w;
#elif defined(TBN_UV)
  vec2 uv = TBN_UV;
  vec3 dp1 = dFdx(v_pos), dp2 = dFdy(v_pos);
  vec2 duv1 = dFdx(uv), duv2 = dFdy(uv);
  vec3 dp2perp = cross(dp2, ng), dp1perp = cross(ng, dp1);
  vec3 t = dp2perp * duv1.x + dp1perp * duv2.x;
  vec3 b = dp2perp * duv1.y + dp1perp * duv2.y;
  float invmax = inversesqrt(max(max(dot(t, t), dot(b, b)), 1e-20));
  t *= invmax;
  b *= invmax;
#else
  // neither tangents nor UVs: a frame from the world's up axis (a vertical tangent plane's T is horizontal)
  vec3 t = normalize(cross(abs(ng.y) < 0.999 ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0), ng));
  vec3 b = cross(ng, t);
#endif
#endif
#ifdef NORMAL_MAP
  vec3 tn = TEX_NORMAL.xyz * 2.0 - 1.0;
  tn.xy *= u_mr.z;
  n = normalize(t * tn.x + b * tn.y + ng * tn.z);
#endif
  float nv = clamp(dot(n, v), 1e-3, 1.0);
  vec3 r = reflect(-v, n);
  // Dielectric Fresnel from the ior (u_extra.w) and KHR_materials_specular: F0 = min(f0(ior) x colour, 1) x
  // factor, F90 = factor; metals: F0 = base colour, F90 = 1. Split sum: F0 x A + F90 x B.
  float specFactor = 1.0;
  vec3 specColor = vec3(1.0);
#ifdef SPECULAR
  specFactor = u_specular.w;
  specColor = u_specular.rgb;
#endif
#ifdef SPECULAR_MAP
  specFactor *= TEX_SPECULAR.a;
#endif
#ifdef SPECULAR_COLOR_MAP
  specColor *= TEX_SPECULAR_COLOR.rgb;
#endif
  vec2 ab = texture(u_lut, vec2(nv, rough)).rg;
  vec3 f0D = min(vec3(u_extra.w) * specColor, vec3(1.0));
  vec3 specD = f0D * specFactor * ab.x + specFactor * ab.y;
  vec3 specM = base.rgb * ab.x + ab.y;
#ifdef IRIDESCENCE
  // the film's reflectance replaces F0 x A + B (the Sample Viewer's choice), weighted by the iridescence factor
  float film = u_film.x;
  float film_nm = u_film.w;
#ifdef IRIDESCENCE_MAP
  film *= TEX_IRIDESCENCE.r;
#endif
#ifdef IRIDESCENCE_THICKNESS_MAP
  film_nm = mix(u_film.z, u_film.w, TEX_IRIDESCENCE_THICKNESS.g);
#endif
  if (film_nm > 0.0) {
    if (metallic < 1.0) specD = mix(specD, film_fresnel(u_film.y, nv, film_nm, f0D) * specFactor, film);
    if (metallic > 0.0) specM = mix(specM, film_fresnel(u_film.y, nv, film_nm, base.rgb), film);
  }
#endif
  vec3 specW = mix(specD, specM, metallic);
#ifdef ANISOTROPY
  // KHR_materials_anisotropy on the IBL lobe: the reflection of a normal bent towards the plane that holds the
  // anisotropy bitangent and the view (Filament, glTF Sample Viewer), so a highlight stretches along the
  // anisotropy direction (the tangent rotated by anisotropyRotation, or the texture's RG).
  vec2 aDir = u_aniso.xy;
  float aStrength = u_aniso.z;
#ifdef ANISOTROPY_MAP
  vec3 aTex = TEX_ANISOTROPY.rgb;
  aDir = mat2(u_aniso.x, u_aniso.y, -u_aniso.y, u_aniso.x) * (aTex.rg * 2.0 - 1.0);
  aStrength *= aTex.b;
#endif
  vec3 aT = t * aDir.x + b * aDir.y;
  aT = normalize(aT - n * dot(n, aT) + 1e-6 * t);
  vec3 aB = cross(n, aT);
  float bend = 1.0 - aStrength * (1.0 - rough);
  bend *= bend;
  vec3 bentN = normalize(mix(cross(cross(aB, v), aB), n, bend * bend));
  r = reflect(-v, bentN);
#endif
  vec3 spec = textureLod(u_specEnv, mat3(u_envRot) * r, rough * u_envInfo.x).rgb * specW;
  vec3 irradiance = texture(u_irrEnv, mat3(u_envRot) * n).rgb;
  vec3 diffuse = irradiance * base.rgb * (1.0 - metallic) * (1.0 - specD);
#ifdef TRANSMISSION
  float trans = u_extra.z;
#ifdef TRANSMISSION_MAP
  trans *= TEX_TRANSMISSION.r;
#endif
  // ior back from f0 = ((ior - 1) / (ior + 1))^2; rougher transmission for a stronger refraction (Sample Viewer)
  float sf0 = sqrt(u_extra.w);
  float ior = (1.0 + sf0) / max(1.0 - sf0, 1e-3);
  float tRough = rough * clamp(ior * 2.0 - 2.0, 0.0, 1.0);
  vec3 tDir = -v;  // thin-walled: the light goes straight through
  vec3 transmittance = vec3(1.0);
#ifdef VOLUME
  tDir = refract(-v, n, 1.0 / max(ior, 1.0));
  float thickness = 1.0;
#ifdef THICKNESS_MAP
  thickness = TEX_THICKNESS.g;
#endif
  // Beer-Lambert over the thickness (in the model's units, as if in metres): attenuationColor at the distance
  transmittance = exp(log(max(u_volume.rgb, vec3(1e-4))) * (u_volume.w * thickness));
#endif
#ifdef DISPERSION
  // KHR_materials_dispersion: one refraction per channel, iors spread by the Abbe number (Sample Viewer)
  float spread = (ior - 1.0) * 0.025 * u_dispersion.x;
  vec3 through = vec3(
      textureLod(u_specEnv, mat3(u_envRot) * refract(-v, n, 1.0 / max(ior - spread, 1.0)), tRough * u_envInfo.x).r,
      textureLod(u_specEnv, mat3(u_envRot) * tDir, tRough * u_envInfo.x).g,
      textureLod(u_specEnv, mat3(u_envRot) * refract(-v, n, 1.0 / (ior + spread)), tRough * u_envInfo.x).b);
  through *= base.rgb * transmittance;
#else
  vec3 through = textureLod(u_specEnv, mat3(u_envRot) * tDir, tRough * u_envInfo.x).rgb * base.rgb * transmittance;
#endif
  diffuse = mix(diffuse, through * (1.0 - specD), trans * (1.0 - metallic));
#endif
#ifdef OCCLUSION_MAP
  float ao = 1.0 + u_mr.w * (TEX_OCCLUSION.r - 1.0);
  diffuse *= ao;
  spec *= clamp(pow(nv + ao, exp2(-16.0 * rough - 1.0)) - 1.0 + ao, 0.0, 1.0);
#endif
  vec3 color = diffuse + spec;
#ifdef SHEEN
  // KHR_materials_sheen (Charlie): light from the irradiance around n, weighted by the lobe's albedo, which is
  // small facing the viewer and large at grazing angles; the base layer loses what the sheen reflects.
  vec3 sheenColor = u_sheen.rgb;
  float sheenRough = u_sheen.w;
#ifdef SHEEN_COLOR_MAP
  sheenColor *= TEX_SHEEN_COLOR.rgb;
#endif
#ifdef SHEEN_ROUGHNESS_MAP
  sheenRough *= TEX_SHEEN_ROUGHNESS.a;
#endif
  float sheenE = sheen_albedo(nv, clamp(sheenRough, 0.07, 1.0));
  color = color * (1.0 - max(sheenColor.r, max(sheenColor.g, sheenColor.b)) * sheenE)
          + irradiance * sheenColor * sheenE;
#endif
  color *= u_envInfo.y;
#ifdef CLEARCOAT
  // KHR_materials_clearcoat: a GGX lobe (F0 0.04) on the coat's own normal (its normal texture, else the
  // geometric normal), over the base dimmed by the coat's Fresnel.
  float coat = u_extra.x;
  float cRough = u_extra.y;
#ifdef CLEARCOAT_MAP
  coat *= TEX_CLEARCOAT.r;
#endif
#ifdef CLEARCOAT_ROUGHNESS_MAP
  cRough *= TEX_CLEARCOAT_ROUGHNESS.g;
#endif
  vec3 cn = ng;
#ifdef CLEARCOAT_NORMAL_MAP
  vec3 ctn = TEX_CLEARCOAT_NORMAL.xyz * 2.0 - 1.0;
  ctn.xy *= u_aniso.w;
  cn = normalize(t * ctn.x + b * ctn.y + ng * ctn.z);
#endif
  cRough = clamp(cRough, 0.03, 1.0);
  float cnv = clamp(dot(cn, v), 1e-3, 1.0);
  vec2 cab = texture(u_lut, vec2(cnv, cRough)).rg;
  float cFresnel = 0.04 + 0.96 * pow(1.0 - cnv, 5.0);
  vec3 cspec = textureLod(u_specEnv, mat3(u_envRot) * reflect(-v, cn), cRough * u_envInfo.x).rgb
               * (0.04 * cab.x + cab.y);
  color = color * (1.0 - coat * cFresnel) + coat * cspec * u_envInfo.y;
#endif
  vec3 emissive = u_emissive.rgb;
#ifdef EMISSIVE_MAP
  emissive *= TEX_EMISSIVE.rgb;
#endif
  color += emissive;
  float alpha = base.a;
#ifdef TRANSMISSION
  alpha = max(alpha * (1.0 - trans * (1.0 - metallic)), max(specW.r, max(specW.g, specW.b)));
  // The frame behind blends in without a tint (premultiplied alpha cannot tint it): the more the base colour
  // and the volume absorb, the more of the pixel is the tinted environment seen through instead.
  vec3 tint = base.rgb * transmittance;
  alpha = 1.0 - (1.0 - alpha) * mix(1.0, min(tint.r, min(tint.g, tint.b)), trans * (1.0 - metallic));
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


GEM_MAX_PLANES = 96
"""Facets of the largest stone the gem path draws (a round brilliant with a faceted girdle has 73)."""
GEM_BOUNCES = 6
"""Facets a ray meets inside a stone before the rest of its light is taken from the soft environment."""
GEM_OBSERVER = 0.9
"""How much of the light from right behind the camera the observer's head hides from a stone (its contrast)."""
GEM_OBSERVER_DEG = (18.0, 30.0)
"""The observer's shadow: full within the first angle from the direction to the camera, none past the second."""


def _with_defines(source: str, defines: Iterable[str]) -> str:
    if "GEM" in defines:
        defines = [*defines, f"GEM_MAX_PLANES={GEM_MAX_PLANES}", f"GEM_BOUNCES={GEM_BOUNCES}",
                   f"GEM_OBSERVER={GEM_OBSERVER}",
                   f"GEM_OBSERVER_COS=vec2({math.cos(math.radians(GEM_OBSERVER_DEG[1]))},"
                   f"{math.cos(math.radians(GEM_OBSERVER_DEG[0]))})"]
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
