"""GLSL of KHR_lights_punctual in the PBR shader (`#define PUNCTUAL_LIGHTS`; uniforms from lights.py): each
light's incoming intensity (the extension's units and recommended falloffs) and the Sample Viewer's BRDF for
direct light: GGX (Trowbridge-Reitz D, height-correlated Smith V) specular, Lambert diffuse, Schlick Fresnel, the
Charlie sheen lobe and the clearcoat's GGX lobe (docs/rendering.md, "Punctual lights")."""

from __future__ import annotations

MAX_PUNCTUAL_LIGHTS = 8
"""Lights a model's shader draws (PUNCTUAL_MAX); the rest of a file's lights are ignored."""

PUNCTUAL = f"""
#ifdef PUNCTUAL_LIGHTS
#define PUNCTUAL_MAX {MAX_PUNCTUAL_LIGHTS}
uniform vec4 u_lightCount;  // lights in use, -, -, -
uniform vec4 u_lightPos[PUNCTUAL_MAX];  // world position, kind (0 directional, 1 point, 2 spot)
uniform vec4 u_lightDir[PUNCTUAL_MAX];  // the world direction it shines (the node's -Z), range in metres (0: none)
uniform vec4 u_lightColor[PUNCTUAL_MAX];  // colour x intensity: lux (directional) or candela (point, spot)
uniform vec4 u_lightCone[PUNCTUAL_MAX];  // spot: scale, offset of cos(angle) (the extension's), -, -
""" + """
// The light arriving at world point p from light i, as illuminance on a surface facing it (lux), and the unit
// direction l towards the light: point and spot lights fall off by the inverse square of the distance, windowed
// by the range (the extension's clamp(1 - (d / range)^4, 0, 1)); a spot's cone fades smoothly from the inner to
// the outer angle (clamp(cos x scale + offset, 0, 1)^2).
vec3 light_in(int i, vec3 p, out vec3 l) {
  vec4 pos = u_lightPos[i];
  vec4 dir = u_lightDir[i];
  if (pos.w < 0.5) {
    l = -dir.xyz;
    return u_lightColor[i].rgb;
  }
  vec3 toLight = pos.xyz - p;
  float d2 = max(dot(toLight, toLight), 1e-8);
  l = toLight * inversesqrt(d2);
  float falloff = 1.0 / d2;
  if (dir.w > 0.0) {
    float q = d2 / (dir.w * dir.w);
    falloff *= clamp(1.0 - q * q, 0.0, 1.0);
  }
  if (pos.w > 1.5) {
    float cone = clamp(dot(dir.xyz, -l) * u_lightCone[i].x + u_lightCone[i].y, 0.0, 1.0);
    falloff *= cone * cone;
  }
  return u_lightColor[i].rgb * falloff;
}

// GGX specular without its Fresnel: D x V (Trowbridge-Reitz, height-correlated Smith), alpha = roughness^2.
float ggx_dv(float nl, float nv, float nh, float alpha) {
  float a2 = alpha * alpha;
  float f = nh * nh * (a2 - 1.0) + 1.0;
  float d = a2 / (3.14159265 * f * f);
  float g = nl * sqrt(nv * nv * (1.0 - a2) + a2) + nv * sqrt(nl * nl * (1.0 - a2) + a2);
  return g > 0.0 ? d * 0.5 / g : 0.0;
}

vec3 schlick3(vec3 f0, vec3 f90, float c) {
  return f0 + (f90 - f0) * pow(clamp(1.0 - c, 0.0, 1.0), 5.0);
}

#ifdef SHEEN
// The Charlie sheen lobe for direct light (Estevez & Kulla 2017, as the Sample Viewer evaluates it).
float sheen_lambda_fit(float x, float alphaG) {
  float s = (1.0 - alphaG) * (1.0 - alphaG);
  return mix(21.5473, 25.3245, s) / (1.0 + mix(3.82987, 3.32435, s) * pow(x, mix(0.19823, 0.16801, s)))
         + mix(-1.97760, -1.27393, s) * x + mix(-4.32054, -4.85967, s);
}

float sheen_lambda(float c, float alphaG) {
  return abs(c) < 0.5 ? exp(sheen_lambda_fit(c, alphaG))
                      : exp(2.0 * sheen_lambda_fit(0.5, alphaG) - sheen_lambda_fit(1.0 - c, alphaG));
}

float sheen_dv(float nl, float nv, float nh, float sheenRough) {
  float alphaG = max(sheenRough * sheenRough, 1e-6);
  float invR = 1.0 / alphaG;
  float d = (2.0 + invR) * pow(max(1.0 - nh * nh, 0.0), invR * 0.5) / 6.28318531;
  float vis = clamp(1.0 / ((1.0 + sheen_lambda(nv, alphaG) + sheen_lambda(nl, alphaG)) * (4.0 * nv * nl)), 0.0, 1.0);
  return d * vis;
}
#endif
#endif
"""
