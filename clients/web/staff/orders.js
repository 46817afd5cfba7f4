// Orders: today's list (status, day, search, paging) and one order's whole story (quote, price snapshot,
// payments, notifications, refunds, refund requests, audit trail; compliance only when the reply has it), with the
// teller's actions: fulfilment and pick-up hand-over, and a refund request (above the teller limit it waits for a
// manager's approval).

import { getProducts } from "../common/api.js";
import { pick } from "../common/i18n.js";
import { el, toast } from "../common/ui.js";
import { bankDay, formatTime, money, parseCny, zoneName } from "./format.js";
import { ApiError, advanceFulfilment, currentStaff, listOrders, may, newIdempotencyKey, orderStory, requestRefund } from "./session.js";
import { decisionCell, requestsTable } from "./approvals.js";
import { auditTable } from "./audit.js";
import { s, statusLabel } from "./strings.js";
import { card, dataTable, dialog, errorText, facts, failure, heading, ident, loading, moneyCell, notice, pager, statusBadge, when } from "./widgets.js";

const PAGE = 20;
const FOLLOW_MS = 2000;
const STATUSES = ["pending_payment", "paid", "fulfilling", "completed", "partially_refunded", "refunded",
  "payment_failed", "expired", "cancelled"];

// ---- product names --------------------------------------------------------------------------------
let products = null;
async function productNames() {
  if (!products) {
    try {
      products = new Map((await getProducts()).map((p) => [p.id, p]));
    } catch (_) {
      products = new Map(); // names are a nicety: ids stay readable without them
    }
  }
  return products;
}

function productLabel(productId, variantId) {
  const p = products?.get(productId);
  if (!p) return [productId, variantId].filter(Boolean).join(" · ");
  const v = (p.variants || []).find((x) => x.id === variantId);
  return [pick(p.name), v ? pick(v.name) : variantId].filter(Boolean).join(" · ");
}

// ---- the list -------------------------------------------------------------------------------------
const filters = { status: "", q: "", day: null, offset: 0 };

export async function renderOrders(main) {
  if (filters.day === null) filters.day = bankDay();
  const statusSel = el("select", { id: "f-status", name: "status" },
    el("option", { value: "" }, s("orders.all_statuses")),
    STATUSES.map((st) => el("option", { value: st, selected: filters.status === st }, statusLabel(st))));
  const day = el("input", { type: "date", id: "f-day", name: "day", value: filters.day });
  const q = el("input", { type: "search", id: "f-q", name: "q", value: filters.q, placeholder: s("orders.search_ph"), autocomplete: "off" });
  const form = el("form", { class: "filters", role: "search", "aria-label": s("orders.filters") },
    el("label", {}, el("span", {}, s("orders.status")), statusSel),
    el("label", {}, el("span", {}, s("orders.day")), day),
    el("label", { class: "grow" }, el("span", {}, s("orders.search")), q),
    el("button", { class: "btn btn-small btn-gold", type: "submit" }, s("orders.apply")),
    el("button", { class: "btn btn-small btn-ghost", type: "button", onclick: () => {
      Object.assign(filters, { status: "", q: "", day: bankDay(), offset: 0 });
      renderOrders(main);
    } }, s("orders.today")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(filters, { status: statusSel.value, q: q.value.trim(), day: day.value, offset: 0 });
    load();
  });
  const result = el("div", { id: "orders-result", "aria-live": "polite" });
  main.replaceChildren(heading(s("nav.orders"), el("span", { class: "muted small" }, s("common.times_in", { zone: zoneName() }))), form, result);

  async function load() {
    result.replaceChildren(loading());
    try {
      const [reply] = await Promise.all([
        listOrders({ status: filters.status, q: filters.q, day: filters.day, limit: PAGE, offset: filters.offset }),
        productNames(),
      ]);
      const orders = reply.orders || [];
      const total = reply.total ?? orders.length;
      const columns = [
        // one day at a time: the clock is enough (the full time is the tooltip); any day: date and clock
        { label: s("orders.col.time"), cell: (o) => (filters.day ? clock(o.created_at) : when(o.created_at)) },
        { label: s("orders.col.id"), cell: (o) => ident(o.id, { href: `#/orders/${encodeURIComponent(o.id)}` }) },
        { label: s("orders.col.product"), cls: "product", cell: (o) => productLabel(o.product, o.variant) },
        { label: s("orders.col.qty"), num: true, cell: (o) => String(o.quantity ?? 1) },
        { label: s("orders.col.total"), num: true, cell: (o) => moneyCell(o.total_cny ?? o.amount_cny) },
        { label: s("orders.col.customer"), cell: (o) => customer(o) },
        { label: s("orders.col.channel"), cls: "nowrap", cell: (o) => label("channel", o.channel) },
        { label: s("orders.col.status"), cell: (o) => el("span", { class: "status-cell" }, statusBadge(o.status), reviewMark(o.review)) },
      ];
      result.replaceChildren(
        dataTable(columns, orders, {
          empty: s("orders.none"),
          rowAttrs: (o) => ({ dataset: { order: o.id, status: o.status }, class: "clickable" }),
        }),
        pager(filters.offset, PAGE, total, (off) => {
          filters.offset = off;
          load();
        }),
      );
      // a click anywhere on a row opens the order (the id link is the keyboard way in)
      for (const tr of result.querySelectorAll("tr[data-order]")) {
        tr.addEventListener("click", (e) => {
          if (e.target.closest("a, button")) return;
          location.hash = `#/orders/${encodeURIComponent(tr.dataset.order)}`;
        });
      }
    } catch (e) {
      result.replaceChildren(failure(e, load));
    }
  }
  await load();
}

function clock(iso) {
  const t = when(iso);
  const text = formatTime(iso, { zone: false });
  t.firstChild.textContent = text.slice(11);
  return t;
}

function customer(o) {
  const name = o.customer_name || "";
  const phone = o.customer_phone_masked || "";
  if (!name && !phone) return "—";
  return el("span", { class: "cust" }, el("span", {}, name), " ", el("span", { class: "muted nowrap" }, phone));
}

/** A known code's label (channel, method, review state), else the code itself. */
function label(group, code) {
  if (!code) return "—";
  const key = `${group}.${code}`;
  const text = s(key);
  return text === key ? String(code) : text;
}

/** The AML flag of an order line (only viewers holding view_compliance get `review`). */
function reviewMark(review) {
  const flagged = review && typeof review === "object" ? !!review.aml_review : !!review;
  if (!flagged) return null;
  return el("span", { class: "badge st-review", title: s("orders.review"), dataset: { review: "aml" } }, s("orders.review_short"));
}

// ---- one order's story ------------------------------------------------------------------------------
export async function renderOrder(main, orderId, { quiet = false } = {}) {
  if (!quiet) main.replaceChildren(loading());
  let story;
  try {
    [story] = await Promise.all([orderStory(orderId), productNames()]);
  } catch (e) {
    main.replaceChildren(backLink(), failure(e, () => renderOrder(main, orderId)));
    return;
  }
  const o = story.order || {};
  const rerender = () => renderOrder(main, orderId);
  const actions = el("div", { class: "btn-row order-actions" });
  if (may("fulfil_orders")) actions.append(...fulfilmentButtons(o, rerender));
  if (may("request_refund") && refundable(o) && refundableLeft(o, story)) {
    actions.append(el("button", { class: "btn btn-small", type: "button", id: "refund-open", onclick: () => refundDialog(o, story, rerender) }, s("refund.request")));
  }
  const pending = (story.refund_requests || []).filter((r) => (r.state || r.status) === "pending_approval");
  main.replaceChildren(...[
    backLink(),
    el("header", { class: "order-head", dataset: { order: o.id, status: o.status } },
      el("div", {},
        el("h2", { tabindex: "-1" }, s("order.title"), " ", ident(o.id)),
        el("p", { class: "muted" }, productLabel(o.product, o.variant), " · ", s("order.placed_at"), " ", when(o.created_at))),
      el("div", { class: "head-right" }, el("div", { class: "big-money" }, money(o.total_cny ?? o.amount_cny)),
        el("div", { class: "btn-row tight" }, statusBadge(o.status),
          el("button", { class: "btn btn-small btn-ghost", type: "button", id: "order-refresh", onclick: rerender }, s("common.refresh"))))),
    pending.length ? notice("warn", s("order.pending_requests", { n: pending.length })) : null,
    steps(o),
    actions,
    el("div", { class: "story" },
      card(s("order.summary"), facts([
        [s("order.product"), productLabel(o.product, o.variant)],
        [s("order.quantity"), String(o.quantity ?? 1)],
        [s("order.total"), money(o.total_cny ?? o.amount_cny)],
        [s("order.paid"), o.paid_cny ? money(o.paid_cny) : null],
        [s("order.refunded"), o.refunded_cny ? money(o.refunded_cny) : null],
        [s("order.channel"), o.channel ? label("channel", o.channel) : null],
        [s("order.branch"), o.branch || null],
        [s("order.customer"), customer(o)],
        [s("order.updated_at"), o.updated_at ? when(o.updated_at) : null],
      ])),
      card(s("order.quote"), objectFacts(story.quote, ["id", "unit_price_cny", "total_cny", "quantity", "created_at", "expires_at", "breakdown"],
        ["product", "variant", "currency", "price_source", "price_as_of", "snapshot", "snapshot_id", "price_snapshot_id"])),
      card(s("order.snapshot"), objectFacts(story.price_snapshot, ["source", "as_of", "snapshot_id", "cny_per_g"])),
      story.compliance ? card(s("order.compliance"), compliance(story.compliance)) : null,
    ),
    card(s("order.payments"), dataTable([
      { label: s("col.time"), cell: (p) => when(p.created_at) },
      { label: s("col.id"), cell: (p) => ident(p.payment_id || p.id) },
      { label: s("col.method"), cell: (p) => label("method", p.method) },
      { label: s("col.amount"), num: true, cell: (p) => moneyCell(p.amount_cny) },
      { label: s("col.state"), cell: (p) => statusBadge(p.status, "payment") },
    ], story.payments || [], { empty: s("order.no_payments") })),
    story.notifications ? card(s("order.notifications"), dataTable([
      { label: s("col.time"), cell: (n) => when(n.received_at || n.at || n.created_at) },
      { label: s("col.event"), cell: (n) => n.type || n.kind || n.event || "—" },
      { label: s("col.id"), cell: (n) => ident(n.id || n.event_id) },
      { label: s("col.result"), cell: (n) => n.result || n.status || (n.duplicate ? s("notif.duplicate") : "—") },
    ], story.notifications, { empty: s("common.none") })) : null,
    card(s("order.refunds"), dataTable([
      { label: s("col.time"), cell: (r) => when(r.created_at) },
      { label: s("col.id"), cell: (r) => ident(r.refund_id || r.id) },
      { label: s("col.amount"), num: true, cell: (r) => moneyCell(r.amount_cny) },
      { label: s("col.reason"), cell: (r) => r.reason || "—" },
      { label: s("col.state"), cell: (r) => statusBadge(r.status, "refund") },
    ], story.refunds || [], { empty: s("order.no_refunds") })),
    card(s("order.refund_requests"), requestsTable(story.refund_requests || [], { decide: (r) => decisionCell(r, rerender) })),
    card(s("order.audit"), auditTable(story.audit || [])),
  ].filter(Boolean));
  if (!quiet) main.querySelector("h2")?.focus({ preventScroll: true });
  // a refund sent to the payment backend settles by its notification: follow it while it is in flight
  const inFlight = (story.refunds || []).some((r) => r.status === "intent" || r.status === "pending");
  if (inFlight) {
    const route = location.hash;
    setTimeout(() => {
      if (location.hash !== route || !main.querySelector(`.order-head[data-order="${CSS.escape(o.id)}"]`)) return;
      if (document.querySelector(".overlay")) return; // a dialog is open: the refresh button is there after it
      renderOrder(main, orderId, { quiet: true });
    }, FOLLOW_MS);
  }
}

function backLink() {
  return el("a", { class: "back-link", href: "#/orders" }, "← ", s("order.back"));
}

function paidSomething(o) {
  return !!o.paid_cny && !/^0+(\.0+)?$/.test(o.paid_cny);
}

function refundable(o) {
  return ["paid", "fulfilling", "completed", "partially_refunded"].includes(o.status);
}

/** The fulfilment steps, as staff read them at the counter: paid -> ready for pick-up -> handed over. */
function steps(o) {
  const order = ["paid", "fulfilling", "completed"];
  // a refund changes the status; how far fulfilment got is kept in `fulfilment`
  const at = Math.max(order.indexOf(o.status), order.indexOf(o.fulfilment ?? ""), paidSomething(o) ? 0 : -1);
  if (at < 0) return null;
  return el("ol", { class: "steps", "aria-label": s("order.fulfilment") },
    order.map((st, i) => el("li", { class: at >= i ? "done" : at + 1 === i && ["paid", "fulfilling"].includes(o.status) ? "next" : "", "aria-current": at === i ? "step" : null },
      el("span", { class: "dot", "aria-hidden": "true" }, at > i ? "✓" : String(i + 1)), s(`step.${st}`))));
}

function fulfilmentButtons(o, rerender) {
  const move = async (status, button) => {
    button.disabled = true;
    try {
      await advanceFulfilment(o.id, status);
      toast(s(`fulfil.done.${status}`));
      rerender();
    } catch (e) {
      button.disabled = false;
      toast(errorText(e), { error: true, ms: 6000 });
    }
  };
  if (o.status === "paid") {
    const b = el("button", { class: "btn btn-small btn-gold", type: "button", id: "fulfil-ready" }, s("fulfil.ready"));
    b.addEventListener("click", () => move("fulfilling", b));
    return [b];
  }
  if (o.status === "fulfilling") {
    const b = el("button", { class: "btn btn-small btn-gold", type: "button", id: "fulfil-handover" }, s("fulfil.handover"));
    b.addEventListener("click", () => handoverDialog(o, () => move("completed", b)));
    return [b];
  }
  return [];
}

function handoverDialog(o, confirm) {
  const check = el("input", { type: "checkbox", id: "handover-checked" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "button", id: "handover-confirm", disabled: true }, s("fulfil.handover"));
  check.addEventListener("change", () => (ok.disabled = !check.checked));
  const dlg = dialog(el("div", { class: "form-dlg" },
    el("h2", {}, s("fulfil.handover_title")),
    el("p", {}, productLabel(o.product, o.variant), " · ", money(o.total_cny ?? o.amount_cny)),
    el("label", { class: "check" }, check, s("fulfil.handover_check")),
    el("div", { class: "btn-row" }, ok)), s("fulfil.handover_title"));
  ok.addEventListener("click", () => {
    dlg.close();
    confirm();
  });
}

function refundDialog(o, story, rerender) {
  const left = refundableLeft(o, story);
  const key = newIdempotencyKey(); // one intent: a retry of this dialog re-sends the same key
  const amount = el("input", { type: "text", id: "refund-amount", inputmode: "decimal", autocomplete: "off", placeholder: left ? money(left) : "" });
  const reason = el("textarea", { id: "refund-reason", rows: "3", maxlength: "200", required: true });
  const err = el("p", { class: "error-text", role: "alert", id: "refund-error" });
  const send = el("button", { class: "btn btn-gold btn-small", type: "submit", id: "refund-send" }, s("refund.send"));
  const limit = currentStaff()?.refund_limit_cny ?? currentStaff()?.teller_limit_cny;
  const form = el("form", { class: "form-dlg", novalidate: true },
    el("h2", {}, s("refund.title")),
    el("p", { class: "muted" }, s("refund.order", { id: o.id }), " · ", s("refund.paid", { paid: money(o.paid_cny ?? o.total_cny) }),
      left ? [" · ", s("refund.left", { left: money(left) })] : null),
    el("label", { class: "field" }, el("span", {}, s("refund.amount")), amount, el("span", { class: "muted small" }, s("refund.amount_hint"))),
    el("label", { class: "field" }, el("span", {}, s("refund.reason")), reason),
    el("p", { class: "muted small" }, limit ? s("refund.limit_hint", { limit: money(limit) }) : s("refund.approval_hint")),
    err,
    el("div", { class: "btn-row" }, send));
  const dlg = dialog(form, s("refund.title"));
  amount.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const body = { reason: reason.value.trim() };
    if (amount.value.trim()) {
      const cny = parseCny(amount.value);
      if (!cny || cny === "0.00") {
        err.textContent = s("refund.bad_amount");
        amount.focus();
        return;
      }
      body.amount_cny = cny;
    }
    if (!body.reason) {
      err.textContent = s("refund.need_reason");
      reason.focus();
      return;
    }
    send.disabled = true;
    try {
      const reply = await requestRefund(o.id, body, key);
      dlg.close();
      const pendingApproval = (reply?.state || reply?.status) === "pending_approval";
      toast(pendingApproval ? s("refund.pending") : s("refund.executed"), { ms: 6000 });
      rerender();
    } catch (e2) {
      send.disabled = false;
      err.textContent = errorText(e2);
      if (e2 instanceof ApiError && e2.status === 401) dlg.close();
    }
  });
}

/**
 * What can still be asked for, as a decimal string (null: nothing): paid, less every refund not failed (settled or
 * in flight) and the amounts held by requests waiting for approval. The server checks again.
 */
function refundableLeft(o, story) {
  if (!o.paid_cny) return null;
  const fen = (v) => {
    const [i, f = ""] = String(v || "0").split(".");
    return BigInt(i) * 100n + BigInt((f + "00").slice(0, 2));
  };
  let left = fen(o.paid_cny);
  for (const r of story.refunds || []) if (r.status !== "failed") left -= fen(r.amount_cny);
  for (const r of story.refund_requests || []) if ((r.state || r.status) === "pending_approval") left -= fen(r.amount_cny);
  if (left <= 0n) return null;
  return `${left / 100n}.${(left % 100n).toString().padStart(2, "0")}`;
}

/** Facts of an object of unknown shape: the preferred keys first, `skip` left out, money and times formatted. */
function objectFacts(obj, preferred, skip = []) {
  if (!obj || typeof obj !== "object") return el("p", { class: "muted" }, s("common.none"));
  const keys = [...preferred.filter((k) => k in obj), ...Object.keys(obj).filter((k) => !preferred.includes(k) && !skip.includes(k))];
  const rows = [];
  for (const k of keys) {
    const v = obj[k];
    if (v === null || v === undefined || v === "") continue;
    rows.push([fieldLabel(k), fieldValue(k, v)]);
    if (rows.length >= 12) break;
  }
  return facts(rows);
}

function fieldLabel(k) {
  const known = s(`field.${k}`);
  return known === `field.${k}` ? k.replace(/_cny$/, "").replace(/_/g, " ") : known;
}

function fieldValue(k, v) {
  if (k.endsWith("_cny") && typeof v !== "object") return money(v);
  if ((k.endsWith("_at") || k === "as_of") && typeof v === "string") return when(v);
  if (k === "id" || k.endsWith("_id")) return ident(v);
  if (v && typeof v === "object") {
    if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
    return el("span", { class: "chips" }, Object.entries(v).filter(([, b]) => b !== null && b !== undefined).slice(0, 8).map(([a, b]) =>
      el("span", { class: "chip-s" }, `${fieldLabel(a)}: ${a.endsWith("_cny") ? money(b) : typeof b === "object" ? JSON.stringify(b) : b}`)));
  }
  if (typeof v === "boolean") return v ? s("common.yes") : s("common.no");
  return String(v);
}

function compliance(c) {
  const check = c.check && typeof c.check === "object" ? c.check : {};
  const flagged = !!(c.aml_review ?? check.aml_review);
  const reasons = Array.isArray(check.reasons) ? check.reasons : [];
  return el("div", { dataset: { aml: String(flagged) } },
    el("p", {}, el("span", { class: `badge ${flagged ? "st-review" : "st-ok"}` }, flagged ? s("compliance.review") : s("compliance.clear"))),
    facts([
      [s("compliance.kyc"), c.kyc_level ? label("kyc", c.kyc_level) : null],
      [s("compliance.reasons"), reasons.length ? el("span", { class: "chips" }, reasons.map((r) => el("span", { class: "chip-s" }, label("reason", r)))) : null],
    ]),
    el("p", { class: "muted small" }, s("order.compliance_note")));
}
