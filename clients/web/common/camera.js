// Camera access for try-on and AR: getUserMedia into a <video> and JPEG snapshots of its current picture.
// Frames live only in memory; stop() releases the camera. The live views send the snapshots over /ws/stream
// (camera-stream.js); a single photo can go to POST /api/tryon.

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
