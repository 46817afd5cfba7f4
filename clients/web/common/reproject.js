// Rotational reprojection (WebGL2): each display frame draws the newest stream frame WORLD-LOCKED. For every
// screen pixel the fragment shader forms the ray of the CURRENT head orientation (through the display's inverse
// projection), turns it into the orientation the frame was rendered for (the pose sent with the frame's seq),
// projects it with the render intrinsics (vertical fov = welcome.hall.render_fov_deg, the frame's eye aspect) and
// samples the frame; rays outside the frame (beyond the overscan) get a warm neutral close to the hall's walls,
// never black. A head turn is answered at the display's rate whatever the stream's latency; only positional
// parallax waits for the next frame. With `reproject: false` the frame is drawn head-locked (the old way), which
// the browser test uses to show the difference.

import { mat3FromQuat, quatConj, quatMul } from "./hall.js";

/** Linear-ish sRGB of the hall's warm walls: what lies beyond the rendered frame. */
export const OUTSIDE_RGB = [0.84, 0.79, 0.71];
/** What a teleport fades through (a dim warm tone, not black). */
export const FADE_RGB = [0.23, 0.2, 0.17];

const VS = `#version 300 es
in vec2 aPos;
out vec2 vNdc;
void main() { vNdc = aPos; gl_Position = vec4(aPos, 0.0, 1.0); }`;

const FS = `#version 300 es
precision highp float;
in vec2 vNdc;
uniform mat4 uInvProj;   // display projection, inverted: NDC -> display-camera space
uniform mat3 uRel;       // display-camera directions -> render-camera directions
uniform vec2 uTanHalf;   // tan of the render frame's half angles (x, y)
uniform vec4 uUv;        // u0, u width of this eye in the texture, half-texel clamp (u), (v)
uniform sampler2D uTex;
uniform float uHasFrame;
uniform vec3 uOutside;
uniform vec3 uFadeColor;
uniform float uFade;
out vec4 outColor;
void main() {
  vec4 p = uInvProj * vec4(vNdc, -1.0, 1.0);
  vec3 d = uRel * (p.xyz / p.w);
  vec3 c = uOutside;
  if (uHasFrame > 0.5 && d.z < -1e-6) {
    vec2 s = (d.xy / -d.z) / uTanHalf;
    float m = max(abs(s.x), abs(s.y));
    if (m <= 1.0) {
      float u = clamp(uUv.x + (s.x * 0.5 + 0.5) * uUv.y, uUv.x + uUv.z, uUv.x + uUv.y - uUv.z);
      float v = clamp(0.5 - s.y * 0.5, uUv.w, 1.0 - uUv.w);
      vec3 f = texture(uTex, vec2(u, v)).rgb;
      c = mix(uOutside, f, smoothstep(1.0, 0.985, m));
    }
  }
  outColor = vec4(mix(c, uFadeColor, uFade), 1.0);
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
  return s;
}

/** Column-major OpenGL perspective projection (vertical fov in degrees). */
export function perspective(fovYDeg, aspect, near = 0.05, far = 100) {
  const f = 1 / Math.tan((fovYDeg * Math.PI) / 360);
  const nf = 1 / (near - far);
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
}

/** Inverse of a column-major 4x4 matrix (Float32Array(16)); null when singular. */
export function invert4(m) {
  const inv = new Float32Array(16);
  const a = m;
  inv[0] = a[5] * a[10] * a[15] - a[5] * a[11] * a[14] - a[9] * a[6] * a[15] + a[9] * a[7] * a[14] + a[13] * a[6] * a[11] - a[13] * a[7] * a[10];
  inv[4] = -a[4] * a[10] * a[15] + a[4] * a[11] * a[14] + a[8] * a[6] * a[15] - a[8] * a[7] * a[14] - a[12] * a[6] * a[11] + a[12] * a[7] * a[10];
  inv[8] = a[4] * a[9] * a[15] - a[4] * a[11] * a[13] - a[8] * a[5] * a[15] + a[8] * a[7] * a[13] + a[12] * a[5] * a[11] - a[12] * a[7] * a[9];
  inv[12] = -a[4] * a[9] * a[14] + a[4] * a[10] * a[13] + a[8] * a[5] * a[14] - a[8] * a[6] * a[13] - a[12] * a[5] * a[10] + a[12] * a[6] * a[9];
  inv[1] = -a[1] * a[10] * a[15] + a[1] * a[11] * a[14] + a[9] * a[2] * a[15] - a[9] * a[3] * a[14] - a[13] * a[2] * a[11] + a[13] * a[3] * a[10];
  inv[5] = a[0] * a[10] * a[15] - a[0] * a[11] * a[14] - a[8] * a[2] * a[15] + a[8] * a[3] * a[14] + a[12] * a[2] * a[11] - a[12] * a[3] * a[10];
  inv[9] = -a[0] * a[9] * a[15] + a[0] * a[11] * a[13] + a[8] * a[1] * a[15] - a[8] * a[3] * a[13] - a[12] * a[1] * a[11] + a[12] * a[3] * a[9];
  inv[13] = a[0] * a[9] * a[14] - a[0] * a[10] * a[13] - a[8] * a[1] * a[14] + a[8] * a[2] * a[13] + a[12] * a[1] * a[10] - a[12] * a[2] * a[9];
  inv[2] = a[1] * a[6] * a[15] - a[1] * a[7] * a[14] - a[5] * a[2] * a[15] + a[5] * a[3] * a[14] + a[13] * a[2] * a[7] - a[13] * a[3] * a[6];
  inv[6] = -a[0] * a[6] * a[15] + a[0] * a[7] * a[14] + a[4] * a[2] * a[15] - a[4] * a[3] * a[14] - a[12] * a[2] * a[7] + a[12] * a[3] * a[6];
  inv[10] = a[0] * a[5] * a[15] - a[0] * a[7] * a[13] - a[4] * a[1] * a[15] + a[4] * a[3] * a[13] + a[12] * a[1] * a[7] - a[12] * a[3] * a[5];
  inv[14] = -a[0] * a[5] * a[14] + a[0] * a[6] * a[13] + a[4] * a[1] * a[14] - a[4] * a[2] * a[13] - a[12] * a[1] * a[6] + a[12] * a[2] * a[5];
  inv[3] = -a[1] * a[6] * a[11] + a[1] * a[7] * a[10] + a[5] * a[2] * a[11] - a[5] * a[3] * a[10] - a[9] * a[2] * a[7] + a[9] * a[3] * a[6];
  inv[7] = a[0] * a[6] * a[11] - a[0] * a[7] * a[10] - a[4] * a[2] * a[11] + a[4] * a[3] * a[10] + a[8] * a[2] * a[7] - a[8] * a[3] * a[6];
  inv[11] = -a[0] * a[5] * a[11] + a[0] * a[7] * a[9] + a[4] * a[1] * a[11] - a[4] * a[3] * a[9] - a[8] * a[1] * a[7] + a[8] * a[3] * a[5];
  inv[15] = a[0] * a[5] * a[10] - a[0] * a[6] * a[9] - a[4] * a[1] * a[10] + a[4] * a[2] * a[9] + a[8] * a[1] * a[6] - a[8] * a[2] * a[5];
  let det = a[0] * inv[0] + a[1] * inv[4] + a[2] * inv[8] + a[3] * inv[12];
  if (Math.abs(det) < 1e-12) return null;
  det = 1 / det;
  for (let i = 0; i < 16; i++) inv[i] *= det;
  return inv;
}

const IDENTITY3 = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);

/** The full-screen reprojection pass on one WebGL2 context. */
export class Reprojector {
  constructor(gl) {
    this.gl = gl;
    const prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(prog)}`);
    this.prog = prog;
    this.u = {};
    for (const n of ["uInvProj", "uRel", "uTanHalf", "uUv", "uTex", "uHasFrame", "uOutside", "uFadeColor", "uFade"]) {
      this.u[n] = gl.getUniformLocation(prog, n);
    }
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 3, -1, -1, 3]), gl.STATIC_DRAW); // one big triangle
    const loc = gl.getAttribLocation(prog, "aPos");
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
    gl.bindVertexArray(null);
    this.tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, this.tex);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    this.size = null; // [w, h] of the uploaded frame
  }

  /** Uploads a decoded frame (ImageBitmap, VideoFrame, canvas); its pixels are copied, the source may be closed. */
  upload(image) {
    const gl = this.gl;
    const w = image.displayWidth || image.width;
    const h = image.displayHeight || image.height;
    gl.bindTexture(gl.TEXTURE_2D, this.tex);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, image);
    this.size = [w, h];
  }

  /**
   * Draws one eye into the bound framebuffer's `viewport` [x, y, w, h] (GL pixels).
   * invProj: the display projection, inverted (Float32Array(16), column-major);
   * displayQuat: the eye's orientation now, in the hall; renderQuat: the orientation the frame was rendered for;
   * renderFovDeg: the frame's vertical fov; eye/eyes: which half of a side-by-side frame; reproject: false draws
   * it head-locked; fade 0..1 towards FADE_RGB.
   */
  draw({ viewport, invProj, displayQuat, renderQuat, renderFovDeg, eye = 0, eyes = 1, reproject = true, fade = 0 }) {
    const gl = this.gl;
    gl.viewport(viewport[0], viewport[1], viewport[2], viewport[3]);
    gl.disable(gl.DEPTH_TEST);
    gl.disable(gl.BLEND);
    gl.useProgram(this.prog);
    gl.bindVertexArray(this.vao);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.tex);
    gl.uniform1i(this.u.uTex, 0);
    gl.uniformMatrix4fv(this.u.uInvProj, false, invProj);
    const has = !!(this.size && renderQuat);
    gl.uniform1f(this.u.uHasFrame, has ? 1 : 0);
    if (has) {
      const rel = reproject ? mat3FromQuat(quatMul(quatConj(renderQuat), displayQuat)) : IDENTITY3;
      gl.uniformMatrix3fv(this.u.uRel, false, rel);
      const [w, h] = this.size;
      const ty = Math.tan((renderFovDeg * Math.PI) / 360);
      gl.uniform2f(this.u.uTanHalf, ty * (w / eyes / h), ty);
      gl.uniform4f(this.u.uUv, eye / eyes, 1 / eyes, 0.5 / w, 0.5 / h);
    } else {
      gl.uniformMatrix3fv(this.u.uRel, false, IDENTITY3);
      gl.uniform2f(this.u.uTanHalf, 1, 1);
      gl.uniform4f(this.u.uUv, 0, 1, 0, 0);
    }
    gl.uniform3fv(this.u.uOutside, OUTSIDE_RGB);
    gl.uniform3fv(this.u.uFadeColor, FADE_RGB);
    gl.uniform1f(this.u.uFade, Math.max(0, Math.min(1, fade)));
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    gl.bindVertexArray(null);
  }
}
