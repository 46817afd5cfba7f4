// The hall on a plain canvas (no headset: the VR page's fallback and the kiosk's walk-through): one HallClient,
// a WebGL2 canvas that reprojects every display frame (reproject.js), drag or arrow keys to look around, a click
// on the floor to walk there (pick -> teleport), on a product to focus it, snap turns, zone teleports with a short
// fade, and the test hooks the browser tests use (window.__hall). A `poseSource` replaces the customer's head
// (the kiosk's attract walk).

import { EYE_HEIGHT_M, HallClient, SNAP_TURN_DEG, quatRotate, quatYawPitch, rigToHall, yawOfDir } from "./hall.js";
import { Reprojector, invert4, perspective } from "./reproject.js";

const FADE_OUT_S = 0.12;
const FADE_IN_S = 0.25;
const CLICK_SLOP_PX = 6;

export class HallView {
  /**
   * @param {object} o canvas, stage (element for pointer input), eyes (1|2), eyeSize [w, h] (per eye, also what the
   *   node renders), fovDeg (vertical, displayed), overscanDeg, codec, client, delayMs, reproject (bool), start
   *   (zone), targetFps, input (false: no pointer or key input, e.g. the attract walk), handlers {onFrame, onStatus, onError, onTeleported, onFocused, onUnfocused, onPicked,
   *   onCorrected, onWelcome, onGuide}.
   */
  constructor(o) {
    this.o = o;
    this.canvas = o.canvas;
    this.stage = o.stage || o.canvas;
    this.eyes = o.eyes === 1 ? 1 : 2;
    this.eyeSize = o.eyeSize;
    this.fovDeg = o.fovDeg;
    this.reproject = o.reproject !== false;
    this.h = o.handlers || {};
    this.yawDeg = 0; // the head relative to the rig (drag, arrow keys)
    this.pitchDeg = 0;
    this.spin = null; // test hook: {rateDegS, t0, yaw0, amplitudeDeg}
    this.holdPoses = false;
    this.poseSource = null; // (tS) -> {position, yawDeg, pitchDeg?} | null in the hall, replaces rig + head
    this.eyeHeightM = EYE_HEIGHT_M;
    this.frame = null; // the frame shown: {image, header, pose}
    this.pendingFrame = null;
    this.fade = 1;
    this.waitingFresh = true; // fade stays up until a frame of the current place arrives
    this.stats = { reprojectFps: 0, draws: 0, frames: 0, framesShown: 0, lastSeqShown: null, frameAgeMs: null };
    this._drawTimes = [];
    this._captures = [];
    this._running = false;
    this._lastTick = 0;
    this.current = null; // the head pose drawn last: {position, orientation, yawDeg, pitchDeg}
    this.client = new HallClient(
      {
        client: o.client || "vr",
        viewport: { width: o.eyeSize[0], height: o.eyeSize[1] },
        eyes: this.eyes,
        fov_deg: o.fovDeg,
        ipd_m: 0.064,
        codec: o.codec || "jpeg",
        max_kbps: o.maxKbps || 20000,
        target_fps: o.targetFps || 30,
        overscan_deg: o.overscanDeg ?? 10,
        start: o.start || "entrance",
      },
      {
        onFrame: (f) => {
          if (this.pendingFrame && this.pendingFrame !== this.frame) this.pendingFrame.image.close?.();
          this.pendingFrame = f;
          this.h.onFrame?.(f);
        },
        onWelcome: (hall, msg) => {
          this.eyeHeightM = hall.eye_height_m || EYE_HEIGHT_M;
          this._startFade();
          this.h.onWelcome?.(hall, msg);
        },
        onTeleported: (msg) => {
          const standing = this.client.hall?.eye_height_m || EYE_HEIGHT_M;
          this.eyeHeightM = msg.eye && msg.position ? msg.eye[1] - (msg.position[1] || 0) : standing;
          this.yawDeg = 0; // the new facing is the rig's
          this.pitchDeg = this.o.defaultPitchDeg || 0;
          this.fade = 1;
          this._startFade();
          this.h.onTeleported?.(msg);
        },
        onCorrected: (msg) => {
          if (msg.follow && !this.poseSource) {
            // walking behind the guide: the rig moves so the head is where the node put it (in a headset too,
            // keeping the tracked offset; the facing turns along the path only on a screen, never in a headset)
            const rig = this.client.rig;
            const head = this.client.lastHead || [rig.position[0], 0, rig.position[2]];
            const off = [head[0] - rig.position[0], head[2] - rig.position[2]];
            this.client.rig = {
              position: [msg.position[0] - off[0], rig.position[1], msg.position[2] - off[1]],
              yawDeg: !this.o.xr && typeof msg.yaw_deg === "number" ? msg.yaw_deg : rig.yawDeg,
            };
            if (!this.o.xr) this.yawDeg *= 0.8; // on a screen the look eases back to where the walk faces
          } else if (!this.poseSource && !this.o.xr) {
            const rig = this.client.rig;
            this.client.rig = { ...rig, position: [msg.position[0], rig.position[1], msg.position[2]] };
          }
          this.h.onCorrected?.(msg);
        },
        onGuide: (msg) => this.h.onGuide?.(msg),
        onFocused: (msg) => this.h.onFocused?.(msg),
        onUnfocused: (msg) => this.h.onUnfocused?.(msg),
        onStatus: (s) => this.h.onStatus?.(s),
        onError: (e) => this.h.onError?.(e),
        onMessage: (msg) => this.h.onMessage?.(msg),
      },
      { delayMs: o.delayMs || 0 },
    );
  }

  start() {
    const gl = this.canvas.getContext("webgl2", { alpha: false, antialias: false, preserveDrawingBuffer: false });
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.reprojector = new Reprojector(gl);
    this.canvas.width = this.eyes * this.eyeSize[0];
    this.canvas.height = this.eyeSize[1];
    this.client.connect();
    this._running = true;
    if (this.o.input !== false) this._bindInput();
    const tick = (now) => {
      if (!this._running) return;
      if (!this.paused) this.tick(now);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  stop() {
    this._running = false;
    this._unbind?.();
    this.client.close();
    this.frame?.image.close?.();
    this.frame = null;
  }

  // ---- the head ---------------------------------------------------------------------------------
  /** The head pose now, in the hall: {position, orientation, yawDeg (hall), pitchDeg}. */
  headPose(now = performance.now()) {
    if (this.spin && !this.spin.amplitudeDeg) {
      this.yawDeg = this.spin.yaw0 + (this.spin.rateDegS * (now - this.spin.t0)) / 1000; // a steady turn
    } else if (this.spin) {
      const t = (now - this.spin.t0) / 1000;
      const a = this.spin.amplitudeDeg;
      // a triangle wave: steady rateDegS turns, back and forth within +-amplitude
      const period = (4 * a) / this.spin.rateDegS;
      const ph = ((t % period) + period) % period;
      const q = ph / period;
      const off = q < 0.25 ? q * 4 * a : q < 0.75 ? a - (q - 0.25) * 4 * a : -a + (q - 0.75) * 4 * a;
      this.yawDeg = this.spin.yaw0 + off;
    }
    const p = this.poseSource?.(now / 1000);
    if (p) {
      const pitch = p.pitchDeg ?? 0;
      return { position: p.position, orientation: quatYawPitch(p.yawDeg, pitch), yawDeg: p.yawDeg, pitchDeg: pitch };
    }
    const rig = this.client.rig;
    const pose = rigToHall(rig, [0, this.eyeHeightM, 0], quatYawPitch(this.yawDeg, this.pitchDeg));
    return { ...pose, yawDeg: rig.yawDeg + this.yawDeg, pitchDeg: this.pitchDeg };
  }

  look(dYawDeg, dPitchDeg) {
    this.yawDeg += dYawDeg;
    this.pitchDeg = Math.max(-80, Math.min(80, this.pitchDeg + dPitchDeg));
  }

  snapTurn(sign) {
    const rig = this.client.rig;
    this.client.rig = { ...rig, yawDeg: rig.yawDeg + sign * SNAP_TURN_DEG };
    this.fade = Math.max(this.fade, 0.85); // a blink; the shown frame stays world-locked through it
  }

  _startFade() {
    this.waitingFresh = true;
  }

  // ---- moving and picking ----------------------------------------------------------------------
  async goZone(id) {
    this.fadeOutFor();
    try {
      return await this.client.teleportTo(id);
    } finally {
      this._fadeHold = false;
    }
  }

  fadeOutFor() {
    this._fadeHold = true;
  }

  /** The pick ray through client pixel (x, y) of the canvas: {origin, direction} in the hall, or null. */
  rayAt(clientX, clientY) {
    const r = this._canvasRect();
    const px = (clientX - r.left) * (this.canvas.width / r.width);
    const py = (clientY - r.top) * (this.canvas.height / r.height);
    if (px < 0 || py < 0 || px > this.canvas.width || py > this.canvas.height) return null;
    const ew = this.eyeSize[0];
    const ex = px % ew;
    const ndcX = (ex / ew) * 2 - 1;
    const ndcY = 1 - (py / this.eyeSize[1]) * 2;
    const ty = Math.tan((this.fovDeg * Math.PI) / 360);
    const tx = ty * (ew / this.eyeSize[1]);
    const head = this.current || this.headPose();
    const d = quatRotate(head.orientation, [ndcX * tx, ndcY * ty, -1]);
    const n = Math.hypot(d[0], d[1], d[2]);
    return { origin: head.position, direction: [d[0] / n, d[1] / n, d[2] / n] };
  }

  /** Client pixel of a hall point under the head pose shown last (left eye), or null when behind the head. */
  screenOf(point) {
    const head = this.current || this.headPose();
    const v = [point[0] - head.position[0], point[1] - head.position[1], point[2] - head.position[2]];
    const c = quatRotate([-head.orientation[0], -head.orientation[1], -head.orientation[2], head.orientation[3]], v);
    if (c[2] >= -1e-6) return null;
    const ty = Math.tan((this.fovDeg * Math.PI) / 360);
    const [ew, eh] = this.eyeSize;
    const tx = ty * (ew / eh);
    const px = ((c[0] / -c[2] / tx) * 0.5 + 0.5) * ew;
    const py = (0.5 - (c[1] / -c[2] / ty) * 0.5) * eh;
    const r = this._canvasRect();
    return { x: r.left + (px * r.width) / this.canvas.width, y: r.top + (py * r.height) / this.canvas.height, px, py };
  }

  /** What a click at client (x, y) does: pick; a walkable floor point -> teleport there; a product -> focus. */
  async clickAt(clientX, clientY) {
    const ray = this.rayAt(clientX, clientY);
    return ray ? this.actOnRay(ray) : null;
  }

  /** A pick along a hall ray ({origin, direction}) and what it does (walk there, focus the product, an action). */
  async actOnRay(ray) {
    const picked = await this.client.pick(ray.origin, ray.direction);
    this.h.onPicked?.(picked);
    const hit = picked.hit;
    if (!hit) return picked;
    if (hit.kind === "floor" && hit.walkable) {
      this.fadeOutFor();
      try {
        await this.client.teleportPoint(hit.point, this.client.rig.yawDeg + this.yawDeg);
      } finally {
        this._fadeHold = false;
      }
    } else if (hit.product) {
      await this.h.onChooseProduct?.(hit.product, hit);
    } else if (hit.action) {
      await this.h.onAction?.(hit.action, hit);
    }
    return picked;
  }

  /** Turns the head (not the rig) to look at a hall point. */
  lookAt(point) {
    const head = this.headPose();
    const d = [point[0] - head.position[0], point[1] - head.position[1], point[2] - head.position[2]];
    this.yawDeg = yawOfDir(d) - this.client.rig.yawDeg;
    this.pitchDeg = Math.max(-80, Math.min(80, (Math.atan2(d[1], Math.hypot(d[0], d[2])) * 180) / Math.PI));
  }

  /** Where the focused product is shown (its stand, or the car on its turntable), or null. */
  shownPoint() {
    const f = this.client.focused;
    return (f && f.show_point) || null;
  }

  /** True when client (x, y) is near where the focused product is shown (a drag there turns it). */
  onShownProduct(clientX, clientY) {
    const at = this.shownPoint();
    if (!at) return false;
    const s = this.screenOf(at);
    if (!s) return false;
    const r = this._canvasRect();
    const radius = Math.max(60, r.height * 0.18);
    return Math.hypot(clientX - s.x, clientY - s.y) < radius;
  }

  // ---- drawing ------------------------------------------------------------------------------------
  tick(now) {
    const dt = this._lastTick ? Math.min(0.1, (now - this._lastTick) / 1000) : 0;
    this._lastTick = now;
    const head = this.headPose(now);
    if (!this.holdPoses) this._send(head); // held (bench): the node renders nothing new, the last frame is reprojected
    this.current = head;
    const f = this.pendingFrame;
    if (f && f !== this.frame) {
      this.reprojector.upload(f.image);
      this.frame?.image.close?.();
      this.frame = f;
      this.pendingFrame = null;
      this.stats.framesShown += 1;
      this.stats.lastSeqShown = f.header.seq;
      if (this.waitingFresh && f.header.seq >= this.client.minSeq) this.waitingFresh = false;
    }
    if (this.frame) this.stats.frameAgeMs = Math.round(now - (this.client.stream.sentAt.get(this.frame.header.seq) ?? now));
    // fade: out fast while a move is pending, in once the new place has arrived
    const target = this._fadeHold || this.waitingFresh || !this.frame ? 1 : 0;
    this.fade = target > this.fade ? Math.min(1, this.fade + dt / FADE_OUT_S) : Math.max(0, this.fade - dt / FADE_IN_S);
    const gl = this.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    const [ew, eh] = this.eyeSize;
    const invProj = invert4(perspective(this.fovDeg, ew / eh));
    for (let eye = 0; eye < this.eyes; eye++) {
      this.reprojector.draw({
        viewport: [eye * ew, 0, ew, eh],
        invProj,
        displayQuat: head.orientation,
        renderQuat: this.frame?.pose.orientation || null,
        renderFovDeg: this.client.renderFovDeg,
        eye,
        eyes: this.frame?.header.eyes || this.eyes,
        reproject: this.reproject,
        fade: this.fade,
      });
    }
    this._countDraw(now);
    this.stats.frames = this.client.stats.frames; // stream frames received (the bench's frames/s)
    if (this._captures.length) this._capture(head);
  }

  _send(head) {
    // the tracked pose is the head in the rig's frame; the attract walk sends hall poses (rig at the origin)
    if (this.poseSource && this.client.hall) {
      const saved = this.client.rig;
      this.client.rig = { position: [0, 0, 0], yawDeg: 0 };
      this.client.sendHeadPose(head.position, head.orientation);
      this.client.rig = saved;
    } else {
      this.client.sendHeadPose([0, this.eyeHeightM, 0], quatYawPitch(this.yawDeg, this.pitchDeg));
    }
  }

  _countDraw(now) {
    this.stats.draws += 1;
    this._drawTimes.push(now);
    while (this._drawTimes.length && now - this._drawTimes[0] > 1000) this._drawTimes.shift();
    this.stats.reprojectFps = this._drawTimes.length;
  }

  /** Test hook: resolves after the next draw with a grey band of rows [y, y + rows) and the head pose drawn. */
  capture(y, rows) {
    return new Promise((resolve) => this._captures.push({ y, rows, resolve }));
  }

  _capture(head) {
    const gl = this.gl;
    for (const c of this._captures.splice(0)) {
      const w = this.canvas.width;
      const buf = new Uint8Array(w * c.rows * 4);
      gl.readPixels(0, this.canvas.height - c.y - c.rows, w, c.rows, gl.RGBA, gl.UNSIGNED_BYTE, buf);
      const grey = new Uint8Array(w * c.rows);
      for (let r = 0; r < c.rows; r++) {
        const src = (c.rows - 1 - r) * w * 4; // GL rows are bottom-up
        for (let x = 0; x < w; x++) {
          const i = src + x * 4;
          grey[r * w + x] = Math.round(0.299 * buf[i] + 0.587 * buf[i + 1] + 0.114 * buf[i + 2]);
        }
      }
      let bin = "";
      for (let i = 0; i < grey.length; i += 0x8000) bin += String.fromCharCode(...grey.subarray(i, i + 0x8000));
      c.resolve({
        yawDeg: head.yawDeg,
        pitchDeg: head.pitchDeg,
        position: head.position,
        width: w,
        eyeWidth: this.eyeSize[0],
        height: this.canvas.height,
        fovDeg: this.fovDeg,
        y: c.y,
        rows: c.rows,
        grey: btoa(bin),
        frameSeq: this.frame?.header.seq ?? null,
        frameYawDeg: this.frame ? yawOf(this.frame.pose.orientation) : null,
      });
    }
  }

  _canvasRect() {
    // the canvas is drawn with object-fit: contain inside its box
    const b = this.canvas.getBoundingClientRect();
    const s = Math.min(b.width / this.canvas.width, b.height / this.canvas.height);
    const w = this.canvas.width * s, h = this.canvas.height * s;
    return { left: b.left + (b.width - w) / 2, top: b.top + (b.height - h) / 2, width: w, height: h };
  }

  // ---- input ----------------------------------------------------------------------------------
  _bindInput() {
    const stage = this.stage;
    let down = null;
    const onDown = (e) => {
      if (e.button !== undefined && e.button !== 0) return;
      if (e.target.closest?.("button, a, input, select, .hall-ui")) return;
      down = { x: e.clientX, y: e.clientY, lx: e.clientX, ly: e.clientY, drag: false, turn: this.onShownProduct(e.clientX, e.clientY), turnYaw: this.turnYawDeg || 0 };
      stage.setPointerCapture?.(e.pointerId);
    };
    const onMove = (e) => {
      if (!down) return;
      if (!down.drag && Math.hypot(e.clientX - down.x, e.clientY - down.y) > CLICK_SLOP_PX) down.drag = true;
      if (down.drag) {
        const r = this._canvasRect();
        const k = this.fovDeg / Math.max(200, r.height); // a drag across the view turns the head by its fov
        if (down.turn) {
          this.turnYawDeg = down.turnYaw + (e.clientX - down.x) * 0.6;
          this.client.turn(Math.round(this.turnYawDeg));
        } else {
          this.look((e.clientX - down.lx) * k, (e.clientY - down.ly) * k);
        }
      }
      down.lx = e.clientX;
      down.ly = e.clientY;
    };
    const onUp = (e) => {
      const d = down;
      down = null;
      if (d && !d.drag && e.type === "pointerup") this.clickAt(e.clientX, e.clientY).catch((err) => this.h.onError?.(err));
    };
    const onKey = (e) => {
      const d = { ArrowLeft: [5, 0], ArrowRight: [-5, 0], ArrowUp: [0, 5], ArrowDown: [0, -5] }[e.key];
      if (!d) return;
      e.preventDefault();
      this.look(d[0], d[1]);
    };
    stage.addEventListener("pointerdown", onDown);
    stage.addEventListener("pointermove", onMove);
    stage.addEventListener("pointerup", onUp);
    stage.addEventListener("pointercancel", onUp);
    this.canvas.addEventListener("keydown", onKey);
    this._unbind = () => {
      stage.removeEventListener("pointerdown", onDown);
      stage.removeEventListener("pointermove", onMove);
      stage.removeEventListener("pointerup", onUp);
      stage.removeEventListener("pointercancel", onUp);
      this.canvas.removeEventListener("keydown", onKey);
    };
  }
}

function yawOf(q) {
  const f = quatRotate(q, [0, 0, -1]);
  return (Math.atan2(-f[0], -f[2]) * 180) / Math.PI;
}
