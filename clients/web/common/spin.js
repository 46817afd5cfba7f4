// Drag-to-spin over a 360 view set manifest {"product","variant","size","frames":[{"yaw_deg","pitch_deg","url"}]}.
// Frames load progressively (the first frame, then a coarse ring, then the rest), so the product can be
// turned almost at once; a frame not yet loaded is replaced by the nearest loaded one. Zoom by wheel, pinch,
// buttons or +/- keys; when zoomed in a drag pans. Arrow keys turn and tilt.
// A frame that does not load (its edge is gone: nginx answers 404/502/503; an <img> cannot tell which) makes the
// spinner fetch the manifest once more with `fresh=1` (nginx skips its cached copy, a live edge renders the set,
// the request waits for it) and load that angle's frame of the new manifest: once per spinner
// (docs/deploy.md "A lost edge's view sets"; the Python client's showroom_client/spin.py follows the same rule).

/** Frame answers that call for the fresh manifest (a fetch sees them; an <img> only sees that it failed). */
export const REFRESH_STATUSES = new Set([404, 502, 503]);

/** The manifest URL that skips nginx's cached copy: `wait` dropped (the request waits for the rendering) and
 * `fresh=1` last (nginx leaves it out of its cache key, so the answer replaces the stale copy). */
export function freshManifestUrl(url) {
  const u = new URL(url, "http://origin.invalid");
  u.searchParams.delete("wait");
  u.searchParams.delete("fresh");
  u.searchParams.append("fresh", "1");
  return u.pathname + u.search;
}

/** The manifest URL of a loaded manifest's view set (the web pages ask for variant and size only). */
export function manifestUrlOf(manifest) {
  const q = new URLSearchParams();
  if (manifest.variant) q.set("variant", manifest.variant);
  if (manifest.size) q.set("size", manifest.size);
  if (manifest.format && manifest.format !== "jpeg") q.set("format", manifest.format);
  return `/api/products/${encodeURIComponent(manifest.product)}/views?${q}`;
}

/** Fetches the fresh manifest of `url` (see freshManifestUrl): the manifest, or null when none came. */
export async function fetchFreshManifest(url, { signal = null, timeoutMs = 120000 } = {}) {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  signal?.addEventListener("abort", () => stop.abort(), { once: true });
  try {
    const resp = await fetch(freshManifestUrl(url), { signal: stop.signal, headers: { Accept: "application/json" } });
    const body = resp.ok ? await resp.json() : null;
    return body && Array.isArray(body.frames) && body.frames.length ? body : null;
  } catch (_) {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** Frame URLs by "yawDeg,pitchDeg" of a manifest: where an old manifest's frame is in a new one. */
export function urlsByAngle(manifest) {
  return new Map(manifest.frames.map((f) => [`${f.yaw_deg},${f.pitch_deg}`, f.url]));
}

export class Spinner {
  /**
   * @param {HTMLElement} host element that receives the view (it gets class "spin")
   * @param {{frames: {yaw_deg:number, pitch_deg:number, url:string}[]}} manifest
   */
  constructor(host, manifest, { onProgress = null, onTurn = null, pixelsPerFrame = null, startYawDeg = 0, startPitchDeg = null, manifestUrl = null } = {}) {
    this.host = host;
    this.manifestUrl = manifestUrl || (manifest.product ? manifestUrlOf(manifest) : null);
    this._refresh = null; // the one fresh manifest's promise: true when it came and its frames replaced the old
    this._refreshed = false;
    this.onProgress = onProgress;
    this.onTurn = onTurn; // onTurn(yawDeg, pitchDeg) after every change of the angle shown (drag, keys, showAngle)
    this.manifestKey = manifest.key || null;
    this.pitches = [...new Set(manifest.frames.map((f) => f.pitch_deg))].sort((a, b) => a - b);
    this.yaws = [...new Set(manifest.frames.map((f) => f.yaw_deg))].sort((a, b) => a - b);
    this.grid = this.pitches.map(() => new Array(this.yaws.length).fill(null));
    for (const f of manifest.frames) {
      this.grid[this.pitches.indexOf(f.pitch_deg)][this.yaws.indexOf(f.yaw_deg)] = { url: f.url, loaded: false, yaw: f.yaw_deg, pitch: f.pitch_deg };
    }
    // Middle pitch row (eye level) is where a customer starts.
    this.pitchIndex = Math.floor((this.pitches.length - 1) / 2);
    const p0 = this.pitches.indexOf(0);
    if (p0 >= 0) this.pitchIndex = p0;
    if (startPitchDeg !== null && Number.isFinite(startPitchDeg)) this.pitchIndex = nearestIndex(this.pitches, startPitchDeg);
    this.yawIndex = nearestIndex(this.yaws, startYawDeg);
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.pixelsPerFrame = pixelsPerFrame;
    this.loadedCount = 0;
    this.total = manifest.frames.length;
    this.destroyed = false;

    host.classList.add("spin");
    host.tabIndex = host.tabIndex >= 0 ? host.tabIndex : 0;
    host.setAttribute("role", "img");
    this.img = document.createElement("img");
    this.img.className = "spin-frame";
    this.img.alt = "";
    this.img.draggable = false;
    this.bar = document.createElement("div");
    this.bar.className = "spin-progress";
    host.replaceChildren(this.img, this.bar);

    this._pointers = new Map();
    this._bind();
    this._loadProgressively();
  }

  get frameKey() {
    return `${this.yawIndex},${this.pitchIndex}`;
  }

  get yawDeg() {
    return this.yaws[this.yawIndex];
  }

  get pitchDeg() {
    return this.pitches[this.pitchIndex];
  }

  /** Turns by `dYaw` frames and tilts by `dPitch` rows. */
  step(dYaw, dPitch = 0) {
    const n = this.yaws.length;
    this._turnTo((((this.yawIndex + dYaw) % n) + n) % n, Math.max(0, Math.min(this.pitches.length - 1, this.pitchIndex + dPitch)));
  }

  /** Shows the frame nearest to `yawDeg` (any angle, wrapped to the view set's circle) and `pitchDeg` (null or
   * omitted: the pitch stays), e.g. the angle an advisor shows or a customer is looking from. */
  showAngle(yawDeg, pitchDeg = null) {
    let yi = this.yawIndex;
    if (yawDeg !== null && yawDeg !== undefined && Number.isFinite(Number(yawDeg))) {
      const y = ((Number(yawDeg) % 360) + 360) % 360;
      yi = nearestIndex(this.yaws, y);
      // the circle closes: 359 deg is nearer 0 than 350
      const span = this.yaws.length > 1 ? this.yaws[this.yaws.length - 1] + (this.yaws[1] - this.yaws[0]) : 360;
      if (Math.abs(y - span - this.yaws[0]) < Math.abs(y - this.yaws[yi])) yi = 0;
    }
    const pi = pitchDeg !== null && pitchDeg !== undefined && Number.isFinite(Number(pitchDeg)) ? nearestIndex(this.pitches, Number(pitchDeg)) : this.pitchIndex;
    this._turnTo(yi, pi);
  }

  _turnTo(yawIndex, pitchIndex) {
    const changed = yawIndex !== this.yawIndex || pitchIndex !== this.pitchIndex;
    this.yawIndex = yawIndex;
    this.pitchIndex = pitchIndex;
    this._show();
    if (changed && this.onTurn) this.onTurn(this.yawDeg, this.pitchDeg);
  }

  setZoom(z, cx = 0.5, cy = 0.5) {
    const old = this.zoom;
    this.zoom = Math.max(1, Math.min(4, z));
    if (this.zoom === 1) {
      this.panX = 0;
      this.panY = 0;
    } else {
      // keep the point under (cx, cy) still while zooming
      const w = this.host.clientWidth;
      const h = this.host.clientHeight;
      const px = (cx - 0.5) * w;
      const py = (cy - 0.5) * h;
      this.panX = px - ((px - this.panX) * this.zoom) / old;
      this.panY = py - ((py - this.panY) * this.zoom) / old;
    }
    this._clampPan();
    this._applyTransform();
  }

  destroy() {
    this.destroyed = true;
    this._abort?.abort();
    this.host.replaceChildren();
  }

  // ---- internals -------------------------------------------------------------------------------
  _show() {
    const row = this.grid[this.pitchIndex];
    let cell = row[this.yawIndex];
    if (!cell || !cell.loaded) {
      // nearest loaded frame in this row, then in any row
      const n = this.yaws.length;
      cell = null;
      for (let d = 1; d <= n / 2 && !cell; d++) {
        for (const i of [this.yawIndex + d, this.yawIndex - d]) {
          const c = row[((i % n) + n) % n];
          if (c && c.loaded) {
            cell = c;
            break;
          }
        }
      }
      if (!cell) cell = this.grid.flat().find((c) => c && c.loaded) || null;
    }
    if (cell && this.img.getAttribute("src") !== cell.url) this.img.src = cell.url;
    this.host.dataset.frame = this.frameKey;
    this.host.dataset.yawDeg = String(this.yawDeg);
    this.host.dataset.pitchDeg = String(this.pitchDeg);
  }

  _applyTransform() {
    this.img.style.transform = `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
    this.host.dataset.zoom = this.zoom.toFixed(2);
    this.host.classList.toggle("zoomed", this.zoom > 1.01);
  }

  _clampPan() {
    const w = this.host.clientWidth;
    const h = this.host.clientHeight;
    const mx = ((this.zoom - 1) * w) / 2;
    const my = ((this.zoom - 1) * h) / 2;
    this.panX = Math.max(-mx, Math.min(mx, this.panX));
    this.panY = Math.max(-my, Math.min(my, this.panY));
  }

  _order() {
    // start frame, then every 9th/3rd yaw of the start row, the whole start row, then the other rows
    const seen = new Set();
    const out = [];
    const add = (p, y) => {
      const k = `${p},${y}`;
      if (!seen.has(k) && this.grid[p][y]) {
        seen.add(k);
        out.push([p, y]);
      }
    };
    const n = this.yaws.length;
    add(this.pitchIndex, this.yawIndex);
    for (const stride of [9, 3, 1]) {
      for (let i = 0; i < n; i += stride) add(this.pitchIndex, (this.yawIndex + i) % n);
    }
    for (let p = 0; p < this.pitches.length; p++) for (let y = 0; y < n; y++) add(p, y);
    return out;
  }

  async _loadProgressively() {
    this._abort = new AbortController();
    const queue = this._order();
    const first = queue.shift();
    await this._loadCell(first);
    this._show();
    this._applyTransform();
    const workers = Array.from({ length: 4 }, async () => {
      while (queue.length && !this.destroyed) await this._loadCell(queue.shift());
    });
    await Promise.all(workers);
  }

  async _loadCell([p, y]) {
    const cell = this.grid[p][y];
    if (this.destroyed || !cell || cell.loaded) return;
    const beforeRefresh = !this._refreshed;
    let ok = await decodes(cell.url);
    if (!ok && beforeRefresh && !this.destroyed && (await this._refreshOnce())) ok = await decodes(cell.url);
    if (ok) cell.loaded = true;
    else cell.failed = true; // stays replaced by its nearest neighbour
    this.loadedCount += 1;
    const frac = this.loadedCount / this.total;
    this.bar.style.transform = `scaleX(${frac})`;
    this.bar.classList.toggle("done", frac >= 1);
    this.host.dataset.loaded = String(this.loadedCount);
    if (this.onProgress) this.onProgress(this.loadedCount, this.total);
    if (p === this.pitchIndex && y === this.yawIndex) this._show();
    else if (!this.img.getAttribute("src")) this._show();
  }

  /** The one fresh manifest (shared by every frame that failed meanwhile): true when it came. */
  _refreshOnce() {
    if (!this._refresh) {
      const signal = this._abort?.signal;
      const fresh = this.manifestUrl ? fetchFreshManifest(this.manifestUrl, { signal }) : Promise.resolve(null);
      this._refresh = fresh.then((m) => {
        this._refreshed = true;
        if (!m || this.destroyed) return false;
        const urls = urlsByAngle(m);
        for (const cell of this.grid.flat()) {
          const url = cell && !cell.loaded ? urls.get(`${cell.yaw},${cell.pitch}`) : null;
          if (url) cell.url = url;
        }
        return true;
      });
    }
    return this._refresh;
  }

  _bind() {
    const h = this.host;
    let last = null;
    let accX = 0;
    let accY = 0;
    let pinchStart = null;
    h.addEventListener("pointerdown", (e) => {
      h.setPointerCapture?.(e.pointerId);
      this._pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      last = { x: e.clientX, y: e.clientY };
      accX = 0;
      accY = 0;
      if (this._pointers.size === 2) {
        const [a, b] = [...this._pointers.values()];
        pinchStart = { d: Math.hypot(a.x - b.x, a.y - b.y), zoom: this.zoom };
      }
      h.focus({ preventScroll: true, focusVisible: false });
    });
    h.addEventListener("pointermove", (e) => {
      if (!this._pointers.has(e.pointerId)) return;
      this._pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this._pointers.size === 2 && pinchStart) {
        const [a, b] = [...this._pointers.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        this.setZoom((pinchStart.zoom * d) / Math.max(1, pinchStart.d));
        return;
      }
      const dx = e.clientX - last.x;
      const dy = e.clientY - last.y;
      last = { x: e.clientX, y: e.clientY };
      if (this.zoom > 1.01) {
        this.panX += dx;
        this.panY += dy;
        this._clampPan();
        this._applyTransform();
        return;
      }
      const ppf = this.pixelsPerFrame || Math.max(6, (h.clientWidth * 0.9) / this.yaws.length);
      accX += dx;
      accY += dy;
      const steps = Math.trunc(accX / ppf);
      const rows = Math.trunc(accY / 60);
      if (steps || rows) {
        accX -= steps * ppf;
        accY -= rows * 60;
        // dragging right turns the product to the right (yaw decreases as seen from the camera)
        this.step(-steps, rows);
      }
    });
    const up = (e) => {
      this._pointers.delete(e.pointerId);
      if (this._pointers.size < 2) pinchStart = null;
    };
    h.addEventListener("pointerup", up);
    h.addEventListener("pointercancel", up);
    h.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const r = h.getBoundingClientRect();
        this.setZoom(this.zoom * (e.deltaY < 0 ? 1.15 : 1 / 1.15), (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
      },
      { passive: false },
    );
    h.addEventListener("dblclick", () => this.setZoom(this.zoom > 1.01 ? 1 : 2));
    h.addEventListener("keydown", (e) => {
      const keys = {
        ArrowLeft: () => this.step(1),
        ArrowRight: () => this.step(-1),
        ArrowUp: () => this.step(0, 1),
        ArrowDown: () => this.step(0, -1),
        "+": () => this.setZoom(this.zoom * 1.25),
        "=": () => this.setZoom(this.zoom * 1.25),
        "-": () => this.setZoom(this.zoom / 1.25),
        0: () => this.setZoom(1),
      };
      const fn = keys[e.key];
      if (fn) {
        e.preventDefault();
        fn();
      }
    });
  }
}

async function decodes(url) {
  const im = new Image();
  im.src = url;
  try {
    await im.decode();
    return true;
  } catch (_) {
    return false;
  }
}

function nearestIndex(values, v) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (Math.abs(values[i] - v) < Math.abs(values[best] - v)) best = i;
  return best;
}

/**
 * Mounts a spinner for a product variant in `host`: a single rendered still is shown at once, with the view
 * set's render progress, until the manifest is ready. Resolves to the Spinner (or null if superseded).
 */
export async function mountSpin(host, { productId, variant, size, stillUrl, isCurrent = () => true, progressText, onTurn = null, startYawDeg = 0, startPitchDeg = null }) {
  const still = document.createElement("img");
  still.className = "spin-frame spin-still";
  still.alt = "";
  still.addEventListener("error", () => (still.hidden = true), { once: true });
  still.src = stillUrl;
  const note = document.createElement("div");
  note.className = "spin-note";
  host.classList.add("spin");
  host.replaceChildren(still, note);
  const { getViews } = await import("./api.js");
  const stop = new AbortController(); // a view no longer wanted stops asking the node for its render progress
  const manifest = await getViews(productId, variant, size, {
    signal: stop.signal,
    onProgress: (done, total) => {
      if (isCurrent()) note.textContent = progressText(done, total);
      else stop.abort();
    },
  });
  if (!isCurrent()) return null;
  return new Spinner(host, manifest, { onTurn, startYawDeg, startPitchDeg });
}
