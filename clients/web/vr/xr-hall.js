// The hall in a headset (WebXR immersive-vr). Every XR frame: the head pose (rig transform times the tracked
// pose) goes to the node, and each view draws the newest stream frame world-locked with its own projection and
// orientation (common/reproject.js), then the in-scene panel (a textured quad in the hall, painted by panel.js) and
// the teleport arc. Controllers: push the thumbstick forward to aim a parabolic arc at the floor, release to
// teleport there (the node checks the floor); left/right on the stick snap-turns 30 degrees; the trigger (select)
// picks along the controller ray: a product is brought to the stand, the floor is walked to. A gaze-only headset
// selects along the gaze the same way.

import { quatMul, quatRotate, quatYawPitch } from "../common/hall.js";
import { Reprojector, invert4 } from "../common/reproject.js";
import { paintPanel } from "./panel.js";

const ARC_SPEED_MPS = 7;
const GRAVITY = 9.8;
const PANEL_SIZE_M = [0.64, 0.4];

function mat4Mul(a, b) {
  const o = new Float32Array(16);
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 4; r++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
      o[c * 4 + r] = s;
    }
  }
  return o;
}

/** Column-major rig matrix: translate(rig.position) * rotateY(rig.yawDeg). */
function rigMatrix(rig) {
  const a = (rig.yawDeg * Math.PI) / 180;
  const c = Math.cos(a), s = Math.sin(a);
  const [x, y, z] = rig.position;
  return new Float32Array([c, 0, -s, 0, 0, 1, 0, 0, s, 0, c, 0, x, y, z, 1]);
}

function toHall(rig, p) {
  const r = quatRotate(quatYawPitch(rig.yawDeg), p);
  return [rig.position[0] + r[0], rig.position[1] + r[1], rig.position[2] + r[2]];
}

function program(gl, vs, fs) {
  const p = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    gl.attachShader(p, s);
  }
  gl.linkProgram(p);
  return p;
}

/** Dots in the hall (the arc, the ring at its end). */
function makeDots(gl) {
  const prog = program(gl, `#version 300 es
    in vec3 aPos; uniform mat4 uViewProj; uniform float uSize;
    void main() { gl_Position = uViewProj * vec4(aPos, 1.0); gl_PointSize = uSize; }`, `#version 300 es
    precision mediump float; uniform vec4 uColor; out vec4 color;
    void main() { vec2 d = gl_PointCoord - 0.5; if (dot(d, d) > 0.25) discard; color = uColor; }`);
  const buf = gl.createBuffer();
  const loc = gl.getAttribLocation(prog, "aPos");
  return {
    draw(viewProj, points, rgba, size) {
      if (!points.length) return;
      gl.useProgram(prog);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array(points.flat()), gl.DYNAMIC_DRAW);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 3, gl.FLOAT, false, 0, 0);
      gl.uniformMatrix4fv(gl.getUniformLocation(prog, "uViewProj"), false, viewProj);
      gl.uniform4fv(gl.getUniformLocation(prog, "uColor"), rgba);
      gl.uniform1f(gl.getUniformLocation(prog, "uSize"), size);
      gl.drawArrays(gl.POINTS, 0, points.length);
    },
  };
}

/** A textured quad in the hall (the panel). */
function makePanelQuad(gl) {
  const prog = program(gl, `#version 300 es
    in vec2 aPos; uniform mat4 uViewProj; uniform mat4 uModel; out vec2 vUv;
    void main() { vUv = vec2(aPos.x + 0.5, 0.5 - aPos.y); gl_Position = uViewProj * uModel * vec4(aPos, 0.0, 1.0); }`, `#version 300 es
    precision mediump float; in vec2 vUv; uniform sampler2D uTex; out vec4 color;
    void main() { color = texture(uTex, vUv); }`);
  const buf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5]), gl.STATIC_DRAW);
  const loc = gl.getAttribLocation(prog, "aPos");
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  return {
    upload(canvas) {
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, canvas);
    },
    draw(viewProj, model) {
      gl.useProgram(prog);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.uniform1i(gl.getUniformLocation(prog, "uTex"), 0);
      gl.uniformMatrix4fv(gl.getUniformLocation(prog, "uViewProj"), false, viewProj);
      gl.uniformMatrix4fv(gl.getUniformLocation(prog, "uModel"), false, model);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      gl.disable(gl.BLEND);
    },
  };
}

/** Where a parabola from `origin` along `dir` meets the floor (y = rig floor): the dots and the end point. */
function arcTo(origin, dir, floorY) {
  const pts = [];
  const v = [dir[0] * ARC_SPEED_MPS, dir[1] * ARC_SPEED_MPS, dir[2] * ARC_SPEED_MPS];
  for (let i = 1; i < 80; i++) {
    const t = i * 0.03;
    const p = [origin[0] + v[0] * t, origin[1] + v[1] * t - 0.5 * GRAVITY * t * t, origin[2] + v[2] * t];
    if (p[1] <= floorY) {
      const end = [p[0], floorY, p[2]];
      pts.push(end);
      return { pts, end };
    }
    pts.push(p);
  }
  return { pts, end: null };
}

/**
 * Starts the immersive session on the page's hall view; resolves to {repaintPanel, placePanel, end} (the page
 * calls repaintPanel when the panel's content changes and placePanel when a product is focused).
 */
export async function enterHallXr({ view, state, panelContent }) {
  const session = await navigator.xr.requestSession("immersive-vr", { optionalFeatures: ["local-floor"] });
  const canvas = document.createElement("canvas");
  const gl = canvas.getContext("webgl2", { xrCompatible: true, alpha: false }); // compatible from the start
  session.updateRenderState({ baseLayer: new XRWebGLLayer(session, gl) });
  let ref;
  let floorRef = true;
  try {
    ref = await session.requestReferenceSpace("local-floor");
  } catch (_) {
    ref = await session.requestReferenceSpace("local"); // the origin at the head: lift it to eye height
    floorRef = false;
  }
  const client = view.client;
  const reproj = new Reprojector(gl);
  const dots = makeDots(gl);
  const quad = makePanelQuad(gl);
  const panelCanvas = document.createElement("canvas");
  panelCanvas.width = 1024;
  panelCanvas.height = 640;
  let panelModel = null;
  let lastHead = null;
  let shown = null;
  let aim = null; // {pts, end} while the stick is pushed forward
  const sticks = new Map(); // input source -> {turnArmed, aiming}

  view.paused = true;
  const xr = {
    session,
    repaintPanel() {
      const ctx = panelCanvas.getContext("2d");
      ctx.clearRect(0, 0, panelCanvas.width, panelCanvas.height);
      paintPanel(ctx, 0, 0, panelCanvas.width, panelCanvas.height, panelContent());
      quad.upload(panelCanvas);
    },
    placePanel() {
      if (!lastHead) return;
      const f = quatRotate(lastHead.orientation, [0, 0, -1]);
      const n = Math.hypot(f[0], f[2]) || 1;
      const fw = [f[0] / n, 0, f[2] / n];
      const right = [-fw[2], 0, fw[0]];
      const c = [lastHead.position[0] + fw[0] * 1.1 + right[0] * 0.5, lastHead.position[1] - 0.15, lastHead.position[2] + fw[2] * 1.1 + right[2] * 0.5];
      // the panel faces the head: its +Z towards the customer, X to their right
      const toHead = [lastHead.position[0] - c[0], 0, lastHead.position[2] - c[2]];
      const m = Math.hypot(toHead[0], toHead[2]) || 1;
      const z = [toHead[0] / m, 0, toHead[2] / m];
      const x = [z[2], 0, -z[0]];
      const [w, h] = PANEL_SIZE_M;
      panelModel = new Float32Array([x[0] * w, 0, x[2] * w, 0, 0, h, 0, 0, z[0], 0, z[2], 0, c[0], c[1], c[2], 1]);
    },
    end: () => session.end(),
  };
  xr.repaintPanel();

  const rayOf = (frame, source) => {
    const pose = frame.getPose(source.targetRaySpace, ref);
    if (!pose) return null;
    const lift = floorRef ? 0 : view.eyeHeightM;
    const p = pose.transform.position;
    const o = pose.transform.orientation;
    const rig = client.rig;
    const origin = toHall(rig, [p.x, p.y + lift, p.z]);
    const d = quatRotate(quatMul(quatYawPitch(rig.yawDeg), [o.x, o.y, o.z, o.w]), [0, 0, -1]);
    return { origin, direction: d };
  };

  session.addEventListener("select", (ev) => {
    const ray = rayOf(ev.frame, ev.inputSource);
    if (ray) view.actOnRay(ray).catch(() => {});
  });

  const onFrame = (time, frame) => {
    session.requestAnimationFrame(onFrame);
    const pose = frame.getViewerPose(ref);
    if (!pose) return;
    const lift = floorRef ? 0 : view.eyeHeightM;
    const p = pose.transform.position;
    const o = pose.transform.orientation;
    lastHead = client.sendHeadPose([p.x, p.y + lift, p.z], [o.x, o.y, o.z, o.w]); // every frame; newest wins
    if (!panelModel) xr.placePanel();
    // controllers: arc + teleport on the stick, snap turns
    aim = null;
    for (const source of session.inputSources) {
      const axes = source.gamepad?.axes;
      if (!axes || axes.length < 4) continue;
      const st = sticks.get(source) || { turnArmed: true, aiming: null };
      sticks.set(source, st);
      const [sx, sy] = [axes[2], axes[3]];
      if (st.turnArmed && Math.abs(sx) > 0.7) {
        view.snapTurn(sx > 0 ? -1 : 1);
        st.turnArmed = false;
      } else if (Math.abs(sx) < 0.3) st.turnArmed = true;
      if (sy < -0.5) {
        const ray = rayOf(frame, source);
        if (ray) {
          st.aiming = arcTo(ray.origin, ray.direction, client.rig.position[1]);
          aim = st.aiming;
        }
      } else if (st.aiming && sy > -0.3) {
        const end = st.aiming.end;
        st.aiming = null;
        if (end) {
          view.fadeOutFor();
          client.teleportPoint(end, client.rig.yawDeg).catch(() => {}).finally(() => (view._fadeHold = false));
        }
      }
    }
    // the newest frame, world-locked in every view
    const f = view.pendingFrame;
    if (f && f !== shown) {
      reproj.upload(f.image);
      shown?.image.close?.();
      shown = f;
      view.frame = f;
      view.pendingFrame = null;
      view.stats.framesShown += 1;
      if (view.waitingFresh && f.header.seq >= client.minSeq) view.waitingFresh = false;
    }
    const target = view._fadeHold || view.waitingFresh || !shown ? 1 : 0;
    view.fade = target > view.fade ? Math.min(1, view.fade + 0.15) : Math.max(0, view.fade - 0.07);
    const layer = session.renderState.baseLayer;
    gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
    const rigM = rigMatrix(client.rig);
    const rigQ = quatYawPitch(client.rig.yawDeg);
    for (const v of pose.views) {
      const vp = layer.getViewport(v);
      const vo = v.transform.orientation;
      reproj.draw({
        viewport: [vp.x, vp.y, vp.width, vp.height],
        invProj: invert4(v.projectionMatrix),
        displayQuat: quatMul(rigQ, [vo.x, vo.y, vo.z, vo.w]),
        renderQuat: shown?.pose.orientation || null,
        renderFovDeg: client.renderFovDeg,
        eye: v.eye === "right" && shown?.header.eyes === 2 ? 1 : 0,
        eyes: shown?.header.eyes || 1,
        fade: view.fade,
      });
      const lifted = floorRef ? v.transform.matrix : mat4Mul(new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, lift, 0, 1]), v.transform.matrix);
      const viewProj = mat4Mul(v.projectionMatrix, invert4(mat4Mul(rigM, lifted)));
      if (panelModel && view.fade < 0.5) quad.draw(viewProj, panelModel);
      if (aim) {
        dots.draw(viewProj, aim.pts, [0.94, 0.84, 0.6, 1], 6);
        if (aim.end) {
          const ring = [];
          for (let i = 0; i < 24; i++) ring.push([aim.end[0] + 0.3 * Math.cos(i / 3.82), aim.end[1] + 0.01, aim.end[2] + 0.3 * Math.sin(i / 3.82)]);
          dots.draw(viewProj, ring, [0.83, 0.69, 0.42, 1], 8);
        }
      }
    }
    view._countDraw(performance.now());
  };
  session.requestAnimationFrame(onFrame);
  session.addEventListener("end", () => {
    view.frame = null; // the canvas has not seen these pixels: wait for the next frame there
    view.waitingFresh = true;
    view.paused = false;
    state.xr = null;
  });
  return xr;
}
