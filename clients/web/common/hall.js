// The bank hall over /ws/stream (mode "hall", docs/streams.md "The hall"): the client keeps a rig (where the
// customer's floor point and facing are in the hall), sends head poses in hall coordinates (rig transform times
// the tracked pose) at the display rate, and remembers the orientation it sent with each pose `seq` so that every
// frame can be drawn world-locked (reproject.js). Teleport, pick, focus, sit and stand-up are requests with ids
// whose replies resolve promises; `turn` and `unfocus` have no id. The digital guide: guideWalk(zone, follow) and
// guideReset() are requests answered by a `guide` message (the node sends another when the guide arrives and
// points, and when it is idle again); guideSay(visemes) starts the guide's mouth on the node's frames. `delayMs` holds each decoded frame back before
// it is used (simulated link latency: ?delay_ms=N on the pages).

import { StreamClient } from "./stream.js";

export const HALL_VERSION = 1;
export const EYE_HEIGHT_M = 1.6;
/** The zones in the order of the buttons and of the keys 1-5 (ids of the node's welcome.hall.zones). */
export const ZONE_ORDER = ["gold_counter", "car_studio", "wealth_corner", "service_counter", "entrance"];
export const SNAP_TURN_DEG = 30;

// ---- rotations (x, y, z, w), WebXR convention: right-handed, +Y up, the camera looks along -Z --------------
const RAD = Math.PI / 180;

/** A turn by yawDeg about +Y (counter-clockwise seen from above; 0 looks -Z), then pitchDeg about the local X. */
export function quatYawPitch(yawDeg, pitchDeg = 0) {
  const y = (yawDeg * RAD) / 2;
  const p = (pitchDeg * RAD) / 2;
  const cy = Math.cos(y), sy = Math.sin(y), cp = Math.cos(p), sp = Math.sin(p);
  return [cy * sp, sy * cp, -sy * sp, cy * cp];
}

export function quatMul(a, b) {
  const [ax, ay, az, aw] = a;
  const [bx, by, bz, bw] = b;
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}

export const quatConj = (q) => [-q[0], -q[1], -q[2], q[3]];

export function quatRotate(q, v) {
  const r = quatMul(quatMul(q, [v[0], v[1], v[2], 0]), quatConj(q));
  return [r[0], r[1], r[2]];
}

/** The 3x3 rotation of q, column-major (for uniformMatrix3fv). */
export function mat3FromQuat(q) {
  const [x, y, z, w] = q;
  return new Float32Array([
    1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
    2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w),
    2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y),
  ]);
}

/** Yaw of a direction's horizontal part (degrees, 0 = -Z). */
export const yawOfDir = (d) => Math.atan2(-d[0], -d[2]) / RAD;

/** A rig (floor point [x, 0, z], yawDeg) applied to a tracked pose (position in the rig's frame, orientation). */
export function rigToHall(rig, trackedPos, trackedQuat) {
  const qr = quatYawPitch(rig.yawDeg);
  const p = quatRotate(qr, trackedPos);
  return {
    position: [rig.position[0] + p[0], rig.position[1] + p[1], rig.position[2] + p[2]],
    orientation: quatMul(qr, trackedQuat),
  };
}

// ---- the session --------------------------------------------------------------------------------------
export class HallRefused extends Error {
  constructor(msg) {
    super(msg.message || msg.code || "refused");
    this.name = "HallRefused";
    this.code = msg.code || "refused";
  }
}

const REPLY_TYPES = new Set(["teleported", "picked", "focused", "refused", "unfocused", "guide"]);
const GUIDE_SAY_MAX_KEYS = 2000; // the node's bound on a guide_say track (docs/streams.md)
const REQUEST_TIMEOUT_MS = 20000;

/**
 * One hall session. handlers: onFrame({image, header, pose, latencyMs}) (after the delay), onWelcome(hall),
 * onTeleported(msg), onCorrected(msg), onFocused(msg), onUnfocused(), onGuide(msg), onStatus(s), onError(e),
 * onMessage(msg).
 */
export class HallClient {
  constructor(hello, handlers = {}, { delayMs = 0 } = {}) {
    this.h = handlers;
    this.delayMs = Math.max(0, Number(delayMs) || 0);
    this.rig = { position: [0, 0, 6.4], yawDeg: 0 };
    this.hall = null; // welcome.hall
    this.zones = [];
    this.zone = null;
    this.seated = null;
    this.focused = null; // the last `focused` reply
    this.guide = null; // the guide as the node last said (welcome.hall.guide, `guide` messages); null: no guide
    this.lastHead = null; // the head position sent last (hall coordinates)
    this.poses = new Map(); // seq -> {position, orientation} sent with it
    this.minSeq = 0; // frames of poses before a teleport show the old place: not drawn
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.unfocusWaiters = [];
    this._delayed = []; // frames waiting out delayMs
    this.stream = new StreamClient(
      { client: "vr", mode: "hall", codec: "jpeg", eyes: 2, target_fps: 30, max_kbps: 20000, ...hello },
      {
        onFrame: (f) => this._onFrame(f),
        onWelcome: (msg) => this._onWelcome(msg),
        onStatus: (s) => {
          if (s !== "live") this._failPending(new HallRefused({ code: "disconnected", message: s }));
          this.h.onStatus?.(s);
        },
        onError: (e) => this.h.onError?.(e),
        onMessage: (msg) => this._onMessage(msg),
      },
    );
  }

  get ready() {
    return this.stream.ready && !!this.hall;
  }

  get stats() {
    return this.stream.stats;
  }

  get renderFovDeg() {
    return this.hall?.render_fov_deg ?? (this.stream.hello.fov_deg || 90) + 2 * (this.stream.hello.overscan_deg ?? 10);
  }

  connect() {
    this.stream.connect();
  }

  close() {
    this._failPending(new HallRefused({ code: "closed", message: "closed" }));
    for (const d of this._delayed) d.frame.image.close?.();
    this._delayed = [];
    this.stream.close();
  }

  zoneInfo(id) {
    return this.zones.find((z) => z.id === id) || null;
  }

  /** The head pose in the hall for a tracked pose (rig frame); sends it; returns {seq, position, orientation}. */
  sendHeadPose(trackedPos, trackedQuat) {
    const pose = rigToHall(this.rig, trackedPos, trackedQuat);
    if (!this.ready) return { seq: null, ...pose };
    const seq = this.stream.sendPose(pose.position, pose.orientation);
    if (seq !== null) {
      this.lastHead = pose.position;
      this.poses.set(seq, pose);
      if (this.poses.size > 600) this.poses.delete(this.poses.keys().next().value);
    }
    return { seq, ...pose };
  }

  /** Frames drawn from now on must show poses sent from now on (after a teleport or a snap turn). */
  freshFramesOnly() {
    this.minSeq = this.stream.seq + 1;
  }

  // ---- requests ----------------------------------------------------------------------------------
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.stream.ready) return reject(new HallRefused({ code: "not_connected", message: "not connected" }));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HallRefused({ code: "timeout", message: `${msg.type} got no answer` }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.stream.send({ ...msg, id });
    });
  }

  teleportTo(zoneId) {
    return this.request({ type: "teleport", to: zoneId });
  }

  teleportPoint(point, yawDeg = undefined) {
    const msg = { type: "teleport", point: [point[0], 0, point[2]] };
    if (yawDeg !== undefined) msg.yaw_deg = yawDeg;
    return this.request(msg);
  }

  pick(origin, direction) {
    return this.request({ type: "pick", origin, direction });
  }

  focus(product, variant = undefined) {
    const msg = { type: "focus", product };
    if (variant) msg.variant = variant;
    return this.request(msg);
  }

  turn(yawDeg) {
    const deg = Math.round(yawDeg);
    if (deg === this._turnSent) return; // a drag moves many pixels per degree
    this._turnSent = deg;
    this.stream.send({ type: "turn", yaw_deg: deg });
  }

  unfocus() {
    return new Promise((resolve) => {
      this.unfocusWaiters.push(resolve);
      this.stream.send({ type: "unfocus" });
      setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS);
    });
  }

  /** The guide walks to a zone (its counter; "entrance": back to its place), the customer behind it if `follow`. */
  guideWalk(zoneId, follow = true) {
    return this.request({ type: "guide_walk", to: zoneId, follow: !!follow });
  }

  guideReset() {
    return this.request({ type: "guide_reset" });
  }

  /** The speech reply's viseme track ([[t_ms, viseme, weight], ...]), started now: the guide's lips on the node's
   * frames. No answer is awaited; a track over the node's bound is cut (the rest of the sound plays unmoved). */
  guideSay(visemes) {
    if (!this.stream.ready || !this.guide) return;
    const keys = (visemes || []).filter((k) => k[0] <= 60000).slice(0, GUIDE_SAY_MAX_KEYS);
    this.stream.send({ type: "guide_say", visemes: keys });
  }

  sit(product) {
    return this.request({ type: "sit", product });
  }

  standUp() {
    return this.request({ type: "stand_up" });
  }

  // ---- frames ----------------------------------------------------------------------------------
  /** The newest frame whose delay has passed (older ones are closed), or null. */
  takeDueFrame(now = performance.now()) {
    let due = null;
    while (this._delayed.length && this._delayed[0].dueAt <= now) {
      const d = this._delayed.shift();
      if (due) due.image.close?.();
      due = d.frame;
    }
    return due;
  }

  async _onFrame(f) {
    const pose = this.poses.get(f.header.seq);
    if (!pose || f.header.seq < this.minSeq) {
      f.image.close?.();
      return;
    }
    const frame = { ...f, pose };
    if (!this.delayMs) {
      this.h.onFrame?.(frame);
      return;
    }
    // A decoder's VideoFrames are few: copy a held frame into an ImageBitmap so the decoder keeps going.
    if (typeof VideoFrame !== "undefined" && f.image instanceof VideoFrame) {
      try {
        const bmp = await createImageBitmap(f.image);
        f.image.close();
        frame.image = bmp;
      } catch (_) {
        /* keep the VideoFrame */
      }
    }
    this._delayed.push({ frame, dueAt: performance.now() + this.delayMs });
    while (this._delayed.length > 30) this._delayed.shift().frame.image.close?.();
    setTimeout(() => {
      const due = this.takeDueFrame();
      if (due) this.h.onFrame?.(due);
    }, this.delayMs);
  }

  _onWelcome(msg) {
    const hall = msg.hall || {};
    this.hall = hall;
    this.zones = hall.zones || [];
    if (hall.position) this.rig = { position: [hall.position[0], 0, hall.position[2]], yawDeg: hall.yaw_deg ?? 0 };
    this.zone = hall.zone ?? null;
    this.seated = null;
    this.guide = hall.guide ?? null;
    this.freshFramesOnly();
    this.h.onWelcome?.(hall, msg);
  }

  _onMessage(msg) {
    if (msg.type === "teleported") {
      // seated, the rig's floor point is below the driver's eye by the standing eye height (y may be negative)
      this.rig = { position: [msg.position[0], msg.position[1] || 0, msg.position[2]], yawDeg: msg.yaw_deg ?? this.rig.yawDeg };
      this.zone = msg.zone ?? null;
      this.seated = msg.seated ?? null;
      if (msg.zone) this.stream.hello.start = msg.zone; // a reconnect puts the customer back in this zone
      this.freshFramesOnly();
      this.h.onTeleported?.(msg);
    } else if (msg.type === "corrected") {
      this.h.onCorrected?.(msg);
    } else if (msg.type === "focused") {
      this.focused = msg;
      this._turnSent = null;
      this.h.onFocused?.(msg);
    } else if (msg.type === "guide") {
      this.guide = msg;
      this.h.onGuide?.(msg);
    } else if (msg.type === "unfocused") {
      this.focused = null;
      for (const w of this.unfocusWaiters.splice(0)) w(msg);
      this.h.onUnfocused?.(msg);
    }
    if (REPLY_TYPES.has(msg.type) || (msg.type === "error" && msg.id !== undefined)) {
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.type === "refused" || msg.type === "error") p.reject(new HallRefused(msg.error || msg));
        else p.resolve(msg);
      }
    }
    this.h.onMessage?.(msg);
  }

  _failPending(err) {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }
}

// ---- the kiosk's attract walk -------------------------------------------------------------------------
/**
 * The head pose at time tS on a slow loop through `path` ([point, yawDeg] waypoints: the node's
 * welcome.hall.attract_path; back to the first at the end): walks at speedMps between points, turning smoothly, and
 * pauses pauseS at each to look.
 */
export function attractPose(tS, path, { speedMps = 0.45, pauseS = 3 } = {}) {
  const legs = path.map((wp, i) => {
    const next = path[(i + 1) % path.length];
    const dist = Math.hypot(next[0][0] - wp[0][0], next[0][2] - wp[0][2]);
    return { from: wp, to: next, pause: pauseS, walk: Math.max(1, dist / speedMps) };
  });
  const total = legs.reduce((s, l) => s + l.pause + l.walk, 0);
  let t = ((tS % total) + total) % total;
  for (const leg of legs) {
    if (t < leg.pause) return { position: leg.from[0], yawDeg: leg.from[1] };
    t -= leg.pause;
    if (t < leg.walk) {
      const u = t / leg.walk;
      const s = u * u * (3 - 2 * u); // ease in and out: no jolt at the ends
      const a = leg.from[0], b = leg.to[0];
      let dy = leg.to[1] - leg.from[1];
      dy = ((((dy + 180) % 360) + 360) % 360) - 180;
      return { position: [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s, a[2] + (b[2] - a[2]) * s], yawDeg: leg.from[1] + dy * s };
    }
    t -= leg.walk;
  }
  return { position: path[0][0], yawDeg: path[0][1] };
}
