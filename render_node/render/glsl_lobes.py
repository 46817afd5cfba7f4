"""GLSL functions of the PBR shader's material extensions that need more than a line or two: the sheen lobe's
albedo, the iridescent thin film's Fresnel, metallic paint's flakes and the cut stone's trace (docs/rendering.md,
"Material extensions", "Metallic paint" and "Gemstones"); each compiled only into the variants whose #define asks for it (render_node/render/glsl_pbr.py)."""

from __future__ import annotations

GEM_MAX_PLANES = 96
"""Facets of the largest stone the gem path draws (a round brilliant with a faceted girdle has 73)."""
GEM_BOUNCES = 6
"""Facets a ray meets inside a stone before the rest of its light is taken from the soft environment."""
GEM_OBSERVER = 0.9
"""How much of the light from right behind the camera the observer's head hides from a stone (its contrast)."""
GEM_OBSERVER_DEG = (18.0, 30.0)
"""The observer's shadow: full within the first angle from the direction to the camera, none past the second."""
FLAKE_RADIUS = 0.3
"""A paint flake's radius in its cell (a sphere round a point jittered by +-0.2 cells: it never leaves the cell)."""
FLAKE_COVER = 4.0 / 3.0 * 3.14159265 * FLAKE_RADIUS**3
"""Share of a surface the flakes of a cell cover when every cell has one (a plane's slices of the spheres)."""
FLAKE_FRAME = (
    (0.5731, -0.6090, 0.5483),
    (0.7403, 0.6716, -0.0279),
    (-0.3513, 0.4219, 0.8358),
)
"""Rows of the rotation from object space to the flakes' lattice (about (1, 2, 3) by 1 radian): the cells' faces
are oblique to every axis-aligned panel, so a flat roof cuts its flakes at varied depths (varied sizes), never
along a face of the lattice (where it would cut none)."""
FLAKE_RESOLVE = (0.3, 1.0)
"""Pixel footprint in cells below which the flakes are drawn one by one, above which as their average glow."""

LOBES = """
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

#ifdef FLAKES
// Metallic paint's flakes (docs/rendering.md, "Metallic paint"): object space is cut into cubes of the flake
// spacing (q is the object position in cubes, turned by FLAKE_FRAME); a share (density) of them holds a flake, a sphere of FLAKE_RADIUS
// round a jittered point whose slice by the surface is the flake, its normal the surface's tilted at random.
// `cover` is how much of the pixel it covers (antialiased over the pixel's footprint), `resolved` how far the
// flakes are drawn one by one (1) rather than as their average (0): no shimmer where they are under a pixel.
uvec3 flake_hash(uvec3 v) {  // pcg3d (Jarzynski & Olano 2020)
  v = v * 1664525u + 1013904223u;
  v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
  v ^= v >> 16u;
  v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
  return v;
}

void flake_at(vec3 q, vec3 n, out vec3 flakeN, out float cover, out float resolved) {
  q = FLAKE_FRAME * q;
  float footprint = max(length(fwidth(q)), 1e-6);
  resolved = 1.0 - smoothstep(FLAKE_RESOLVE.x, FLAKE_RESOLVE.y, footprint);
  flakeN = n;
  cover = 0.0;
  if (resolved <= 0.0) return;  // under a pixel: their average only
  vec3 cell = floor(q);
  uvec3 h = flake_hash(uvec3(ivec3(cell) + 1048576));
  vec3 jitter = vec3(h & 0xffffu) / 65535.0;
  vec3 tilt = vec3(h >> 16u) / 32767.5 - 1.0;
  float present = float(flake_hash(h).x & 0xffffu) / 65535.0 < u_flakes.y ? 1.0 : 0.0;
  float d = length(q - (cell + 0.5 + (jitter - 0.5) * 0.4));
  cover = present * (1.0 - smoothstep(FLAKE_RADIUS - 0.5 * footprint, FLAKE_RADIUS + 0.5 * footprint, d));
  flakeN = normalize(n + u_flakes.z * (tilt - n * dot(n, tilt)));
}
#endif

#ifdef BRUSH
// A brushed finish (docs/rendering.md, "Finishes"): streaks of varied depth round a band, made of value noise over
// the distance from the band's axis plus the height along it (constant along each circle about the axis, so each
// streak runs round the band), in four octaves from `perMetre` (1 / the widest streak's spacing) up, each fading
// out as it nears the pixel's footprint (no aliasing); about -1..1.
float brush_hash(float i) {
  uint v = uint(int(i) + 1048576) * 747796405u + 2891336453u;
  v = ((v >> ((v >> 28u) + 4u)) ^ v) * 277803737u;
  return float((v >> 22u) ^ v) / 4294967295.0;
}

float brush_streaks(vec3 objPos, float perMetre) {
  vec3 q = objPos - u_brushCentre.xyz;
  float h = dot(q, u_brushAxis.xyz);
  float c = (h + length(q - u_brushAxis.xyz * h)) * perMetre;
  float fw = fwidth(c);
  float sum = 0.0, norm = 0.0, amp = 1.0, f = 1.0;
  for (int o = 0; o < 4; ++o) {
    float x = c * f + 17.0 * float(o);
    float i = floor(x);
    float t = x - i;
    t = t * t * (3.0 - 2.0 * t);
    sum += amp * (1.0 - smoothstep(0.25, 0.6, fw * f)) * (mix(brush_hash(i), brush_hash(i + 1.0), t) * 2.0 - 1.0);
    norm += amp;
    amp *= 0.6;
    f *= 2.7;
  }
  return sum / norm * 1.6;
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
// hides: light that would come from right behind the eye (GEM_OBSERVER_DEG from toCam, the world direction to the
// camera) is blocked by the viewer's head or the camera, which gives a stone its dark contrast pattern (the arrows).
vec3 gem_env(vec3 objDir, float lod, vec3 toCam) {
  vec3 w = normalize(mat3(p3d_ModelMatrix) * objDir);
  float observer = 1.0 - GEM_OBSERVER * smoothstep(GEM_OBSERVER_COS.x, GEM_OBSERVER_COS.y, dot(w, toCam));
  return textureLod(u_specEnv, mat3(u_envRot) * w, lod).rgb * observer;
}

// Light that leaves the stone towards the eye, traced backwards from the entry point `p` along the refracted
// direction `d` (object space) for a refractive index `ior`; toCam as gem_env's.
vec3 gem_trace(vec3 p, vec3 d, float ior, vec3 toCam) {
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
    if (f < 1.0) light += through * (1.0 - f) * gem_env(refract(d, -nExit, ior), 0.0, toCam);
    through *= f;
    d = reflect(d, nExit);
  }
  // what is still inside after the last bounce: the environment's soft light along the last direction
  return light + through * gem_env(d, 3.0, toCam);
}
#endif
"""
