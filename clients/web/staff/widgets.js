// The console's building blocks: dense data tables, status badges, fact lists, paging, notices.

import { el, openDialog } from "../common/ui.js";
import { money, timeCell } from "./format.js";
import { s, statusLabel } from "./strings.js";

/**
 * A table. `columns`: [{label, cell(row) -> Node|string, num?: true (right-aligned figures), key?}].
 * `rowAttrs(row)` adds attributes (data-*) to each row. An empty list shows `empty` in one row.
 */
export function dataTable(columns, rows, { empty = s("common.none"), caption = null, rowAttrs = null, cls = "" } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null }, c.label)));
  const body = rows.length
    ? rows.map((r) => el("tr", rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => el("td", { class: c.num ? "num" : c.cls || null }, c.cell(r) ?? "—"))))
    : [el("tr", { class: "empty" }, el("td", { colspan: String(columns.length) }, empty))];
  return el("div", { class: `table-wrap ${cls}` },
    el("table", { class: "data" }, caption ? el("caption", {}, caption) : null, el("thead", {}, head), el("tbody", {}, body)));
}

/** An order status as a coloured badge with its label in the page's language. */
export function statusBadge(status, kind = "order") {
  return el("span", { class: `badge st-${status}`, dataset: { status } }, statusLabel(status, kind));
}

/** A definition list of facts: [[label, value(Node|string)], ...]; rows whose value is null are left out. */
export function facts(rows) {
  return el("dl", { class: "facts" },
    rows.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/** A titled panel of the order's story. */
export function card(title, ...children) {
  return el("section", { class: "card-s", "aria-label": title }, el("h3", {}, title), ...children);
}

/** "1–20 of 57" with previous/next buttons; `go(offset)` loads another page. */
export function pager(offset, limit, total, go) {
  const from = total ? offset + 1 : 0;
  const to = Math.min(offset + limit, total);
  return el("nav", { class: "pager", "aria-label": s("common.paging") },
    el("span", { class: "muted", role: "status" }, s("common.range", { from, to, total })),
    el("button", { class: "btn btn-small", type: "button", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, s("common.prev")),
    el("button", { class: "btn btn-small", type: "button", disabled: offset + limit >= total, onclick: () => go(offset + limit) }, s("common.next")));
}

/** A banner: kind is "ok", "warn", "bad" or "info". */
export function notice(kind, text, extra = null) {
  return el("div", { class: `notice notice-${kind}`, role: kind === "bad" ? "alert" : "status" }, el("span", { class: "notice-text" }, text), extra);
}

export function loading() {
  return el("div", { class: "loading", role: "status" }, el("span", { class: "spinner-s", "aria-hidden": "true" }), s("common.loading"));
}

/** An error from a call as a banner with a retry button. */
export function failure(err, retry) {
  return notice("bad", errorText(err), retry ? el("button", { class: "btn btn-small", type: "button", onclick: retry }, s("common.retry")) : null);
}

/** A clear message for an ApiError: the known codes in the page's language, else the server's message. */
export function errorText(err) {
  const code = err?.code;
  const known = code ? s(`error.${code}`, { msg: err?.message || "" }) : null;
  if (known && known !== `error.${code}`) return known;
  if (err?.status === 0) return s("error.network");
  return s("error.other", { msg: err?.message || String(err) });
}

export function moneyCell(v) {
  return el("span", { class: "money" }, money(v));
}

export function when(iso) {
  return timeCell(iso);
}

/** A monospace identifier, long ones shortened in the middle with the whole id as its tooltip. */
export function ident(id, { href = null } = {}) {
  if (!id) return "—";
  const text = String(id);
  const attrs = { class: "ident", title: text };
  return href ? el("a", { ...attrs, href }, text) : el("span", attrs, text);
}

/** A section's heading row: title, optional zone note and actions on the right. */
export function heading(title, ...actions) {
  return el("header", { class: "section-head" }, el("h2", { tabindex: "-1" }, title), el("span", { class: "spacer" }), ...actions);
}

/**
 * A modal dialog (common/ui.js: Escape and the close button close it, focus returns) whose close button sits in
 * the content's own button row, left of its main action; `label` names it for screen readers.
 */
const openDialogs = new Set();

export function dialog(content, label) {
  const dlg = openDialog(content, { onClose: () => openDialogs.delete(dlg) });
  openDialogs.add(dlg);
  dlg.box.setAttribute("aria-label", label);
  const closeRow = dlg.box.querySelector(":scope > .btn-row:last-child");
  const row = content.querySelector(".btn-row");
  if (closeRow && row) {
    row.prepend(...closeRow.children);
    closeRow.remove();
  }
  return dlg;
}

/** Closes every open dialog (the session ended: nothing of it stays on the screen). */
export function closeDialogs() {
  for (const dlg of [...openDialogs]) dlg.close();
}
