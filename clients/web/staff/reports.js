// Reports: the day's reconciliation against the payment backend's settlement file (every mismatch classified,
// with what to do about it) and stock by product.

import { getProducts } from "../common/api.js";
import { pick } from "../common/i18n.js";
import { el } from "../common/ui.js";
import { bankDay, fenToCny } from "./format.js";
import { reconciliation, stock } from "./session.js";
import { s } from "./strings.js";
import { dataTable, failure, heading, ident, loading, moneyCell, notice } from "./widgets.js";

let reconDay = null;

/** A side of a mismatch in yuan: `<side>_cny` when the reply has it, else `<side>_fen`. */
function side(m, name) {
  if (m[`${name}_cny`] !== undefined) return m[`${name}_cny`];
  return m[`${name}_fen`] === undefined ? null : fenToCny(m[`${name}_fen`]);
}

function difference(m) {
  const a = m.ours_fen ?? null;
  const b = m.theirs_fen ?? null;
  if (a === null || b === null) return null;
  return fenToCny(BigInt(a) - BigInt(b));
}

function kindCell(m) {
  const kind = m.kind || m.classification || "unknown";
  return el("div", { class: "mismatch-kind" },
    el("span", { class: `badge mk-${kind}`, dataset: { kind } }, s(`recon.kind.${kind}`)),
    el("div", { class: "muted small" }, s(`recon.what.${kind}`)));
}

export async function renderReconciliation(main) {
  if (reconDay === null) reconDay = bankDay();
  const day = el("input", { type: "date", id: "recon-day", value: reconDay, max: bankDay() });
  const form = el("form", { class: "filters", "aria-label": s("recon.pick") },
    el("label", {}, el("span", {}, s("recon.day")), day),
    el("button", { class: "btn btn-small btn-gold", type: "submit", id: "recon-run" }, s("recon.run")));
  const result = el("div", { id: "recon-result", "aria-live": "polite" });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!day.value) return;
    reconDay = day.value;
    load();
  });
  main.replaceChildren(heading(s("nav.reconciliation")), el("p", { class: "muted" }, s("recon.intro")), form, result);

  async function load() {
    result.replaceChildren(loading());
    try {
      const r = await reconciliation(reconDay);
      const mismatches = r.mismatches || [];
      const counts = {};
      for (const m of mismatches) counts[m.kind] = (counts[m.kind] || 0) + 1;
      result.replaceChildren(
        el("div", { class: "tiles" },
          tile(s("recon.matched"), String(r.matched ?? 0), "ok"),
          tile(s("recon.mismatches"), String(mismatches.length), mismatches.length ? "bad" : "ok"),
          ...Object.entries(counts).map(([k, n]) => tile(s(`recon.kind.${k}`), String(n), "warn"))),
        mismatches.length
          ? notice("warn", s("recon.has_mismatches", { n: mismatches.length, day: r.date || reconDay }))
          : notice("ok", s("recon.clean", { day: r.date || reconDay })),
        dataTable([
          { label: s("recon.col.kind"), cell: kindCell },
          { label: s("col.order"), cell: (m) => (m.order_id ? ident(m.order_id, { href: `#/orders/${encodeURIComponent(m.order_id)}` }) : "—") },
          { label: s("recon.col.payment"), cell: (m) => ident(m.payment_id) },
          { label: s("recon.col.refund"), cell: (m) => ident(m.refund_id) },
          { label: s("recon.col.ours"), num: true, cell: (m) => moneyCell(side(m, "ours")) },
          { label: s("recon.col.theirs"), num: true, cell: (m) => moneyCell(side(m, "theirs")) },
          { label: s("recon.col.diff"), num: true, cell: (m) => moneyCell(difference(m)) },
          { label: s("recon.col.note"), cell: (m) => m.note || "—" },
        ], mismatches, { empty: s("recon.none"), rowAttrs: (m) => ({ dataset: { kind: m.kind || "" } }) }),
      );
    } catch (e) {
      result.replaceChildren(failure(e, load));
    }
  }
  await load();
}

function tile(label, value, tone) {
  return el("div", { class: `tile tone-${tone}` }, el("div", { class: "tile-v" }, value), el("div", { class: "tile-k" }, label));
}

// ---- stock ------------------------------------------------------------------------------------------
export async function renderStock(main) {
  const result = el("div", { id: "stock-result", "aria-live": "polite" });
  main.replaceChildren(heading(s("nav.stock"), el("button", { class: "btn btn-small", type: "button", onclick: () => load() }, s("common.refresh"))), result);
  async function load() {
    result.replaceChildren(loading());
    try {
      const [reply, catalog] = await Promise.all([stock(), getProducts().catch(() => [])]);
      const byId = new Map(catalog.map((p) => [p.id, p]));
      const rows = (Array.isArray(reply) ? reply : reply.stock || reply.levels || reply.items || []).map((r) => {
        const p = byId.get(r.product);
        const v = p ? (p.variants || []).find((x) => x.id === r.variant) : null;
        const onHand = Number(r.on_hand ?? r.stock ?? 0);
        const reserved = Number(r.reserved ?? 0);
        return { ...r, productName: p ? pick(p.name) : r.product, variantName: v ? pick(v.name) : r.variant, onHand, reserved,
          available: r.available !== undefined ? Number(r.available) : onHand - reserved };
      });
      rows.sort((a, b) => a.productName.localeCompare(b.productName) || String(a.variantName).localeCompare(String(b.variantName)));
      let last = null;
      result.replaceChildren(dataTable([
        { label: s("stock.product"), cell: (r) => {
          const first = r.product !== last;
          last = r.product;
          return first ? el("strong", {}, r.productName) : "";
        } },
        { label: s("stock.variant"), cell: (r) => r.variantName },
        { label: s("stock.branch"), cell: (r) => r.branch || "—" },
        { label: s("stock.on_hand"), num: true, cell: (r) => String(r.onHand) },
        { label: s("stock.reserved"), num: true, cell: (r) => String(r.reserved) },
        { label: s("stock.available"), num: true, cell: (r) => el("span", { class: r.available <= 0 ? "bad" : r.available <= 2 ? "warn" : "" }, String(r.available)) },
        { label: s("stock.state"), cell: (r) => r.available <= 0 ? el("span", { class: "badge st-out" }, s("stock.out"))
          : r.available <= 2 ? el("span", { class: "badge st-low" }, s("stock.low")) : el("span", { class: "badge st-ok" }, s("stock.ok")) },
      ], rows, { empty: s("stock.none"), rowAttrs: (r) => ({ dataset: { product: r.product, variant: r.variant } }) }));
    } catch (e) {
      result.replaceChildren(failure(e, load));
    }
  }
  await load();
}
