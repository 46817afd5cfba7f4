// The branch kiosk: attract loop (a slow walk through the bank hall streamed by the node, with the featured
// products in a card) -> product wall by hall, or "walk the hall" (the hall on the screen: drag to look, tap the
// floor to walk, tap a product to see it on the stand, voice) -> product page (360 spin, zoom, hotspots, live
// price, quote countdown, loan overlay for cars, mirror try-on after consent) -> pay by QR on the phone, live
// status. An idle timeout wipes the whole session (checkout, camera, customer data) and returns to the attract loop.
// "Call an advisor" (the top bar's button, the guide, the hall's counter, voice) opens the video call with a bank
// advisor (common/advisor-call.js): co-view of the product on screen, the advisor's "show" and pointer, and an offered
// price bought through the usual keypad -> QR -> pay on the phone.

import { AdvisorCall } from "../common/advisor-call.js";
import { financePlans, formatCny, getProduct, getProducts, renderUrl } from "../common/api.js";
import { ZONE_ORDER, attractPose } from "../common/hall.js";
import { HallView } from "../common/hall-view.js";
import { CameraStream } from "../common/camera-stream.js";
import { canTryOn, depositOf, hallOf, isCar, kindLabel, loadThumb, priceOf, specsOf, thumbUrl, variantOf } from "../common/catalog.js";
import { formatMobile, mobileNumber, renderPayPanel, showCountdown, startCheckout } from "../common/checkout.js";
import { couponBox } from "../common/coupons.js";
import { pickupBox } from "../common/pickup.js";
import { GuideWidget } from "../common/guide.js";
import { applyI18n, getLang, installToggles, onLangChange, pick, setLang, setLargeType, t } from "../common/i18n.js";
import { mountSpin } from "../common/spin.js";
import { askConsent, el, openDialog, showError } from "../common/ui.js";
import { recogniseWav, recordWav } from "../common/voice.js";

const params = new URLSearchParams(location.search);
const IDLE_S = Number(params.get("idle_s") || 120);
const IDLE_WARN_S = Math.min(15, Math.max(3, Math.floor(IDLE_S / 4)));
const VIEW_SIZE = params.get("view_size") || "960x720";
const HALL_ON = params.get("hall") !== "0"; // hall=0: the attract loop shows product stills only

const $ = (id) => document.getElementById(id);
const state = {
  products: [],
  hall: "metals",
  product: null,
  variantId: null,
  spinner: null,
  checkout: null,
  stopCountdown: null,
  camera: null, // the mirror try-on's CameraStream while it runs
  dialog: null,
  sessionId: newSessionId(),
  attractHall: null, // the attract loop's walk through the hall (HallView) while it runs
  noHall: false, // the node has no hall: the attract loop shows the stills alone
  hallView: null, // the "walk the hall" screen's HallView
  hallProduct: null,
  hallTurnDeg: 0,
  guide: null, // the digital guide beside the products (common/guide.js)
  advisor: null, // the video call with an advisor (common/advisor-call.js)
};
window.__kiosk = state; // for operators' diagnostics and the browser tests

function newSessionId() {
  return `kiosk-${Math.random().toString(36).slice(2, 10)}`;
}

function show(screen) {
  const from = document.body.dataset.screen;
  for (const id of ["attract", "wall", "hall", "product"]) $(id).hidden = id !== screen;
  document.body.dataset.screen = screen;
  // the guide stands beside the products (the hall has its own); it greets a customer who leaves the attract loop
  showGuide();
  if (from === "attract" && screen !== "attract") state.guide?.greet();
  if (screen === "attract") startAttract();
  else stopAttract();
  if (screen === "hall") startHall();
  else stopHall();
  if (screen === "wall" && !$("product-grid").children.length) renderWall();
  state.advisor?.viewChanged();
}

/** The guide beside the wall and the product, unless an advisor's call has the side of the screen. */
function showGuide() {
  const screen = document.body.dataset.screen;
  state.guide?.setVisible((screen === "wall" || screen === "product") && !state.advisor?.open);
}

// ---- attract loop --------------------------------------------------------------------------------
let attractTimer = null;
function startAttract() {
  const box = $("attract-slides");
  if (!state.products.length) return startAttractWalk();
  if (!box.querySelector("img")) {
    // one large still per product, loaded one slide ahead of the one showing
    for (const p of state.products) box.append(el("img", { alt: pick(p.name), dataset: { url: thumbUrl(p, "960x600", "env") } }));
  }
  const imgs = [...box.querySelectorAll("img")];
  const ensure = (k) => {
    const im = imgs[k % imgs.length];
    if (!im.getAttribute("src")) im.src = im.dataset.url;
  };
  let i = 0;
  // the walk starts once the first two stills are in: on a CPU node its frames would hold the stills up
  const second = imgs[1 % imgs.length];
  const walk = () => document.body.dataset.screen === "attract" && startAttractWalk();
  if (second.complete && second.getAttribute("src")) walk();
  else for (const ev of ["load", "error"]) second.addEventListener(ev, walk, { once: true });
  ensure(0);
  imgs[0].addEventListener("load", () => ensure(1), { once: true });
  imgs[0].addEventListener("error", () => ensure(1), { once: true });
  for (const im of imgs) im.classList.remove("on");
  imgs[0].classList.add("on");
  clearInterval(attractTimer);
  attractTimer = setInterval(() => {
    imgs[i].classList.remove("on");
    i = (i + 1) % imgs.length;
    imgs[i].classList.add("on");
    ensure(i + 1);
  }, 6000);
}
function stopAttract() {
  clearInterval(attractTimer);
  attractTimer = null;
  stopAttractWalk();
}

/** The attract loop walks slowly through the hall (the welcome's attract_path, sent as poses); without a hall on the
 * node the product stills fill the screen as before. */
function startAttractWalk() {
  if (!HALL_ON || state.attractHall || state.noHall) return;
  const t0 = performance.now() / 1000;
  let welcomed = false;
  try {
    const hv = new HallView({
      canvas: $("attract-hall"),
      eyes: 1,
      eyeSize: [800, 450],
      fovDeg: 62,
      overscanDeg: 6,
      codec: "jpeg",
      client: "kiosk",
      targetFps: 8,
      maxKbps: 8000,
      input: false,
      handlers: {
        onWelcome: () => (welcomed = true),
        onFrame: () => $("attract").classList.add("hall-live"),
        onStatus: (st) => {
          if (!welcomed && (st === "disconnected" || st === "error")) hallUnavailable();
        },
        onError: () => {
          if (!welcomed) hallUnavailable();
        },
      },
    });
    hv.poseSource = (tS) => {
      const path = hv.client.hall?.attract_path; // the node's plan: [{point, yaw_deg}]
      return path ? attractPose(tS - t0, path.map((w) => [w.point, w.yaw_deg])) : null;
    };
    hv.start();
    state.attractHall = hv;
  } catch (_) {
    hallUnavailable();
  }
}

function hallUnavailable() {
  state.noHall = true;
  stopAttractWalk();
}

function stopAttractWalk() {
  state.attractHall?.stop();
  state.attractHall = null;
  $("attract").classList.remove("hall-live");
}


// ---- product wall -----------------------------------------------------------------------------
function renderWall() {
  for (const tab of document.querySelectorAll("#hall-tabs .tab")) tab.setAttribute("aria-selected", String(tab.dataset.hall === state.hall));
  const grid = $("product-grid");
  grid.replaceChildren();
  for (const p of state.products.filter((x) => hallOf(x) === state.hall)) {
    const price = priceOf(variantOf(p));
    const card = el(
      "button",
      { class: "card", type: "button", dataset: { product: p.id }, onclick: () => openProduct(p.id) },
      thumbImg(p),
      el(
        "div",
        { class: "body" },
        el("span", { class: "kind", text: kindLabel(p) }),
        el("span", { class: "name", text: pick(p.name) }),
        price ? el("span", { class: "price", text: (isCar(p) ? `${t("product.price_from")} ` : "") + formatCny(price) }) : null,
      ),
    );
    grid.append(card);
  }
}

function thumbImg(p) {
  const img = el("img", { class: "thumb", alt: "" });
  loadThumb(img, thumbUrl(p));
  return img;
}

// ---- walking the hall -----------------------------------------------------------------------------
function hallSay(text, ms = 4000) {
  const box = $("hall-toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(hallSay.timer);
  hallSay.timer = setTimeout(() => (box.hidden = true), ms);
}

function renderHallZones() {
  const nav = $("hall-zones");
  nav.replaceChildren();
  for (const id of ZONE_ORDER) {
    const b = el("button", { class: "btn", type: "button", dataset: { zone: id }, text: t(`hall.zone.${id}`) });
    b.addEventListener("click", () => hallGo(id));
    nav.append(b);
  }
  markHallZone();
}

function markHallZone() {
  const zone = state.hallView?.client.zone;
  for (const b of $("hall-zones").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.zone === zone));
  $("hall-stage").dataset.zone = zone || "";
}

async function hallGo(id) {
  try {
    await state.hallView?.goZone(id);
  } catch (e) {
    hallSay(e.code === "not_walkable" ? t("hall.not_walkable") : t("common.error", { msg: e.message }));
  }
}

function startHall() {
  if (state.hallView) return;
  $("hall-card").hidden = true;
  $("hall-hint").hidden = false;
  renderHallZones();
  const box = $("hall-stage").getBoundingClientRect();
  const aspect = box.width > 0 && box.height > 0 ? Math.min(2.4, Math.max(1, box.width / box.height)) : 16 / 9;
  const hv = new HallView({
    canvas: $("hall-view"),
    stage: $("hall-stage"),
    eyes: 1,
    eyeSize: [960, Math.round(960 / aspect)],
    fovDeg: 62,
    overscanDeg: 10,
    codec: "jpeg",
    client: "kiosk",
    targetFps: 20,
    handlers: {
      onFrame: () => ($("hall-stage").dataset.frames = String(hv.client.stats.frames)),
      onWelcome: () => markHallZone(),
      onTeleported: () => markHallZone(),
      onChooseProduct: (id) => hallFocus(id),
      onAction: (action) => (action === "call_advisor" ? callAdvisor() : hallSay(t("hall.appointment_note"), 6000)),
      onError: (e) => hallSay(e.code === "not_walkable" ? t("hall.not_walkable") : t("common.error", { msg: e.message || e.code })),
    },
  });
  try {
    hv.start();
  } catch (e) {
    hallSay(t("hall.unavailable"));
    return;
  }
  state.hallView = hv;
}

function stopHall() {
  state.hallView?.stop();
  state.hallView = null;
  state.hallProduct = null;
}

async function hallFocus(id) {
  const hv = state.hallView;
  if (!hv) return;
  let f;
  try {
    f = await hv.client.focus(id);
  } catch (e) {
    return hallSay(t("common.error", { msg: e.message }));
  }
  state.hallTurnDeg = 0;
  hv.turnYawDeg = 0;
  const p = state.products.find((x) => x.id === f.product) || { id: f.product };
  state.hallProduct = p;
  $("hall-hint").hidden = true;
  $("hall-card").hidden = false;
  $("hall-card-kind").textContent = kindLabel(p);
  $("hall-card-name").textContent = pick(p.name);
  const price = formatCny(isCar(p) ? depositOf(variantOf(p)) : priceOf(variantOf(p)));
  $("hall-card-price").textContent = isCar(p) ? `${t("checkout.deposit")} ${price}` : price;
  $("hall-card-scale").textContent = isCar(p) ? t("hall.walk_around") : f.scale > 1.05 ? t("hall.magnified", { x: Number(f.scale).toFixed(1) }) : "";
  $("hall-stage").dataset.focused = f.product;
  state.advisor?.viewChanged();
  // a piece is seen on the stand from its view point; a car is already in view at full size: turn to it
  if (f.view_point && !isCar(p)) {
    try {
      await hv.client.teleportPoint(f.view_point, f.view_yaw_deg);
    } catch (_) {
      /* stay where they are */
    }
  }
  const at = hv.shownPoint();
  if (at) hv.lookAt(at);
}

async function hallUnfocus() {
  await state.hallView?.client.unfocus();
  state.hallProduct = null;
  $("hall-card").hidden = true;
  delete $("hall-stage").dataset.focused;
}

function hallRotate(d) {
  if (!state.hallView?.client.focused) return;
  state.hallTurnDeg = (((state.hallTurnDeg + d) % 360) + 360) % 360;
  state.hallView.turnYawDeg = state.hallTurnDeg;
  state.hallView.client.turn(state.hallTurnDeg);
}

/** Voice: 3 s of the microphone to the node's offline recogniser; each command does what its button does. */
async function hallVoice() {
  const mic = $("hall-mic");
  if (mic.dataset.state === "listening") return;
  mic.dataset.state = "listening";
  hallSay(t("hall.listening"), 3500);
  try {
    const reply = await recogniseWav(await recordWav(3), "en"); // English speech only (docs/voice.md)
    const cmd = reply.command;
    if (!cmd) return hallSay(t("hall.not_understood"));
    hallSay(t("hall.heard", { text: reply.text || cmd.intent }));
    if (cmd.intent === "go" && cmd.target) await hallGo(cmd.target);
    else if (cmd.intent === "show" && cmd.target) await hallFocus(cmd.target);
    else if ((cmd.intent === "price" || cmd.intent === "buy") && state.hallProduct) openProduct(state.hallProduct.id);
    else if (cmd.intent === "call_advisor") callAdvisor();
    else if (cmd.intent === "back") await hallUnfocus();
    else hallSay(t("hall.not_understood"));
  } catch (e) {
    hallSay(t("hall.voice_unavailable", { msg: e.message }));
  } finally {
    mic.dataset.state = "idle";
  }
}

// ---- product page -----------------------------------------------------------------------------
async function openProduct(id, variantId = null) {
  show("product");
  closeCheckout();
  let p = state.products.find((x) => x.id === id);
  try {
    p = { ...p, ...(await getProduct(id)) };
  } catch (e) {
    if (!p) return showError(e);
  }
  state.product = p;
  state.variantId = variantId || variantOf(p)?.id || null;
  state.loanChoice = null;
  state.advisor?.viewChanged();
  renderProductInfo();
  refreshQuote();
  await loadSpin();
}

/** The live price: a quote locks it for a few minutes, shown with its countdown. */
async function refreshQuote() {
  const p = state.product;
  try {
    const co = newCheckout();
    await co.lockPrice();
  } catch (e) {
    if (state.product === p) $("p-countdown").textContent = t("common.error", { msg: e.message });
  }
}

function renderProductInfo() {
  const p = state.product;
  const v = variantOf(p, state.variantId);
  $("p-kind").textContent = kindLabel(p);
  $("p-name").textContent = pick(p.name);
  $("p-desc").textContent = pick(p.description);
  const vbox = $("p-variants");
  vbox.replaceChildren();
  if ((p.variants || []).length > 1) {
    vbox.setAttribute("aria-label", t("product.variant"));
    for (const x of p.variants) {
      const chip = el("button", { class: "chip", type: "button", "aria-pressed": String(x.id === state.variantId), dataset: { variant: x.id } });
      if (x.paint_hex) chip.append(el("span", { class: "swatch", style: `background:${x.paint_hex}` }));
      chip.append(pick(x.name) || x.id);
      chip.addEventListener("click", () => selectVariant(x.id));
      vbox.append(chip);
    }
  }
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value, dataset: { spec: row.key } }));
  $("p-price-label").textContent = isCar(p) ? t("checkout.deposit") : t("product.price");
  const price = isCar(p) ? depositOf(v) : priceOf(v);
  if (!state.checkout?.quote) $("p-price").textContent = formatCny(price);
  $("tryon").hidden = !canTryOn(p);
  $("loan").hidden = !isCar(p);
  renderHotspots();
}

async function selectVariant(id) {
  state.variantId = id;
  state.advisor?.viewChanged();
  closeCheckout();
  renderProductInfo();
  refreshQuote();
  await loadSpin();
}

async function loadSpin() {
  const host = $("spin");
  state.spinner?.destroy();
  state.spinner = null;
  const p = state.product;
  const variant = state.variantId;
  const current = () => state.product === p && state.variantId === variant;
  try {
    const sp = await mountSpin(host, {
      productId: p.id,
      variant,
      size: VIEW_SIZE,
      stillUrl: renderUrl(p.id, variant, { yawDeg: 0, pitchDeg: isCar(p) ? 10 : 15, size: VIEW_SIZE }),
      isCurrent: current,
      progressText: (done, total) => t("product.rendering", { done, total }),
      onTurn: () => state.advisor?.viewChanged(), // co-view: the advisor sees the angle
      startYawDeg: state.showYawDeg ?? 0, // an angle the advisor showed while the view set loaded
    });
    state.showYawDeg = null;
    if (sp && current()) {
      state.spinner = sp;
      state.advisor?.viewChanged();
      host.setAttribute("aria-label", `${pick(p.name)} 360°`);
    }
  } catch (e) {
    if (current()) host.append(el("p", { class: "error-text spin-note", text: t("common.error", { msg: e.message }) }));
  }
}

function renderHotspots() {
  const box = $("hotspots");
  box.replaceChildren();
  const p = state.product;
  const rows = specsOf(p, variantOf(p, state.variantId)).filter((r) => ["purity", "weight", "hallmark", "certificate", "trim", "dimensions"].includes(r.key));
  // pins sit around the product, never over its middle
  const spots = [
    [16, 14],
    [84, 14],
    [16, 86],
    [84, 86],
  ];
  rows.slice(0, spots.length).forEach((row, i) => {
    const [x, y] = spots[i];
    const b = el("button", { class: "hotspot", type: "button", style: `left:${x}%;top:${y}%`, dataset: { hotspot: row.key } }, el("span", { class: "dot", "aria-hidden": "true" }), row.label);
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      const open = box.querySelector(".hotspot-tip");
      if (open) {
        const same = open.dataset.for === row.key;
        open.remove();
        if (same) return;
      }
      const side = x < 50 ? `left:calc(${x}% - 3rem)` : `right:calc(${100 - x}% - 3rem)`;
      const vert = y < 50 ? `top:calc(${y}% + 2rem)` : `bottom:calc(${100 - y}% + 2rem)`;
      box.append(el("div", { class: "hotspot-tip", role: "note", style: `${side};${vert}`, dataset: { for: row.key } }, el("b", { text: row.label }), row.value));
    });
    box.append(b);
  });
}

// ---- price lock + buy ---------------------------------------------------------------------------
function newCheckout() {
  closeCheckout();
  const p = state.product;
  const co = startCheckout(null, {
    product: p.id,
    variant: state.variantId,
    channel: "kiosk", // the mobile number is asked on the keypad after the price is locked
    method: "qr",
    extra: () => ({
      product_view: productView(),
      branch: params.get("branch") || undefined,
      finance: isCar(p) && state.loanChoice ? state.loanChoice : undefined, // the loan pre-application
      ...(co.coupons?.orderExtra() || {}), // a coupon and points (common/coupons.js)
      ...(co.pickup?.orderExtra() || {}), // a branch and slot to pick up at (common/pickup.js)
    }),
    onChange: () => onCheckoutChange(co),
  });
  co.orderHeaders = () => co.coupons?.orderHeaders() || {}; // the phone proof for a coupon or points
  state.checkout = co;
  return co;
}

/** What the customer was looking at when buying (kept in the order's audit record). */
function productView() {
  const sp = state.spinner;
  return {
    view_set_hash: sp?.manifestKey || null,
    yaw_deg: sp?.yawDeg ?? null,
    pitch_deg: sp?.pitchDeg ?? null,
    zoom: sp ? Number(sp.zoom.toFixed(2)) : null,
    client: "kiosk",
  };
}

function onCheckoutChange(co) {
  if (co !== state.checkout) return;
  if (co.quote) {
    $("p-price").textContent = formatCny(co.quote.total_cny ?? co.quote.unit_price_cny);
    $("p-price").classList.remove("stale");
  }
  if (co.status === "quoted" && !state.stopCountdown && co.quoteExpiresMs) {
    state.stopCountdown = showCountdown($("p-countdown"), co.quoteExpiresMs, {
      key: "product.quote_locked",
      onExpire: () => $("p-price").classList.add("stale"),
    });
  }
  if (co.offered && co.order && !co.orderTold) {
    co.orderTold = true; // the advisor's console follows this order's status from the bank's own records
    state.advisor?.orderPlaced(co.order.id);
  }
  if (state.dialog && co.order) {
    renderPayPanel(state.dialog.content, co);
    showCertificateQr(state.dialog.content, co);
  }
}

// ---- the certificate: a QR code for the customer's own phone, never a link on this shared screen ----------
const CERTIFICATE_QR = {
  zh: "请用您的手机扫码，查看并保存本件商品的证书（可验证）",
  en: "Scan with your own phone to open and keep this item's certificate (verifiable)",
};

function fetchCertificateQr(co) {
  const url = `/api/orders/${encodeURIComponent(co.order.id)}/certificate-qr.png`;
  return fetch(url, { headers: { Authorization: `Bearer ${co.token}` }, cache: "no-store" }).then(async (r) => (r.ok ? URL.createObjectURL(await r.blob()) : null));
}

/** Once paid: the QR code of the certificate page (the order's capability rides in it, shown during this session only). */
async function showCertificateQr(content, co) {
  if (!co.paid || !co.token || !co.order) return;
  co.certificateQr = co.certificateQr || fetchCertificateQr(co);
  const src = await co.certificateQr.catch(() => null);
  if (!src || !content.isConnected || co !== state.checkout || content.querySelector('[data-role="certificate-qr"]')) return;
  const text = CERTIFICATE_QR[getLang() === "en" ? "en" : "zh"];
  content.append(el("figure", { class: "qr certificate-qr", dataset: { role: "certificate-qr" } }, el("img", { src, width: "220", height: "220", alt: text }), el("figcaption", { text })));
}

async function buy() {
  const co = state.checkout && state.checkout.status === "quoted" && state.checkout.quoteSecondsLeft() > 0 ? state.checkout : newCheckout();
  const content = el("div", { class: "pay-panel" }, el("div", { class: "spinner" }), el("p", { class: "muted", text: t("common.loading") }));
  state.dialog = { content, ...openDialog(content, { labelKey: "checkout.title", onClose: () => (state.dialog = null) }) };
  try {
    if (!co.quote) await co.lockPrice();
    // the number on the keypad; once the keypad is gone (ordering), the order's number
    const phoneOf = () => mobileNumber($("phone-number")?.textContent || "") || mobileNumber(co.customer?.phone || "");
    co.coupons = couponBox({ getPhone: phoneOf, getQuoteId: () => co.quote?.id, keypad: true });
    if (!isCar(state.product)) co.pickup = pickupBox({ getItem: () => ({ product: co.product, variant: co.variant }), branch: params.get("branch") });
    const phone = await askPhone(content, co);
    if (!phone || !state.dialog) return;
    co.setPhone(phone);
    if (co.pickup?.customerName()) co.customer = { ...co.customer, name: co.pickup.customerName() };
    if (co.coupons.active) {
      co.discounts = await co.coupons.refresh(co.quote.id); // the discount lines of the locked quote
      if (co.discounts?.ecny_only) co.method = "ecny_wallet"; // an e-CNY coupon: the QR opens an e-CNY payment
    }
    content.replaceChildren(el("div", { class: "spinner" }));
    await co.buy();
    if (state.dialog) {
      renderPayPanel(content, co);
      showCertificateQr(content, co);
    }
  } catch (e) {
    content.replaceChildren(el("p", { class: "error-text", text: t("common.error", { msg: e.message }) }));
  }
}

/** An on-screen keypad for the customer's mobile number (the kiosk has no keyboard); resolves to the number. */
function askPhone(content, co) {
  return new Promise((resolve) => {
    let digits = "";
    const shown = el("output", { class: "phone-number", id: "phone-number", "aria-live": "polite" });
    const hint = el("p", { class: "muted small", text: t("checkout.phone_why") });
    const ok = el("button", { class: "btn btn-gold", type: "button", id: "confirm-order", text: t("checkout.confirm"), disabled: true });
    const paint = () => {
      shown.textContent = formatMobile(digits) || "1__ ____ ____";
      ok.disabled = !mobileNumber(digits);
      co.coupons?.phoneChanged(); // another number needs its own SMS check before coupons and points
    };
    const press = (k) => {
      if (k === "del") digits = digits.slice(0, -1);
      else if (k === "clr") digits = "";
      else if (digits.length < 11) digits += k;
      paint();
    };
    const pad = el("div", { class: "keypad", role: "group", "aria-label": t("checkout.phone") });
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "del"]) {
      const label = k === "del" ? "⌫" : k === "clr" ? t("checkout.clear") : k;
      pad.append(el("button", { class: "btn key", type: "button", dataset: { key: k }, text: label, onclick: () => press(k) }));
    }
    const onKey = (e) => {
      if (!content.isConnected) return document.removeEventListener("keydown", onKey); // session wiped
      if (e.target instanceof HTMLInputElement) return; // typing a coupon code or points, not the number
      if (/^\d$/.test(e.key)) press(e.key);
      else if (e.key === "Backspace") press("del");
      else if (e.key === "Enter" && !ok.disabled) ok.click();
    };
    document.addEventListener("keydown", onKey);
    const countdownEl = el("p", { class: "countdown" });
    const stop = showCountdown(countdownEl, co.quoteExpiresMs);
    ok.addEventListener("click", () => {
      if (co.pickup && !co.pickup.ready()) return; // a branch pick-up needs its slot and the name on the ID
      document.removeEventListener("keydown", onKey);
      stop();
      resolve(digits);
    });
    content.replaceChildren(
      el("h2", { text: t("checkout.phone_title") }),
      el("p", {}, el("span", { class: "muted", text: `${t("checkout.total")} ` }), el("strong", { class: "price", text: formatCny(co.quote?.total_cny) })),
      countdownEl,
      shown,
      pad,
      hint,
      el("div", { class: "btn-row" }, ok),
      co.coupons?.el || null,
      co.pickup?.el || null,
    );
    paint();
  });
}

function closeCheckout() {
  state.stopCountdown?.();
  state.stopCountdown = null;
  $("p-countdown").textContent = "";
  state.checkout?.certificateQr?.then((url) => url && URL.revokeObjectURL(url), () => {});
  state.checkout?.close();
  state.checkout = null;
}

// ---- loan overlay (cars) ----------------------------------------------------------------------
function openLoan() {
  const p = state.product;
  const v = variantOf(p, state.variantId);
  const minDown = Math.round(Number(p.finance_min_down_payment_ratio ?? 0.15) * 100);
  const terms = (p.finance_terms_months || [12, 24, 36, 48, 60]).map(Number).sort((a, b) => a - b);
  const down = el("input", { type: "range", min: String(minDown), max: "80", step: "5", value: String(Math.max(minDown, 30)), id: "loan-down" });
  const term = el("input", { type: "range", min: "0", max: String(terms.length - 1), step: "1", value: String(Math.max(0, terms.indexOf(36))), id: "loan-term" });
  const termMonths = () => terms[Number(term.value)];
  const downOut = el("strong");
  const termOut = el("strong");
  const result = el("div", { class: "loan-result", "aria-live": "polite" });
  const disclosure = el("p", { class: "muted small", text: t("loan.disclosure") });
  const content = el(
    "div",
    {},
    el("h2", { text: t("loan.title") }),
    el("p", { class: "muted", text: `${pick(p.name)} · ${pick(v?.name)} · ${t("spec.msrp")} ${formatCny(priceOf(v))}` }),
    el("label", { class: "field" }, el("span", { class: "row" }, el("span", { text: t("loan.down") }), downOut), down),
    el("label", { class: "field" }, el("span", { class: "row" }, el("span", { text: t("loan.term") }), termOut), term),
    result,
    disclosure,
  );
  let seq = 0;
  let timer = null;
  const update = () => {
    downOut.textContent = `${down.value}%`;
    termOut.textContent = t("loan.months", { n: termMonths() });
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const my = ++seq;
      try {
        const ans = await financePlans({
          product: p.id,
          variant: state.variantId,
          down_payment_ratio: (Number(down.value) / 100).toFixed(2),
          term_months: termMonths(),
        });
        if (my !== seq) return;
        renderLoan(result, ans);
      } catch (e) {
        if (my === seq) result.replaceChildren(el("p", { class: "error-text", text: e.message }));
      }
    }, 200);
  };
  down.addEventListener("input", update);
  term.addEventListener("input", update);
  update();
  const reserve = el("button", { class: "btn btn-gold", type: "button", id: "loan-reserve", text: t("loan.reserve") });
  content.append(el("div", { class: "btn-row" }, reserve));
  const dlg = openDialog(content, { labelKey: "loan.title" });
  reserve.addEventListener("click", () => {
    state.loanChoice = { down_payment_ratio: (Number(down.value) / 100).toFixed(2), term_months: termMonths() };
    dlg.close();
    buy();
  });
}

function renderLoan(box, ans) {
  const plans = Array.isArray(ans) ? ans : ans.plans || [ans];
  box.replaceChildren();
  for (const plan of plans.slice(0, 2)) {
    const monthly = plan.monthly_payment_cny ?? plan.first_payment_cny ?? plan.schedule?.[0]?.payment_cny;
    const apr = plan.apr ?? plan.apr_percent ?? plan.annual_percentage_rate;
    const aprText = apr === undefined ? "—" : String(apr).includes("%") ? String(apr) : `${(Number(apr) < 1 ? Number(apr) * 100 : Number(apr)).toFixed(2)}%`;
    const method = plan.method ? ` · ${t(`loan.method.${plan.method}`)}` : "";
    box.append(
      el("div", {}, el("div", { class: "muted", text: t("loan.monthly") + method }), el("div", { class: "price v", dataset: { role: "monthly" }, text: formatCny(monthly) })),
      el("div", {}, el("div", { class: "muted", text: t("loan.apr") }), el("div", { class: "v", dataset: { role: "apr" }, text: aprText })),
    );
    if (plan.down_payment_cny !== undefined) box.append(el("div", {}, el("div", { class: "muted", text: t("loan.down") }), el("div", { text: formatCny(plan.down_payment_cny) })));
    if (plan.principal_cny !== undefined) box.append(el("div", {}, el("div", { class: "muted", text: t("loan.principal") }), el("div", { text: formatCny(plan.principal_cny) })));
    if (plan.total_interest_cny !== undefined) box.append(el("div", {}, el("div", { class: "muted", text: t("loan.total_interest") }), el("div", { text: formatCny(plan.total_interest_cny) })));
  }
}

// ---- mirror try-on ------------------------------------------------------------------------------
async function openTryOn() {
  const p = state.product;
  const variant = state.variantId;
  if (!(await askConsent()) || state.product !== p) return;
  const video = el("video", { class: "mirror", autoplay: true, muted: true, playsinline: true });
  const out = el("canvas", { class: "composite mirror layer", id: "tryon-result", role: "img", "aria-label": t("tryon.title"), hidden: true });
  const badge = el("div", { class: "badge", id: "tryon-badge" });
  const stage = el("div", { class: "camera-stage tryon-stage", id: "tryon-stage" }, video, out, badge);
  const content = el("div", {}, el("h2", { text: `${t("tryon.title")} · ${pick(p.name)}` }), stage);
  const dlg = openDialog(content, { labelKey: "tryon.title", closable: false, onClose: stopCamera });
  dlg.box.style.width = "min(60rem, 100%)";
  const photo = el("button", { class: "btn", type: "button", id: "tryon-photo", text: t("tryon.capture"), hidden: true });
  const stop = el("button", { class: "btn", type: "button", id: "tryon-stop", text: t("tryon.stop"), onclick: () => dlg.close() });
  content.append(el("div", { class: "btn-row" }, photo, stop));
  const cs = new CameraStream({ video, canvas: out, stage, badge, photoButton: photo, mode: "tryon", client: "kiosk", product: p.id, variant, consent: true, facingMode: "user" });
  state.camera = cs;
  await cs.start();
}

function stopCamera() {
  state.camera?.stop();
  state.camera = null;
}

// ---- idle timeout: wipe everything ----------------------------------------------------------------
let lastActivity = Date.now();
let warning = null;
function activity() {
  lastActivity = Date.now();
  if (warning) {
    warning.close();
    warning = null;
  }
}
function wipeSession() {
  state.advisor?.cancel(); // a wait in the queue (or an ended call) goes with the session
  stopCamera();
  closeCheckout();
  for (const o of document.querySelectorAll(".overlay")) o.remove();
  state.dialog = null;
  state.spinner?.destroy();
  state.spinner = null;
  state.product = null;
  state.variantId = null;
  state.loanChoice = null;
  state.sessionId = newSessionId();
  try {
    sessionStorage.clear();
  } catch (_) {
    /* ignore */
  }
  state.hall = "metals";
  state.guide?.reset();
  setLargeType(false);
  setLang(document.documentElement.dataset.defaultLang || "zh");
  $("product-grid").replaceChildren();
  show("attract");
}
setInterval(() => {
  if (document.body.dataset.screen === "attract") return;
  if (state.advisor?.live) activity(); // talking with an advisor is not being idle
  // a customer paying on the phone is not idle while the order is pending (up to 5 minutes)
  const paying = state.checkout?.status === "paying" && state.dialog;
  const idleS = (Date.now() - lastActivity) / 1000 - (paying ? Math.max(0, 300 - IDLE_S) : 0);
  if (idleS >= IDLE_S) {
    warning?.close();
    warning = null;
    wipeSession();
  } else if (idleS >= IDLE_S - IDLE_WARN_S && !warning) {
    const msg = el("p", { class: "idle-text" });
    const content = el("div", { class: "idle-warning" }, msg, el("button", { class: "btn btn-gold", type: "button", text: t("idle.stay"), onclick: activity }));
    warning = openDialog(content, { closable: false });
    const tick = () => {
      if (!warning) return;
      msg.textContent = t("idle.warning", { s: Math.max(0, Math.ceil(IDLE_S - (Date.now() - lastActivity) / 1000)) });
      setTimeout(tick, 500);
    };
    tick();
  }
}, 1000);
for (const ev of ["pointerdown", "keydown", "wheel", "touchstart"]) document.addEventListener(ev, activity, { capture: true, passive: true });

// ---- call an advisor ---------------------------------------------------------------------------------
/** "Call an advisor" (the top bar, the guide's offer, the hall's service counter, voice): the video call panel. */
function callAdvisor() {
  state.advisor.start();
}

/** What is on the screen, for the advisor's co-view. */
function advisorView() {
  const screen = document.body.dataset.screen;
  if (screen === "product" && state.product) {
    const sp = state.spinner;
    return { screen, product: state.product.id, variant: state.variantId, yaw_deg: sp?.yawDeg ?? null, pitch_deg: sp?.pitchDeg ?? null };
  }
  if (screen === "hall") return { screen, zone: state.hallView?.client.zone || null, product: state.hallProduct?.id || null };
  return { screen: screen || "wall" };
}

/** The advisor shows a product (and variant, angle): the product page opens on it. */
async function advisorShow({ product, variant, yaw_deg: yaw }) {
  const same = document.body.dataset.screen === "product" && state.product?.id === product && (!variant || variant === state.variantId);
  if (same) {
    if (yaw !== null) state.spinner?.showAngle(yaw);
    return;
  }
  state.showYawDeg = yaw;
  await openProduct(product, variant);
  if (yaw !== null) state.spinner?.showAngle(yaw);
}

/** The customer accepts the advisor's offer: the usual purchase (keypad -> QR -> pay on the phone) of THAT quote. */
async function buyOffered(quote) {
  if (document.body.dataset.screen !== "product" || state.product?.id !== quote.product || state.variantId !== (quote.variant || state.variantId)) {
    await openProduct(quote.product, quote.variant);
  }
  state.dialog?.close?.();
  const co = newCheckout();
  co.offered = true;
  co.adoptQuote(quote);
  await buy();
}

function defaultTopic() {
  const p = document.body.dataset.screen === "product" ? state.product : state.hallProduct;
  if (p) return isCar(p) ? "car_finance" : "precious_metals";
  return state.hall === "cars" ? "car_finance" : "precious_metals";
}

/** The product (and variant) the customer is looking at, for the guide's questions that name none. */
function guideFocus() {
  return document.body.dataset.screen === "product" && state.product ? { product: state.product.id, variant: state.variantId } : {};
}

// ---- wiring -------------------------------------------------------------------------------------
$("attract").addEventListener("click", () => show("wall"));
$("attract").addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") show("wall");
});
$("walk-hall").addEventListener("click", () => show("hall"));
$("call-advisor").addEventListener("click", callAdvisor);
$("hall-turn-left").addEventListener("click", () => state.hallView?.snapTurn(1));
$("hall-turn-right").addEventListener("click", () => state.hallView?.snapTurn(-1));
$("hall-mic").addEventListener("click", hallVoice);
$("hall-card-left").addEventListener("click", () => hallRotate(-30));
$("hall-card-right").addEventListener("click", () => hallRotate(30));
$("hall-card-back").addEventListener("click", hallUnfocus);
$("hall-card-details").addEventListener("click", () => state.hallProduct && openProduct(state.hallProduct.id));
$("home").addEventListener("click", () => {
  stopCamera();
  closeCheckout();
  show("wall");
});
$("back").addEventListener("click", () => {
  closeCheckout();
  show("wall");
});
for (const tab of document.querySelectorAll("#hall-tabs .tab")) {
  tab.addEventListener("click", () => {
    state.hall = tab.dataset.hall;
    renderWall();
  });
}
$("zoom-in").addEventListener("click", () => state.spinner?.setZoom(state.spinner.zoom * 1.3));
$("zoom-out").addEventListener("click", () => state.spinner?.setZoom(state.spinner.zoom / 1.3));
$("zoom-reset").addEventListener("click", () => state.spinner?.setZoom(1));
$("lock").addEventListener("click", refreshQuote);
$("buy").addEventListener("click", buy);
$("loan").addEventListener("click", openLoan);
$("tryon").addEventListener("click", openTryOn);
document.addEventListener("click", (e) => {
  if (!e.target.closest?.(".hotspot")) document.querySelector(".hotspot-tip")?.remove();
});
onLangChange(() => {
  if (document.body.dataset.screen === "hall") renderHallZones();
  if (document.body.dataset.screen === "wall") renderWall();
  else $("product-grid").replaceChildren();
  if (state.product) renderProductInfo();
});

async function main() {
  installToggles();
  applyI18n();
  state.guide = new GuideWidget({ size: "kiosk", getFocus: guideFocus, onAdvisor: callAdvisor, advisorText: null });
  state.guide.setVisible(false);
  state.advisor = new AdvisorCall({
    channel: "kiosk",
    place: params.get("place") || params.get("branch"),
    keypad: true,
    getView: advisorView,
    applyShow: advisorShow,
    onAccept: buyOffered,
    pointerHost: () => (document.body.dataset.screen === "product" ? $("spin") : null),
    defaultTopic,
    onState: showGuide,
  });
  window.__advisorCall = state.advisor; // for operators' diagnostics and the browser tests
  try {
    state.products = await getProducts();
  } catch (e) {
    showError(e);
  }
  const start = params.get("product");
  if (start) openProduct(start, params.get("variant"));
  else show(["wall", "hall"].includes(params.get("screen")) ? params.get("screen") : "attract");
}
main();
