// VR headset page. With WebXR (immersive-vr) the head pose goes to the node every frame and the node's stereo
// frames are drawn per eye, with an in-scene panel (price, details, QR to pay on the phone). Without WebXR the
// page shows the same stereo stream, lets the customer look around by dragging, and shows the latency.
// When the measured link cannot carry the live stream the view falls back on its own (common/tiers.js): the
// product's prepared 360 views (the frame nearest the viewer's angle), then its poster image, with a short notice
// on each change, and climbs back when probes find the link good again.

import { createQuote, formatCny, getProduct, getProducts, renderUrl } from "../common/api.js";
import { dimensionsMmOf, hallOf, isCar, kindLabel, priceOf, specsOf, variantOf } from "../common/catalog.js";
import { mobileFromInput, renderPayPanel, startCheckout } from "../common/checkout.js";
import { installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { StreamClient } from "../common/stream.js";
import { TierDriver } from "../common/tiers.js";
import { el, showError } from "../common/ui.js";
import { loadQr as loadPanelQr, paintPanel } from "./panel.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const EYE_W = Number(params.get("eye_w") || 640);
const EYE_H = Number(params.get("eye_h") || 720);
const TARGET_FPS = Math.max(1, Math.min(90, Number(params.get("fps") || 30)));
/** The view set of the `views` tier: the phone's published size (light on a weak link, shared in caches). */
const VIEW_SIZE = params.get("view_size") || "640x480";
/** H.264 when this browser's WebCodecs decodes it (a fraction of the bytes of JPEG), else JPEG. */
async function pickCodec() {
  const asked = params.get("codec");
  if (asked) return asked;
  try {
    if (typeof VideoDecoder !== "undefined") {
      const r = await VideoDecoder.isConfigSupported({ codec: "avc1.42E01E", optimizeForLatency: true });
      if (r.supported) return "h264";
    }
  } catch (_) {
    /* fall back */
  }
  return "jpeg";
}

const state = {
  products: [],
  product: null,
  variantId: null,
  stream: null,
  latest: null, // {image, header, latencyMs}
  yawDeg: 0,
  pitchDeg: 0,
  viewPos: [0, 0.1, 0.6],
  xrOrigin: null,
  checkout: null,
  xr: null,
  qrImage: null,
  tiers: null, // TierDriver: live stream -> prepared views -> poster
};
window.__vr = state;

// ---- pose maths (WebXR convention: right-handed, +y up, -z forward) ----------------------------
function quatFromYawPitch(yawDeg, pitchDeg) {
  const y = (yawDeg * Math.PI) / 360;
  const p = (pitchDeg * Math.PI) / 360;
  // q = qYaw(about +y) * qPitch(about +x)
  const cy = Math.cos(y), sy = Math.sin(y), cp = Math.cos(p), sp = Math.sin(p);
  return [cy * sp, sy * cp, -sy * sp, cy * cp];
}

/**
 * Where the head stands to see the product (at the world origin): far enough that the product covers about a
 * third of the 90-degree view, a little above it, looking down by VIEW_PITCH_DEG.
 */
const VIEW_PITCH_DEG = 12;
function viewingPosition(p) {
  const dims = (dimensionsMmOf(p) || []).filter((x) => x > 0);
  const maxM = dims.length ? Math.max(...dims) / 1000 : isCar(p) ? 4.8 : 0.05;
  // no closer than a comfortable reading distance: nearer, the two eyes' views diverge too much
  const d = Math.min(12, Math.max(0.25, maxM * 1.9));
  const a = (VIEW_PITCH_DEG * Math.PI) / 180;
  return [0, d * Math.sin(a), d * Math.cos(a)];
}

/**
 * The vertical field of view asked of the node. A headset always gets its 90 degrees. The web preview (no headset:
 * both eyes side by side on a screen) zooms in instead, so that a 10 g bar is not a speck in the middle of the
 * studio: the product's largest side spans about 60 % of the frame height, between 20 and 90 degrees. The eyes'
 * separation shrinks with the zoom (ipdFor), so the two views differ on screen as much as at 90 degrees.
 */
function fovDegFor(p) {
  if (state.xr) return 90;
  const dims = (dimensionsMmOf(p) || []).filter((x) => x > 0);
  const maxM = dims.length ? Math.max(...dims) / 1000 : isCar(p) ? 4.8 : 0.05;
  const d = Math.hypot(...viewingPosition(p));
  const fov = (2 * Math.atan(maxM / 0.6 / 2 / d) * 180) / Math.PI;
  return Math.round(Math.min(90, Math.max(20, fov)));
}

const IPD_M = 0.064;
function ipdFor(fovDeg) {
  return Number((IPD_M * Math.tan((fovDeg * Math.PI) / 360)).toFixed(4)); // tan(45 degrees) = 1
}

// ---- stream -------------------------------------------------------------------------------------
function connect() {
  state.stream?.close();
  const p = state.product;
  state.latest = null;
  const stream = new StreamClient(
    {
      client: "vr",
      product: p.id,
      variant: state.variantId,
      viewport: { width: EYE_W, height: EYE_H },
      eyes: 2,
      fov_deg: fovDegFor(p),
      ipd_m: ipdFor(fovDegFor(p)),
      codec: state.codec,
      max_kbps: 20000,
      target_fps: TARGET_FPS,
    },
    {
      onFrame: (f) => {
        if (state.stream !== stream) {
          f.image.close?.();
          return;
        }
        state.tiers?.liveFrame(f.latencyMs);
        const old = state.latest?.image;
        state.latest = f;
        if (old && old !== f.image && old.close) old.close();
        $("stage").dataset.frames = String(stream.stats.frames);
      },
      onStatus: (s) => {
        if (state.stream !== stream) return;
        state.streamStatus = s;
        paintStatus();
      },
      onError: (e) => {
        $("note").hidden = false;
        $("note").textContent = t("common.error", { msg: e.message || e.code });
      },
    },
  );
  state.stream = stream;
  stream.connect();
}

function disconnect() {
  state.stream?.close();
  state.stream = null;
  state.latest?.image?.close?.();
  state.latest = null;
}

/** The badge at the top left: the live stream's state, or the tier shown instead of it. */
function paintStatus() {
  const tier = state.tiers?.tier || "live";
  const badge = $("status");
  badge.dataset.tier = tier;
  if (tier !== "live") {
    badge.textContent = t(`tier.${tier}`);
    badge.dataset.state = tier;
    return;
  }
  const s = state.streamStatus || "connecting";
  const key = s === "live" ? null : s === "connecting" ? "vr.connecting" : "vr.disconnected";
  badge.textContent = key ? t(key) : "● LIVE";
  badge.dataset.state = s;
}

// ---- tiers: live stream -> prepared views -> poster ---------------------------------------------
/** The view set's angle the viewer looks from: dragging right turns the product the way the kiosk's spin does,
 * looking down from the viewing spot is seeing the product from above. */
function viewAngle() {
  return [-state.yawDeg, Math.max(-10, Math.min(60, -state.pitchDeg))];
}

function startTiers() {
  state.tiers = new TierDriver({
    stage: $("stage"),
    notice: $("tier-notice"),
    targetFps: TARGET_FPS,
    openLive: () => connect(),
    closeLive: () => disconnect(),
    viewsUrl: () => {
      const q = new URLSearchParams({ size: VIEW_SIZE, wait: "0" });
      if (state.variantId) q.set("variant", state.variantId);
      return `/api/products/${encodeURIComponent(state.product.id)}/views?${q}`;
    },
    posterUrl: () => renderUrl(state.product.id, state.variantId, { yawDeg: 20, pitchDeg: 15, size: VIEW_SIZE }),
    angle: viewAngle,
    message: (key) => t(key),
    onTier: () => paintStatus(),
  });
  window.__vr.tierLog = state.tiers.log;
  state.tiers.start();
}

// ---- fallback: canvas + drag to look around -------------------------------------------------------
function drawFrame(ctx, canvas) {
  const pic = state.tiers ? state.tiers.picture() : { kind: "live" };
  if (pic?.kind === "image") return drawStill(ctx, canvas, pic);
  const f = pic ? state.latest : null;
  if (!f) return;
  const w = f.image.displayWidth || f.image.width;
  const h = f.image.displayHeight || f.image.height;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  ctx.drawImage(f.image, 0, 0);
  // a thin divider between the two eyes
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(w / 2 - 1, 0, 2, h);
}

/** A prepared view or the poster: one picture (not a stereo pair), drawn as it is. */
function drawStill(ctx, canvas, pic) {
  const img = pic.image;
  const w = img.naturalWidth || img.width;
  const h = img.naturalHeight || img.height;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  ctx.drawImage(img, 0, 0);
  $("stage").dataset.shown = pic.yawDeg === undefined ? "poster" : `${pic.yawDeg},${pic.pitchDeg}`;
}

function fallbackLoop() {
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  let lastHud = 0;
  const tick = (now) => {
    if (state.xr) return;
    if (state.stream?.ready) state.stream.sendPose(state.viewPos, quatFromYawPitch(state.yawDeg, state.pitchDeg));
    drawFrame(ctx, canvas);
    if (now - lastHud > 250) {
      lastHud = now;
      const s = state.tiers?.tier === "live" ? state.stream?.stats : null;
      if (!s) {
        $("latency").textContent = "";
        $("fps").textContent = "";
      }
      if (s && s.latencyMs !== null) {
        $("latency").textContent = t("vr.latency", { ms: Math.round(s.latencyMs) });
        $("latency").dataset.ms = String(Math.round(s.latencyMs));
      }
      if (s) $("fps").textContent = t("vr.fps", { fps: s.fps });
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function bindDrag() {
  const stage = $("stage");
  let last = null;
  stage.addEventListener("pointerdown", (e) => {
    last = { x: e.clientX, y: e.clientY };
    stage.setPointerCapture?.(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    if (!last) return;
    const k = 90 / Math.max(200, stage.clientWidth / 2); // a half-width drag turns the head by the field of view
    state.yawDeg += (e.clientX - last.x) * k;
    state.pitchDeg = Math.max(-80, Math.min(80, state.pitchDeg + (e.clientY - last.y) * k));
    last = { x: e.clientX, y: e.clientY };
  });
  const up = () => (last = null);
  stage.addEventListener("pointerup", up);
  stage.addEventListener("pointercancel", up);
  $("view").addEventListener("keydown", (e) => {
    const d = { ArrowLeft: [5, 0], ArrowRight: [-5, 0], ArrowUp: [0, 5], ArrowDown: [0, -5] }[e.key];
    if (!d) return;
    e.preventDefault();
    state.yawDeg += d[0];
    state.pitchDeg = Math.max(-80, Math.min(80, state.pitchDeg + d[1]));
  });
}

// ---- WebXR immersive-vr -----------------------------------------------------------------------
async function setupXr() {
  if (!navigator.xr || !window.isSecureContext) return false;
  let ok = false;
  try {
    ok = await navigator.xr.isSessionSupported("immersive-vr");
  } catch (_) {
    ok = false;
  }
  $("enter-vr").hidden = !ok;
  return ok;
}

async function enterXr() {
  const session = await navigator.xr.requestSession("immersive-vr", { optionalFeatures: ["local-floor"] });
  const glCanvas = document.createElement("canvas");
  const gl = glCanvas.getContext("webgl2", { xrCompatible: true, alpha: false });
  await gl.makeXRCompatible?.();
  session.updateRenderState({ baseLayer: new XRWebGLLayer(session, gl) });
  let ref;
  try {
    ref = await session.requestReferenceSpace("local-floor");
  } catch (_) {
    ref = await session.requestReferenceSpace("local");
  }
  const quad = makeQuadProgram(gl);
  const compose = document.createElement("canvas");
  const cctx = compose.getContext("2d");
  state.xr = { session };
  if (state.stream && state.stream.hello.fov_deg !== fovDegFor(state.product)) connect(); // the preview's zoom off
  const onFrame = (time, frame) => {
    session.requestAnimationFrame(onFrame);
    const pose = frame.getViewerPose(ref);
    if (!pose) return;
    const p = pose.transform.position;
    const o = pose.transform.orientation;
    // the headset's space is moved so that where the customer stands at the start is the product's viewing spot
    if (!state.xrOrigin) state.xrOrigin = [p.x, p.y, p.z];
    const v = state.viewPos;
    const at = [p.x - state.xrOrigin[0] + v[0], p.y - state.xrOrigin[1] + v[1], p.z - state.xrOrigin[2] + v[2]];
    state.stream?.sendPose(at, [o.x, o.y, o.z, o.w]); // every frame; the node renders the latest
    const pic = state.tiers ? state.tiers.picture() : { kind: "live" };
    const f = pic?.kind === "live" ? state.latest : null;
    const layer = session.renderState.baseLayer;
    gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!f && pic?.kind !== "image") return;
    // compose the stereo frame (or the tier's still, the same in both eyes) with the in-scene panel in each eye,
    // then draw each half to its eye
    const src = f ? f.image : pic.image;
    const sw = src.displayWidth || src.naturalWidth || src.width;
    const sh = src.displayHeight || src.naturalHeight || src.height;
    const w = f ? sw : 2 * sw;
    const h = sh;
    compose.width = w;
    compose.height = h;
    if (f) cctx.drawImage(src, 0, 0);
    else for (const x of [0, sw]) cctx.drawImage(src, x, 0);
    drawPanel(cctx, 0, w / 2, h);
    drawPanel(cctx, w / 2, w / 2, h);
    quad.upload(compose);
    for (const view of pose.views) {
      const vp = layer.getViewport(view);
      gl.viewport(vp.x, vp.y, vp.width, vp.height);
      quad.draw(view.eye === "right" ? 0.5 : 0.0);
    }
  };
  session.requestAnimationFrame(onFrame);
  session.addEventListener("end", () => {
    state.xr = null;
    fallbackLoop();
  });
}

function drawPanel(ctx, x0, w, h) {
  const p = state.product;
  if (!p) return;
  const pw = Math.round(w * 0.34);
  const ph = Math.round(h * 0.42);
  const v = variantOf(p, state.variantId);
  paintPanel(ctx, x0 + w - pw - Math.round(w * 0.08), h - ph - Math.round(h * 0.12), pw, ph, {
    title: pick(p.name),
    price: formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(v)),
    qrImage: state.qrImage,
    lines: specsOf(p, v).slice(0, 4).map((row) => `${row.label}: ${row.value}`),
  });
}

function makeQuadProgram(gl) {
  const vs = `#version 300 es
    in vec2 pos; uniform float u0; out vec2 uv;
    void main() { uv = vec2(u0 + (pos.x * 0.5 + 0.5) * 0.5, 0.5 - pos.y * 0.5); gl_Position = vec4(pos, 0.0, 1.0); }`;
  const fs = `#version 300 es
    precision mediump float; in vec2 uv; uniform sampler2D tex; out vec4 color;
    void main() { color = texture(tex, uv); }`;
  const prog = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    gl.attachShader(prog, s);
  }
  gl.linkProgram(prog);
  const buf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const loc = gl.getAttribLocation(prog, "pos");
  const tex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  const u0 = gl.getUniformLocation(prog, "u0");
  return {
    upload(source) {
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
    },
    draw(uOffset) {
      gl.useProgram(prog);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
      gl.uniform1f(u0, uOffset);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    },
  };
}

// ---- product panel + buy ------------------------------------------------------------------------
function renderPanel() {
  const p = state.product;
  const v = variantOf(p, state.variantId);
  $("p-kind").textContent = kindLabel(p);
  $("p-name").textContent = pick(p.name);
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value }));
  $("p-price").textContent = formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(v));
  const sel = $("product-select");
  sel.replaceChildren();
  for (const hall of ["metals", "cars"]) {
    const g = el("optgroup", { label: t(`hall.${hall}`) });
    for (const x of state.products.filter((y) => hallOf(y) === hall)) g.append(el("option", { value: x.id, text: pick(x.name), selected: x.id === p.id }));
    sel.append(g);
  }
  if (state.checkout?.payment) renderPayPanel($("pay"), state.checkout, { qrSize: 200 });
}

async function buy() {
  const phone = mobileFromInput($("cust-phone"));
  if (!phone) return;
  const co = startCheckout(state.checkout, {
    product: state.product.id,
    variant: state.variantId,
    channel: "vr",
    phone,
    method: "qr",
    onChange: () => {
      if (co !== state.checkout) return;
      renderPanel();
      loadQr(co.payment?.qr_png_url);
    },
  });
  state.checkout = co;
  try {
    await co.buy();
  } catch (e) {
    showError(e);
  }
}

function loadQr(url) {
  return loadPanelQr(state, url);
}

async function selectProduct(id) {
  state.checkout?.close();
  state.checkout = null;
  state.qrImage = null;
  $("pay").replaceChildren();
  let p = state.products.find((x) => x.id === id) || state.products[0];
  try {
    p = { ...p, ...(await getProduct(p.id)) };
  } catch (_) {
    /* keep the list entry */
  }
  state.product = p;
  state.variantId = params.get("variant") || variantOf(p)?.id || null;
  state.yawDeg = 0;
  state.pitchDeg = -VIEW_PITCH_DEG;
  state.viewPos = viewingPosition(p);
  state.xrOrigin = null;
  state.quote = null;
  renderPanel();
  if (!state.tiers) {
    startTiers(); // opens the live stream
  } else {
    if (state.stream?.ready && state.stream.hello.fov_deg === fovDegFor(p)) {
      // switch the product inside the open session (no new hello)
      Object.assign(state.stream.hello, { product: p.id, variant: state.variantId });
      state.stream.send({ type: "select", product: p.id, variant: state.variantId });
    } else if (state.stream) {
      connect();
    }
    state.tiers.productChanged();
  }
  try {
    const q = await createQuote(p.id, state.variantId, 1);
    if (state.product === p) {
      state.quote = q;
      renderPanel();
    }
  } catch (_) {
    /* no live price: the panel shows "—" */
  }
}

export async function main() {
  document.body.dataset.mode = "product";
  installToggles();
  try {
    state.products = await getProducts();
  } catch (e) {
    showError(e);
    return;
  }
  if (!state.products.length) return;
  $("product-select").addEventListener("change", (e) => selectProduct(e.target.value));
  $("buy").addEventListener("click", buy);
  $("enter-vr").addEventListener("click", () => enterXr().catch(showError));
  onLangChange(() => {
    renderPanel();
    paintStatus();
  });
  bindDrag();
  state.codec = await pickCodec();
  $("stage").dataset.codec = state.codec;
  await selectProduct(params.get("product") || state.products[0].id);
  const xr = await setupXr();
  if (!xr) {
    $("note").hidden = false;
    $("note").textContent = t("vr.no_xr");
  }
  fallbackLoop();
}
