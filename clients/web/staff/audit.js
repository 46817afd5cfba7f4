// The audit log: every staff action and money movement, hash-chained; the chain's verification on top.

import { el } from "../common/ui.js";
import { actorName, money, zoneName } from "./format.js";
import { auditLog, verifyAudit } from "./session.js";
import { actionLabel, roleLabel, s, statusLabel } from "./strings.js";
import { dataTable, failure, heading, ident, loading, notice, pager, when } from "./widgets.js";

const PAGE = 50;
const filter = { subject: "", offset: 0 };

/** Audit entries; `subjectColumn` adds what each acted on (the log; an order's trail leaves it out). */
export function auditTable(rows, { subjectColumn = false } = {}) {
  const columns = [
    { label: s("col.seq"), num: true, cell: (a) => (a.seq !== undefined ? String(a.seq) : "—") },
    { label: s("col.time"), cell: (a) => when(a.at) },
    { label: s("col.actor"), cell: actorCell },
    { label: s("col.action"), cls: "nowrap", cell: (a) => actionLabel(a.action || a.kind) },
  ];
  if (subjectColumn) columns.push({ label: s("col.subject"), cell: (a) => subjectLink(a.subject) });
  columns.push({ label: s("col.details"), cell: (a) => details(a.after ?? a.data, a.before) });
  return dataTable(columns, rows, {
    empty: s("common.none"),
    rowAttrs: (a) => ({ dataset: { action: a.action || a.kind || "", actor: typeof a.actor === "string" ? a.actor : a.actor?.name || "" } }),
  });
}

const NON_STAFF = ["customer", "system", "payment_backend"];

/** Staff as "name · role"; the customer, the system and the payment backend by their label. */
function actorCell(a) {
  const name = typeof a.actor === "string" ? a.actor : a.actor?.name;
  if (NON_STAFF.includes(name)) return el("span", { class: "actor muted" }, roleLabel(name));
  return el("span", { class: "actor nowrap" }, el("strong", {}, actorName(a.actor)), a.role ? el("span", { class: "muted small" }, ` · ${roleLabel(a.role)}`) : null);
}

function subjectLink(subject) {
  if (!subject) return "—";
  const m = /^order:(.+)$/.exec(subject);
  return m ? ident(subject, { href: `#/orders/${encodeURIComponent(m[1])}` }) : ident(subject);
}

function fenMoney(v) {
  try {
    const n = BigInt(v);
    const a = n < 0n ? -n : n;
    return money(`${n < 0n ? "-" : ""}${a / 100n}.${(a % 100n).toString().padStart(2, "0")}`);
  } catch (_) {
    return String(v);
  }
}

/** An entry's data as short "key: value" chips, money in ¥ (fen fields too), a status change as "a → b". */
function details(after, before) {
  const chips = [];
  if (before && typeof before === "object" && before.status && after && after.status) {
    chips.push(el("span", { class: "chip-s" }, `${statusLabel(before.status)} → ${statusLabel(after.status)}`));
  }
  if (after && typeof after === "object") {
    for (const [k, v] of Object.entries(after)) {
      if (v === null || v === undefined || typeof v === "object" || (k === "status" && chips.length)) continue;
      const shown = k.endsWith("_fen") ? fenMoney(v) : k.endsWith("_cny") ? money(v)
        : typeof v === "boolean" ? s(v ? "common.yes" : "common.no")
          : k === "state" ? statusLabel(v, "request") : k === "status" ? statusLabel(v) : String(v);
      chips.push(el("span", { class: "chip-s" }, `${fieldName(k)}: ${shown}`));
      if (chips.length >= 6) break;
    }
  }
  return chips.length ? el("span", { class: "chips" }, chips) : "—";
}

function fieldName(k) {
  const bare = k.replace(/_fen$|_cny$/, "");
  for (const key of [`field.${k}`, `field.${bare}`]) {
    const known = s(key);
    if (known !== key) return known;
  }
  return bare.replace(/_/g, " ");
}

/** The chain check as a banner: verified (n entries) or broken at an entry, with the problem. */
export function verification(v) {
  if (v.ok) {
    return notice("ok", s("audit.verified", { n: v.entries ?? "?" }));
  }
  return notice("bad", s("audit.broken", { seq: v.first_bad_seq ?? "?", problem: v.problem || "" }));
}

export async function renderAudit(main) {
  const verifyBox = el("div", { id: "audit-verify", "aria-live": "polite" });
  const subject = el("input", { type: "search", id: "audit-subject", value: filter.subject, placeholder: s("audit.subject_ph"), autocomplete: "off" });
  const form = el("form", { class: "filters", role: "search", "aria-label": s("audit.filter") },
    el("label", { class: "grow" }, el("span", {}, s("col.subject")), subject),
    el("button", { class: "btn btn-small btn-gold", type: "submit" }, s("orders.apply")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filter.subject = subject.value.trim();
    filter.offset = 0;
    load();
  });
  const result = el("div", { id: "audit-result", "aria-live": "polite" });
  const verifyButton = el("button", { class: "btn btn-small", type: "button", id: "audit-verify-run", onclick: () => verify() }, s("audit.verify"));
  main.replaceChildren(heading(s("nav.audit"), el("span", { class: "muted small" }, s("common.times_in", { zone: zoneName() })), verifyButton),
    verifyBox, form, result);

  async function verify() {
    verifyBox.replaceChildren(loading());
    try {
      verifyBox.replaceChildren(verification(await verifyAudit()));
    } catch (e) {
      verifyBox.replaceChildren(failure(e, verify));
    }
  }
  async function load() {
    result.replaceChildren(loading());
    try {
      const reply = await auditLog({ subject: filter.subject, limit: PAGE, offset: filter.offset });
      const rows = reply.entries || reply.audit || reply.items || [];
      // filtered to one subject, its column would repeat it on every row
      result.replaceChildren(auditTable(rows, { subjectColumn: !filter.subject }),
        pager(filter.offset, PAGE, reply.total ?? rows.length, (off) => {
          filter.offset = off;
          load();
        }));
    } catch (e) {
      result.replaceChildren(failure(e, load));
    }
  }
  await Promise.all([verify(), load()]);
}
