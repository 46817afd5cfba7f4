// The VR page in the bank hall (/vr). The node streams the hall; this page draws every frame world-locked
// (common/reproject.js) in the headset (xr-hall.js) or, without one, on a canvas: drag or arrow keys to look,
// click the floor to walk, click a product to have it brought to the presentation stand. The side panel (and in
// the headset an in-scene panel) shows the focused product with its live, locked price; "buy" places the order
// for the VR channel and shows the QR and link to pay on the phone, then the order's status until it is paid.
// Voice: the microphone button records 3 s for the node's offline recogniser; every command has a button or key.
// The digital guide (when the node has one: welcome.hall.guide) stands at the entrance, greets the customer once,
// and "take me to" buttons have it walk to a counter with the customer following (node-side), then point at it;
// its words are captioned and spoken (common/guide.js GuideVoice), its lips move on the node's frames (guide_say).
//
// URL parameters: eyes=1|2 (default 2), eye_w, eye_h, fov (vertical degrees shown), overscan (degrees),
// codec=jpeg|h264, start=<zone>, delay_ms=N (simulate link latency: each frame is held N ms before use),
// reproject=0 (draw frames head-locked, for comparison), lang.

import { AdvisorCall } from "../common/advisor-call.js";
import { formatCny, getProduct, getProducts } from "../common/api.js";
import { isCar, kindLabel, priceOf, specsOf, variantOf } from "../common/catalog.js";
import { mobileFromInput, renderPayPanel, showCountdown, startCheckout } from "../common/checkout.js";
import { GuideVoice } from "../common/guide.js";
import { ZONE_ORDER } from "../common/hall.js";
import { HallView } from "../common/hall-view.js";
import { installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { el, showError } from "../common/ui.js";
import { recogniseWav, recordWav } from "../common/voice.js";
import { loadQr as loadPanelQr } from "./panel.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const EYES = params.get("eyes") === "1" ? 1 : 2;
const EYE_W = Number(params.get("eye_w") || (EYES === 2 ? 640 : 960));
let EYE_H = Number(params.get("eye_h") || (EYES === 2 ? 720 : 0)); // mono: the stage's shape (main())
const FOV_DEG = Number(params.get("fov") || (EYES === 2 ? 90 : 70));
const OVERSCAN_DEG = Number(params.get("overscan") ?? 10);
const DELAY_MS = Number(params.get("delay_ms") || 0);
const REPROJECT = params.get("reproject") !== "0";

const state = {
  view: null,
  products: [],
  product: null, // the focused product (detail)
  variantId: null,
  focused: null, // the node's `focused` reply
  seated: null,
  turnDeg: 0,
  checkout: null,
  stopCountdown: null,
  qrImage: null,
  xr: null,
  listening: false,
  lastVoice: null,
  guideVoice: null,
  advisor: null, // the video call with an advisor (common/advisor-call.js)
};

// ---- the guide -------------------------------------------------------------------------------------
const GUIDE_TOURS = [
  ["gold_counter", "hallguide.take_gold"],
  ["car_studio", "hallguide.take_cars"],
  ["service_counter", "hallguide.take_service"],
];
const GREETED_KEY = "hallguide.greeted"; // sessionStorage: the greeting is said once per visit, not per reconnect
const MUTED_KEY = "showroom.guide.vr.muted"; // localStorage, like the kiosk's and the phone's guide settings
const OFF_KEY = "showroom.guide.vr.off"; // off: the guide stands silent, no captions, no greeting; one button wakes it

function remembered(key) {
  try {
    return localStorage.getItem(key) === "1";
  } catch (_) {
    return false;
  }
}
function remember(key, on) {
  try {
    if (on) localStorage.setItem(key, "1");
    else localStorage.removeItem(key);
  } catch (_) {
    /* private mode: for this page only */
  }
}

function guideCaption() {
  let box = $("guide-caption");
  if (!box) {
    box = el("p", { id: "guide-caption", class: "hall-ui", role: "status" });
    box.setAttribute("aria-live", "polite");
    Object.assign(box.style, {
      position: "absolute", left: "50%", bottom: "7.4rem", transform: "translateX(-50%)", maxWidth: "min(46rem, 86%)",
      margin: "0", padding: "0.55rem 1.1rem", borderRadius: "12px", background: "rgba(14, 20, 32, 0.84)",
      color: "#fff", fontSize: "1.05em", lineHeight: "1.45", textAlign: "center", pointerEvents: "none",
    });
    box.hidden = true;
    $("stage").append(box);
  }
  return box;
}

const CAPTION_KEPT_MS = 6000; // a caption stays this long after it was said

function guideSay(key) {
  const voice = state.guideVoice;
  if (!voice || state.guideOff) return;
  const box = guideCaption();
  box.hidden = false;
  const said = (state.guideSaid = (state.guideSaid || 0) + 1);
  clearTimeout(state.captionTimer);
  voice
    .say(t(key))
    .catch(() => {})
    .finally(() => {
      if (said === state.guideSaid) state.captionTimer = setTimeout(() => (box.hidden = true), CAPTION_KEPT_MS);
    });
}

function renderGuide() {
  const guide = state.view?.client.guide;
  let bar = $("guide-bar");
  if (!guide) {
    bar?.remove();
    $("guide-caption")?.remove();
    return;
  }
  if (!bar) {
    bar = el("nav", { id: "guide-bar", class: "hall-ui" });
    bar.setAttribute("aria-label", t("hallguide.bar"));
    Object.assign(bar.style, { position: "absolute", left: "1rem", top: "3.4rem", display: "flex", flexDirection: "column", gap: "0.45rem" });
    $("stage").append(bar);
  }
  if (!state.guideVoice) {
    state.guideVoice = new GuideVoice({
      captionEl: guideCaption(),
      // the node draws the guide's lips from the track, started when the sound starts
      onTrack: (visemes) => state.view?.client.guideSay(visemes),
    });
    state.guideVoice.mute(remembered(MUTED_KEY));
    state.guideOff = remembered(OFF_KEY);
  }
  const button = (text, onClick, data = {}) => {
    const b = el("button", { class: "btn btn-small", type: "button", dataset: data, text });
    b.style.background = "rgba(14, 20, 32, 0.82)";
    b.addEventListener("click", onClick);
    return b;
  };
  $("stage").dataset.guideOff = String(!!state.guideOff);
  if (state.guideOff) {
    bar.replaceChildren(button(t("guide.on"), () => setGuideOff(false), { guideOn: "" }));
    return;
  }
  const voice = state.guideVoice;
  const small = el("div", {},
    button(voice.muted ? t("guide.unmute") : t("guide.mute"), () => muteGuide(!voice.muted), { guideMute: String(voice.muted) }),
    button(t("guide.off"), () => setGuideOff(true), { guideOff: "" }));
  Object.assign(small.style, { display: "flex", gap: "0.45rem" });
  bar.replaceChildren(...GUIDE_TOURS.map(([zone, key]) => button(t(key), () => guideTour(zone), { guideTo: zone })), small);
}

/** Muted: captions only. */
function muteGuide(on) {
  state.guideVoice?.mute(on);
  remember(MUTED_KEY, on);
  renderGuide();
}

/** Off: the guide says nothing (its captions go too) until the customer turns it on again. */
function setGuideOff(on) {
  state.guideOff = on;
  remember(OFF_KEY, on);
  if (on) {
    state.guideVoice?.stop();
    const box = $("guide-caption");
    if (box) box.hidden = true;
  }
  renderGuide();
}

/** The guide walks to a zone's counter and the customer follows (standing up first when sitting in a car). */
async function guideTour(zone) {
  const c = state.view?.client;
  if (!c?.guide) return;
  try {
    if (state.seated) await c.standUp();
    await c.guideWalk(zone, true);
    $("stage").dataset.guide = "walking";
    guideSay(`hallguide.lead.${zone}`);
  } catch (e) {
    say(t("hallguide.unavailable"));
  }
}

function onGuide(msg) {
  $("stage").dataset.guide = msg.activity;
  const c = state.view?.client;
  if (msg.activity === "pointing" && msg.to && c) {
    c.zone = msg.to;
    markZone();
    guideSay(`hallguide.here.${msg.to}`);
  }
}

function greetOnce() {
  if (!state.view?.client.guide) return;
  let greeted = false;
  try {
    greeted = sessionStorage.getItem(GREETED_KEY) === "1";
    sessionStorage.setItem(GREETED_KEY, "1");
  } catch (_) {
    greeted = !!state.greeted;
  }
  if (greeted || state.greeted) return;
  state.greeted = true;
  // on a screen, the customer turns most of the way to the guide who greets them (a headset's wearer turns alone)
  const view = state.view;
  const at = view.client.guide.at;
  if (!view.o.xr && at && !view.poseSource && view.yawDeg === 0) {
    const rig = view.client.rig;
    const yaw = (Math.atan2(-(at[0] - rig.position[0]), -(at[2] - rig.position[2])) * 180) / Math.PI;
    const turn = ((((yaw - rig.yawDeg + 180) % 360) + 360) % 360) - 180;
    if (Math.abs(turn) < 90) view.yawDeg = turn * 0.75;
  }
  guideSay("hallguide.greeting");
}

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

// ---- messages on the stage ---------------------------------------------------------------------
let toastTimer = null;
function say(text, ms = 4000) {
  const box = $("hall-toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), ms);
  state.xr?.repaintPanel();
}

// ---- zones -----------------------------------------------------------------------------------
/** A zone's short name for a button (the node's long name where there is no short one). */
function zoneLabel(id) {
  const key = `hall.zone.${id}`;
  if (t(key) !== key) return t(key);
  const z = state.view?.client.zoneInfo(id);
  return z ? pick({ zh: z.zh, en: z.en }) : id;
}

function renderZones() {
  const nav = $("zones");
  nav.replaceChildren();
  ZONE_ORDER.forEach((id, i) => {
    const b = el("button", { class: "btn btn-small", type: "button", dataset: { zone: id }, title: String(i + 1), text: zoneLabel(id) });
    b.addEventListener("click", () => goZone(id));
    nav.append(b);
  });
  markZone();
}

function markZone() {
  const zone = state.view?.client.zone;
  for (const b of $("zones").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.zone === zone));
  $("stage").dataset.zone = zone || "";
  state.advisor?.viewChanged();
}

async function goZone(id) {
  try {
    await state.view.goZone(id);
  } catch (e) {
    say(e.code === "not_walkable" ? t("hall.not_walkable") : t("common.error", { msg: e.message }));
  }
}

// ---- focus, the product panel, turning, sitting ------------------------------------------------
async function chooseProduct(productId, variant = undefined) {
  const view = state.view;
  let focused;
  try {
    focused = await view.client.focus(productId, variant);
  } catch (e) {
    say(t("common.error", { msg: e.message }));
    return;
  }
  state.focused = focused;
  state.turnDeg = 0;
  view.turnYawDeg = 0;
  $("stage").dataset.focused = focused.product;
  const same = state.product?.id === focused.product;
  await showProduct(focused.product, focused.variant);
  if (!same) await lockPrice();
  // walk to where the stand (or the car) is seen best, and look at it
  if (focused.view_point) {
    try {
      await view.client.teleportPoint(focused.view_point, focused.view_yaw_deg);
    } catch (_) {
      /* the customer stays where they are */
    }
  }
  lookAtShown();
  state.xr?.placePanel();
  state.advisor?.viewChanged();
}

function lookAtShown() {
  const at = state.view.shownPoint();
  if (at) state.view.lookAt(at);
}

async function showProduct(id, variantId) {
  let p = state.products.find((x) => x.id === id) || { id, name: id };
  try {
    p = { ...p, ...(await getProduct(id)) };
  } catch (_) {
    /* keep the list entry */
  }
  if (state.product?.id !== id) closeCheckout();
  state.product = p;
  state.variantId = variantId || variantOf(p)?.id || null;
  renderPanel();
}

function renderPanel() {
  const p = state.product;
  $("product-box").hidden = !p;
  $("hall-intro").hidden = !!p;
  if (!p) return state.xr?.repaintPanel();
  const v = variantOf(p, state.variantId);
  $("p-kind").textContent = kindLabel(p);
  $("p-name").textContent = pick(p.name);
  const scale = state.focused?.scale;
  $("p-scale").textContent = isCar(p) ? t("hall.walk_around") : scale && scale > 1.05 ? t("hall.magnified", { x: Number(scale).toFixed(1) }) : "";
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value, dataset: { spec: row.key } }));
  $("p-price").textContent = formatCny(state.checkout?.quote?.total_cny ?? priceOf(v));
  const car = isCar(p);
  $("sit").hidden = !car || !!state.seated;
  $("stand-up").hidden = !state.seated;
  if (state.checkout?.payment) {
    renderPayPanel($("pay"), state.checkout, { qrSize: 200 });
    loadQr(state.checkout.payment.qr_png_url);
  }
  state.xr?.repaintPanel();
}

async function lockPrice() {
  const p = state.product;
  if (!p) return;
  const co = newCheckout();
  try {
    await co.lockPrice();
  } catch (e) {
    if (co === state.checkout) $("p-countdown").textContent = t("common.error", { msg: e.message });
  }
}

function newCheckout() {
  closeCheckout();
  const co = startCheckout(null, {
    product: state.product.id,
    variant: state.variantId,
    channel: "vr",
    // finished on the customer's phone: the QR and the link open the mobile-banking pay page (no amount cap of
    // a scan-to-pay code: a 100 g bar is over 50,000 CNY)
    method: "mobile_banking",
    extra: () => ({ product_view: { client: "vr", hall_zone: state.view?.client.zone || null, yaw_deg: state.turnDeg } }),
    onChange: () => onCheckoutChange(co),
  });
  state.checkout = co;
  return co;
}

function onCheckoutChange(co) {
  if (co !== state.checkout) return;
  if (co.quote) $("p-price").textContent = formatCny(co.quote.total_cny ?? co.quote.unit_price_cny);
  if (co.status === "quoted" && !state.stopCountdown && co.quoteExpiresMs) {
    state.stopCountdown = showCountdown($("p-countdown"), co.quoteExpiresMs, { key: "product.quote_locked" });
  }
  $("product-box").classList.toggle("ordering", !!co.order);
  if (co.offered && co.order && !co.orderTold) {
    co.orderTold = true; // the advisor's console follows this order's status from the bank's own records
    state.advisor?.orderPlaced(co.order.id);
  }
  if (co.order) {
    state.stopCountdown?.();
    state.stopCountdown = null;
    $("p-countdown").textContent = "";
    renderPayPanel($("pay"), co, { qrSize: 200 });
    $("panel").scrollTop = 0; // the QR and the status first: details and the number field fold away
    loadQr(co.payment?.qr_png_url);
    $("stage").dataset.order = co.order.status || "";
    if (co.paid) say(t("checkout.done"), 6000);
  }
  state.xr?.repaintPanel();
}

function closeCheckout() {
  state.stopCountdown?.();
  state.stopCountdown = null;
  $("p-countdown").textContent = "";
  state.checkout?.close();
  state.checkout = null;
  state.qrImage = null;
  $("pay").replaceChildren();
  $("product-box").classList.remove("ordering");
  delete $("stage").dataset.order;
}

async function buy() {
  if (!state.product) return say(t("hall.choose_first"));
  const phone = mobileFromInput($("cust-phone"));
  if (!phone) return;
  let co = state.checkout;
  if (!co || co.order || !co.quote || co.quoteSecondsLeft() === 0) co = newCheckout();
  co.setPhone(phone);
  try {
    await co.buy();
  } catch (e) {
    showError(e);
  }
}

function loadQr(url) {
  return loadPanelQr(state, url, () => state.xr?.repaintPanel());
}

function rotateItem(dDeg) {
  if (!state.focused) return;
  turnItemTo(state.turnDeg + dDeg);
}

function turnItemTo(yawDeg) {
  if (!state.focused) return;
  state.turnDeg = (((yawDeg % 360) + 360) % 360);
  state.view.turnYawDeg = state.turnDeg;
  state.view.client.turn(state.turnDeg);
  state.advisor?.viewChanged();
}

async function unfocus() {
  if (!state.focused && !state.product) return;
  const paying = state.checkout?.order && !state.checkout.paid;
  await state.view.client.unfocus();
  state.focused = null;
  delete $("stage").dataset.focused;
  state.advisor?.viewChanged();
  if (!paying) {
    closeCheckout();
    state.product = null;
  }
  renderPanel();
}

async function sit() {
  if (!state.product || !isCar(state.product)) return;
  try {
    const msg = await state.view.client.sit(state.product.id);
    state.seated = msg.seated;
    say(t("hall.seated"));
  } catch (e) {
    say(t("common.error", { msg: e.message }));
  }
  renderPanel();
}

async function standUp() {
  try {
    await state.view.client.standUp();
  } catch (e) {
    say(t("common.error", { msg: e.message }));
  }
  state.seated = null;
  renderPanel();
}

/** "Call an advisor" (the button, A, voice, the service counter's panel): the video call beside the hall. */
function callAdvisor() {
  state.advisor?.start();
}

/** What the customer sees in the hall, for the advisor's co-view. */
function advisorView() {
  return {
    screen: "hall",
    zone: state.view?.client.zone || null,
    product: state.product?.id || null,
    variant: state.product ? state.variantId : null,
    yaw_deg: state.focused ? state.turnDeg : null,
  };
}

/** The advisor shows a product (and variant, angle): it goes onto the stand, turned to that angle. */
async function advisorShow({ product, variant, yaw_deg: yaw }) {
  if (state.focused?.product !== product || (variant && variant !== state.variantId)) await chooseProduct(product, variant || undefined);
  if (yaw !== null) turnItemTo(yaw);
}

/** The customer accepts the advisor's offer: the panel holds THAT quote; the number and "buy" finish it. */
async function buyOffered(quote) {
  if (state.product?.id !== quote.product || (quote.variant && quote.variant !== state.variantId)) await chooseProduct(quote.product, quote.variant || undefined);
  const co = newCheckout();
  co.offered = true;
  co.adoptQuote(quote);
  renderPanel();
  $("cust-phone").focus();
}

function priceOfFocused() {
  if (!state.product) return say(t("hall.choose_first"));
  renderPanel();
  lockPrice().then(() => state.checkout?.quote && say(`${pick(state.product.name)} · ${formatCny(state.checkout.quote.total_cny)}`));
}

// ---- voice -------------------------------------------------------------------------------------
async function voice() {
  if (state.listening) return;
  const mic = $("mic");
  state.listening = true;
  mic.dataset.state = "listening";
  say(t("hall.listening"), 3500);
  try {
    const wav = await recordWav(3);
    mic.dataset.state = "thinking";
    // the node's offline recogniser knows English speech only (docs/voice.md); Chinese is for typed text
    const reply = await recogniseWav(wav, "en");
    state.lastVoice = reply;
    if (!reply.command) say(t("hall.not_understood"));
    else {
      say(t("hall.heard", { text: reply.text || reply.command.intent }));
      await runCommand(reply.command);
    }
  } catch (e) {
    say(t("hall.voice_unavailable", { msg: e.message }));
  } finally {
    state.listening = false;
    mic.dataset.state = "idle";
  }
}

/** A voice command ({intent, target?}) does what its button or key does. */
export async function runCommand(cmd) {
  switch (cmd.intent) {
    case "go":
      return cmd.target ? goZone(cmd.target) : say(t("hall.not_understood"));
    case "show":
      return cmd.target ? chooseProduct(cmd.target) : say(t("hall.not_understood"));
    case "price":
      return priceOfFocused();
    case "buy":
      return buy();
    case "call_advisor":
      return callAdvisor();
    case "back":
      return unfocus();
    default:
      return say(t("hall.not_understood"));
  }
}

// ---- keys --------------------------------------------------------------------------------------
function onKey(e) {
  if (e.target.closest?.("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  const zone = ZONE_ORDER[Number(k) - 1];
  const actions = {
    q: () => state.view.snapTurn(1),
    e: () => state.view.snapTurn(-1),
    "[": () => rotateItem(-30),
    "]": () => rotateItem(30),
    b: buy,
    p: priceOfFocused,
    a: callAdvisor,
    v: voice,
    s: () => (state.seated ? standUp() : sit()),
    Escape: unfocus,
    Backspace: unfocus,
  };
  const act = zone ? () => goZone(zone) : actions[k.length === 1 ? k.toLowerCase() : k];
  if (!act) return;
  e.preventDefault();
  act();
}

// ---- HUD ---------------------------------------------------------------------------------------
function hud() {
  const c = state.view?.client;
  const s = c?.stats;
  if (s && s.latencyMs !== null) {
    const ms = Math.round(s.latencyMs + DELAY_MS);
    $("latency").textContent = t("vr.latency", { ms });
    $("latency").dataset.ms = String(ms);
  }
  if (s) $("fps").textContent = `${t("vr.fps", { fps: s.fps })} · ${t("hall.reproject_hz", { hz: state.view.stats.reprojectFps })}`;
}

// ---- start ---------------------------------------------------------------------------------------
export async function main() {
  installToggles();
  renderZones();
  renderPanel();
  $("note").hidden = true;
  try {
    state.products = await getProducts();
  } catch (_) {
    /* names come from each product's own detail */
  }
  if (!EYE_H) {
    const box = $("stage").getBoundingClientRect();
    const aspect = box.width > 0 && box.height > 0 ? Math.min(2.4, Math.max(0.8, box.width / box.height)) : 1.5;
    EYE_H = Math.round(EYE_W / aspect);
  }
  const codec = await pickCodec();
  $("stage").dataset.codec = codec;
  const view = new HallView({
    canvas: $("view"),
    stage: $("stage"),
    eyes: EYES,
    eyeSize: [EYE_W, EYE_H],
    fovDeg: FOV_DEG,
    overscanDeg: OVERSCAN_DEG,
    codec,
    client: "vr",
    delayMs: DELAY_MS,
    reproject: REPROJECT,
    start: params.get("start") || "entrance",
    handlers: {
      onFrame: () => ($("stage").dataset.frames = String(view.client.stats.frames)),
      onWelcome: () => {
        renderZones();
        renderGuide();
        greetOnce();
        $("stage").dataset.hall = "ready";
      },
      onGuide,
      onTeleported: (msg) => {
        state.seated = msg.seated ?? null;
        markZone();
        if (state.product) renderPanel();
      },
      onFocused: (msg) => (state.focused = msg),
      onChooseProduct: (id) => chooseProduct(id),
      onAction: (action) => (action === "call_advisor" ? callAdvisor() : say(t("hall.appointment_note"), 6000)),
      onStatus: (s) => {
        const key = s === "live" ? null : s === "connecting" ? "vr.connecting" : "vr.disconnected";
        $("status").textContent = key ? t(key) : "● LIVE";
        $("status").dataset.state = s;
      },
      onError: (e) => {
        if (e.code === "not_walkable") return say(t("hall.not_walkable"));
        $("note").hidden = false;
        $("note").textContent = t("common.error", { msg: e.message || e.code });
      },
    },
  });
  state.view = view;
  window.__vr = view; // yawDeg, pitchDeg: the look-around the page's tests drive
  window.__hall = {
    state,
    view,
    get stats() {
      return view.stats;
    },
    get client() {
      return view.client;
    },
    goZone,
    guideTour,
    chooseProduct,
    runCommand,
    screenOf: (p) => view.screenOf(p),
    capture: (y, rows) => view.capture(y, rows),
    spin: (rateDegS, amplitudeDeg = 25) => (view.spin = { rateDegS, amplitudeDeg, t0: performance.now(), yaw0: view.yawDeg }),
    stopSpin: () => (view.spin = null),
    // bench/hall.py: turnHead(degPerS) turns the head steadily, turnHead(0) stops; holdPoses(true) stops sending
    // poses (the node goes idle) while the page keeps reprojecting its last frame
    test: {
      turnHead: (rateDegS) => (view.spin = rateDegS ? { rateDegS, amplitudeDeg: 0, t0: performance.now(), yaw0: view.yawDeg } : null),
      holdPoses: (on) => (view.holdPoses = !!on),
    },
    lookAt: (yawDeg, pitchDeg = 0) => {
      view.yawDeg = yawDeg - view.client.rig.yawDeg;
      view.pitchDeg = pitchDeg;
    },
  };
  try {
    view.start();
  } catch (e) {
    $("note").hidden = false;
    $("note").textContent = t("common.error", { msg: e.message });
    return;
  }
  if (DELAY_MS || !REPROJECT) {
    $("note").hidden = false;
    $("note").textContent = [DELAY_MS ? t("hall.delay", { ms: DELAY_MS }) : "", REPROJECT ? "" : t("hall.reproject_off")].filter(Boolean).join(" · ");
  }
  $("turn-left").addEventListener("click", () => view.snapTurn(1));
  $("turn-right").addEventListener("click", () => view.snapTurn(-1));
  $("rotate-left").addEventListener("click", () => rotateItem(-30));
  $("rotate-right").addEventListener("click", () => rotateItem(30));
  $("unfocus").addEventListener("click", unfocus);
  $("sit").addEventListener("click", sit);
  $("stand-up").addEventListener("click", standUp);
  $("buy").addEventListener("click", buy);
  $("advisor").addEventListener("click", callAdvisor);
  state.advisor = new AdvisorCall({
    channel: "vr",
    place: params.get("place"),
    getView: advisorView,
    applyShow: advisorShow,
    onAccept: buyOffered,
    pointerHost: () => null, // the hall stream is not the 360 view the advisor points at
    defaultTopic: () => (state.product && isCar(state.product) ? "car_finance" : "precious_metals"),
  });
  window.__advisorCall = state.advisor; // for operators' diagnostics and the browser tests
  $("mic").addEventListener("click", voice);
  document.addEventListener("keydown", onKey);
  onLangChange(() => {
    renderZones();
    renderPanel();
    renderGuide();
  });
  setInterval(hud, 250);
  // the headset, where there is one
  if (navigator.xr && window.isSecureContext) {
    let ok = false;
    try {
      ok = await navigator.xr.isSessionSupported("immersive-vr");
    } catch (_) {
      ok = false;
    }
    if (ok) {
      const { enterHallXr } = await import("./xr-hall.js");
      $("enter-vr").addEventListener("click", () =>
        enterHallXr({ view, state, panelContent }).then((xr) => (state.xr = xr), showError),
      );
      $("enter-vr").hidden = false;
    }
  }
  if ($("enter-vr").hidden && !DELAY_MS && REPROJECT) {
    $("note").hidden = false;
    $("note").textContent = t("vr.no_xr");
    setTimeout(() => ($("note").hidden = true), 8000);
  }
}

/** What the in-scene panel shows (xr-hall.js paints it): the focused product, its price, QR and status. */
function panelContent() {
  const p = state.product;
  const co = state.checkout;
  if (!p) return { title: t("hall.welcome"), price: zoneLabel(state.view?.client.zone || "entrance"), lines: [t("hall.xr_intro")] };
  const v = variantOf(p, state.variantId);
  return {
    title: pick(p.name),
    price: formatCny(co?.quote?.total_cny ?? priceOf(v)),
    sub: co?.status === "quoted" && co.quoteSecondsLeft() ? t("product.quote_locked", { s: co.quoteSecondsLeft() }) : "",
    lines: specsOf(p, v).slice(0, 4).map((row) => `${row.label}: ${row.value}`),
    qrImage: co?.order && !co.paid ? state.qrImage : null,
    status: co?.order ? t(`status.${co.order.status}`) : "",
    statusOk: !!co?.paid,
  };
}
