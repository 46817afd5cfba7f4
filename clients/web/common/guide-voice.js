// The digital guide's voice: questions to the node (askGuide), the node's speech with its viseme track played
// through the page's one AudioContext (GuideVoice), captions for everything said. Routes: docs/guide.md.
// Test hook, always on: window.__guideLog = {said, audioStarted, mouthFrames, mouthChanges, lastViseme}.

import { api, ApiError } from "./api.js";
import { getLang } from "./i18n.js";

export const guideLog = (globalThis.__guideLog ||= { said: [], audioStarted: 0, mouthFrames: 0, mouthChanges: 0, lastViseme: null });
const SAID_KEPT = 20;
const SPEECH_MAX_CHARS = { zh: 150, en: 400 }; // the speech route's limits a request (docs/guide.md)
const LEAD_S = 0.08; // the sound starts this much after it is scheduled, so the first mouth frame is on time

/** A question to the guide -> the reply of POST /api/guide/ask ({intent, confidence, answer: {text, lang}, facts,
 * offer_advisor}). Without `lang` the answer is in the question's language. */
export async function askGuide(text, { lang, product, variant } = {}) {
  const body = { text };
  if (lang) body.lang = lang;
  if (product) body.product = product;
  if (product && variant) body.variant = variant;
  return api("/api/guide/ask", { method: "POST", body, timeoutMs: 20000 });
}

// ---- the viseme track --------------------------------------------------------------------------------------------
/** [[t_ms, name, weight], ...] -> Map(name -> [[t_ms, weight], ...] sorted by time). */
export function compileTrack(visemes) {
  const byName = new Map();
  for (const [tMs, name, w] of visemes || []) {
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push([Number(tMs), Number(w)]);
  }
  for (const keys of byName.values()) keys.sort((a, b) => a[0] - b[0]);
  return byName;
}

/** The weights at `tMs`: linear between a viseme's own keys, 0 outside them; only weights above 0 are kept. */
export function weightsAt(track, tMs) {
  const out = new Map();
  for (const [name, keys] of track) {
    const n = keys.length;
    if (!n || tMs < keys[0][0] || tMs > keys[n - 1][0]) continue;
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (keys[mid][0] <= tMs) lo = mid;
      else hi = mid;
    }
    const [t0, w0] = keys[lo];
    const [t1, w1] = keys[hi];
    const w = t1 > t0 ? w0 + ((w1 - w0) * (tMs - t0)) / (t1 - t0) : Math.max(w0, w1);
    if (w > 1e-3) out.set(name, w);
  }
  return out;
}

/** Text -> pieces the speech route takes (at most 150 characters in Mandarin, 400 in English), cut between
 * sentences where it can, else between clauses or words. */
export function speechChunks(text, lang) {
  const max = SPEECH_MAX_CHARS[lang] || SPEECH_MAX_CHARS.zh;
  const sentences = String(text).split(/(?<=[。！？!?；;])\s*|(?<=\.)\s+/).filter((s) => s.trim());
  const out = [];
  let cur = "";
  const push = (s) => {
    if (s.trim()) out.push(s.trim());
  };
  for (let s of sentences) {
    while (s.length > max) {
      const head = s.slice(0, max);
      const cut = Math.max(head.lastIndexOf("，"), head.lastIndexOf(","), head.lastIndexOf("、"), head.lastIndexOf(" "));
      const at = cut > max / 3 ? cut + 1 : max;
      push(cur);
      cur = "";
      push(s.slice(0, at));
      s = s.slice(at);
    }
    if ((cur + (cur ? " " : "") + s).length > max) {
      push(cur);
      cur = s;
    } else cur = cur ? `${cur}${lang === "zh" ? "" : " "}${s}` : s;
  }
  push(cur);
  return out;
}

// ---- audio: one AudioContext for the page --------------------------------------------------------------------------
let audioCtx = null;
function audioContext() {
  if (!audioCtx) {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctx) return null;
    audioCtx = new Ctx();
  }
  return audioCtx;
}
/** Browsers hold audio back until a user gesture: every touch or key wakes a suspended context (the kiosk's first
 * touch of the attract screen is one). */
function unlockAudio() {
  try {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
  } catch (_) {
    /* no audio on this device: captions only */
  }
}
if (typeof document !== "undefined") {
  for (const ev of ["pointerdown", "keydown", "touchend"]) document.addEventListener(ev, unlockAudio, { capture: true, passive: true });
}

async function running(ctx) {
  if (ctx.state === "running") return true;
  try {
    await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 250))]);
  } catch (_) {
    /* stays suspended */
  }
  return ctx.state === "running";
}

function base64Bytes(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

const fetchSpeech = (text, lang) => api("/api/guide/speech", { method: "POST", body: { text, lang }, timeoutMs: 30000 });

/**
 * The guide's voice: `say(text, lang)` shows the caption, fetches the speech, plays it through the page's one
 * AudioContext and calls onViseme(Map name -> weight) every animation frame from the track, read on the audio
 * clock. Muted (or audio blocked, or no speech on the node): the caption alone. onState("speaking" | "idle").
 * onTrack(visemes) gets each piece's whole track ([[t_ms, name, weight], ...], t from its sound's start) at the
 * moment its sound starts: for a face drawn elsewhere (the hall's guide is rendered on the node).
 */
export class GuideVoice {
  constructor({ captionEl = null, onViseme = null, onState = null, onBlocked = null, onTrack = null } = {}) {
    this.captionEl = captionEl;
    this.onBlocked = onBlocked; // the browser held the sound back until a touch
    this.onViseme = onViseme;
    this.onTrack = onTrack;
    this.onState = onState;
    this._muted = false;
    this._run = 0; // each say() is one run; stop() or a newer say() ends the older one
    this._source = null;
    this._raf = 0;
    this._end = null;
    this.speaking = false;
    this.blocked = false; // the browser held the audio back (no gesture yet)
  }

  get muted() {
    return this._muted;
  }

  mute(on) {
    this._muted = !!on;
    if (this._muted) this._silence();
  }

  /** Shows `text` as the caption and speaks it; resolves when it has been said (or stopped). */
  async say(text, lang = getLang()) {
    this.stop();
    const run = ++this._run;
    const language = lang === "en" ? "en" : "zh";
    if (this.captionEl) {
      this.captionEl.textContent = text;
      this.captionEl.lang = language === "zh" ? "zh-CN" : "en";
    }
    guideLog.said.push(text);
    if (guideLog.said.length > SAID_KEPT) guideLog.said.splice(0, guideLog.said.length - SAID_KEPT);
    if (this._muted) return;
    const ctx = (() => {
      try {
        return audioContext();
      } catch (_) {
        return null;
      }
    })();
    if (!ctx) return;
    this._state(true);
    try {
      const chunks = speechChunks(text, language);
      let next = chunks.length ? fetchSpeech(chunks[0], language) : null;
      const total = chunks.reduce((n, c) => n + c.length, 0) || 1;
      let before = 0;
      for (let i = 0; i < chunks.length && run === this._run; i++) {
        const reply = await next;
        next = i + 1 < chunks.length ? fetchSpeech(chunks[i + 1], language) : null; // the next piece meanwhile
        next?.catch(() => {});
        if (run !== this._run || this._muted) return;
        if (!(await running(ctx))) {
          this.blocked = true; // no gesture yet: the caption stays, the next touch wakes the audio
          this.onBlocked?.();
          return;
        }
        this.blocked = false;
        const buffer = await ctx.decodeAudioData(base64Bytes(reply.audio.base64));
        if (run !== this._run || this._muted) return;
        if (this.onTrack) {
          const visemes = reply.visemes || [];
          setTimeout(() => run === this._run && this.onTrack(visemes), LEAD_S * 1000);
        }
        await this._play(ctx, buffer, compileTrack(reply.visemes), run, (f) => this._follow((before + f * chunks[i].length) / total));
        before += chunks[i].length;
      }
    } catch (e) {
      if (!(e instanceof ApiError)) console.warn("guide speech:", e);
      // no speech on this node (503), rate limited, offline: the caption is what the customer gets
    } finally {
      if (run === this._run) this._state(false);
    }
  }

  /** A caption longer than its box scrolls along with the speech (`progress` 0..1 of the text said). */
  _follow(progress) {
    const box = this.captionEl?.parentElement;
    if (!box || box.scrollHeight <= box.clientHeight + 2) return;
    const top = this.captionEl.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    const target = top + progress * this.captionEl.offsetHeight - box.clientHeight * 0.4;
    box.scrollTop = Math.max(0, Math.min(box.scrollHeight - box.clientHeight, target));
  }

  _play(ctx, buffer, track, run, onProgress = null) {
    return new Promise((resolve) => {
      const src = ctx.createBufferSource();
      src.buffer = buffer;
      src.connect(ctx.destination);
      const start = ctx.currentTime + LEAD_S;
      this._source = src;
      this._end = resolve;
      src.onended = () => {
        if (this._source === src) this._source = null;
        cancelAnimationFrame(this._raf);
        this.onViseme?.(new Map());
        resolve();
      };
      src.start(start);
      guideLog.audioStarted += 1;
      const frame = () => {
        if (run !== this._run || this._source !== src) return;
        const tMs = (ctx.currentTime - start) * 1000;
        const w = tMs < 0 ? new Map() : weightsAt(track, tMs);
        guideLog.mouthFrames += 1;
        this.onViseme?.(w);
        onProgress?.(Math.min(1, Math.max(0, tMs / (buffer.duration * 1000))));
        this._raf = requestAnimationFrame(frame);
      };
      this._raf = requestAnimationFrame(frame);
    });
  }

  _silence() {
    cancelAnimationFrame(this._raf);
    const src = this._source;
    this._source = null;
    if (src) {
      src.onended = null;
      try {
        src.stop();
      } catch (_) {
        /* not started */
      }
    }
    this._end?.();
    this._end = null;
    this.onViseme?.(new Map());
  }

  /** Stops speaking now (the caption stays). */
  stop() {
    this._run += 1;
    this._silence();
    this._state(false);
  }

  _state(on) {
    if (this.speaking === on) return;
    this.speaking = on;
    this.onState?.(on ? "speaking" : "idle");
  }
}
