// The live camera views (phone AR, phone try-on, kiosk mirror try-on) over the camera modes of GET /ws/stream
// (docs/streams.md, "AR and try-on"): hello with mode "ar"/"tryon" (try-on only with the customer's consent),
// then the camera's frames as binary messages (20-byte camera header + JPEG), the composite or RGBA overlay back
// as binary frames (76-byte frame header + JPEG/PNG), and {"type": "status"} messages when what the camera shows
// changes ("no_hand", "no_marker", ...), which the badge shows in the page's language.
//
// One frame is in flight at a time and it is always the newest picture of the <video>: the next frame is taken
// when the reply (or an error naming its seq) comes back, so a slow node or link shows fewer, fresh frames and
// nothing queues. The node smooths the fit over time. The socket reconnects with backoff after a drop, stays
// closed after a refusal (no consent, unknown product, not wearable), and closes with the camera when the page is
// hidden (it resumes when the page is shown again). Frames live in memory only; stop() releases everything.
// While the live stream is down, a try-on can still take a single photo (POST /api/tryon) with the photo button.
//
// The stage element carries what tests and operators read: data-transport="ws", data-state (connecting, live,
// reconnecting, busy, paused, failed, stopped), data-status (the node's last status), data-frames (replies shown),
// data-photos (single photos shown).

import { apiImage, wsUrl } from "./api.js";
import { Camera } from "./camera.js";
import { onLangChange, t } from "./i18n.js";
import { MAX_CAMERA_FRAME_BYTES, packCameraFrame, parseFrameHeader } from "./protocol.js";

/** Close codes after which reconnecting cannot help (docs/streams.md, "Limits and close codes"). */
const FINAL_CLOSE = new Map([
  [1007, "camera.refused"],
  [1008, "camera.refused"],
  [1009, "camera.refused"],
  [4400, "tryon.no_anchor"],
  [4403, "camera.consent_required"],
  [4404, "camera.unknown_product"],
]);
const REPLY_TIMEOUT_MS = 10000; // a reply that never comes (lost with a dropped socket) frees the slot
const STATUS_KEYS = {
  no_face: "camera.status.no_face",
  no_hand: "camera.status.no_hand",
  no_anchor: "camera.status.no_anchor",
  no_marker: "ar.hint",
  out_of_view: "camera.status.out_of_view",
};

export class CameraStream {
  /**
   * @param {object} o
   * @param {HTMLVideoElement} o.video the live camera picture (shown under the reply)
   * @param {HTMLCanvasElement} o.canvas where each composite/overlay is drawn
   * @param {HTMLElement} o.stage the view's container (data attributes, see above)
   * @param {HTMLElement} [o.badge] the status line; painted in the page's language, repainted on a language change
   * @param {HTMLButtonElement} [o.photoButton] try-on: shown while the live stream is down; takes one photo
   * @param {"ar"|"tryon"} o.mode
   * @param {"phone"|"kiosk"} o.client
   * @param {string} o.product
   * @param {string|null} [o.variant]
   * @param {boolean} [o.consent] required (true) for try-on: ask with askConsent() first
   * @param {"composite"|"overlay"} [o.output]
   * @param {"user"|"environment"} [o.facingMode]
   * @param {(w:number, h:number) => object|null} [o.intrinsics] camera intrinsics in pixels of the frames as sent
   * @param {number} [o.maxSidePx] frames are scaled so their long side is at most this
   * @param {number} [o.targetFps] at most this many frames a second
   */
  constructor(o) {
    if (o.mode === "tryon" && o.consent !== true) throw new Error("try-on needs the customer's consent first");
    this.o = { output: "composite", facingMode: "user", maxSidePx: 960, targetFps: 15, intrinsics: null, ...o };
    this.video = o.video;
    this.canvas = o.canvas;
    this.stage = o.stage;
    this.badge = o.badge || null;
    this.photoButton = o.photoButton || null;
    this.note = null; // a one-off message (a photo that did not work) shown until the state changes
    this.photos = 0;
    this._showingPhoto = false;
    this._photoBusy = false;
    this.camera = null;
    this.ws = null;
    this.welcome = null;
    this.state = "idle";
    this.status = null; // the node's last status code
    this.placed = false; // AR: an anchor pose from a tap is in use
    this.anchorPose = null;
    this.seq = 0;
    this.inFlight = null; // {seq, sentAt, timer}
    this.lastSentAt = 0;
    this.frames = 0;
    this.latencyMs = null; // camera frame sent -> reply received, smoothed (for operators' diagnostics)
    this.sentSize = null;
    this.lastError = null;
    this._retryMs = 500;
    this._retryTimer = null;
    this._pumpTimer = null;
    this._stopped = false;
    this._paused = false;
    this._onVisibility = () => (document.hidden ? this._pause() : this._resume());
    this._onPageHide = () => this.stop();
    this._offLang = onLangChange(() => this._paint());
    this._onPhoto = () => this.takePhoto();
    this.photoButton?.addEventListener("click", this._onPhoto);
    if (this.badge) {
      this.badge.setAttribute("role", "status");
      this.badge.setAttribute("aria-live", "polite");
    }
    this.stage.dataset.transport = "ws";
    this.stage.dataset.frames = "0";
    this.canvas.hidden = true;
  }

  /** Opens the camera, then the socket. Resolves false (with the reason on the badge) when the camera fails. */
  async start() {
    this._setState("connecting");
    document.addEventListener("visibilitychange", this._onVisibility);
    window.addEventListener("pagehide", this._onPageHide);
    return this._open();
  }

  /** AR: place the product where the customer tapped ({position, orientation}: the camera in the anchor's frame,
   *  metres, +Y up); null goes back to the printed marker board. */
  setAnchorPose(pose) {
    this.anchorPose = pose;
    this.placed = !!pose;
    this._send(pose ? { type: "anchor_pose", ...pose } : { type: "anchor_pose", clear: true });
    this._paint();
  }

  /** Ends the view: bye, socket closed, camera released, last picture wiped. */
  stop() {
    if (this._stopped) return;
    this._stopped = true;
    document.removeEventListener("visibilitychange", this._onVisibility);
    window.removeEventListener("pagehide", this._onPageHide);
    this._offLang();
    this.photoButton?.removeEventListener("click", this._onPhoto);
    this._close();
    this._setState("stopped");
  }

  /**
   * Try-on while the live stream is down: the camera's current picture goes as one photo to POST /api/tryon
   * (with the consent) and the composite is shown like a live reply. Resolves true when a composite is shown.
   */
  async takePhoto() {
    if (this.o.mode !== "tryon" || !this.camera || this._photoBusy) return false;
    this._photoBusy = true;
    if (this.photoButton) this.photoButton.disabled = true;
    try {
      const blob = await this.camera.snapshot(this.o.maxSidePx, 0.9);
      if (!blob) return false;
      const form = new FormData(); // consent first: the node refuses a photo that comes before it
      form.append("consent", "true");
      form.append("product", this.o.product);
      if (this.o.variant) form.append("variant", this.o.variant);
      form.append("format", "jpeg");
      form.append("photo", blob, "photo.jpg");
      const { blob: composite } = await apiImage("/api/tryon", { body: form, timeoutMs: 30000 });
      if (!composite || !(await this._draw(composite, "image/jpeg"))) return false;
      this.photos += 1;
      this._showingPhoto = true;
      this.stage.scrollIntoView({ block: "nearest" }); // the button may sit below the picture on a small screen
      this.stage.dataset.photos = String(this.photos);
      this.note = null;
      return true;
    } catch (e) {
      this.note = e.status === 422 ? t("tryon.photo_no_fit") : t("common.error", { msg: e.message });
      return false;
    } finally {
      this._photoBusy = false;
      if (this.photoButton) this.photoButton.disabled = false;
      this._paint();
    }
  }

  get stopped() {
    return this._stopped;
  }

  // ---- camera and socket ------------------------------------------------------------------------------
  async _open() {
    try {
      this.camera = await new Camera(this.video, { facingMode: this.o.facingMode }).start();
    } catch (e) {
      this.camera = null;
      this.lastError = t("tryon.no_camera", { msg: e.message });
      this._setState("failed");
      return false;
    }
    if (this._stopped || this._paused) {
      this.camera.stop();
      this.camera = null;
      return false;
    }
    this._connect();
    return true;
  }

  _connect() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = new WebSocket(wsUrl("/ws/stream"));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(this._hello()));
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      if (typeof ev.data === "string") this._onText(ev.data);
      else this._onBinary(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.welcome = null;
      this._release(Infinity);
      if (this._stopped || this._paused) return;
      const final = FINAL_CLOSE.get(ev.code);
      if (final) {
        this.lastError = t(final, { msg: ev.reason || this.lastError || String(ev.code) });
        this.camera?.stop();
        this.camera = null;
        this._wipe();
        this._setState("failed");
        return;
      }
      if (!this._showingPhoto) this.canvas.hidden = true; // the live camera shows until the node answers again
      this._setState(ev.code === 1013 ? "busy" : "reconnecting");
      this._retryTimer = setTimeout(() => !this._stopped && !this._paused && this._connect(), this._retryMs);
      this._retryMs = Math.min(8000, Math.max(500, this._retryMs * 2));
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  _hello() {
    const [w, h] = this._frameSize();
    this.sentSize = [w, h];
    const hello = {
      type: "hello",
      client: this.o.client,
      mode: this.o.mode,
      product: this.o.product,
      variant: this.o.variant || undefined,
      viewport: { width: w, height: h },
      eyes: 1,
      fov_deg: 60,
      codec: "jpeg",
      max_kbps: 8000,
      target_fps: this.o.targetFps,
      output: this.o.output,
      mirrored: false, // frames go out as the camera sees them; the page mirrors the picture for a selfie view
    };
    if (this.o.mode === "tryon") hello.consent = true;
    const k = this.o.intrinsics ? this.o.intrinsics(w, h) : null;
    if (k) hello.intrinsics = k;
    return hello;
  }

  /** The size frames go out at: the camera's, scaled to at most maxSidePx on the long side. */
  _frameSize() {
    const w = this.video.videoWidth || 640;
    const h = this.video.videoHeight || 480;
    const s = Math.min(1, this.o.maxSidePx / Math.max(w, h));
    return [Math.max(16, Math.round(w * s)), Math.max(16, Math.round(h * s))];
  }

  _send(msg) {
    if (this.ws && this.ws.readyState === 1 && this.welcome) this.ws.send(JSON.stringify(msg));
  }

  _close() {
    clearTimeout(this._retryTimer);
    clearTimeout(this._pumpTimer);
    this._retryTimer = null;
    this._pumpTimer = null;
    this._release(Infinity);
    const ws = this.ws;
    this.ws = null;
    this.welcome = null;
    if (ws) {
      if (ws.readyState === 1) ws.send(JSON.stringify({ type: "bye" }));
      if (ws.readyState <= 1) ws.close(1000);
    }
    this.camera?.stop();
    this.camera = null;
    this._wipe();
  }

  _pause() {
    if (this._stopped || this._paused) return;
    this._paused = true;
    this._close();
    this._setState("paused");
  }

  async _resume() {
    if (this._stopped || !this._paused) return;
    this._paused = false;
    this._retryMs = 500;
    this._setState("connecting");
    await this._open();
  }

  // ---- messages ------------------------------------------------------------------------------------
  _onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (msg.type === "welcome") {
      this.welcome = msg;
      this._setState("live");
      if (this.anchorPose) this._send({ type: "anchor_pose", ...this.anchorPose });
      this._pump();
    } else if (msg.type === "status") {
      this.status = msg.status;
      this.stage.dataset.status = msg.status;
      this._paint();
    } else if (msg.type === "error") {
      // a skipped frame (busy render pool, a frame that did not decode) names its seq; other errors precede a close
      this.lastError = msg.message || msg.code;
      if (typeof msg.seq === "number") {
        this._release(msg.seq);
        this._pump();
      }
    }
  }

  async _onBinary(buf) {
    let parsed;
    try {
      parsed = parseFrameHeader(buf);
    } catch (_) {
      return;
    }
    const { header, payload } = parsed;
    const sentAt = this.inFlight && this.inFlight.seq === header.seq ? this.inFlight.sentAt : null;
    this._release(header.seq);
    this._pump(); // the next frame goes out while this one is decoded
    const mime = { png: "image/png", webp: "image/webp" }[header.codec] || "image/jpeg";
    if (!(await this._draw(payload, mime))) return;
    this._showingPhoto = false;
    this.frames += 1;
    if (this.note) {
      this.note = null;
      this._paint();
    }
    this._retryMs = 500; // the session works: the next drop retries quickly again
    if (sentAt !== null) {
      const ms = performance.now() - sentAt;
      this.latencyMs = this.latencyMs === null ? ms : 0.8 * this.latencyMs + 0.2 * ms;
    }
    this.stage.dataset.frames = String(this.frames);
    this.stage.dataset.seq = String(header.seq);
  }

  /** Decodes an image (bytes or Blob) and draws it on the canvas; false when it did not decode or the view ended. */
  async _draw(bytes, mime) {
    let image;
    try {
      image = await createImageBitmap(bytes instanceof Blob ? bytes : new Blob([bytes], { type: mime }));
    } catch (_) {
      return false;
    }
    if (this._stopped || this._paused || !this.camera) {
      image.close();
      return false;
    }
    const c = this.canvas;
    if (c.width !== image.width || c.height !== image.height) {
      c.width = image.width;
      c.height = image.height;
    }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    ctx.drawImage(image, 0, 0);
    image.close();
    c.hidden = false;
    return true;
  }

  // ---- sending: one frame in flight, always the newest picture -------------------------------------------
  _release(seq) {
    if (this.inFlight && seq >= this.inFlight.seq) {
      clearTimeout(this.inFlight.timer);
      this.inFlight = null;
    }
  }

  _pump() {
    if (this._pumpTimer || this.inFlight || !this.welcome || !this.camera || this._stopped || this._paused) return;
    const wait = Math.max(0, this.lastSentAt + 1000 / this.o.targetFps - performance.now());
    this._pumpTimer = setTimeout(() => {
      this._pumpTimer = null;
      this._sendFrame();
    }, wait);
  }

  async _sendFrame() {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !this.welcome || this.inFlight || !this.camera) return;
    const [w, h] = this._frameSize();
    if (this.sentSize && (w !== this.sentSize[0] || h !== this.sentSize[1])) {
      // the camera turned (portrait <-> landscape): the intrinsics of the hello no longer hold
      this._retryMs = 0;
      ws.close(1000);
      return;
    }
    const seq = ++this.seq;
    this.inFlight = { seq, sentAt: performance.now(), timer: null };
    const blob = await this.camera?.snapshot(this.o.maxSidePx, 0.8);
    const jpeg = blob && blob.size <= MAX_CAMERA_FRAME_BYTES - 64 ? new Uint8Array(await blob.arrayBuffer()) : null;
    if (ws !== this.ws || ws.readyState !== 1 || !this.inFlight || this.inFlight.seq !== seq) return;
    if (!jpeg) {
      this.inFlight = null;
      this._pumpTimer = setTimeout(() => {
        this._pumpTimer = null;
        this._pump();
      }, 100);
      return;
    }
    const now = performance.now();
    this.lastSentAt = now;
    this.inFlight.sentAt = now;
    this.inFlight.timer = setTimeout(() => {
      this._release(seq);
      this._pump();
    }, REPLY_TIMEOUT_MS);
    ws.send(packCameraFrame(seq, (performance.timeOrigin + now) / 1000, jpeg));
  }

  // ---- what the customer sees ------------------------------------------------------------------------
  _setState(s) {
    if (s !== this.state) this.note = null;
    this.state = s;
    this.stage.dataset.state = s;
    if (this.photoButton) {
      // the single-photo fallback, for a try-on whose live stream is down but whose camera is on
      this.photoButton.hidden = !(this.o.mode === "tryon" && this.camera && (s === "reconnecting" || s === "busy"));
    }
    this._paint();
  }

  /** The badge: connection state first, then what the node saw, in the current language. */
  _paint() {
    if (!this.badge) return;
    let text;
    let live = false;
    if (this.note) text = this.note;
    else if (this.state === "failed") text = this.lastError || t("camera.refused", { msg: "" });
    else if (this.state === "connecting") text = this.o.mode === "tryon" ? t("tryon.working") : t("camera.connecting");
    else if (this.state === "reconnecting") text = t("camera.reconnecting");
    else if (this.state === "busy") text = t("camera.busy");
    else if (this.state === "live") {
      live = true;
      if (this.status && STATUS_KEYS[this.status]) text = t(STATUS_KEYS[this.status]);
      else if (this.o.mode === "ar") text = this.placed ? t("ar.placed") : this.status === "ok" ? t("ar.on_marker") : t("ar.hint");
      else text = this.status === "ok" ? t("camera.status.ok") : t("tryon.working");
    } else text = "";
    this.badge.dataset.state = this.state;
    this.badge.hidden = !text;
    const dot = live ? [Object.assign(document.createElement("span"), { className: "rec-dot" })] : [];
    dot.forEach((d) => d.setAttribute("aria-hidden", "true"));
    this.badge.replaceChildren(...dot, text);
  }

  _wipe() {
    this.canvas.hidden = true;
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.canvas.width = 1;
    this.canvas.height = 1;
  }
}
