// Client tiers of a product view: `live` (the /ws/stream pose stream) -> `views` (the product's prepared 360 view
// set: manifest + frames over HTTP, the frame nearest the viewer's angle shown) -> `poster` (one still image), down
// when the measured link cannot carry a tier and back up by probing. The numbers are the shared policy of
// docs/links.md ("Client tiers"); the Python client (clients/python) follows the same rule.
//
// The policy part (LiveMeter, ViewsMeter, TierMachine) is pure: every call takes `now` in milliseconds, so tests
// drive it with their own clock. The glue (ViewSet, TierDriver) fetches, decodes and runs the machine on a timer.

import { REFRESH_STATUSES, fetchFreshManifest, urlsByAngle } from "./spin.js";

export const TIER_POLICY = Object.freeze({
  warmupMs: 2000, // live is judged after the first 2 s of a connection
  windowMs: 3000, // over a sliding 3 s window (that never reaches back into the first 2 s)
  minSpanMs: 1000, // frames/s is judged over at least 1 s of that window (a 3 s probe: its third second)
  minFpsShare: 0.4, // delivered frames/s below 40 % of the requested target_fps: demote
  maxP50Ms: 400, // pose-to-frame median above 400 ms: demote
  stallMs: 2000, // no frame at all for 2 s: demote
  manifestTimeoutMs: 5000, // the view set's manifest not loaded within 5 s: poster
  frameFetchCount: 5, // the median frame fetch over the last 5 frames ...
  maxFrameFetchP50Ms: 1500, // ... above 1.5 s: poster
  probeEveryMs: 10000, // from views, probe live every 10 s
  probeMs: 3000, // a probe opens the stream for 3 s and measures with the same rule
  retryViewsEveryMs: 10000, // from poster, retry the views every 10 s
});

export const TIERS = Object.freeze(["live", "views", "poster"]);

export function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The live rule over one stream connection that began at `startedAt`. */
export class LiveMeter {
  constructor(targetFps, startedAt, policy = TIER_POLICY) {
    this.targetFps = Math.max(1, Number(targetFps) || 1);
    this.startedAt = startedAt;
    this.p = policy;
    this.frames = []; // [at, latencyMs | null], oldest first, trimmed to the window
    this.lastFrameAt = null;
  }

  frame(now, latencyMs = null) {
    this.frames.push([now, Number.isFinite(latencyMs) ? latencyMs : null]);
    this.lastFrameAt = now;
    this._trim(now);
  }

  /** {state: "warming" | "ok" | "fail", reason, fps, p50Ms}: "warming" during the first warmupMs (the hello,
   * the node loading the product, the first render are not judged). The window is the last windowMs after the
   * warm-up; frames/s counts once it spans minSpanMs, the pose-to-frame median once it holds a frame. */
  verdict(now) {
    this._trim(now);
    const from = Math.max(this.startedAt + this.p.warmupMs, now - this.p.windowMs);
    const span = now - from;
    const inWindow = this.frames.filter((f) => f[0] > from);
    const fps = span >= this.p.minSpanMs ? (inWindow.length * 1000) / span : null;
    const p50Ms = median(inWindow.map((f) => f[1]).filter((x) => x !== null));
    const out = { fps, p50Ms, reason: null };
    if (now - this.startedAt < this.p.warmupMs) return { ...out, state: "warming" };
    const since = now - (this.lastFrameAt ?? this.startedAt);
    if (since >= this.p.stallMs) return { ...out, state: "fail", reason: "stalled" };
    if (fps !== null && fps < this.p.minFpsShare * this.targetFps) return { ...out, state: "fail", reason: "slow" };
    if (p50Ms !== null && p50Ms > this.p.maxP50Ms) return { ...out, state: "fail", reason: "late" };
    return { ...out, state: "ok" };
  }

  _trim(now) {
    while (this.frames.length && now - this.frames[0][0] > this.p.windowMs) this.frames.shift();
  }
}

/** The views rule over one load of a view set that began at `startedAt`. */
export class ViewsMeter {
  constructor(startedAt, policy = TIER_POLICY) {
    this.startedAt = startedAt;
    this.p = policy;
    this.loadedAt = null;
    this.fetches = []; // {start, end | null, ok}, oldest first
  }

  manifestLoaded(now) {
    this.loadedAt = now;
  }

  fetchStarted(now) {
    const f = { start: now, end: null, ok: true };
    this.fetches.push(f);
    if (this.fetches.length > 4 * this.p.frameFetchCount) this.fetches.shift();
    return f;
  }

  fetchEnded(f, now, ok) {
    f.end = now;
    f.ok = ok;
  }

  /** {state: "loading" | "ok" | "fail", reason, p50Ms}. A fetch still running counts with its age so far, a
   * failed one as endless: a dead link fails the rule without waiting for its timeouts. */
  verdict(now) {
    if (this.loadedAt === null) {
      const late = now - this.startedAt >= this.p.manifestTimeoutMs;
      return { state: late ? "fail" : "loading", reason: late ? "manifest" : null, p50Ms: null };
    }
    const last = this.fetches.slice(-this.p.frameFetchCount);
    const p50Ms = median(last.map((f) => (!f.ok ? Infinity : (f.end ?? now) - f.start)));
    if (p50Ms !== null && p50Ms > this.p.maxFrameFetchP50Ms) return { state: "fail", reason: "frames", p50Ms };
    return { state: "ok", reason: null, p50Ms };
  }
}

/**
 * Which tier to show, from what the glue reports. Every method returns a list of actions for the glue:
 * {type: "openLive"} (open the stream; `probe: true` while the views stay on screen), {type: "closeLive"},
 * {type: "loadViews"} (fetch the manifest and frames, reporting them), {type: "dropViews"},
 * {type: "tier", from, to, reason} (show it and say so).
 */
export class TierMachine {
  constructor({ targetFps, policy = TIER_POLICY } = {}) {
    this.p = policy;
    this.targetFps = targetFps;
    this.tier = null;
    this.live = null; // LiveMeter of the open stream (the shown one, or a probe's)
    this.probing = false;
    this.views = null; // ViewsMeter of the view set being loaded or shown
    this.viewsShown = false; // a frame of the set is on screen (poster -> views waits for it)
    this.nextProbeAt = null;
    this.nextViewsAt = null;
    this.reason = null;
  }

  start(now) {
    this.tier = "live";
    this.live = new LiveMeter(this.targetFps, now, this.p);
    return [{ type: "openLive", probe: false }, { type: "tier", from: null, to: "live", reason: null }];
  }

  liveFrame(now, latencyMs) {
    this.live?.frame(now, latencyMs);
  }

  manifestLoaded(now) {
    this.views?.manifestLoaded(now);
  }

  fetchStarted(now) {
    return this.views ? this.views.fetchStarted(now) : null;
  }

  fetchEnded(f, now, ok) {
    if (f) this.views?.fetchEnded(f, now, ok);
  }

  /** The glue has a frame of the view set on screen (reported once per load). */
  viewShown(now) {
    if (!this.views) return [];
    this.viewsShown = true;
    if (this.tier !== "poster") return [];
    this.nextProbeAt = now + this.p.probeEveryMs;
    return this._to("views", "recovered");
  }

  /** The glue's product changed: reload what the tier shows. A live stream switches product in place, which
   * is judged like a new connection (the node loads the product first). */
  productChanged(now) {
    if (this.tier === "views") return this._loadViews(now);
    if (this.tier === "live" && this.live) this.live = new LiveMeter(this.targetFps, now, this.p);
    return [];
  }

  step(now) {
    if (this.tier === "live") {
      const v = this.live.verdict(now);
      if (v.state !== "fail") return [];
      this.live = null;
      this.nextProbeAt = now + this.p.probeEveryMs;
      return [{ type: "closeLive" }, ...this._loadViews(now), ...this._to("views", v.reason)];
    }
    const out = [];
    if (this.tier === "views") {
      const v = this.views.verdict(now);
      if (v.state === "fail") {
        this.views = null;
        this.viewsShown = false;
        this.nextViewsAt = now + this.p.retryViewsEveryMs;
        if (this.probing) out.push(...this._endProbe(now));
        this.nextProbeAt = null;
        return [...out, { type: "dropViews" }, ...this._to("poster", v.reason)];
      }
      if (this.probing) return this._stepProbe(now);
      if (now >= this.nextProbeAt) {
        this.probing = true;
        this.live = new LiveMeter(this.targetFps, now, this.p);
        return [{ type: "openLive", probe: true }];
      }
      return [];
    }
    // poster: retry the views every retryViewsEveryMs; a retry that fails waits for the next
    if (this.views && !this.viewsShown && this.views.verdict(now).state === "fail") {
      this.views = null;
      this.nextViewsAt = now + this.p.retryViewsEveryMs;
      return [{ type: "dropViews" }];
    }
    if (!this.views && now >= this.nextViewsAt) return this._loadViews(now);
    return [];
  }

  _stepProbe(now) {
    const v = this.live.verdict(now);
    if (v.state === "fail") return this._endProbe(now);
    if (now - this.live.startedAt < this.p.probeMs) return [];
    this.probing = false; // passed: the probe's stream is the live one now
    this.views = null;
    this.viewsShown = false;
    return [{ type: "dropViews" }, ...this._to("live", "recovered")];
  }

  _endProbe(now) {
    this.probing = false;
    this.live = null;
    this.nextProbeAt = now + this.p.probeEveryMs;
    return [{ type: "closeLive" }];
  }

  _loadViews(now) {
    this.views = new ViewsMeter(now, this.p);
    this.viewsShown = false;
    return [{ type: "loadViews" }];
  }

  _to(tier, reason) {
    const from = this.tier;
    this.tier = tier;
    this.reason = reason;
    return [{ type: "tier", from, to: tier, reason }];
  }
}

// ---- glue ---------------------------------------------------------------------------------------

/**
 * One product's view set over HTTP: the manifest, then frames nearest the current angle first (the start frame,
 * a coarse ring, the rest of its row, then the other rows), a couple at a time. Frames are kept as they came
 * (JPEG, ~10 KB each) and only the one shown is decoded: 108 decoded frames would hold 100 MB and more.
 * Reports to `meter` (fetchStarted/fetchEnded/manifestLoaded with the injected clock).
 */
export class ViewSet {
  constructor({ manifestUrl, meter, now, angle, onFirstFrame = null, concurrency = 2 }) {
    this.manifestUrl = manifestUrl;
    this.meter = meter;
    this.now = now;
    this.angle = angle; // () => [yawDeg, pitchDeg] the viewer looks from
    this.onFirstFrame = onFirstFrame;
    this.concurrency = concurrency;
    this.abort = new AbortController();
    this.yaws = [];
    this.pitches = [];
    this.cells = new Map(); // "pi,yi" -> {url, blob}
    this.loaded = 0;
    this.shown = null; // {key, image, yawDeg, pitchDeg}: the decoded frame on screen
    this._decoding = null; // the key being decoded
    this._refresh = null; // the one fresh manifest a missing frame calls for (spin.js's rule): its promise
    this._refreshed = false;
    this.run = this._run().catch(() => {
      /* aborted, or the rule demotes to the poster */
    });
  }

  close() {
    this.abort.abort();
    this.shown?.image.close?.();
    this.shown = null;
    this.cells.clear();
  }

  /** The frame to show for (yawDeg, pitchDeg): the decoded frame nearest it, or the one shown until that one is
   * decoded; null before any. */
  picture(yawDeg, pitchDeg) {
    const near = this.nearest(yawDeg, pitchDeg);
    if (near && near.key !== this.shown?.key && near.key !== this._decoding) {
      this._decoding = near.key;
      createImageBitmap(near.blob).then((image) => {
        if (this.abort.signal.aborted || this._decoding !== near.key) return image.close();
        this.shown?.image.close?.();
        this.shown = { key: near.key, image, yawDeg: near.yawDeg, pitchDeg: near.pitchDeg };
        this._decoding = null;
      }, () => {
        if (this._decoding === near.key) this._decoding = null;
      });
    }
    return this.shown;
  }

  /** The loaded frame nearest (yawDeg, pitchDeg): {key, blob, yawDeg, pitchDeg} or null. */
  nearest(yawDeg, pitchDeg) {
    if (!this.loaded) return null;
    const pi = nearestIndex(this.pitches, pitchDeg);
    const rows = [pi, ...this.pitches.map((_, i) => i).filter((i) => i !== pi).sort((a, b) => Math.abs(a - pi) - Math.abs(b - pi))];
    const n = this.yaws.length;
    const yi = nearestYaw(this.yaws, yawDeg);
    for (const r of rows) {
      for (let d = 0; d <= n / 2; d++) {
        for (const i of d ? [yi + d, yi - d] : [yi]) {
          const key = `${r},${((i % n) + n) % n}`;
          const c = this.cells.get(key);
          if (c?.blob) return { key, blob: c.blob, yawDeg: this.yaws[((i % n) + n) % n], pitchDeg: this.pitches[r] };
        }
      }
    }
    return null;
  }

  async _run() {
    const signal = this.abort.signal;
    let manifest = null;
    while (!manifest) {
      const resp = await fetch(this.manifestUrl, { signal, headers: { Accept: "application/json" } });
      const body = resp.ok ? await resp.json() : null;
      if (body && Array.isArray(body.frames) && body.frames.length) manifest = body;
      else await sleep(1000, signal); // 202 while the node renders the set; the rule times the wait out
    }
    this.meter.manifestLoaded(this.now());
    this.pitches = [...new Set(manifest.frames.map((f) => f.pitch_deg))].sort((a, b) => a - b);
    this.yaws = [...new Set(manifest.frames.map((f) => f.yaw_deg))].sort((a, b) => a - b);
    for (const f of manifest.frames) {
      const angle = `${f.yaw_deg},${f.pitch_deg}`; // where its frame is in a fresh manifest
      this.cells.set(`${this.pitches.indexOf(f.pitch_deg)},${this.yaws.indexOf(f.yaw_deg)}`, { url: f.url, blob: null, angle });
    }
    const queue = this._order(...this.angle());
    const worker = async () => {
      while (queue.length && !signal.aborted) await this._load(queue.shift(), signal);
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
  }

  _order(yawDeg, pitchDeg) {
    const pi = nearestIndex(this.pitches, pitchDeg);
    const yi = nearestYaw(this.yaws, yawDeg);
    const n = this.yaws.length;
    const keys = [];
    const seen = new Set();
    const add = (p, y) => {
      const k = `${p},${y}`;
      if (this.cells.has(k) && !seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    };
    for (const stride of [n, 9, 3, 1]) for (let i = 0; i < n; i += stride) add(pi, (yi + i) % n);
    for (let p = 0; p < this.pitches.length; p++) for (let y = 0; y < n; y++) add(p, y);
    return keys;
  }

  async _load(key, signal) {
    const cell = this.cells.get(key);
    const f = this.meter.fetchStarted(this.now());
    const beforeRefresh = !this._refreshed;
    try {
      let resp = await fetch(cell.url, { signal });
      // a frame no live edge holds (its edge is gone): the manifest once more, fresh, and that angle's frame of it
      if (REFRESH_STATUSES.has(resp.status) && beforeRefresh && (await this._refreshOnce(signal))) {
        resp = await fetch(cell.url, { signal });
      }
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const blob = await resp.blob();
      this.meter.fetchEnded(f, this.now(), true);
      cell.blob = blob;
    } catch (e) {
      if (!signal.aborted) this.meter.fetchEnded(f, this.now(), false);
      if (e.name === "AbortError") throw e;
      return;
    }
    this.loaded += 1;
    if (this.loaded === 1 && this.onFirstFrame) this.onFirstFrame();
  }

  /** The one fresh manifest (shared by the frames that failed meanwhile): true when it came. */
  _refreshOnce(signal) {
    if (!this._refresh) {
      this._refresh = fetchFreshManifest(this.manifestUrl, { signal }).then((m) => {
        this._refreshed = true;
        if (!m) return false;
        const urls = urlsByAngle(m);
        for (const cell of this.cells.values()) {
          const url = cell.blob ? null : urls.get(cell.angle);
          if (url) cell.url = url;
        }
        return true;
      });
    }
    return this._refresh;
  }
}

/**
 * Runs a TierMachine for a page: `live` (callbacks open and close the page's stream; the page reports its frames
 * with liveFrame), `views` (a ViewSet of `viewsUrl()`), `poster` (an image of `posterUrl()`, fetched ahead while
 * the link is good). Shows the tier on `stage.dataset.tier` and a short notice in `notice` on each change.
 */
export class TierDriver {
  constructor({ stage, notice, targetFps, openLive, closeLive, viewsUrl, posterUrl, angle, message,
    onTier = null, now = () => performance.now(), every = (fn, ms) => setInterval(fn, ms), policy = TIER_POLICY }) {
    Object.assign(this, { stage, notice, openLive, closeLive, viewsUrl, posterUrl, angle, message, onTier, now, policy });
    this.machine = new TierMachine({ targetFps, policy });
    this.views = null;
    this.poster = null; // {url, image}
    this.log = []; // [{at, from, to, reason}] for diagnostics and the browser tests
    this._noticeTimer = null;
    this._every = every;
  }

  get tier() {
    return this.machine.tier;
  }

  get probing() {
    return this.machine.probing;
  }

  start() {
    this._apply(this.machine.start(this.now()));
    this.prefetchPoster();
    this._timer = this._every(() => this._apply(this.machine.step(this.now())), 200);
  }

  stop() {
    clearInterval(this._timer);
    this.views?.close();
    this.views = null;
  }

  liveFrame(latencyMs) {
    this.machine.liveFrame(this.now(), latencyMs);
  }

  productChanged() {
    this.prefetchPoster();
    this._apply(this.machine.productChanged(this.now()));
  }

  /** What to draw now: {kind: "live"} (the page's own stream frame), {kind: "image", image}, or null. */
  picture() {
    const tier = this.machine.tier;
    if (tier === "live") return { kind: "live" };
    if (tier === "views") {
      const [yaw, pitch] = this.angle();
      const f = this.views?.picture(yaw, pitch);
      if (f) return { kind: "image", image: f.image, yawDeg: f.yawDeg, pitchDeg: f.pitchDeg };
    }
    const p = this.poster;
    return p?.image ? { kind: "image", image: p.image } : null;
  }

  prefetchPoster() {
    const url = this.posterUrl();
    if (this.poster?.url === url) return;
    const poster = { url, image: null };
    this.poster = poster;
    const img = new Image();
    img.decoding = "async";
    img.onload = () => {
      if (this.poster === poster) poster.image = img;
    };
    img.src = url;
  }

  _apply(actions) {
    for (const a of actions) {
      if (a.type === "openLive") this.openLive({ probe: a.probe });
      else if (a.type === "closeLive") this.closeLive();
      else if (a.type === "loadViews") this._loadViews();
      else if (a.type === "dropViews") {
        this.views?.close();
        this.views = null;
      } else if (a.type === "tier") this._show(a);
    }
  }

  _loadViews() {
    this.views?.close();
    const meter = this.machine; // reports go to the machine's current ViewsMeter
    this.views = new ViewSet({
      manifestUrl: this.viewsUrl(),
      now: this.now,
      angle: this.angle,
      meter: {
        manifestLoaded: (t) => meter.manifestLoaded(t),
        fetchStarted: (t) => meter.fetchStarted(t),
        fetchEnded: (f, t, ok) => meter.fetchEnded(f, t, ok),
      },
      onFirstFrame: () => this._apply(this.machine.viewShown(this.now())),
    });
  }

  _show({ from, to, reason }) {
    this.stage.dataset.tier = to;
    this.stage.dataset.tierReason = reason || "";
    this.log.push({ at: Math.round(this.now()), from, to, reason });
    if (this.onTier) this.onTier(to, from, reason);
    if (!from) return; // the first tier needs no notice
    const key = to === "live" ? "tier.to_live" : to === "poster" ? "tier.to_poster" : from === "poster" ? "tier.back_to_views" : "tier.to_views";
    this.notice.textContent = this.message(key);
    this.notice.dataset.tier = to;
    this.notice.hidden = false;
    clearTimeout(this._noticeTimer);
    this._noticeTimer = setTimeout(() => (this.notice.hidden = true), 6000);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new DOMException("aborted", "AbortError"));
    }, { once: true });
  });
}

function nearestIndex(values, v) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (Math.abs(values[i] - v) < Math.abs(values[best] - v)) best = i;
  return best;
}

/** Index of the yaw nearest `deg` on the circle (359 is next to 0). */
function nearestYaw(yaws, deg) {
  const y = ((deg % 360) + 360) % 360;
  let best = 0;
  let bestD = Infinity;
  yaws.forEach((v, i) => {
    const d = Math.min(Math.abs(v - y), 360 - Math.abs(v - y));
    if (d < bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}
