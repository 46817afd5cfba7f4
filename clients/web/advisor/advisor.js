// The advisor desk at /advisor: a bank advisor signs in (the staff session of clients/web/staff/session.js), goes on
// duty, sees the customers waiting by topic and takes one; then talks with the customer on video (relayed by the
// node), sees the product, variant and angle on the customer's screen (the same 360 view, at the customer's angle),
// shows another product or angle, points at the picture, offers a locked price and follows the order it becomes
// (from the bank's records, GET /api/staff/orders/{id}); after the call, notes and an outcome are saved. Customers
// who asked for a call-back are listed with "called back".
//
// The call socket is /ws/advisor/console (docs/advisor.md): hello with a short-lived ticket from
// POST /api/staff/advisor/ticket, then duty, take, the WebRTC offer, show/pointer/offer, end.
//
// Dual recording: a product marked `dual_recording` (the customer's or the one about to be offered) is sold only on
// a recorded call. The desk says so and asks the customer through the node (`record`); the customer answers on
// screen; while it records a red REC with the elapsed time shows; the node's signed receipt of the sealed files
// (`recording`) is posted to POST /api/staff/advisor/recordings, where it is audited (`call_recorded`).

import { countFrames, contentRect, gatheredOffer, makePeer, playRemote, viewPicture } from "../common/advisor-call.js";
import { api, createQuote, formatCny, getProducts, renderUrl, wsUrl } from "../common/api.js";
import { expiryMs, countdown } from "../common/checkout.js";
import { installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { Spinner } from "../common/spin.js";
import { el } from "../common/ui.js";
import { formatTime } from "../staff/format.js";
import { ApiError, call, currentStaff, may, newIdempotencyKey, onSessionEnded, postRecordingReceipt, restore, signIn, signOut } from "../staff/session.js";
import { applyStrings, roleLabel, s } from "../staff/strings.js";
import { errorText, statusBadge } from "../staff/widgets.js";
import { a, applyDeskStrings } from "./strings.js";

const present = (kids) => kids.flat().filter((k) => k !== null && k !== undefined && k !== false);
/** node.replaceChildren without the "null" text a left-out child would become. */
const refill = (node, ...kids) => node.replaceChildren(...present(kids));

const $ = (id) => document.getElementById(id);
const TOPICS = ["precious_metals", "car_finance", "other"];
const FINAL = new Set(["paid", "fulfilling", "completed", "expired", "cancelled", "payment_failed", "refunded", "partially_refunded"]);
const ORDER_POLL_MS = 2500;
const MANIFEST_POLL_MS = 4000; // the desk asks for a view set still rendering this often (the customer's page: every second)
const VIEW_SIZE = { kiosk: "960x720", phone: "640x480", vr: "960x720" }; // the customer's own view set: cached on the node

const state = {
  screen: "signin",
  ws: null,
  linked: false,
  retryMs: 500,
  retryTimer: null,
  onDuty: false,
  wantDuty: false,
  queues: {},
  queuesAt: 0,
  advisorsOnDuty: 0,
  call: null, // the live call: {id, topic, lang, channel, place, view, coview, video, consent, connected, ...}
  wrap: null, // the call just ended, waiting for its notes
  pc: null,
  local: null,
  remote: null,
  products: [],
  callbacks: [],
  note: null,
  receipts: [], // the recordings' receipts of this sitting: {id, call, product, sha256, status, error, body}
};
window.__advisor = { state }; // for operators' diagnostics and the browser tests

// ---- sign-in ----------------------------------------------------------------------------------------------
function showSignIn(noteKey = "", kind = "info", fromDesk = false) {
  hangUp();
  closeSocket();
  state.screen = "signin";
  document.body.dataset.screen = "signin";
  $("desk").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
  $("duty").hidden = true;
  $("link-state").hidden = true;
  $("signin").hidden = false;
  const box = $("signin-message");
  const text = noteKey ? (noteKey.startsWith("signin.no_permission") ? a(noteKey) : s(noteKey)) : "";
  box.textContent = text;
  box.hidden = !text;
  box.className = `notice notice-${kind}`;
  $("signin-error").textContent = "";
  $("signin-form").reset();
  if (!fromDesk) $("signin-name").focus();
}

async function onSignIn(e) {
  e.preventDefault();
  const name = $("signin-name").value.trim();
  const password = $("signin-password");
  const otp = $("signin-otp");
  const err = $("signin-error");
  err.textContent = "";
  if (!name || !password.value || !/^\d{6}$/.test(otp.value.trim())) {
    err.textContent = s("signin.incomplete");
    return;
  }
  $("signin-submit").disabled = true;
  try {
    await signIn(name, password.value, otp.value.trim());
    $("signin-form").reset();
    await enterDesk();
  } catch (ex) {
    password.value = "";
    otp.value = "";
    err.textContent = signInError(ex);
    password.focus();
  } finally {
    $("signin-submit").disabled = false;
  }
}

function signInError(ex) {
  if (!(ex instanceof ApiError)) return s("error.other", { msg: String(ex) });
  if (ex.code === "sign_in_refused" || ex.status === 401) return s("signin.refused");
  if (ex.code === "account_locked" || ex.status === 423) return s("signin.locked");
  if (ex.code === "too_many_attempts" || ex.status === 429) return s("signin.too_many");
  return errorText(ex);
}

async function enterDesk() {
  if (!may("answer_calls")) {
    await signOut();
    return showSignIn("signin.no_permission", "bad");
  }
  state.screen = "desk";
  document.body.dataset.screen = "desk";
  $("signin").hidden = true;
  $("desk").hidden = false;
  $("signout").hidden = false;
  $("duty").hidden = false;
  paintWho();
  paintDuty();
  paintQueues();
  paintMain();
  connect();
  loadProducts();
  loadCallbacks();
}

function paintWho() {
  const me = currentStaff();
  $("who").hidden = !me;
  if (me) $("who").replaceChildren(el("span", { class: "who-name" }, me.display_name || me.name), el("span", { class: "badge role" }, roleLabel(me.role)));
}

// ---- the call socket ------------------------------------------------------------------------------------
async function connect() {
  clearTimeout(state.retryTimer);
  if (state.screen !== "desk" || state.ws) return;
  paintLink("connecting");
  let ticket;
  try {
    ticket = (await call("/api/staff/advisor/ticket", { method: "POST", body: {} })).ticket;
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return showSignIn("signin.no_permission", "bad");
    if (e instanceof ApiError && e.status === 401) return; // the session ended: sign-in is shown
    return retryLater();
  }
  if (state.screen !== "desk") return;
  const ws = new WebSocket(wsUrl("/ws/advisor/console"));
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", ticket }));
  ws.onmessage = (ev) => {
    if (state.ws !== ws) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    onMessage(msg);
  };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.linked = false;
    state.onDuty = false;
    if (state.call) {
      // the node puts the customer back at the head of the queue; this call is over for us
      endCall("error");
    }
    paintDuty();
    if (ev.code === 4403) return paintLink("refused");
    retryLater();
  };
}

function retryLater() {
  paintLink("lost");
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(8000, state.retryMs * 2);
}

function closeSocket() {
  clearTimeout(state.retryTimer);
  const ws = state.ws;
  state.ws = null;
  state.linked = false;
  if (ws && ws.readyState <= 1) ws.close(1000);
}

function send(msg) {
  if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(msg));
}

function paintLink(kind) {
  const box = $("link-state");
  box.hidden = kind === "ok";
  box.dataset.state = kind;
  box.textContent = kind === "ok" ? "" : a(`link.${kind}`);
}

function onMessage(msg) {
  switch (msg.type) {
    case "welcome":
      state.linked = true;
      state.retryMs = 500;
      paintLink("ok");
      state.onDuty = !!msg.on_duty;
      setQueues(msg.queues, msg.advisors_on_duty);
      if (state.wantDuty && !state.onDuty) send({ type: "duty", on: true }); // back after a drop: on duty again
      if (state.wantDuty) state.onDuty = true;
      paintDuty();
      return;
    case "queues":
      setQueues(msg.queues, msg.advisors_on_duty);
      return;
    case "call":
      return startCall(msg);
    case "consent":
      if (!state.call || msg.call !== state.call.id) return;
      state.call.consent = { audio: !!msg.audio, video: !!msg.video };
      state.call.video = !!msg.video;
      startMedia();
      return paintCall();
    case "sdp":
      if (msg.kind === "answer" && state.pc) state.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }).catch((e) => note("bad", e.message));
      return;
    case "connected":
      if (state.call) {
        state.call.connected = true;
        state.call.away = null;
      }
      return paintCall();
    case "customer_away": // the customer's network changed: the node keeps the call while they come back
      if (!state.call || msg.call !== state.call.id) return;
      state.call.away = { why: msg.why, untilMs: Date.now() + 1000 * (msg.grace_s || 30) };
      return paintCall();
    case "customer_back":
      if (!state.call || msg.call !== state.call.id) return;
      state.call.away = null;
      return paintCall();
    case "view":
      if (!state.call) return;
      state.call.view = msg.view;
      return followView();
    case "coview":
      if (!state.call) return;
      state.call.coview = !!msg.on;
      if (!state.call.coview) state.call.view = null;
      return paintCall();
    case "video":
      if (!state.call) return;
      state.call.video = !!msg.on;
      return paintCall();
    case "offer_reply":
      if (!state.call?.offer || state.call.offer.quote.id !== msg.quote_id) return;
      state.call.offer.status = msg.accepted ? "accepted" : "declined";
      state.call.offer.stop?.();
      return paintOffer();
    case "order":
      if (!state.call) return;
      followOrder(msg.order_id);
      return;
    case "record_consent":
      if (!state.call || msg.call !== state.call.id) return;
      setRec(msg.accepted ? "starting" : "refused");
      if (!msg.accepted) markOfferRefused();
      return;
    case "record":
      if (!state.call || msg.call !== state.call.id) return;
      if (msg.on) setRec("on");
      else if (state.call.rec.state !== "refused") setRec(state.call.rec.state === "on" ? "stopped" : "off");
      return;
    case "recording":
      return postReceipt(msg);
    case "ended":
      if (!state.call || (msg.call && msg.call !== state.call.id)) return;
      return endCall(msg.reason || "error");
    case "error":
      if (msg.code === "bad_ticket") return paintLink("refused");
      if (msg.code === "nothing_waiting") return note("info", a("queues.empty"));
      if (REC_ERRORS.has(msg.code)) return recError(msg);
      return note("warn", msg.message || msg.code);
    default:
      return;
  }
}

// ---- duty and queues --------------------------------------------------------------------------------------
function setDuty(on) {
  state.wantDuty = on;
  state.onDuty = on;
  send({ type: "duty", on });
  paintDuty();
}

function paintDuty() {
  const b = $("duty");
  const on = state.onDuty;
  b.setAttribute("aria-pressed", String(on));
  b.classList.toggle("btn-gold", !on);
  b.replaceChildren(el("span", { class: `duty-dot ${on ? "on" : ""}`, "aria-hidden": "true" }), on ? `${a("duty.on")} · ${a("duty.go_off")}` : a("duty.go_on"));
  b.disabled = !state.linked;
  $("duty-note").textContent = on ? a("duty.note_on") : a("duty.note_off");
  $("duty-note").className = `notice ${on ? "notice-ok" : "notice-info"}`;
  document.body.dataset.duty = String(on);
  paintQueues();
}

function setQueues(queues, onDuty) {
  state.queues = queues || {};
  state.queuesAt = Date.now();
  if (Number.isFinite(onDuty)) state.advisorsOnDuty = onDuty;
  paintQueues();
}

const mmss = (sec) => {
  const v = Math.max(0, Math.floor(sec));
  return `${Math.floor(v / 60)}:${String(v % 60).padStart(2, "0")}`;
};

function waitedS(entry) {
  return (Number(entry.waited_s) || 0) + (Date.now() - state.queuesAt) / 1000;
}

function paintQueues() {
  if (state.screen !== "desk") return;
  $("on-duty-count").textContent = a("queues.on_duty", { n: state.advisorsOnDuty });
  const canTake = state.onDuty && state.linked && !state.call;
  const any = TOPICS.some((tp) => (state.queues[tp] || []).length);
  $("take-any").disabled = !canTake || !any;
  const box = $("queues");
  box.replaceChildren(
    ...TOPICS.map((topic) => {
      const list = state.queues[topic] || [];
      return el(
        "section",
        { class: "queue card-s", dataset: { topic, waiting: String(list.length) } },
        el(
          "div",
          { class: "queue-head" },
          el("h3", {}, t(`advisor.topic.${topic}`)),
          el("span", { class: `queue-count ${list.length ? "busy" : ""}` }, String(list.length)),
          el("button", { class: "btn btn-small", type: "button", dataset: { take: topic }, disabled: !canTake || !list.length, onclick: () => send({ type: "take", topic }) }, a("queues.take_next")),
        ),
        list.length
          ? el(
              "ol",
              { class: "queue-list" },
              list.map((entry) =>
                el(
                  "li",
                  { class: "queue-item", dataset: { call: entry.call } },
                  el(
                    "div",
                    { class: "queue-item-main" },
                    el("span", { class: "chip-s" }, a(`lang.${entry.lang}`)),
                    el("span", {}, a(`channel.${entry.channel}`)),
                    entry.place ? el("span", { class: "muted mono" }, entry.place) : null,
                    el("span", { class: "waited", dataset: { waited: "1" } }, a("queues.waited", { t: mmss(waitedS(entry)) })),
                  ),
                  entry.view?.product ? el("div", { class: "muted small" }, a("queues.looking", { what: productLabel(entry.view.product, entry.view.variant) })) : null,
                  el("button", { class: "btn btn-small btn-ghost", type: "button", disabled: !canTake, onclick: () => send({ type: "take", call: entry.call }) }, a("queues.take")),
                ),
              ),
            )
          : el("p", { class: "muted small queue-empty" }, a("queues.empty")),
      );
    }),
  );
}

// the waiting times tick on the page between the node's updates
setInterval(() => {
  if (state.screen !== "desk") return;
  for (const node of document.querySelectorAll(".queue-item")) {
    const entry = TOPICS.flatMap((tp) => state.queues[tp] || []).find((x) => x.call === node.dataset.call);
    const w = node.querySelector("[data-waited]");
    if (entry && w) w.textContent = a("queues.waited", { t: mmss(waitedS(entry)) });
  }
}, 1000);

// ---- the products (names, the show picker) ----------------------------------------------------------------
async function loadProducts() {
  try {
    state.products = await getProducts();
  } catch (_) {
    state.products = [];
  }
  paintQueues();
  if (state.call) paintCall();
}

function productOf(id) {
  return state.products.find((p) => p.id === id) || null;
}

function productLabel(productId, variantId) {
  const p = productOf(productId);
  if (!p) return productId || "—";
  const v = (p.variants || []).find((x) => x.id === variantId);
  return v && p.variants.length > 1 ? `${pick(p.name)} · ${pick(v.name)}` : pick(p.name);
}

// ---- a call -----------------------------------------------------------------------------------------------
function startCall(msg) {
  state.wrap = null;
  const view = msg.view || null;
  state.call = {
    id: msg.call,
    topic: msg.topic,
    lang: msg.lang,
    channel: msg.channel,
    place: msg.place || null,
    view,
    waitedS: Number(msg.waited_s) || 0,
    coview: msg.coview !== false,
    video: false,
    consent: null,
    connected: false,
    away: null, // {why, untilMs} while the customer's connection is being re-established
    startedAt: new Date().toISOString(),
    offer: null,
    offered: false,
    order: null,
    shown: false,
    pick: { product: view?.product || state.products[0]?.id || null, variant: view?.variant || null, yaw: 0 },
    rec: { state: "off", since: null, product: null, error: null }, // off | asking | starting | on | stopped | refused
  };
  paintQueues();
  paintMain();
}

async function startMedia() {
  const c = state.call;
  if (!c || state.pc) return;
  let stream = null;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (_) {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      note("bad", a("error", { msg: e.message }));
    }
  }
  if (state.call !== c) return stream?.getTracks().forEach((x) => x.stop());
  state.local = stream;
  const pc = makePeer(stream);
  state.pc = pc;
  state.remote = new MediaStream();
  pc.ontrack = (ev) => {
    if (!state.remote.getTracks().includes(ev.track)) state.remote.addTrack(ev.track);
    const v = $("customer-video");
    if (v) playRemote(v, state.remote);
  };
  paintCall();
  try {
    const sdp = await gatheredOffer(pc);
    if (state.pc === pc) send({ type: "sdp", kind: "offer", sdp });
  } catch (e) {
    note("bad", a("error", { msg: e.message }));
  }
}

function hangUp() {
  state.pc?.close();
  state.pc = null;
  for (const tr of state.local?.getTracks() || []) tr.stop();
  state.local = null;
  for (const tr of state.remote?.getTracks() || []) tr.stop();
  state.remote = null;
  state.stopFrames?.();
  state.stopFrames = null;
  state.spinner?.destroy();
  state.spinner = null;
}

function endCall(reason) {
  const c = state.call;
  if (!c) return;
  hangUp();
  c.offer?.stop?.();
  if (c.rec.state === "on") c.rec.state = "stopped"; // the node stops it at every end of a call and seals it
  state.call = null;
  state.wrap = { ...c, reason, endedAt: new Date().toISOString(), key: newIdempotencyKey() };
  paintQueues();
  paintMain();
}

// ---- the desk's main area ---------------------------------------------------------------------------------
function paintMain() {
  const main = $("desk-main");
  if (state.call) return paintCallFrame(main);
  const parts = [];
  if (state.wrap) parts.push(wrapForm(state.wrap));
  else parts.push(el("section", { class: "card-s idle-card", id: "idle" }, el("h3", {}, a("idle.title")), el("p", { class: "muted" }, a("idle.body"))));
  if (state.receipts.length) parts.push(receiptsCard());
  parts.push(callbacksCard());
  main.replaceChildren(...parts);
}

function note(kind, text) {
  const box = $("desk-note");
  if (box) {
    box.className = `notice notice-${kind}`;
    box.textContent = text;
    box.hidden = !text;
  }
}

/** The call's frame: built once per call (the <video> elements must not be moved while they play). */
function paintCallFrame(main) {
  const c = state.call;
  const customer = el("video", { id: "customer-video", class: "customer-video", autoplay: true, playsinline: true });
  const own = el("video", { id: "own-video", class: "own-video", autoplay: true, playsinline: true });
  own.muted = true;
  const recBadge = el("div", { class: "rec-badge", id: "call-rec", role: "status", hidden: true }, el("span", { class: "rec-dot", "aria-hidden": "true" }), el("span", { class: "rec-label" }, "REC"), el("span", { class: "rec-elapsed", id: "rec-elapsed" }, "0:00"));
  const stage = el("div", { class: "call-stage", id: "call-stage", dataset: { frames: "0" } }, customer, el("div", { class: "stage-note", id: "stage-note" }), recBadge, el("div", { class: "own-box" }, own));
  customer.addEventListener("playing", () => stage.classList.add("playing"));
  state.stopFrames = countFrames(customer, stage);
  const spinHost = el("div", { class: "spin-host console-spin", id: "console-spin" });
  spinHost.addEventListener("pointerdown", (e) => (state.downAt = { x: e.clientX, y: e.clientY }));
  spinHost.addEventListener("pointerup", (e) => {
    const d = state.downAt;
    state.downAt = null;
    if (d && Math.hypot(e.clientX - d.x, e.clientY - d.y) < 6) pointAt(e.clientX, e.clientY);
  });
  const marker = el("div", { class: "console-pointer", id: "console-pointer", hidden: true });
  main.replaceChildren(
    el(
      "div",
      { class: "call-grid" },
      el(
        "section",
        { class: "call-left" },
        el("div", { class: "call-head" }, el("h2", {}, a("call.title")), el("span", { class: "badge", id: "call-state" }), el("span", { class: "spacer" }), el("button", { class: "btn btn-small end-call", type: "button", id: "call-end", onclick: () => send({ type: "end" }) }, a("call.end"))),
        el("div", { id: "desk-note", class: "notice", hidden: true }),
        el("section", { class: "rec-card", id: "rec-card", hidden: true }),
        stage,
        el("section", { class: "card-s context", id: "call-context" }),
      ),
      el(
        "section",
        { class: "call-right" },
        el("section", { class: "card-s view-card" }, el("h3", {}, a("call.view_title")), el("p", { class: "muted small", id: "view-note" }), el("div", { class: "view-box" }, spinHost, marker)),
        el("section", { class: "card-s", id: "show-card" }),
        el("section", { class: "card-s", id: "offer-card" }),
      ),
    ),
  );
  if (state.remote) playRemote(customer, state.remote);
  paintCall();
  followView(true);
}

function paintCall() {
  const c = state.call;
  if (!c || !$("call-stage")) return;
  const own = $("own-video");
  if (state.local && own.srcObject !== state.local) {
    own.srcObject = state.local;
    own.play().catch(() => {});
  }
  const stageNote = $("stage-note");
  let text = "";
  const away = c.away;
  if (away) {
    text = a("call.customer_away", { s: Math.max(0, Math.round((away.untilMs - Date.now()) / 1000)) });
    if (!away.tick) away.tick = setTimeout(() => ((away.tick = null), state.call?.away === away && paintCall()), 1000); // the countdown
  } else if (!c.consent) text = a("call.waiting_consent");
  else if (!c.video) text = c.consent.video ? a("call.customer_video_off") : a("call.audio_only");
  else if (!c.connected) text = a("call.media_starting");
  stageNote.textContent = text;
  stageNote.hidden = !text;
  $("call-stage").dataset.connected = String(c.connected);
  $("call-stage").classList.toggle("camera-off", !!c.consent && !c.video);
  $("call-stage").classList.toggle("customer-away", !!c.away);
  const badge = $("call-state");
  badge.textContent = c.away ? a("call.reconnecting") : c.connected ? a("call.connected") : a("call.media_starting");
  badge.className = `badge ${c.connected && !c.away ? "st-active" : "st-pending"}`;
  paintContext();
  paintShow();
  paintOffer();
  paintRec();
}

/** The customer's context: channel, place, topic, language and what is on their screen (live). */
function paintContext() {
  const c = state.call;
  if (!c || !$("call-context")) return;
  const v = c.view || {};
  const facts = [
    [a("call.channel"), a(`channel.${c.channel}`)],
    [a("call.place"), c.place || "—"],
    [a("call.topic"), t(`advisor.topic.${c.topic}`)],
    [a("call.lang"), a(`lang.${c.lang}`)],
    [a("call.coview"), c.coview ? a("call.coview_on") : a("call.coview_off")],
    [a("call.camera"), c.video ? a("call.camera_on") : a("call.camera_off")],
    [a("call.screen"), c.coview && v.screen ? a(`screen.${v.screen}`) : "—"],
    [a("call.product"), c.coview && v.product ? productLabel(v.product, v.variant) : "—"],
    [a("call.angle"), c.coview && Number.isFinite(v.yaw_deg) ? `${Math.round(v.yaw_deg)}°${Number.isFinite(v.pitch_deg) ? ` / ${Math.round(v.pitch_deg)}°` : ""}` : "—"],
  ];
  $("call-context").replaceChildren(
    el("h3", {}, a("call.context")),
    el("dl", { class: "facts" }, facts.flatMap(([k, val]) => [el("dt", {}, k), el("dd", { dataset: { fact: k } }, val)])),
    el("p", { class: "muted small" }, a("call.waited", { t: mmss(c.waitedS) })),
  );
  $("call-context").dataset.product = c.coview ? v.product || "" : "";
}

/** The console's 360 view follows the customer's: the same product and variant, at the customer's angle. */
async function followView(force = false) {
  const c = state.call;
  if (!c || !$("console-spin")) return;
  const v = c.coview ? c.view : null;
  const host = $("console-spin");
  $("view-note").textContent = !c.coview ? a("call.coview_off_note") : v?.product ? a("call.view_hint") : a("call.no_product");
  host.dataset.product = v?.product || "";
  if (v?.product && v.product !== c.lastProductSeen) {
    // the customer moved to another product: the show picker follows
    c.lastProductSeen = v.product;
    c.pick = { product: v.product, variant: v.variant || null, yaw: 0 };
    paintShow();
    paintOffer();
  }
  paintRec();
  paintContext();
  if (!v?.product) {
    state.spinner?.destroy();
    state.spinner = null;
    state.spinKey = null;
    host.replaceChildren();
    $("console-pointer").hidden = true;
    return;
  }
  const key = `${v.product}/${v.variant || ""}`;
  if (state.spinKey === key && !force) {
    if (Number.isFinite(v.yaw_deg)) state.spinner?.showAngle(v.yaw_deg, Number.isFinite(v.pitch_deg) ? v.pitch_deg : null);
    return;
  }
  state.spinKey = key;
  state.spinner?.destroy();
  state.spinner = null;
  const size = VIEW_SIZE[c.channel] || "960x720";
  const current = () => state.call === c && state.spinKey === key;
  try {
    const sp = await mountDeskSpin(host, {
      productId: v.product,
      variant: v.variant || null,
      size,
      isCurrent: current,
      startYawDeg: Number.isFinite(v.yaw_deg) ? v.yaw_deg : 0,
      startPitchDeg: Number.isFinite(v.pitch_deg) ? v.pitch_deg : null,
    });
    if (sp && current()) {
      state.spinner = sp;
      const latest = state.call?.view;
      if (latest && Number.isFinite(latest.yaw_deg)) sp.showAngle(latest.yaw_deg, Number.isFinite(latest.pitch_deg) ? latest.pitch_deg : null);
    } else sp?.destroy();
  } catch (e) {
    if (current()) host.append(el("p", { class: "error-text spin-note" }, a("error", { msg: e.message })));
  }
}

/**
 * The customer's view set in the desk (a Spinner over the same manifest the customer's page loads). While the node
 * still renders it (the customer's page asks for it too), the desk shows a still and asks for the manifest every
 * few seconds only: the customer's own page keeps the render's pace.
 */
async function mountDeskSpin(host, { productId, variant, size, isCurrent, startYawDeg, startPitchDeg }) {
  const still = el("img", { class: "spin-frame spin-still", alt: "" });
  still.addEventListener("error", () => (still.hidden = true), { once: true });
  still.src = renderUrl(productId, variant, { yawDeg: startYawDeg, pitchDeg: 15, size });
  const progress = el("div", { class: "spin-note" });
  host.classList.add("spin");
  host.replaceChildren(still, progress);
  const q = new URLSearchParams({ size, wait: "0" });
  if (variant) q.set("variant", variant);
  for (;;) {
    if (!isCurrent()) return null;
    const d = await api(`/api/products/${encodeURIComponent(productId)}/views?${q}`, { timeoutMs: 120000 });
    if (d && Array.isArray(d.frames)) return isCurrent() ? new Spinner(host, d, { startYawDeg, startPitchDeg }) : null;
    if (d?.progress) progress.textContent = t("product.rendering", { done: d.progress.done, total: d.progress.total });
    await new Promise((resolve) => setTimeout(resolve, MANIFEST_POLL_MS));
  }
}

/** A click on the console's view: the pointer at the same point of the customer's picture. */
function pointAt(clientX, clientY) {
  const c = state.call;
  if (!c || !c.coview || !c.view?.product) return;
  const pic = viewPicture($("console-spin"));
  if (!pic) return;
  const r = pic.tagName === "IMG" ? contentRect(pic) : pic.getBoundingClientRect();
  const x = (clientX - r.left) / r.width;
  const y = (clientY - r.top) / r.height;
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return;
  const round = (n) => Math.round(n * 1000) / 1000;
  send({ type: "pointer", x: round(x), y: round(y) });
  const box = $("console-spin").getBoundingClientRect();
  const m = $("console-pointer");
  m.style.left = `${clientX - box.left}px`;
  m.style.top = `${clientY - box.top}px`;
  m.hidden = false;
  m.dataset.x = String(round(x));
  m.dataset.y = String(round(y));
  c.pointer = true;
  paintShow();
}

function hidePointer() {
  send({ type: "pointer", x: null });
  $("console-pointer").hidden = true;
  if (state.call) state.call.pointer = false;
  paintShow();
}

// ---- show and offer ---------------------------------------------------------------------------------------
function paintShow() {
  const c = state.call;
  const card = $("show-card");
  if (!c || !card) return;
  const pickState = c.pick;
  const productSel = el("select", { id: "show-product", "aria-label": a("show.product") });
  for (const hall of ["metals", "cars"]) {
    const group = el("optgroup", { label: t(`hall.${hall}`) });
    for (const p of state.products.filter((x) => (x.hall || (x.kind === "car" ? "cars" : "metals")) === hall)) {
      group.append(el("option", { value: p.id, selected: p.id === pickState.product }, pick(p.name)));
    }
    if (group.children.length) productSel.append(group);
  }
  productSel.addEventListener("change", () => {
    c.pick = { product: productSel.value, variant: null, yaw: c.pick.yaw };
    paintShow();
    paintOffer();
    paintRec();
  });
  const p = productOf(pickState.product);
  const variantSel = el("select", { id: "show-variant", "aria-label": a("show.variant"), disabled: !p || (p.variants || []).length < 2 });
  for (const v of p?.variants || []) variantSel.append(el("option", { value: v.id, selected: v.id === (pickState.variant || p.variants[0].id) }, pick(v.name) || v.id));
  variantSel.addEventListener("change", () => {
    c.pick.variant = variantSel.value;
    paintOffer();
  });
  const angleSel = el("select", { id: "show-angle", "aria-label": a("show.angle") });
  for (let d = 0; d < 360; d += 30) angleSel.append(el("option", { value: String(d), selected: d === pickState.yaw }, `${d}°`));
  angleSel.addEventListener("change", () => (c.pick.yaw = Number(angleSel.value)));
  const blocked = !c.coview || !c.consent;
  card.replaceChildren(
    el("h3", {}, a("show.title")),
    el(
      "div",
      { class: "show-form" },
      el("label", {}, el("span", {}, a("show.product")), productSel),
      el("label", {}, el("span", {}, a("show.variant")), variantSel),
      el("label", { class: "narrow" }, el("span", {}, a("show.angle")), angleSel),
    ),
    el(
      "div",
      { class: "btn-row tight" },
      el("button", { class: "btn btn-small btn-gold", type: "button", id: "show-send", disabled: blocked || !pickState.product, onclick: showToCustomer }, a("show.send")),
      el("button", { class: "btn btn-small", type: "button", id: "pointer-hide", disabled: !c.pointer, onclick: hidePointer }, a("pointer.hide")),
      c.shown ? el("span", { class: "muted small sent-note", id: "show-sent" }, a("show.sent")) : null,
    ),
  );
}

function selectedVariant() {
  const c = state.call;
  const p = productOf(c.pick.product);
  return c.pick.variant || p?.variants?.[0]?.id || null;
}

function showToCustomer() {
  const c = state.call;
  if (!c?.pick.product) return;
  const msg = { type: "show", product: c.pick.product, yaw_deg: c.pick.yaw };
  const variant = selectedVariant();
  if (variant) msg.variant = variant;
  send(msg);
  c.shown = true;
  c.pointer = false;
  $("console-pointer").hidden = true;
  paintShow();
}

async function makeOffer() {
  const c = state.call;
  if (!c?.pick.product) return;
  const btn = $("offer-make");
  if (btn) btn.disabled = true;
  try {
    const quote = await createQuote(c.pick.product, selectedVariant(), 1);
    if (state.call !== c) return;
    c.offer?.stop?.();
    const offer = { quote, status: "sent", left: null, stop: null };
    c.offer = offer;
    c.offered = true;
    send({ type: "offer", quote });
    offer.stop = countdown(
      expiryMs(quote) || Date.now(),
      (sec) => {
        offer.left = sec;
        const el2 = $("offer-countdown");
        if (el2 && state.call?.offer === offer) el2.textContent = a("offer.valid", { s: sec });
      },
      () => {
        if (offer.status === "sent") offer.status = "expired";
        if (state.call?.offer === offer) paintOffer();
      },
    );
    paintOffer();
  } catch (e) {
    note("bad", a("error", { msg: e.message }));
    if (btn) btn.disabled = false;
  }
}

function paintOffer() {
  const c = state.call;
  const card = $("offer-card");
  if (!c || !card) return;
  const o = c.offer;
  const parts = [el("h3", {}, a("offer.title"))];
  if (o) {
    const status = { sent: "offer.sent", accepted: "offer.accepted", declined: "offer.declined", expired: "offer.expired", refused: "offer.refused" }[o.status];
    parts.push(
      el(
        "div",
        { class: "offer-line", id: "offer-status", dataset: { status: o.status, quote: o.quote.id } },
        el("span", { class: "big-money" }, formatCny(o.quote.total_cny)),
        el("span", { class: `badge ${o.status === "accepted" ? "st-paid" : o.status === "sent" ? "st-pending" : o.status === "refused" ? "st-cancelled" : "st-expired"}` }, a(status)),
      ),
      el("p", { class: "muted small" }, `${productLabel(o.quote.product, o.quote.variant)} · `, el("span", { class: "mono" }, o.quote.id)),
      o.status === "sent" ? el("p", { class: "countdown", id: "offer-countdown" }, o.left !== null ? a("offer.valid", { s: o.left }) : "") : null,
      o.status === "refused" ? el("p", { class: "error-text", id: "offer-refused" }, a(o.refusedKey || "rec.err.recording_required")) : null,
    );
  }
  if (c.order) {
    parts.push(
      el(
        "div",
        { class: "order-line" },
        el("span", { class: "muted" }, a("order.title")),
        el("span", { class: "mono" }, c.order.id),
        el("span", { id: "order-status", dataset: { status: c.order.status || "" } }, c.order.status ? statusBadge(c.order.status) : "…"),
      ),
      el("p", { class: "muted small" }, c.order.amount ? `${formatCny(c.order.amount)} · ${a("order.following")}` : a("order.following")),
    );
  }
  parts.push(
    el(
      "div",
      { class: "btn-row tight offer-make-row" },
      el("button", { class: `btn btn-small ${o ? "" : "btn-gold"}`, type: "button", id: "offer-make", disabled: !c.consent || !c.pick.product, onclick: makeOffer }, a("offer.make")),
      el("span", { class: "muted small" }, productLabel(c.pick.product, selectedVariant())),
    ),
  );
  refill(card, parts);
}

/** The order placed from the offer: its status read from the bank's records until it is final. */
function followOrder(orderId) {
  const c = state.call;
  if (!c || c.order?.id === orderId) return;
  c.order = { id: orderId, status: null, amount: null };
  paintOffer();
  const poll = async () => {
    const o = c.order;
    if (!o || o.id !== orderId) return;
    try {
      const story = await call(`/api/staff/orders/${encodeURIComponent(orderId)}`);
      const order = story.order || story;
      o.status = order.status || o.status;
      o.amount = order.total_cny ?? order.amount_cny ?? o.amount;
    } catch (_) {
      /* try again */
    }
    if (state.call === c) paintOffer();
    else if (state.wrap?.id === c.id) {
      state.wrap.order = o;
      paintWrapOrder();
    }
    if (!FINAL.has(o.status)) o.timer = setTimeout(poll, ORDER_POLL_MS);
  };
  poll();
}

// ---- dual recording ---------------------------------------------------------------------------------------
const REC_ERRORS = new Set(["recording_required", "recording_refused", "recording_unavailable", "record_pending", "not_ready", "recording_failed"]);

/** The product of this call that is sold only on a recorded call: the one about to be offered, else the customer's. */
function dualProduct(c) {
  for (const id of [c.pick?.product, c.coview ? c.view?.product : null]) if (id && productOf(id)?.dual_recording) return id;
  return null;
}

function setRec(recState) {
  const c = state.call;
  if (!c) return;
  const r = c.rec;
  if (recState === "on" && r.state !== "on") r.since = Date.now();
  r.state = recState;
  r.error = null;
  paintRec();
}

function startRecording() {
  const c = state.call;
  if (!c) return;
  const product = dualProduct(c);
  const msg = { type: "record", on: true };
  if (product) msg.product = product;
  c.rec.product = product;
  send(msg);
  setRec("asking");
}

function stopRecording() {
  send({ type: "record", on: false });
}

/** An offer the node refused (recording_required), or one the customer's refusal makes impossible. */
function markOfferRefused(key = "rec.err.recording_refused") {
  const c = state.call;
  const o = c?.offer;
  if (!o || o.status !== "sent" || !productOf(o.quote.product)?.dual_recording) return;
  o.status = "refused";
  o.refusedKey = key;
  o.stop?.();
  paintOffer();
}

function recError(msg) {
  const c = state.call;
  const key = `rec.err.${msg.code}`;
  if (msg.code === "recording_required") markOfferRefused(key);
  if (c) {
    if (msg.code === "recording_refused") c.rec.state = "refused";
    else if (msg.code === "recording_unavailable" || msg.code === "recording_failed" || msg.code === "not_ready") c.rec.state = "off";
    // the refused offer says why in the offer card; the others are said once, in the recording card
    c.rec.error = msg.code === "recording_required" ? null : { code: msg.code, text: a(key, { msg: msg.message || msg.code }) };
    paintRec();
    return;
  }
  note(msg.code === "record_pending" ? "info" : "warn", a(key, { msg: msg.message || msg.code }));
}

const recElapsed = (r) => mmss(r.since ? (Date.now() - r.since) / 1000 : 0);

/** The dual-recording card of the call (shown when a dual-recording product is in play or a recording ran). */
function paintRec() {
  const c = state.call;
  const card = $("rec-card");
  if (!c || !card) return;
  const r = c.rec;
  const product = dualProduct(c) || r.product;
  const badge = $("call-rec");
  badge.hidden = r.state !== "on";
  $("rec-elapsed").textContent = recElapsed(r);
  card.hidden = !product && r.state === "off" && !r.error;
  card.dataset.state = r.state;
  if (card.hidden) return card.replaceChildren();
  const kind = r.state === "refused" ? "bad" : r.state === "on" ? "rec" : "warn";
  card.className = `rec-card rec-${kind}`;
  const status = {
    off: null,
    asking: a("rec.asking"),
    starting: a("rec.starting"),
    on: a("rec.on_note"),
    stopped: a("rec.stopped"),
    refused: a("rec.refused"),
  }[r.state];
  const canStart = !!c.consent && (r.state === "off" || r.state === "stopped");
  refill(card,
    el("div", { class: "rec-head" },
      el("span", { class: `rec-dot ${r.state === "on" ? "live" : ""}`, "aria-hidden": "true" }),
      el("h3", {}, r.state === "on" ? a("rec.recording", { t: recElapsed(r) }) : a("rec.title")),
      el("span", { class: "spacer" }),
      canStart ? el("button", { class: "btn btn-small rec-start", type: "button", id: "rec-start", onclick: startRecording }, a("rec.start")) : null,
      r.state === "on" || r.state === "asking" ? el("button", { class: "btn btn-small", type: "button", id: "rec-stop", onclick: stopRecording }, r.state === "on" ? a("rec.stop") : a("rec.cancel")) : null),
    product ? el("p", { class: "rec-required", id: "rec-required" }, el("strong", {}, productLabel(product)), " · ", a("rec.required")) : null,
    status ? el("p", { class: `rec-status ${r.state === "refused" ? "error-text" : ""}`, id: "rec-status", dataset: { state: r.state } }, status) : null,
    r.error && r.error.code !== "recording_refused" ? el("p", { class: "error-text", id: "rec-error", dataset: { code: r.error.code } }, r.error.text) : null,
  );
}

// the REC clock ticks on the page
setInterval(() => {
  const r = state.call?.rec;
  if (!r || r.state !== "on") return;
  const box = $("rec-elapsed");
  if (box) box.textContent = recElapsed(r);
  const head = document.querySelector("#rec-card .rec-head h3");
  if (head) head.textContent = a("rec.recording", { t: recElapsed(r) });
}, 1000);

/** The node's signed receipt of a sealed recording, posted to the bank's audit (call_recorded). */
async function postReceipt(msg) {
  const rec = msg.recording || {};
  let item = state.receipts.find((x) => x.id === rec.id);
  if (!item) {
    item = { id: rec.id, call: rec.call || msg.call, product: rec.product, sha256: rec.sha256 || {}, status: "posting", error: null, body: { recording: rec, sig: msg.sig } };
    state.receipts.unshift(item);
  }
  item.status = "posting";
  item.error = null;
  paintReceipts();
  try {
    await postRecordingReceipt(item.body);
    item.status = "stored";
  } catch (e) {
    item.status = "failed";
    item.error = errorText(e);
  }
  paintReceipts();
}

const shortHash = (hex) => (hex ? `${String(hex).slice(0, 12)}…` : "—");

function receiptsCard() {
  const card = el("section", { class: "card-s receipts", id: "rec-receipts" });
  fillReceipts(card);
  return card;
}

function fillReceipts(card) {
  refill(card,
    el("h3", {}, a("rec.receipts_title")),
    el("ul", { class: "receipt-list" }, state.receipts.map((r) =>
      el("li", { class: `receipt receipt-${r.status}`, dataset: { recording: r.id, status: r.status } },
        el("span", { class: `badge ${r.status === "stored" ? "st-paid" : r.status === "failed" ? "st-cancelled" : "st-pending"}` }, a(`rec.receipt_${r.status}`)),
        el("span", {}, productLabel(r.product), " · ", el("span", { class: "mono" }, r.call || "")),
        el("span", { class: "receipt-hashes" }, Object.entries(r.sha256).map(([leg, hex]) =>
          el("span", { class: "receipt-hash" }, `${a(`rec.leg.${leg}`)} `, el("code", { title: hex }, shortHash(hex))))),
        r.error ? el("span", { class: "error-text" }, r.error) : null,
        r.status === "failed" ? el("button", { class: "btn btn-small", type: "button", onclick: () => postReceipt({ recording: r.body.recording, sig: r.body.sig }) }, a("rec.retry")) : null,
      ))),
  );
}

function paintReceipts() {
  let card = $("rec-receipts");
  if (!card) {
    if (state.screen !== "desk") return;
    card = receiptsCard();
    const host = state.call ? $("call-left") || document.querySelector(".call-left") : $("desk-main");
    const before = state.call ? null : $("callbacks");
    if (before && before.parentNode === host) host.insertBefore(card, before);
    else host?.append(card);
    return;
  }
  fillReceipts(card);
}

// ---- after the call ---------------------------------------------------------------------------------------
function defaultOutcome(w) {
  if (w.order) return "order_placed";
  if (w.offered) return "quote_offered";
  if (w.consent) return "answered";
  return "no_answer";
}

function wrapForm(w) {
  const outcome = el("select", { id: "wrap-outcome" });
  for (const o of ["answered", "quote_offered", "order_placed", "no_answer"]) outcome.append(el("option", { value: o, selected: o === (w.outcome || defaultOutcome(w)) }, a(`outcome.${o}`)));
  const notes = el("textarea", { id: "wrap-notes", rows: "4", maxlength: "2000" });
  notes.value = w.notes || "";
  const msg = el("p", { class: "error-text", id: "wrap-error", role: "alert" });
  const save = el("button", { class: "btn btn-gold", type: "button", id: "wrap-save" }, a("wrap.save"));
  save.addEventListener("click", async () => {
    w.outcome = outcome.value;
    w.notes = notes.value;
    save.disabled = true;
    msg.textContent = "";
    const body = { call_id: w.id, topic: w.topic, lang: w.lang, channel: w.channel, started_at: w.startedAt, ended_at: w.endedAt, notes: w.notes.slice(0, 2000), outcome: w.outcome };
    if (w.place) body.place = w.place;
    if (w.order?.id) body.order_id = w.order.id;
    try {
      await call("/api/staff/advisor/calls", { method: "POST", body, idempotencyKey: w.key });
      state.wrap = null;
      paintMain();
      note("ok", a("wrap.saved"));
      flash(a("wrap.saved"));
    } catch (e) {
      save.disabled = false;
      msg.textContent = errorText(e);
    }
  });
  const reason = `ended.${w.reason}`;
  return el(
    "section",
    { class: "card-s wrap-card", id: "wrap" },
    el("h3", {}, a("wrap.title")),
    el("p", { class: "muted", id: "wrap-reason", dataset: { reason: w.reason } }, `${a("ended.title")} · ${a(reason) !== reason ? a(reason) : ""}`),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, a("call.topic")), el("dd", {}, t(`advisor.topic.${w.topic}`)),
      el("dt", {}, a("call.channel")), el("dd", {}, `${a(`channel.${w.channel}`)}${w.place ? ` · ${w.place}` : ""}`),
      el("dt", {}, a("call.lang")), el("dd", {}, a(`lang.${w.lang}`)),
      el("dt", {}, a("order.title")), el("dd", { id: "wrap-order" }, w.order ? [el("span", { class: "mono" }, w.order.id), " ", w.order.status ? statusBadge(w.order.status) : ""] : "—"),
    ),
    el("label", { class: "field" }, el("span", {}, a("wrap.outcome")), outcome),
    el("label", { class: "field" }, el("span", {}, a("wrap.notes")), notes),
    msg,
    el("div", { class: "btn-row" }, save),
  );
}

function paintWrapOrder() {
  const box = $("wrap-order");
  const o = state.wrap?.order;
  if (!box || !o) return;
  box.replaceChildren(el("span", { class: "mono" }, o.id), " ", o.status ? statusBadge(o.status) : "");
}

function flash(text) {
  const box = $("desk-note") || el("div");
  if (!$("desk-note")) {
    box.id = "desk-note";
    $("desk-main").prepend(box);
  }
  box.className = "notice notice-ok";
  box.textContent = text;
  box.hidden = false;
}

// ---- call-backs -------------------------------------------------------------------------------------------
function callbacksCard() {
  const card = el("section", { class: "card-s callbacks", id: "callbacks" });
  paintCallbacks(card);
  return card;
}

async function loadCallbacks() {
  try {
    const reply = await call("/api/staff/advisor/callbacks?status=open");
    state.callbacks = reply.callbacks || [];
    state.callbacksError = null;
  } catch (e) {
    state.callbacksError = e;
  }
  const card = $("callbacks");
  if (card) paintCallbacks(card);
}

function paintCallbacks(card) {
  const rows = [...state.callbacks].sort((x, y) => Date.parse(x.preferred_at) - Date.parse(y.preferred_at));
  const head = el("div", { class: "section-head" }, el("h3", {}, a("callbacks.title")), el("span", { class: "badge", id: "callbacks-count" }, String(rows.length)), el("span", { class: "spacer" }), el("button", { class: "btn btn-small", type: "button", id: "callbacks-refresh", onclick: loadCallbacks }, a("callbacks.refresh")));
  const table = el(
    "table",
    { class: "data" },
    el("thead", {}, el("tr", {}, [a("callbacks.when"), a("callbacks.phone"), a("callbacks.name"), a("callbacks.topic"), a("callbacks.from"), a("callbacks.asked"), ""].map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      rows.length
        ? rows.map((cb) =>
            el(
              "tr",
              { dataset: { callback: cb.id } },
              el("td", { class: "nowrap" }, formatTime(cb.preferred_at, { seconds: false })),
              el("td", { class: "mono nowrap" }, formatPhone(cb.phone)),
              el("td", {}, cb.name || "—"),
              el("td", {}, `${t(`advisor.topic.${cb.topic}`)} · ${a(`lang.${cb.lang}`)}`),
              el("td", {}, `${a(`channel.${cb.channel}`)}${cb.place ? ` · ${cb.place}` : ""}`),
              el("td", { class: "nowrap muted" }, formatTime(cb.created_at, { seconds: false, zone: false })),
              el("td", {}, el("button", { class: "btn btn-small", type: "button", dataset: { done: cb.id }, onclick: (e) => markDone(cb, e.currentTarget) }, a("callbacks.done"))),
            ),
          )
        : [el("tr", { class: "empty" }, el("td", { colspan: "7" }, a("callbacks.empty")))],
    ),
  );
  refill(card, head, state.callbacksError ? el("div", { class: "notice notice-bad" }, errorText(state.callbacksError)) : null, el("div", { class: "table-wrap" }, table));
}

function formatPhone(p) {
  const d = String(p || "");
  return d.length === 11 ? `${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}` : d;
}

async function markDone(cb, button) {
  button.disabled = true;
  try {
    await call(`/api/staff/advisor/callbacks/${encodeURIComponent(cb.id)}/done`, { method: "POST", body: {} });
    state.callbacks = state.callbacks.filter((x) => x.id !== cb.id);
    const card = $("callbacks");
    if (card) paintCallbacks(card);
  } catch (e) {
    button.disabled = false;
    note("bad", errorText(e));
  }
}

// the call-back list stays fresh while the advisor is on duty and not in a call
setInterval(() => {
  if (state.screen === "desk" && state.onDuty && !state.call) loadCallbacks();
}, 60_000);

// ---- start ------------------------------------------------------------------------------------------------
function repaintAll() {
  applyStrings();
  applyDeskStrings();
  if (state.screen !== "desk") return;
  paintWho();
  paintDuty();
  if (state.call) {
    paintCall();
    followView();
  } else paintMain();
}

async function start() {
  installToggles();
  applyStrings();
  applyDeskStrings();
  $("signin-form").addEventListener("submit", onSignIn);
  $("duty").addEventListener("click", () => setDuty(!state.onDuty));
  $("take-any").addEventListener("click", () => send({ type: "take" }));
  $("signout").addEventListener("click", async () => {
    if (state.call) send({ type: "end" });
    state.wantDuty = false;
    closeSocket();
    hangUp();
    state.call = null;
    state.wrap = null;
    await signOut();
    showSignIn("signin.signed_out", "info");
  });
  onSessionEnded((reason) => showSignIn(reason === "idle" ? "signin.idle" : "signin.expired", "warn"));
  onLangChange(repaintAll);
  try {
    if (await restore()) return enterDesk();
  } catch (e) {
    showSignIn();
    $("signin-error").textContent = errorText(e);
    return;
  }
  showSignIn();
}

start();
