// Phone page: spin any product 360; AR (rear camera frames over /ws/stream in the "ar" mode, the RGBA overlay
// drawn over the camera, tap to place); try-on (front camera over /ws/stream in the "tryon" mode, after consent);
// checkout through the payment backend's pay page (pay_url); share (native share sheet where available, poster);
// a video call with a bank advisor (common/advisor-call.js: co-view, the advisor's "show" and pointer, an offered
// price bought here).

import { AdvisorCall } from "../common/advisor-call.js";
import { createQuote, createShare, formatCny, getProduct, getProducts, newIdempotencyKey, renderUrl } from "../common/api.js";
import { CameraStream } from "../common/camera-stream.js";
import { canTryOn, hallOf, kindLabel, priceOf, specsOf, variantOf } from "../common/catalog.js";
import {
  expiryMs,
  forgetOrderToken,
  mobileFromInput,
  mobileNumber,
  readOrder,
  rememberedOrderToken,
  rememberOrderToken,
  renderPayPanel,
  showCountdown,
  startCheckout,
  watchOrder,
} from "../common/checkout.js";
import { couponBox, discountLinesEl } from "../common/coupons.js";
import { pickupBox, pickupPanel } from "../common/pickup.js";
import { GuideWidget } from "../common/guide.js";
import { installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { mountSpin } from "../common/spin.js";
import { askConsent, el, showError, toast } from "../common/ui.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const state = {
  products: [],
  product: null,
  variantId: null,
  view: "spin",
  spinner: null,
  camera: null, // the live CameraStream of the AR or try-on view
  tap: { x: 0.5, y: 0.62 },
  checkout: null,
  stopCountdown: null,
  consent: false,
  share: null,
  advisor: null, // the video call with an advisor (common/advisor-call.js)
  offerQuote: null, // the quote an advisor offered and the customer accepted: the next purchase orders it
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
  state.advisor?.viewChanged();
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
    state.stopCountdown = showCountdown($("p-countdown"), expiryMs(q));
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
  $("p-price").textContent = formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(v));
  const tryTab = document.querySelector('.tab[data-view="tryon"]');
  tryTab.disabled = !canTryOn(p);
  if (state.view === "buy") renderBuy();
}

async function setView(view) {
  if (view === "tryon" && !canTryOn(state.product)) view = "spin";
  state.view = view;
  for (const tab of document.querySelectorAll(".tabbar .tab")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const v of ["spin", "ar", "tryon", "buy"]) $(`view-${v}`).hidden = v !== view;
  state.advisor?.viewChanged();
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
      onTurn: () => state.advisor?.viewChanged(), // co-view: the advisor sees the angle
      startYawDeg: state.showYawDeg ?? 0,
    });
    state.showYawDeg = null;
    if (sp) {
      state.spinner = sp;
      state.advisor?.viewChanged();
    }
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

const AR_MAX_SIDE_PX = 960;

async function startAr() {
  const stage = $("ar-stage");
  state.placedPose = null;
  stage.querySelector(".ar-marker")?.remove();
  const cs = new CameraStream({
    video: $("ar-video"),
    canvas: $("ar-overlay"),
    stage,
    badge: $("ar-badge"),
    mode: "ar",
    client: "phone",
    product: state.product.id,
    variant: state.variantId,
    output: "overlay", // the node sends the product and its shadow on transparency; the live camera shows below
    facingMode: "environment",
    maxSidePx: AR_MAX_SIDE_PX,
    intrinsics: (w, h) => intrinsicsFor(w, h),
  });
  state.camera = cs;
  await cs.start();
}

function onArTap(e) {
  const stage = $("ar-stage");
  const cs = state.camera;
  const video = $("ar-video");
  if (!cs || cs.stopped || !cs.sentSize || !video.videoWidth) return;
  const r = stage.getBoundingClientRect();
  // the video is shown with object-fit: cover; map the tap back to the camera frame
  const scale = Math.max(r.width / video.videoWidth, r.height / video.videoHeight);
  const shownW = video.videoWidth * scale;
  const shownH = video.videoHeight * scale;
  const u = (e.clientX - r.left + (shownW - r.width) / 2) / shownW;
  const v = (e.clientY - r.top + (shownH - r.height) / 2) / shownH;
  const pose = poseForTap(u, v, intrinsicsFor(...cs.sentSize));
  if (!pose) return;
  state.placedPose = pose;
  cs.setAnchorPose(pose);
  let m = stage.querySelector(".ar-marker");
  if (!m) {
    m = el("div", { class: "ar-marker", "aria-hidden": "true" });
    stage.append(m);
  }
  m.style.left = `${e.clientX - r.left}px`;
  m.style.top = `${e.clientY - r.top}px`;
}

// ---- try-on -------------------------------------------------------------------------------------
async function startTryOn() {
  const p = state.product;
  if (!state.consent) {
    $("tryon-badge").textContent = t("tryon.consent_title");
    const ok = await askConsent();
    if (!ok) return setView("spin");
    state.consent = true;
    if (state.view !== "tryon" || state.product !== p) return; // the customer moved on meanwhile
  }
  const cs = new CameraStream({
    video: $("tryon-video"),
    canvas: $("tryon-result"),
    stage: $("tryon-stage"),
    badge: $("tryon-badge"),
    photoButton: $("tryon-photo"),
    mode: "tryon",
    client: "phone",
    product: p.id,
    variant: state.variantId,
    consent: true,
    facingMode: "user",
  });
  state.camera = cs;
  await cs.start();
}

function stopCamera() {
  state.camera?.stop();
  state.camera = null;
}

// ---- buy ----------------------------------------------------------------------------------------
function renderBuy() {
  const v = variantOf(state.product, state.variantId);
  $("buy-total").textContent = formatCny(state.checkout?.quote?.total_cny ?? state.quote?.total_cny ?? priceOf(v));
  const box = $("methods");
  box.replaceChildren();
  for (const m of ["mobile_banking", "card", "ecny_wallet"]) {
    box.append(el("button", { class: m === "mobile_banking" ? "btn btn-gold" : "btn", type: "button", dataset: { method: m }, text: t(`checkout.method.${m}`), onclick: () => buy(m) }));
  }
  if (state.checkout?.payment) renderPayPanel($("pay"), state.checkout, { showLink: true, qrSize: 0, certificate: true });
  state.pickup?.setAvailable(state.product?.kind !== "car"); // a car is not picked up at a branch
  state.pickup?.refresh(); // the chosen variant's pieces at the branch
}

async function buy(method) {
  const phone = mobileFromInput($("cust-phone"));
  if (!phone) return;
  if (state.coupons && !state.coupons.checkMethod(method)) return; // an e-CNY coupon: the e-CNY wallet only
  if (state.pickup && !state.pickup.ready()) return; // a branch pick-up needs its slot and the name on the ID
  state.stopCountdown?.();
  const co = startCheckout(state.checkout, {
    product: state.product.id,
    variant: state.variantId,
    channel: "phone",
    phone,
    method,
    extra: () => ({
      ...(params.get("share") ? { share_token: params.get("share") } : {}),
      product_view: { view_set_hash: state.spinner?.manifestKey || null, yaw_deg: state.spinner?.yawDeg ?? null, client: "phone" },
      ...(state.coupons?.orderExtra() || {}),
      ...(state.pickup?.orderExtra() || {}),
    }),
    onChange: () => {
      if (co !== state.checkout) return;
      $("p-price").textContent = formatCny(co.quote?.total_cny ?? priceOf(variantOf(state.product, state.variantId)));
      if (co.quote) $("buy-total").textContent = formatCny(co.quote.total_cny);
      if (co.order) {
        renderPayPanel($("pay"), co, { showLink: false, qrSize: 0, certificate: true });
        if (co.payment?.pay_url && !co.paid) {
          const a = el("a", { class: "btn btn-gold", href: co.payment.pay_url, text: t("checkout.open_pay"), dataset: { role: "pay-link" } });
          if (state.advisor?.open) a.target = "_blank"; // the call stays on this page while the customer pays
          $("pay").append(a);
        }
      }
    },
  });
  co.orderHeaders = () => state.coupons?.orderHeaders() || {}; // the phone proof for a coupon or points
  state.checkout = co;
  if (state.pickup?.customerName()) co.customer = { ...co.customer, name: state.pickup.customerName() };
  const offered = offeredQuote();
  try {
    if (offered) {
      co.offered = true;
      co.adoptQuote(offered); // the advisor's locked price, not today's
    } else await co.lockPrice();
    state.stopCountdown = showCountdown($("p-countdown"), co.quoteExpiresMs);
    if (state.coupons?.active) {
      co.discounts = await state.coupons.refresh(co.quote.id); // the lines of the locked quote (coupons.js)
      if (!state.coupons.checkMethod(method)) return;
    }
    await co.buy();
    if (co.offered) {
      state.offerQuote = null;
      state.advisor?.orderPlaced(co.order.id); // the advisor's console follows the order from the bank's records
    }
    sessionStorage.setItem("showroom.order", co.order.id);
    rememberOrderToken(co.order.id, co.token); // for the return from the pay page (this tab's life only)
  } catch (e) {
    showError(e);
  }
}

/** Back from the pay page (return_url ?order=...): show the order's live status. */
function resumeOrder(orderId) {
  const token = rememberedOrderToken(orderId); // without it the node shows the status alone
  const box = $("pay");
  const form = $("buy-form");
  form.hidden = true;
  let known = {}; // the order as read with its token; live events carry the status alone
  const render = (update) => {
    const o = (known = { ...known, ...update });
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
        discountLinesEl(o), // every coupon and points line, after the total before them (coupons.js)
        el("p", { class: "muted small order-id", text: `${t("checkout.order")} ${o.id || orderId}` }),
        paid ? el("p", { text: t("status.paid_thanks") }) : null,
        paid && token ? el("a", {
          class: "btn btn-ghost",
          href: `/certificate#order=${encodeURIComponent(o.id || orderId)}&token=${encodeURIComponent(token)}`,
          rel: "noopener noreferrer",
          dataset: { role: "certificate-link" },
          text: t("checkout.certificate"),
        }) : null,
        paid && token ? pickupPanel(o.id || orderId, token) : null,
        el("button", {
          class: "btn",
          type: "button",
          text: t("checkout.new"),
          onclick: () => {
            stop();
            sessionStorage.removeItem("showroom.order");
            forgetOrderToken();
            box.replaceChildren();
            form.hidden = false;
          },
        }),
      ),
    );
    const mark = box.querySelector(".paid-mark");
    if (mark) mark.innerHTML = '<svg viewBox="0 0 24 24" width="56" height="56"><path d="M5 12.5l4.2 4.2L19 7" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';
  };
  readOrder(orderId, token).then(render, () => {
    form.hidden = false;
  });
  const stop = watchOrder(orderId, render, token);
}

// ---- call an advisor ---------------------------------------------------------------------------------
/** The accepted offer while it still applies to the product shown and is valid. */
function offeredQuote() {
  const q = state.offerQuote;
  if (!q || q.product !== state.product?.id || (q.variant && q.variant !== state.variantId)) return null;
  const until = expiryMs(q);
  return until && until > Date.now() + 1000 ? q : null;
}

function advisorView() {
  if (!state.product) return { screen: "phone" };
  const sp = state.view === "spin" ? state.spinner : null;
  return { screen: state.view === "spin" ? "product" : state.view, product: state.product.id, variant: state.variantId, yaw_deg: sp?.yawDeg ?? null, pitch_deg: sp?.pitchDeg ?? null };
}

async function advisorShow({ product, variant, yaw_deg: yaw }) {
  if (state.product?.id === product && (!variant || variant === state.variantId) && state.view === "spin" && state.spinner) {
    if (yaw !== null) state.spinner.showAngle(yaw);
    return;
  }
  state.showYawDeg = yaw;
  if (state.view !== "spin") state.view = "spin";
  await selectProduct(product, variant);
  if (yaw !== null) state.spinner?.showAngle(yaw);
}

/** The customer accepts the advisor's offer: the buy view, where the purchase orders THAT quote. */
async function buyOffered(quote) {
  state.offerQuote = quote;
  if (state.product?.id !== quote.product || (quote.variant && quote.variant !== state.variantId)) await selectProduct(quote.product, quote.variant);
  await setView("buy");
  $("buy-total").textContent = formatCny(quote.total_cny);
  $("p-price").textContent = formatCny(quote.total_cny);
  state.stopCountdown?.();
  state.stopCountdown = showCountdown($("p-countdown"), expiryMs(quote));
  $("cust-phone").focus();
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
  state.coupons = couponBox({ getPhone: () => mobileNumber($("cust-phone").value), getQuoteId: () => state.quote?.id });
  $("cust-phone").addEventListener("input", () => state.coupons?.phoneChanged()); // a new number: a new SMS check
  $("coupons").append(state.coupons.el);
  state.pickup = pickupBox({ getItem: () => ({ product: state.product?.id, variant: state.variantId }), branch: params.get("branch") });
  $("pickup").append(state.pickup.el);
  onLangChange(() => state.product && renderInfo());
  // the digital guide: a small figure in the corner (x closes it, remembered); asking an advisor from a phone
  // gives the branches' phone numbers and hours
  const guide = new GuideWidget({
    size: "phone",
    getFocus: () => (state.product ? { product: state.product.id, variant: state.variantId } : {}),
    onAdvisor: () => state.advisor.start(),
    advisorText: null,
  });
  state.guide = guide;
  state.advisor = new AdvisorCall({
    channel: "phone",
    place: params.get("place"),
    getView: advisorView,
    applyShow: advisorShow,
    onAccept: buyOffered,
    pointerHost: () => (state.view === "spin" ? $("spin") : null),
    defaultTopic: () => (state.product?.kind === "car" ? "car_finance" : "precious_metals"),
  });
  window.__advisorCall = state.advisor; // for operators' diagnostics and the browser tests
  $("call-advisor").addEventListener("click", () => state.advisor.start());
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
