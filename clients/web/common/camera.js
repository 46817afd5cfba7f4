// Camera access for try-on and AR: getUserMedia into a <video>, JPEG snapshots, and a "one request in flight,
// latest frame wins" loop that sends frames to the node. Frames live only in memory; stop() releases the camera.

import { apiImage } from "./api.js";

export class Camera {
  constructor(video, { facingMode = "user", width = 1280, height = 720 } = {}) {
    this.video = video;
    this.constraints = { audio: false, video: { facingMode, width: { ideal: width }, height: { ideal: height } } };
    this.stream = null;
    this.canvas = document.createElement("canvas");
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("getUserMedia is not available");
    this.stream = await navigator.mediaDevices.getUserMedia(this.constraints);
    this.video.srcObject = this.stream;
    this.video.muted = true;
    this.video.playsInline = true;
    await this.video.play();
    if (!this.video.videoWidth) await new Promise((r) => this.video.addEventListener("loadedmetadata", r, { once: true }));
    return this;
  }

  get width() {
    return this.video.videoWidth;
  }

  get height() {
    return this.video.videoHeight;
  }

  /** The current frame as a JPEG Blob, scaled so its long side is at most maxSidePx. */
  snapshot(maxSidePx = 960, quality = 0.85) {
    const w = this.video.videoWidth;
    const h = this.video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    const s = Math.min(1, maxSidePx / Math.max(w, h));
    this.canvas.width = Math.round(w * s);
    this.canvas.height = Math.round(h * s);
    this.canvas.getContext("2d").drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    return new Promise((r) => this.canvas.toBlob(r, "image/jpeg", quality));
  }

  stop() {
    if (this.stream) for (const tr of this.stream.getTracks()) tr.stop();
    this.stream = null;
    this.video.srcObject = null;
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.canvas.width = 1;
    this.canvas.height = 1;
  }
}

/**
 * Sends camera frames to `path` as multipart (the JPEG in `fileField`, plus `fields()`), one request in flight; each
 * answer (an image) goes to onResult(blob, json). Returns {stop}. Errors go to onError and the loop continues
 * after a pause, unless onError returns false.
 */
export function frameLoop(camera, path, { fileField = "frame", fields = () => ({}), onResult, onError = () => true, minIntervalMs = 150, maxSidePx = 960 }) {
  let running = true;
  (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const jpeg = await camera.snapshot(maxSidePx);
        if (!running) break;
        if (!jpeg) {
          await sleep(100);
          continue;
        }
        const fd = new FormData();
        fd.append(fileField, jpeg, "frame.jpg");
        for (const [k, v] of Object.entries(fields())) {
          if (v !== undefined && v !== null) fd.append(k, typeof v === "object" ? JSON.stringify(v) : String(v));
        }
        const { blob, json } = await apiImage(path, { body: fd, timeoutMs: 20000 });
        if (running) onResult(blob, json, performance.now() - t0);
      } catch (e) {
        if (!running) break;
        if (onError(e) === false) {
          running = false;
          break;
        }
        await sleep(1500);
      }
      const spent = performance.now() - t0;
      if (spent < minIntervalMs) await sleep(minIntervalMs - spent);
    }
  })();
  return {
    stop() {
      running = false;
    },
  };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
