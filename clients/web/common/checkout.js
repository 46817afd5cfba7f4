// Checkout: a quote that locks the price (with a countdown), an order placed with an Idempotency-Key, a payment
// (pay URL + QR PNG made by the commerce side), and the order's status live over /ws/orders/{id}
// (falling back to polling GET /api/orders/{id} if the socket drops). Also the customer's mobile number (check,
// format, read from a field) and the set-up every page uses to start a purchase (startCheckout).
//
// The order's token: the order reply carries a secret `order_token`, the customer's capability for that order.
// It is kept in memory by the Checkout (and, on the phone, in sessionStorage for the page's life, so the return
// from the pay page shows the order); it is sent as `Authorization: Bearer` on reads and cancel and as the
// `token` query parameter of the order WebSocket. Without it the node answers the status alone.

import { api, createOrder, createQuote, formatCny, newIdempotencyKey, startPayment, wsUrl } from "./api.js";
import { discountLinesEl } from "./coupons.js";
import { t } from "./i18n.js";
import { pickupPanel } from "./pickup.js";
import { toast } from "./ui.js";

export const TERMINAL = new Set(["paid", "expired", "cancelled", "payment_failed", "refunded", "partially_refunded", "fulfilling", "completed"]);
const PAID = new Set(["paid", "fulfilling", "completed"]);

/** Milliseconds since the epoch at which `obj` expires, from expires_in_s (preferred: immune to clock skew) or expires_at. */
export function expiryMs(obj, receivedAtMs = Date.now()) {
  if (obj == null) return null;
  if (typeof obj.expires_in_s === "number") return receivedAtMs + obj.expires_in_s * 1000;
  const v = obj.expires_at;
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return v < 1e12 ? v * 1000 : v;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

/** Calls tick(secondsLeft) every second until zero, then onExpire(); returns a stop function. */
export function countdown(untilMs, tick, onExpire) {
  let timer = null;
  const step = () => {
    const left = Math.max(0, Math.ceil((untilMs - Date.now()) / 1000));
    tick(left);
    if (left <= 0) {
      clearInterval(timer);
      timer = null;
      if (onExpire) onExpire();
    }
  };
  timer = setInterval(step, 1000);
  step();
  return () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
}

/** A quote's countdown painted into `el` ("valid for N s", then "expired" with the class `expired`); returns stop. */
export function showCountdown(el, untilMs, { key = "checkout.quote_valid", onExpire = null } = {}) {
  return countdown(
    untilMs || Date.now(),
    (s) => {
      el.classList.remove("expired");
      el.textContent = t(key, { s });
    },
    () => {
      el.classList.add("expired");
      el.textContent = t("product.quote_expired");
      if (onExpire) onExpire();
    },
  );
}

// ---- the customer's mobile number --------------------------------------------------------------------
/** The 11-digit mainland mobile number in what was typed (spaces, dashes ignored), or null. */
export function mobileNumber(raw) {
  const digits = String(raw ?? "").replace(/\D/g, "");
  return /^1\d{10}$/.test(digits) ? digits : null;
}

/** Digits grouped as 138 0013 8000 (partial numbers too). */
export function formatMobile(digits) {
  return String(digits).replace(/^(\d{3})(\d{0,4})(\d{0,4}).*/, (_, a, b, c) => [a, b, c].filter(Boolean).join(" "));
}

/** The number in a form field; when it is not a mobile number the field is marked, focused and the customer told. */
export function mobileFromInput(input) {
  const phone = mobileNumber(input.value);
  if (phone) {
    input.removeAttribute("aria-invalid");
    return phone;
  }
  input.setAttribute("aria-invalid", "true");
  input.focus();
  toast(t("checkout.phone_invalid"), { error: true });
  return null;
}

/** The customer of an order placed at a screen: the mobile number (the bank looks up who holds it). */
export function customerFor(phone) {
  return phone ? { phone } : {};
}

// ---- the order's token ---------------------------------------------------------------------------------
const authHeaders = (token) => (token ? { Authorization: `Bearer ${token}` } : {});

/** The order: the customer's view with its token, `{id, status}` without one. */
export const readOrder = (id, token = null) => api(`/api/orders/${encodeURIComponent(id)}`, { headers: authHeaders(token) });

/** Cancels an unpaid order (needs its token). */
export const cancelOrder = (id, token) =>
  api(`/api/orders/${encodeURIComponent(id)}/cancel`, { method: "POST", body: {}, headers: authHeaders(token) });

const TOKEN_KEY = "showroom.order_token";

/** Keeps an order's token in sessionStorage for the page's life (the phone's return from the pay page). */
export function rememberOrderToken(orderId, token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ id: orderId, token }));
  } catch (_) {
    /* storage unavailable: the token stays in memory only */
  }
}

/** The remembered token of `orderId`, or null. */
export function rememberedOrderToken(orderId) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    return kept && kept.id === orderId ? kept.token : null;
  } catch (_) {
    return null;
  }
}

export function forgetOrderToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) {
    /* ignore */
  }
}

/**
 * Starts a purchase: closes the page's previous checkout (its status socket and timers) and returns a new one
 * for the product shown. `phone` may come later (Checkout.setPhone) where the number is asked after the price lock.
 */
export function startCheckout(previous, { product, variant, channel, phone = null, method = "qr", extra = {}, onChange = () => {} }) {
  previous?.close();
  return new Checkout({ product, variant, channel, customer: customerFor(phone), method, extra, onChange });
}

/** Watches an order's status (with its token: the customer's view); calls onStatus(order) on every change.
 * Returns a stop function. */
export function watchOrder(orderId, onStatus, token = null) {
  let ws = null;
  let poll = null;
  let stopped = false;
  let last = null;
  const emit = (order) => {
    if (!order || stopped) return;
    if (last === order.status) return;
    last = order.status;
    onStatus(order);
    if (TERMINAL.has(order.status) && order.status !== "partially_refunded") stop();
  };
  const startPolling = () => {
    if (poll || stopped) return;
    poll = setInterval(async () => {
      try {
        emit(await readOrder(orderId, token));
      } catch (_) {
        /* keep polling: the network may come back */
      }
    }, 2500);
  };
  try {
    if (!token) throw new Error("the order socket needs the order's token");
    ws = new WebSocket(wsUrl(`/ws/orders/${encodeURIComponent(orderId)}?token=${encodeURIComponent(token)}`));
    ws.onmessage = (ev) => {
      try {
        const msg = JSON.parse(ev.data);
        if (msg.type === "order" || msg.status) emit({ ...(msg.order || {}), ...msg, id: msg.id || orderId });
      } catch (_) {
        /* ignore non-JSON */
      }
    };
    ws.onerror = () => startPolling();
    ws.onclose = () => {
      if (!stopped) startPolling();
    };
  } catch (_) {
    startPolling();
  }
  // the current state, in case the order changed before the socket opened
  readOrder(orderId, token).then(emit, () => {});
  function stop() {
    stopped = true;
    if (poll) clearInterval(poll);
    poll = null;
    if (ws && ws.readyState <= 1) ws.close(1000);
    ws = null;
  }
  return stop;
}

/**
 * One customer's purchase of one product. States: idle -> quoted -> ordered -> paying -> paid | failed.
 * onChange(checkout) is called after every step; the caller renders from its fields.
 */
export class Checkout {
  constructor({ product, variant, channel, customer = {}, method = "qr", extra = {}, onChange = () => {} }) {
    this.extra = extra;
    this.product = product;
    this.variant = variant;
    this.channel = channel;
    this.customer = customer;
    this.method = method;
    this.onChange = onChange;
    this.quote = null;
    this.quoteExpiresMs = null;
    this.order = null;
    this.token = null; // the order's token: in memory only, wiped by close()
    this.payment = null;
    this.status = "idle";
    this.error = null;
    this._stops = [];
    this._orderKey = null;
    this._payKey = null;
  }

  setPhone(phone) {
    this.customer = customerFor(phone);
  }

  get paid() {
    return this.order && PAID.has(this.order.status);
  }

  async lockPrice() {
    this.error = null;
    const q = await createQuote(this.product, this.variant, 1);
    this.quote = q;
    this.quoteExpiresMs = expiryMs(q);
    this._orderKey = newIdempotencyKey(); // a new quote is a new intent
    this.status = "quoted";
    this.onChange(this);
    return q;
  }

  /**
   * Buys with a quote made elsewhere (an advisor's offer in a call, common/advisor-call.js): the quote, its expiry
   * and a new order key (a new intent); the product and variant become the quote's. buy() then orders THAT quote
   * while it is valid (once it has expired, buy() locks today's price, as for any quote).
   */
  adoptQuote(quote) {
    this.error = null;
    this.quote = quote;
    this.quoteExpiresMs = expiryMs(quote);
    if (quote.product) this.product = quote.product;
    if (quote.variant !== undefined) this.variant = quote.variant;
    this._orderKey = newIdempotencyKey();
    this.status = "quoted";
    this.onChange(this);
    return quote;
  }

  quoteSecondsLeft() {
    if (!this.quoteExpiresMs) return null;
    return Math.max(0, Math.ceil((this.quoteExpiresMs - Date.now()) / 1000));
  }

  /** Places the order (retry-safe: the same quote re-sends the same Idempotency-Key) and starts the payment. */
  async buy() {
    this.error = null;
    if (!this.quote || this.quoteSecondsLeft() === 0) await this.lockPrice();
    const extra = typeof this.extra === "function" ? this.extra() : this.extra;
    const body = { ...extra, quote_id: this.quote.id, customer: this.customer, channel: this.channel };
    const headers = typeof this.orderHeaders === "function" ? this.orderHeaders() : {}; // X-Phone-Proof (coupons.js)
    const { order_token: token, ...order } = await createOrder(body, this._orderKey, headers);
    this.order = order;
    if (token) this.token = token;
    this.status = "ordered";
    this.onChange(this);
    this._payKey = this._payKey || newIdempotencyKey();
    this.payment = await startPayment(this.order.id, this.method, this._payKey);
    this.status = "paying";
    this.onChange(this);
    this._stops.push(
      watchOrder(
        this.order.id,
        (o) => {
          this.order = { ...this.order, ...o };
          if (PAID.has(o.status)) this.status = "paid";
          else if (o.status !== "pending_payment") this.status = "failed";
          this.onChange(this);
        },
        this.token,
      ),
    );
    return this.payment;
  }

  /** Cancels the unpaid order (with its token). */
  async cancel() {
    if (!this.order) return null;
    this.order = await cancelOrder(this.order.id, this.token);
    this.onChange(this);
    return this.order;
  }

  close() {
    for (const s of this._stops) s();
    this._stops = [];
    this.token = null;
  }
}

/**
 * Renders the pay panel for a checkout into `el`: amount, quote countdown, QR code (PNG from the commerce
 * side), a link to the pay page, and the live status. Returns a stop function for its timers.
 */
export function renderPayPanel(el, co, { showLink = true, qrSize = 280, certificate = false } = {}) {
  el.replaceChildren();
  el.classList.add("pay-panel");
  const amount = co.order?.total_cny ?? co.order?.amount_cny ?? co.quote?.total_cny;
  const h = document.createElement("h2");
  h.textContent = t("checkout.title");
  const total = document.createElement("p");
  total.className = "pay-total";
  // once paid, the amount is what was paid, not what is due
  const label = co.paid ? t("checkout.total_paid") : t("checkout.total");
  total.innerHTML = `<span class="muted">${label}</span> <strong class="price">${formatCny(amount)}</strong>`;
  const status = document.createElement("p");
  status.className = `pay-status status-${co.order?.status || "pending_payment"}`;
  status.dataset.status = co.order?.status || "pending_payment";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  status.textContent = t(`status.${co.order?.status || "pending_payment"}`);
  el.append(h, total);
  const discounts = discountLinesEl(co.order?.discounts?.length ? co.order : co.discounts); // coupons, points (coupons.js)
  if (discounts) el.append(discounts);
  // Any manual check (AML review or another) reads the same to the customer: no tipping-off.
  const review = co.order?.review === "under_review" ? document.createElement("p") : null;
  if (review) {
    review.className = "pay-review muted";
    review.dataset.review = "under_review";
    review.textContent = t("status.under_review");
  }
  if (co.paid) {
    h.textContent = t("checkout.done");
    const ok = document.createElement("div");
    ok.className = "paid-mark";
    ok.setAttribute("aria-hidden", "true");
    ok.innerHTML = '<svg viewBox="0 0 24 24" width="56" height="56"><path d="M5 12.5l4.2 4.2L19 7" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';
    const thanks = document.createElement("p");
    thanks.textContent = t("status.paid_thanks");
    const ord = document.createElement("p");
    ord.className = "order-id";
    ord.textContent = `${t("checkout.order")} ${co.order.id}`;
    el.append(ok, status, thanks, ord);
    if (co.token) el.append(pickupPanel(co.order.id, co.token)); // a branch pick-up: its code (pickup.js)
    if (review) el.append(review);
    if (certificate && co.token) {
      // the item's signed certificate (docs/commerce.md, "Certificates"): the token rides in the fragment; a
      // customer's own device only (`certificate`), never a shared kiosk whose next user would find it open
      const cert = document.createElement("a");
      cert.className = "btn btn-ghost";
      cert.href = `/certificate#order=${encodeURIComponent(co.order.id)}&token=${encodeURIComponent(co.token)}`;
      cert.target = "_blank";
      cert.rel = "noopener noreferrer";
      cert.dataset.role = "certificate-link";
      cert.textContent = t("checkout.certificate");
      el.append(cert);
    }
    return () => {};
  }
  const qrUrl = qrSize > 0 ? co.payment?.qr_png_url : null;  // a phone pays on itself: no code to scan
  if (!qrSize) h.textContent = t("checkout.pay_here");
  if (qrUrl) {
    const fig = document.createElement("figure");
    fig.className = "qr";
    const img = document.createElement("img");
    img.src = qrUrl;
    img.width = qrSize;
    img.height = qrSize;
    img.alt = t("checkout.scan");
    const cap = document.createElement("figcaption");
    cap.textContent = t("checkout.scan");
    fig.append(img, cap);
    el.append(fig);
  }
  el.append(status);
  if (review) el.append(review);
  if (co.order?.id) {
    const ord = document.createElement("p");
    ord.className = "muted small order-id";
    ord.textContent = `${t("checkout.order")} ${co.order.id}`;
    el.append(ord);
  }
  if (showLink && co.payment?.pay_url) {
    const a = document.createElement("a");
    a.className = "btn btn-ghost";
    a.href = co.payment.pay_url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = t("checkout.open_pay");
    a.dataset.role = "pay-link";
    el.append(a);
  }
  return () => {};
}
