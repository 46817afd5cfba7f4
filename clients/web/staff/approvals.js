// Refund requests waiting for a second person (four eyes): the manager's queue with approve and reject. The
// requester's own requests are listed too but cannot be approved by them, and the row says why. Below them, the
// buy-back payouts above the four-eyes limit (buybacks.js), under the same rule.

import { el, toast } from "../common/ui.js";
import { renderBuybackApprovals } from "./buybacks.js";
import { actorName, money, zoneName } from "./format.js";
import { approveRefund, currentStaff, may, refundRequests, rejectRefund } from "./session.js";
import { roleLabel, s } from "./strings.js";
import { dataTable, dialog, errorText, failure, heading, ident, loading, moneyCell, notice, statusBadge, when } from "./widgets.js";

const nameOf = (a) => (typeof a === "string" ? a : a?.name || "");

/** Refund requests (the approval queue's rows, and an order's own); `decide` adds the approve/reject cell. */
export function requestsTable(rows, { decide = null, withOrder = false } = {}) {
  const columns = [{ label: s("col.requested_at"), cell: (r) => when(r.requested_at || r.created_at) }];
  if (withOrder) columns.push({ label: s("col.order"), cell: (r) => ident(r.order_id, { href: `#/orders/${encodeURIComponent(r.order_id)}` }) });
  columns.push(
    { label: s("col.amount"), num: true, cell: (r) => moneyCell(r.amount_cny) },
    { label: s("col.reason"), cell: (r) => r.reason || "—" },
    { label: s("col.requested_by"), cell: (r) => el("span", {}, actorName(r.requested_by), r.requested_role ? el("span", { class: "muted small" }, ` · ${roleLabel(r.requested_role)}`) : null) },
    { label: s("col.state"), cell: (r) => statusBadge(r.state || r.status, "request") },
    { label: s("col.decided_by"), cell: (r) => r.decided_by ? el("span", {}, actorName(r.decided_by), r.decision_reason ? el("div", { class: "muted small" }, r.decision_reason) : null) : "—" },
  );
  if (decide) columns.push({ label: s("col.actions"), cell: (r) => decide(r) });
  return dataTable(columns, rows, { empty: s("approvals.none"), rowAttrs: (r) => ({ dataset: { request: r.id, order: r.order_id || "", state: r.state || r.status } }) });
}

/** Approve / reject for a pending request, or why this member cannot (their own request: four eyes). */
export function decisionCell(r, after) {
  if ((r.state || r.status) !== "pending_approval" || !may("approve_refund")) return "—";
  if (nameOf(r.requested_by) === currentStaff()?.name) {
    return el("span", { class: "four-eyes muted small", dataset: { reason: "four_eyes" } }, s("approvals.own"));
  }
  const approve = el("button", { class: "btn btn-small btn-gold", type: "button", dataset: { act: "approve" } }, s("approvals.approve"));
  const reject = el("button", { class: "btn btn-small", type: "button", dataset: { act: "reject" } }, s("approvals.reject"));
  approve.addEventListener("click", () => confirmApprove(r, after));
  reject.addEventListener("click", () => rejectDialog(r, after));
  return el("span", { class: "btn-row tight" }, approve, reject);
}

function confirmApprove(r, after) {
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "button", id: "approve-confirm" }, s("approvals.approve"));
  const dlg = dialog(el("div", { class: "form-dlg" },
    el("h2", {}, s("approvals.confirm_title")),
    el("p", {}, s("approvals.confirm_body", { amount: money(r.amount_cny), order: r.order_id, who: actorName(r.requested_by) })),
    r.reason ? el("p", { class: "muted" }, s("col.reason"), ": ", r.reason) : null,
    err, el("div", { class: "btn-row" }, ok)), s("approvals.confirm_title"));
  ok.focus();
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      await approveRefund(r.id);
      dlg.close();
      toast(s("approvals.approved"));
      after();
    } catch (e) {
      ok.disabled = false;
      err.textContent = errorText(e);
    }
  });
}

function rejectDialog(r, after) {
  const reason = el("textarea", { id: "reject-reason", rows: "3", maxlength: "200" });
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-small", type: "submit", id: "reject-confirm" }, s("approvals.reject"));
  const form = el("form", { class: "form-dlg", novalidate: true },
    el("h2", {}, s("approvals.reject_title")),
    el("p", {}, s("approvals.confirm_body", { amount: money(r.amount_cny), order: r.order_id, who: actorName(r.requested_by) })),
    el("label", { class: "field" }, el("span", {}, s("approvals.reject_reason")), reason), err, el("div", { class: "btn-row" }, ok));
  const dlg = dialog(form, s("approvals.reject_title"));
  reason.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      err.textContent = s("approvals.need_reason");
      return;
    }
    ok.disabled = true;
    try {
      await rejectRefund(r.id, reason.value.trim());
      dlg.close();
      toast(s("approvals.rejected"));
      after();
    } catch (e2) {
      ok.disabled = false;
      err.textContent = errorText(e2);
    }
  });
}

export async function renderApprovals(main) {
  const result = el("div", { id: "approvals-result", "aria-live": "polite" });
  const reload = () => load();
  const payouts = el("section", { id: "buyback-approvals" });
  main.replaceChildren(
    heading(s("nav.approvals"), el("span", { class: "muted small" }, s("common.times_in", { zone: zoneName() })),
      el("button", { class: "btn btn-small", type: "button", onclick: reload }, s("common.refresh"))),
    el("p", { class: "muted" }, s("approvals.intro")),
    result, may("approve_payout") ? payouts : "");
  if (may("approve_payout")) renderBuybackApprovals(payouts);
  async function load() {
    result.replaceChildren(loading());
    try {
      const reply = await refundRequests("pending_approval");
      const rows = reply.refund_requests || reply.requests || reply.items || [];
      result.replaceChildren(
        rows.length ? notice("warn", s("approvals.waiting", { n: rows.length })) : notice("ok", s("approvals.empty")),
        requestsTable(rows, { withOrder: true, decide: (r) => decisionCell(r, reload) }));
    } catch (e) {
      result.replaceChildren(failure(e, reload));
    }
  }
  await load();
}
