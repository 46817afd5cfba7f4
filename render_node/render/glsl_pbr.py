"""The PBR shader's GLSL (render_node/render/shaders.py compiles its variants): the vertex shader and the single-pass
metallic-roughness fragment shader with image-based lighting and the material extensions; the extensions' larger
functions are in glsl_lobes.py."""

from __future__ import annotations

from render_node.render.glsl_common import COMMON_FRAG as _COMMON_FRAG
from render_node.render.glsl_lights import PUNCTUAL
from render_node.render.glsl_lobes import LOBES

_PBR_FLAGS = """
#if defined(NORMAL_MAP) || defined(ANISOTROPY) || defined(CLEARCOAT_NORMAL_MAP)
#define NEEDS_TBN
#endif
#if defined(NEEDS_TBN) && !defined(HAS_TANGENT)
#define COTANGENT_FRAME
#endif
#if defined(COTANGENT_FRAME) || defined(PUNCTUAL_LIGHTS)
#define NEEDS_POS
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
#ifdef NEEDS_POS
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
#if defined(GEM) || defined(FLAKES) || defined(BRUSH)
out vec3 v_objPos;
#endif
#ifdef GEM
uniform mat4 p3d_ModelViewMatrixInverse;
out vec3 v_objView;  // object space: from the camera to the vertex
out vec3 v_objNrm;
#endif
void main() {
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  vec3 pos = (p3d_ModelMatrix * p3d_Vertex).xyz;
  vec3 camPos = -transpose(mat3(p3d_ViewMatrix)) * p3d_ViewMatrix[3].xyz;
  v_toCam = camPos - pos;
#ifdef NEEDS_POS
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
#if defined(GEM) || defined(FLAKES) || defined(BRUSH)
  v_objPos = p3d_Vertex.xyz;
#endif
#ifdef GEM
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
#ifdef NEEDS_POS
in vec3 v_pos;
#endif
#if defined(GEM) || defined(FLAKES) || defined(BRUSH)
in vec3 v_objPos;
#endif
#ifdef BRUSH
uniform vec4 u_brush;  // a brushed finish's streaks: 1 / spacing (per metre), contrast, -, -
uniform vec4 u_brushAxis;  // the band's axis (object space), -
uniform vec4 u_brushCentre;  // the band's centre (object space), -
#endif
#ifdef FLAKES
uniform vec4 u_flakes;  // metallic paint's flakes: 1 / spacing (per metre), density, tilt, roughness
#endif
#ifdef GEM
uniform vec4 u_gemPlanes[GEM_MAX_PLANES];  // the stone's facets, object space: outward normal, offset (n.p = d)
uniform vec4 u_gem;  // refractive index of red, green, blue light; number of facets
uniform vec4 u_gemAbsorb;  // absorption per metre of red, green, blue light; -
uniform mat4 p3d_ModelMatrix;
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
"""
    + LOBES
    + PUNCTUAL
    + """
void main() {
#ifdef GEM
  {
    vec3 toCam = normalize(v_toCam);
    vec3 d0 = normalize(v_objView);
    vec3 gn = normalize(v_objNrm);
    float c0 = clamp(-dot(d0, gn), 1e-4, 1.0);
    float fFront = fresnel_exact(c0, u_gem.y);
    vec3 color = fFront * gem_env(reflect(d0, gn), 0.0, toCam);
    vec3 inside;
    if (u_gem.x == u_gem.z) {
      inside = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.y), u_gem.y, toCam);
    } else {
      inside.r = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.x), u_gem.x, toCam).r;
      inside.g = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.y), u_gem.y, toCam).g;
      inside.b = gem_trace(v_objPos, refract(d0, gn, 1.0 / u_gem.z), u_gem.z, toCam).b;
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
#ifdef BRUSH
  // a brushed finish's streaks round the band (glsl_lobes.py), as deep as the finish's anisotropy
  spec *= 1.0 + u_brush.y * clamp(aStrength / 0.85, 0.0, 1.0) * brush_streaks(v_objPos, u_brush.x);
#endif
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
#ifdef FLAKES
  // metallic paint (glsl_lobes.py): mirror-like flakes in the base coat, tinted by the pigment around them, each
  // reflecting the environment along its own tilted normal where they cover pixels; where they are smaller than
  // a pixel, their average: the environment blurred by their spread of tilts over the share they cover
  vec3 flakeN;
  float flakeCover, flakeW;
#ifdef FLAKES_AVERAGE
  flakeN = n;
  flakeCover = 0.0;
  flakeW = 0.0;  // the baker's sphere: the average only (docs/rendering.md, "Metallic paint")
#else
  flake_at(v_objPos * u_flakes.x, n, flakeN, flakeCover, flakeW);
#endif
  vec3 flakeColor = mix(base.rgb, vec3(0.95), 0.2);
  float flakeRough = clamp(u_flakes.w, 0.03, 1.0);
  float flakeSpread = min(1.0, sqrt(flakeRough * flakeRough + 2.0 * u_flakes.z * u_flakes.z));
  float flakeAvg = FLAKE_COVER * u_flakes.y * (1.0 - flakeW);
  float flakeShare = flakeAvg + flakeCover * flakeW;
  // one environment fetch: along the flake's own mirror direction in a flake, else the blurred average (a CPU
  // rasteriser runs both sides of a branch, so a second fetch would cost every painted pixel)
  bool inFlake = flakeCover * flakeW > 0.0;
  vec3 flakeDir = inFlake ? reflect(-v, flakeN) : r;
  float flakeLod = inFlake ? flakeRough : flakeSpread;
  vec3 flakeLight = flakeShare * textureLod(u_specEnv, mat3(u_envRot) * flakeDir, flakeLod * u_envInfo.x).rgb;
  color = color * (1.0 - flakeShare) + flakeLight * flakeColor;
#endif
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
#ifdef PUNCTUAL_LIGHTS
  // KHR_lights_punctual (glsl_lights.py): direct light by the Sample Viewer's BRDF, Lambert diffuse + GGX with
  // the Fresnel of the ior and KHR_materials_specular (metals: the base colour), under a sheen; not scaled by the
  // environment's intensity (the frame's exposure and tone map apply to it as to the rest).
  {
    float alpha = rough * rough;
    float diffuseW = (1.0 - metallic) / 3.14159265;
#ifdef TRANSMISSION
    diffuseW *= 1.0 - trans;  // what a light sends through the surface is not drawn
#endif
    vec3 direct = vec3(0.0);
    for (int i = 0; i < PUNCTUAL_MAX; ++i) {
      if (float(i) >= u_lightCount.x) break;
      vec3 l;
      vec3 li = light_in(i, v_pos, l);
      float nl = dot(n, l);
      if (nl <= 0.0) continue;
      vec3 h = normalize(l + v);
      float vh = clamp(dot(v, h), 0.0, 1.0);
      float nh = clamp(dot(n, h), 0.0, 1.0);
      vec3 fD = schlick3(f0D * specFactor, vec3(specFactor), vh);
      vec3 fM = schlick3(base.rgb, vec3(1.0), vh);
      vec3 lit = (1.0 - fD) * base.rgb * diffuseW + mix(fD, fM, metallic) * ggx_dv(nl, nv, nh, alpha);
#ifdef SHEEN
      float sheenMax = max(sheenColor.r, max(sheenColor.g, sheenColor.b));
      float sr = clamp(sheenRough, 0.07, 1.0);
      lit = lit * (1.0 - sheenMax * max(sheenE, sheen_albedo(nl, sr))) + sheenColor * sheen_dv(nl, nv, nh, sr);
#endif
#ifdef FLAKES
      // the flakes under the light: one by one (a narrow GGX lobe on each flake's normal), else their average
      // (a lobe as wide as their spread of tilts); the paint under them loses what they cover
      float fnl = dot(flakeN, l);
      lit = lit * (1.0 - flakeShare) + flakeColor * flakeAvg * ggx_dv(nl, nv, nh, flakeSpread * flakeSpread);
      if (fnl > 0.0 && flakeCover * flakeW > 0.0)
        direct += li * fnl * flakeColor * flakeCover * flakeW
                  * ggx_dv(fnl, clamp(dot(flakeN, v), 1e-3, 1.0), clamp(dot(flakeN, h), 0.0, 1.0), flakeRough * flakeRough);
#endif
      direct += li * nl * lit;
    }
    color += direct;
  }
#endif
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
#ifdef PUNCTUAL_LIGHTS
  vec3 coatDirect = vec3(0.0);  // the coat's GGX lobe under the lights, weighted by its Fresnel as the IBL's
  for (int i = 0; i < PUNCTUAL_MAX; ++i) {
    if (float(i) >= u_lightCount.x) break;
    vec3 l;
    vec3 li = light_in(i, v_pos, l);
    float nl = dot(cn, l);
    if (nl > 0.0) coatDirect += li * nl * ggx_dv(nl, cnv, clamp(dot(cn, normalize(l + v)), 0.0, 1.0), cRough * cRough);
  }
  color += coat * cFresnel * coatDirect;
#endif
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
