// Client of the node's live stream (GET /ws/stream): hello -> welcome, then poses (latest wins on the node),
// binary frames back. Each binary frame carries a header (see clients/python/showroom_protocol and docs/streams.md)
// echoing the pose's sequence number and stage timestamps; we decode JPEG with createImageBitmap and H.264
// with WebCodecs' VideoDecoder, and measure motion-to-photon from the pose send time to the frame's display.

import { wsUrl } from "./api.js";
import { parseFrameHeader } from "./protocol.js";

export class StreamClient {
  /**
   * @param {object} hello fields of the hello message (client, product, variant, viewport, eyes, fov_deg, ...)
   * @param {{onFrame:(frame:{image:ImageBitmap|VideoFrame, header:object, latencyMs:number|null})=>void,
   *          onWelcome?:(msg:object)=>void, onStatus?:(s:string)=>void, onMessage?:(msg:object)=>void}} handlers
   */
  constructor(hello, handlers) {
    this.hello = { type: "hello", ...hello };
    this.h = handlers;
    this.seq = 0;
    this.sentAt = new Map(); // seq -> performance.now() when sent
    this.ws = null;
    this.welcome = null;
    this.closed = false;
    this.decoder = null;
    this.pendingHeaders = [];
    this.stats = { frames: 0, bytes: 0, latencyMs: null, fps: 0, serverMs: null };
    this._fpsWindow = [];
    this._retryMs = 500;
  }

  get codec() {
    return this.welcome?.codec || this.hello.codec || "jpeg";
  }

  connect() {
    this.closed = false;
    this._status("connecting");
    const ws = new WebSocket(wsUrl("/ws/stream"));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this._retryMs = 500;
      ws.send(JSON.stringify(this.hello));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") this._onText(ev.data);
      else this._onBinary(ev.data);
    };
    ws.onclose = () => {
      this.ws = null;
      this.welcome = null;
      if (this.closed) return;
      this._status("disconnected");
      setTimeout(() => !this.closed && this.connect(), this._retryMs);
      this._retryMs = Math.min(8000, this._retryMs * 2);
    };
    ws.onerror = () => {
      /* onclose follows and reconnects */
    };
  }

  get ready() {
    return !!(this.ws && this.ws.readyState === 1 && this.welcome);
  }

  /** Sends a head/camera pose. position [x,y,z] m, orientation quaternion [x,y,z,w]. Returns its seq. */
  sendPose(position, orientation, extra = {}) {
    if (!this.ready) return null;
    // Only the newest pose matters: skip if the socket is backed up (the node renders the latest anyway).
    if (this.ws.bufferedAmount > 64 * 1024) return null;
    const seq = ++this.seq;
    const now = performance.now();
    this.sentAt.set(seq, now);
    if (this.sentAt.size > 600) this.sentAt.delete(this.sentAt.keys().next().value);
    this.ws.send(JSON.stringify({ type: "pose", seq, t: (performance.timeOrigin + now) / 1000, position, orientation, ...extra }));
    return seq;
  }

  send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
  }

  // ---- internals -------------------------------------------------------------------------------
  _status(s) {
    if (this.h.onStatus) this.h.onStatus(s);
  }

  _onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (msg.type === "welcome") {
      this.welcome = msg;
      this._status("live");
      if (this.h.onWelcome) this.h.onWelcome(msg);
    } else if (msg.type === "error") {
      this._status("error");
      if (this.h.onError) this.h.onError(msg.error || msg);
    }
    if (this.h.onMessage) this.h.onMessage(msg);
  }

  async _onBinary(buf) {
    let parsed;
    try {
      parsed = parseFrameHeader(buf);
    } catch (e) {
      if (this.h.onError) this.h.onError({ code: "bad_frame", message: e.message });
      return;
    }
    const { header, payload } = parsed;
    this.stats.bytes += buf.byteLength;
    const codec = header.codec || this.codec;
    if (codec === "h264") return this._decodeH264(header, payload);
    const mime = codec === "webp" ? "image/webp" : codec === "png" ? "image/png" : "image/jpeg";
    try {
      const image = await createImageBitmap(new Blob([payload], { type: mime }));
      this._deliver(image, header);
    } catch (e) {
      if (this.h.onError) this.h.onError({ code: "decode_failed", message: e.message });
    }
  }

  _decodeH264(header, payload) {
    if (typeof VideoDecoder === "undefined") return;
    if (!this.decoder || this.decoder.state === "closed") {
      if (!header.keyframe) return; // wait for an IDR
      this.decoder = new VideoDecoder({
        output: (frame) => {
          const hd = this.pendingHeaders.shift() || {};
          this._deliver(frame, hd);
        },
        error: (e) => {
          if (this.h.onError) this.h.onError({ code: "decode_failed", message: e.message });
          this.decoder = null;
          this.send({ type: "keyframe" });
        },
      });
      this.decoder.configure({ codec: "avc1.42E01E", optimizeForLatency: true });
    }
    this.pendingHeaders.push(header);
    this.decoder.decode(new EncodedVideoChunk({ type: header.keyframe ? "key" : "delta", timestamp: (header.seq || 0) * 1000, data: payload }));
  }

  _deliver(image, header) {
    const now = performance.now();
    const sent = this.sentAt.get(header.seq);
    const latencyMs = sent === undefined ? null : now - sent;
    if (latencyMs !== null) this.stats.latencyMs = this.stats.latencyMs === null ? latencyMs : 0.8 * this.stats.latencyMs + 0.2 * latencyMs;
    if (header.node_ms !== undefined) this.stats.serverMs = header.node_ms;
    this.stats.frames += 1;
    this._fpsWindow.push(now);
    while (this._fpsWindow.length && now - this._fpsWindow[0] > 1000) this._fpsWindow.shift();
    this.stats.fps = this._fpsWindow.length;
    this.h.onFrame({ image, header, latencyMs });
  }
}
