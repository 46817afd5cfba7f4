// Phone page: spin any product 360; AR (rear camera frames to POST /api/ar/overlay, the overlay drawn over the
// camera, tap to place); try-on (front camera, POST /api/tryon, after consent); checkout through the payment
// backend's pay page (pay_url); share (native share sheet where available, poster download).

import { createQuote, createShare, formatCny, getOrder, getProduct, getProducts, newIdempotencyKey, renderUrl } from "../common/api.js";
import { Camera, frameLoop } from "../common/camera.js";
import { canTryOn, hallOf, kindLabel, priceOf, specsOf, variantOf } from "../common/catalog.js";
import { Checkout, countdown, expiryMs, renderPayPanel, watchOrder } from "../common/checkout.js";
import { installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { mountSpin } from "../common/spin.js";
import { el, openDialog, showError, toast } from "../common/ui.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const state = {
  products: [],
  product: null,
  variantId: null,
  view: "spin",
  spinner: null,
  camera: null,
  loop: null,
  tap: { x: 0.5, y: 0.62 },
  checkout: null,
  stopCountdown: null,
  consent: false,
  share: null,
};
window.__phone = state;

// ---- product ----------------------------------------------------------------------------------
async function selectProduct(id, variantId = null) {
  stopCamera();
  state.checkout?.close();
  state.checkout = null;
  state.share = null;
  $("poster").hidden = true;
  let p = state.products.find((x) => x.id === id) || state.products[0];
  try {
    p = { ...p, ...(await getProduct(p.id)) };
  } catch (_) {
    /* list entry is enough to go on */
  }
  state.product = p;
  state.variantId = variantId || variantOf(p)?.id || null;
  state.quote = null;
  renderInfo();
  showLivePrice(p, state.variantId);
  await setView(state.view);
}

/** The live price comes from a quote (it locks the price for a few minutes; buying takes a fresh one). */
async function showLivePrice(p, variantId) {
  try {
    const q = await createQuote(p.id, variantId, 1);
    if (state.product !== p || state.variantId !== variantId || state.checkout) return;
    state.quote = q;
    $("p-price").textContent = formatCny(q.total_cny);
    if (state.view === "buy") $("buy-total").textContent = formatCny(q.total_cny);
    state.stopCountdown?.();
    state.stopCountdown = countdown(expiryMs(q), (s) => ($("p-countdown").textContent = t("checkout.quote_valid", { s })), () => ($("p-countdown").textContent = t("product.quote_expired")));
  } catch (_) {
    /* the price stays "—"; buying shows the reason */
  }
}

function renderInfo() {
  const p = state.product;
  const v = variantOf(p, state.variantId);
  const sel = $("product-select");
  sel.replaceChildren();
  for (const hall of ["metals", "cars"]) {
    const g = el("optgroup", { label: t(`hall.${hall}`) });
    for (const x of state.products.filter((y) => hallOf(y) === hall)) g.append(el("option", { value: x.id, text: pick(x.name), selected: x.id === p.id }));
    sel.append(g);
  }
  const vbox = $("p-variants");
  vbox.replaceChildren();
  if ((p.variants || []).length > 1) {
    for (const x of p.variants) {
      const chip = el("button", { class: "chip", type: "button", "aria-pressed": String(x.id === state.variantId) });
      if (x.paint_hex) chip.append(el("span", { class: "swatch", style: `background:${x.paint_hex}` }));
      chip.append(pick(x.name) || x.id);
      chip.addEventListener("click", () => selectProduct(p.id, x.id));
      vbox.append(chip);
    }
  }
  $("p-kind").textContent = kindLabel(p);
  $("p-name").textContent = pick(p.name);
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value }));
  $("p-price").textContent = formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(p, v));
  const tryTab = document.querySelector('.tab[data-view="tryon"]');
  tryTab.disabled = !canTryOn(p);
  if (state.view === "buy") renderBuy();
}

async function setView(view) {
  if (view === "tryon" && !canTryOn(state.product)) view = "spin";
  state.view = view;
  for (const tab of document.querySelectorAll(".tabbar .tab")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const v of ["spin", "ar", "tryon", "buy"]) $(`view-${v}`).hidden = v !== view;
  stopCamera();
  if (view === "spin") await loadSpin();
  else if (view === "ar") await startAr();
  else if (view === "tryon") await startTryOn();
  else if (view === "buy") renderBuy();
}

async function loadSpin() {
  const host = $("spin");
  const p = state.product;
  const variant = state.variantId;
  state.spinner?.destroy();
  state.spinner = null;
  const current = () => state.product === p && state.variantId === variant && state.view === "spin";
  const size = params.get("view_size") || "640x480";
  try {
    const sp = await mountSpin(host, {
      productId: p.id,
      variant,
      size,
      stillUrl: renderUrl(p.id, variant, { yawDeg: 0, pitchDeg: 15, size }),
      isCurrent: current,
      progressText: (done, total) => t("product.rendering", { done, total }),
    });
    if (sp) state.spinner = sp;
  } catch (e) {
    if (current()) host.append(el("p", { class: "error-text spin-note", text: t("common.error", { msg: e.message }) }));
  }
}

// ---- AR ---------------------------------------------------------------------------------------
function intrinsicsFor(sentWidth, sentHeight, hfovDeg = 63) {
  // a phone's main camera has ~60-70 deg horizontal field of view; scaled to the frame actually sent
  const fx = sentWidth / (2 * Math.tan((hfovDeg * Math.PI) / 360));
  return { fx, fy: fx, cx: sentWidth / 2, cy: sentHeight / 2, width: sentWidth, height: sentHeight };
}

// Camera tilt from the phone's orientation sensor (beta: 90 = upright, 0 = flat); 45 deg down without one.
let tiltDownDeg = 45;
window.addEventListener("deviceorientation", (e) => {
  if (typeof e.beta === "number") tiltDownDeg = Math.max(10, Math.min(85, 90 - e.beta));
});
const CAMERA_HEIGHT_M = 0.35; // a phone held over a counter

/**
 * Tap to place: the tapped pixel's ray from a camera CAMERA_HEIGHT_M above the counter, tilted down by the
 * sensor's angle, meets the counter at the anchor; returns the camera pose in the anchor's frame (+Y up,
 * metres; quaternion [x, y, z, w], camera looking along -Z) or null when the ray misses the counter.
 */
function poseForTap(u, v, k) {
  const th = (tiltDownDeg * Math.PI) / 180;
  const dx = ((u - 0.5) * k.width) / k.fx;
  const dy = (-(v - 0.5) * k.height) / k.fy;
  // rotate (dx, dy, -1) about +X by -th
  const c = Math.cos(-th);
  const s = Math.sin(-th);
  const wy = dy * c - -1 * s;
  const wz = dy * s + -1 * c;
  if (wy >= -1e-3) return null;
  const tHit = CAMERA_HEIGHT_M / -wy;
  const anchor = [dx * tHit, 0, wz * tHit];
  if (Math.hypot(anchor[0], anchor[2]) > 3) return null;
  return {
    position: [-anchor[0], CAMERA_HEIGHT_M, -anchor[2]],
    orientation: [Math.sin(-th / 2), 0, 0, Math.cos(-th / 2)],
  };
}

function sentSize(cam, maxSide) {
  const s = Math.min(1, maxSide / Math.max(cam.width, cam.height));
  return [Math.round(cam.width * s), Math.round(cam.height * s)];
}

async function startAr() {
  const video = $("ar-video");
  const overlay = $("ar-overlay");
  const badge = $("ar-badge");
  overlay.hidden = true;
  state.placedPose = null;
  badge.textContent = t("ar.hint");
  try {
    state.camera = await new Camera(video, { facingMode: "environment" }).start();
  } catch (e) {
    badge.textContent = t("tryon.no_camera", { msg: e.message });
    return;
  }
  const cam = state.camera;
  const maxSide = 960;
  state.loop = frameLoop(cam, "/api/ar/overlay", {
    fileField: "frame",
    maxSidePx: maxSide,
    fields: () => {
      const [w, h] = sentSize(cam, maxSide);
      const f = { product: state.product.id, variant: state.variantId, intrinsics: intrinsicsFor(w, h), output: "overlay" };
      if (state.placedPose) f.pose = state.placedPose; // else the node looks for the printed marker board
      return f;
    },
    onResult: (blob) => {
      if (!blob) return;
      const old = overlay.src;
      overlay.src = URL.createObjectURL(blob);
      overlay.hidden = false;
      if (old.startsWith("blob:")) setTimeout(() => URL.revokeObjectURL(old), 1000);
      $("ar-stage").dataset.overlays = String(Number($("ar-stage").dataset.overlays || 0) + 1);
      if (!state.placedPose) badge.textContent = t("ar.on_marker");
    },
    onError: (e) => {
      badge.textContent = e.status === 422 ? t("ar.hint") : t("common.error", { msg: e.message });
      return e.status !== 404 && e.status !== 400;
    },
  });
}

function onArTap(e) {
  const stage = $("ar-stage");
  const cam = state.camera;
  if (!cam) return;
  const r = stage.getBoundingClientRect();
  // the video is shown with object-fit: cover; map the tap back to the camera frame
  const scale = Math.max(r.width / cam.width, r.height / cam.height);
  const shownW = cam.width * scale;
  const shownH = cam.height * scale;
  const u = (e.clientX - r.left + (shownW - r.width) / 2) / shownW;
  const v = (e.clientY - r.top + (shownH - r.height) / 2) / shownH;
  const [w, h] = sentSize(cam, 960);
  const pose = poseForTap(u, v, intrinsicsFor(w, h));
  if (!pose) return;
  state.placedPose = pose;
  let m = stage.querySelector(".ar-marker");
  if (!m) {
    m = el("div", { class: "ar-marker" });
    stage.append(m);
  }
  m.style.left = `${e.clientX - r.left}px`;
  m.style.top = `${e.clientY - r.top}px`;
  $("ar-badge").textContent = t("ar.placed");
}

// ---- try-on -------------------------------------------------------------------------------------
async function startTryOn() {
  const badge = $("tryon-badge");
  const out = $("tryon-result");
  out.hidden = true;
  if (!state.consent) {
    badge.textContent = t("tryon.consent_title");
    const ok = await askConsent();
    if (!ok) return setView("spin");
    state.consent = true;
  }
  badge.textContent = t("tryon.working");
  try {
    state.camera = await new Camera($("tryon-video"), { facingMode: "user" }).start();
  } catch (e) {
    badge.textContent = t("tryon.no_camera", { msg: e.message });
    return;
  }
  state.loop = frameLoop(state.camera, "/api/tryon", {
    fileField: "photo",
    fields: () => ({ product: state.product.id, variant: state.variantId, consent: "true", format: "jpeg" }),
    onResult: (blob) => {
      if (!blob) return;
      const old = out.src;
      out.src = URL.createObjectURL(blob);
      out.hidden = false;
      if (old.startsWith("blob:")) setTimeout(() => URL.revokeObjectURL(old), 1000);
      badge.textContent = t("tryon.title");
      $("tryon-stage").dataset.composites = String(Number($("tryon-stage").dataset.composites || 0) + 1);
    },
    onError: (e) => {
      badge.textContent = e.status === 422 ? t("tryon.step_in") : t("common.error", { msg: e.message });
      return e.status !== 404 && e.status !== 403 && e.status !== 400;
    },
  });
}

function askConsent() {
  return new Promise((resolve) => {
    let answered = false;
    const done = (v) => {
      answered = true;
      dlg.close();
      resolve(v);
    };
    const content = el(
      "div",
      {},
      el("h2", { text: t("tryon.consent_title") }),
      el("p", { text: t("tryon.consent_body") }),
      el(
        "div",
        { class: "btn-row" },
        el("button", { class: "btn", type: "button", id: "consent-decline", text: t("tryon.decline"), onclick: () => done(false) }),
        el("button", { class: "btn btn-gold", type: "button", id: "consent-agree", text: t("tryon.agree"), onclick: () => done(true) }),
      ),
    );
    const dlg = openDialog(content, { closable: false, onClose: () => !answered && resolve(false) });
  });
}

function stopCamera() {
  state.loop?.stop();
  state.loop = null;
  state.camera?.stop();
  state.camera = null;
}

// ---- buy ----------------------------------------------------------------------------------------
function renderBuy() {
  const v = variantOf(state.product, state.variantId);
  $("buy-total").textContent = formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(state.product, v));
  const box = $("methods");
  box.replaceChildren();
  for (const m of ["mobile_banking", "card", "ecny_wallet"]) {
    box.append(el("button", { class: m === "mobile_banking" ? "btn btn-gold" : "btn", type: "button", dataset: { method: m }, text: t(`checkout.method.${m}`), onclick: () => buy(m) }));
  }
  if (state.checkout?.payment) renderPayPanel($("pay"), state.checkout, { showLink: true, qrSize: 0 });
}

async function buy(method) {
  const phone = $("cust-phone").value.replace(/\D/g, "");
  if (!/^1\d{10}$/.test(phone)) {
    $("cust-phone").focus();
    toast(t("checkout.phone_invalid"), { error: true });
    return;
  }
  state.checkout?.close();
  state.stopCountdown?.();
  const co = new Checkout({
    product: state.product.id,
    variant: state.variantId,
    channel: "phone",
    customer: { phone, kyc_level: "L1" },
    method,
    extra: () => ({
      ...(params.get("share") ? { share_token: params.get("share") } : {}),
      product_view: { view_set_hash: state.spinner?.manifestKey || null, yaw_deg: state.spinner?.yawDeg ?? null, client: "phone" },
    }),
    onChange: () => {
      if (co !== state.checkout) return;
      $("p-price").textContent = formatCny(co.quote?.total_cny ?? priceOf(state.product, variantOf(state.product, state.variantId)));
      if (co.quote) $("buy-total").textContent = formatCny(co.quote.total_cny);
      if (co.order) {
        renderPayPanel($("pay"), co, { showLink: false, qrSize: 0 });
        if (co.payment?.pay_url && !co.paid) {
          const a = el("a", { class: "btn btn-gold", href: co.payment.pay_url, text: t("checkout.open_pay"), dataset: { role: "pay-link" } });
          $("pay").append(a);
        }
      }
    },
  });
  state.checkout = co;
  try {
    await co.lockPrice();
    state.stopCountdown = countdown(co.quoteExpiresMs, (s) => ($("p-countdown").textContent = t("checkout.quote_valid", { s })), () => ($("p-countdown").textContent = t("product.quote_expired")));
    await co.buy();
    sessionStorage.setItem("showroom.order", co.order.id);
  } catch (e) {
    showError(e);
  }
}

/** Back from the pay page (return_url ?order=...): show the order's live status. */
function resumeOrder(orderId) {
  const box = $("pay");
  const form = $("buy-form");
  form.hidden = true;
  const render = (o) => {
    if (o.status !== "pending_payment") sessionStorage.removeItem("showroom.order");
    const paid = ["paid", "fulfilling", "completed"].includes(o.status);
    box.replaceChildren(
      el(
        "div",
        { class: "pay-panel" },
        paid ? el("div", { class: "paid-mark", "aria-hidden": "true" }) : null,
        el("h2", { text: pick(state.products.find((x) => x.id === o.product)?.name) || "" }),
        el("p", { class: `pay-status status-${o.status}`, dataset: { status: o.status }, text: t(`status.${o.status}`) }),
        o.total_cny ? el("p", {}, el("span", { class: "muted", text: `${t("checkout.total")} ` }), el("strong", { class: "price", text: formatCny(o.total_cny) })) : null,
        el("p", { class: "muted small order-id", text: `${t("checkout.order")} ${o.id || orderId}` }),
        paid ? el("p", { text: t("status.paid_thanks") }) : null,
        el("button", {
          class: "btn",
          type: "button",
          text: t("checkout.new"),
          onclick: () => {
            stop();
            sessionStorage.removeItem("showroom.order");
            box.replaceChildren();
            form.hidden = false;
          },
        }),
      ),
    );
    const mark = box.querySelector(".paid-mark");
    if (mark) mark.innerHTML = '<svg viewBox="0 0 24 24" width="56" height="56"><path d="M5 12.5l4.2 4.2L19 7" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';
  };
  getOrder(orderId).then(render, () => {
    form.hidden = false;
  });
  const stop = watchOrder(orderId, render);
}

// ---- share --------------------------------------------------------------------------------------
async function share() {
  try {
    if (!state.share) {
      state.share = await createShare({ product: state.product.id, variant: state.variantId, channel: "phone" }, newIdempotencyKey());
    }
    const s = state.share;
    const url = s.url || s.link || (s.token ? `${location.origin}/s/${s.token}` : location.href);
    const poster = s.poster_url || s.poster_png_url;
    if (poster) {
      const a = $("poster");
      a.href = poster;
      a.hidden = false;
    }
    if (navigator.share) {
      try {
        await navigator.share({ title: pick(state.product.name), text: t("app.title"), url });
        return;
      } catch (e) {
        if (e.name === "AbortError") return;
      }
    }
    try {
      await navigator.clipboard.writeText(url);
      toast(t("share.copied"));
    } catch (_) {
      toast(url, { ms: 8000 });
    }
  } catch (e) {
    showError(e);
  }
}

// ---- wiring -------------------------------------------------------------------------------------
async function main() {
  installToggles();
  for (const tab of document.querySelectorAll(".tabbar .tab")) tab.addEventListener("click", () => setView(tab.dataset.view));
  $("product-select").addEventListener("change", (e) => selectProduct(e.target.value));
  $("ar-stage").addEventListener("click", onArTap);
  $("share").addEventListener("click", share);
  onLangChange(() => state.product && renderInfo());
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCamera();
  });
  try {
    state.products = await getProducts();
  } catch (e) {
    showError(e);
    return;
  }
  if (!state.products.length) return;
  state.view = ["spin", "ar", "tryon", "buy"].includes(params.get("view")) ? params.get("view") : "spin";
  await selectProduct(params.get("product") || state.products[0].id, params.get("variant"));
  const back = params.get("order") || sessionStorage.getItem("showroom.order");
  if (back) {
    await setView("buy");
    resumeOrder(back);
  }
}
main();
