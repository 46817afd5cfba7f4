// The digital guide's portrait: the node's pre-rendered bust frames (GET /api/guide/portrait?size=kiosk|phone,
// docs/guide.md) composited in a canvas: the clip frame, the mouth patch from the viseme weights, the eye patch.

import { ApiError } from "./api.js";
import { guideLog } from "./guide-voice.js";

const HEAD_STILL = new Set(["talk", "welcome", "point"]); // the clips whose head matches the patches' pose

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.decoding = "async";
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`portrait sheet ${url} did not load`));
    img.src = url;
  });
}

/**
 * The guide's bust (kiosk) or small figure (phone). `load()` waits for the node's frames (202 while the first
 * render runs; 404/503 reject: the page hides the figure and keeps the captions and the ask box). Then a clip
 * plays (`play("idle" | "talk" | "welcome" | "point")`; a clip that does not loop returns to talk while speaking,
 * else to idle) and `setMouth(weights)` sets the mouth patch: the two strongest visemes blended, "sil" when silent.
 * In the talk and gesture clips the eyes blink every 3-6 s from the eyes sheet (the idle clip blinks by itself).
 */
export class GuidePortrait {
  constructor(canvas, { size = "kiosk", maxWaitMs = 15 * 60 * 1000 } = {}) {
    this.canvas = canvas;
    this.size = size;
    this.maxWaitMs = maxWaitMs;
    this.manifest = null;
    this.sheets = new Map();
    this.clip = "idle";
    this.clipT0 = 0;
    this.speaking = false;
    this.weights = new Map();
    this._raf = 0;
    this._drawn = "";
    this._blinkAt = 0;
    this._shownViseme = null;
    this.ready = false;
  }

  async load() {
    const started = Date.now();
    for (;;) {
      const resp = await fetch(`/api/guide/portrait?size=${encodeURIComponent(this.size)}`, { headers: { Accept: "application/json" } });
      if (resp.status === 202) {
        await resp.text().catch(() => ""); // read the body: an unread one keeps the request open in the browser
        if (Date.now() - started > this.maxWaitMs) throw new ApiError(504, "portrait_timeout", "the portrait is still rendering");
        const after = Math.min(10, Math.max(1, Number(resp.headers.get("Retry-After")) || 2));
        await new Promise((r) => setTimeout(r, after * 1000));
        continue;
      }
      if (!resp.ok) {
        let code = "portrait_unavailable";
        try {
          code = (await resp.json()).error?.code || code;
        } catch (_) {
          /* not JSON */
        }
        throw new ApiError(resp.status, code, `portrait: HTTP ${resp.status}`);
      }
      this.manifest = await resp.json();
      break;
    }
    const m = this.manifest;
    const urls = new Map(Object.entries(m.clips || {}).map(([name, c]) => [name, c.sheet]));
    if (m.mouth?.sheet) urls.set("mouth", m.mouth.sheet);
    if (m.eyes?.sheet) urls.set("eyes", m.eyes.sheet);
    const loaded = await Promise.all([...urls].map(async ([name, url]) => [name, await loadImage(url)]));
    this.sheets = new Map(loaded);
    [this.canvas.width, this.canvas.height] = m.frame;
    this.ready = true;
    this.play(this.speaking ? "talk" : "idle");
    this._loop();
    return m;
  }

  /** Plays a clip from its first frame. */
  play(clip) {
    if (!this.manifest?.clips?.[clip]) return;
    this.clip = clip;
    this.clipT0 = performance.now();
    this._blinkAt = this.clipT0 + 3000 + Math.random() * 3000;
  }

  /** Speaking or not: the talk clip while speaking, idle when silent (a gesture clip plays to its end first). */
  setSpeaking(on) {
    this.speaking = !!on;
    if (on && this.clip === "idle") this.play("talk");
    if (!on && this.clip === "talk") this.play("idle");
  }

  /** The mouth: Map(viseme -> weight) from the track (an empty map: silent). */
  setMouth(weights) {
    this.weights = weights || new Map();
  }

  stop() {
    cancelAnimationFrame(this._raf);
    this._raf = 0;
  }

  _loop() {
    cancelAnimationFrame(this._raf);
    const tick = () => {
      this._raf = requestAnimationFrame(tick);
      if (this.canvas.isConnected && this.canvas.getClientRects().length) this._draw(performance.now()); // shown
    };
    this._raf = requestAnimationFrame(tick);
  }

  _clipFrame(now) {
    const c = this.manifest.clips[this.clip];
    let i = Math.floor(((now - this.clipT0) / 1000) * c.fps);
    if (i >= c.frames && !c.loop) {
      this.play(this.speaking ? "talk" : "idle"); // a gesture ends in the talk pose
      return this._clipFrame(now);
    }
    i = c.loop ? i % c.frames : Math.min(i, c.frames - 1);
    return [c, i];
  }

  _mouthPair() {
    const m = this.manifest.mouth;
    const ranked = [...this.weights].filter(([name]) => m.visemes.includes(name)).sort((a, b) => b[1] - a[1]);
    if (!ranked.length) return [["sil", 1]];
    return ranked.slice(0, 2);
  }

  _eyeFrame(now) {
    if (!HEAD_STILL.has(this.clip) || !this.manifest.eyes) return -1;
    const dt = now - this._blinkAt;
    if (dt < 0) return -1;
    if (dt < 50) return 0; // half
    if (dt < 120) return 1; // closed
    if (dt < 170) return 0; // half
    this._blinkAt = now + 3000 + Math.random() * 3000;
    return -1;
  }

  _draw(now) {
    const [clip, i] = this._clipFrame(now);
    const still = HEAD_STILL.has(this.clip) && this.manifest.mouth;
    const pair = still ? this._mouthPair() : [];
    const eye = this._eyeFrame(now);
    const key = `${this.clip}:${i}:${pair.map(([n, w]) => `${n}${w.toFixed(2)}`).join(",")}:${eye}`;
    if (key === this._drawn) return;
    this._drawn = key;
    const g = this.canvas.getContext("2d");
    const [fw, fh] = this.manifest.frame;
    const sheet = this.sheets.get(this.clip);
    g.clearRect(0, 0, fw, fh);
    g.globalAlpha = 1;
    g.drawImage(sheet, (i % clip.cols) * fw, Math.floor(i / clip.cols) * fh, fw, fh, 0, 0, fw, fh);
    if (still) {
      const m = this.manifest.mouth;
      const [bx, by, bw, bh] = m.box;
      const mouth = this.sheets.get("mouth");
      const patch = (name, alpha) => {
        const k = m.visemes.indexOf(name);
        if (k < 0) return;
        g.globalAlpha = alpha;
        g.drawImage(mouth, (k % m.cols) * bw, Math.floor(k / m.cols) * bh, bw, bh, bx, by, bw, bh);
      };
      const [[n1, w1], second] = pair;
      patch(n1, 1);
      if (second) patch(second[0], second[1] / (w1 + second[1]));
      g.globalAlpha = 1;
      if (n1 !== this._shownViseme) {
        if (this.speaking) guideLog.mouthChanges += 1;
        this._shownViseme = n1;
        guideLog.lastViseme = n1;
      }
    }
    if (eye >= 0) {
      const { box, cols = 2 } = this.manifest.eyes;
      const [ex, ey, ew, eh] = box;
      g.drawImage(this.sheets.get("eyes"), (eye % cols) * ew, Math.floor(eye / cols) * eh, ew, eh, ex, ey, ew, eh);
    }
  }
}
