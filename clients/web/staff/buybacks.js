// Buy-back inspections: a branch's day of buy-back visits, finding one by the customer's booking code, and the
// teller's inspection: the identity check (the ID's name must match the booking's), then each piece's serial,
// measured weight and condition. The server prices every piece on the locked bid (re-priced when short, refused
// when damaged, false or not the bank's), revokes the original certificate and pays the customer's account of
// record at the bank through the payment backend; this page shows the amount and follows the payout.

import { el, toast } from "../common/ui.js";
import { actorName, bankDay, formatTime, localStrings, money, pickText, queryString, zoneName } from "./format.js";
import { call, currentStaff, may } from "./session.js";
import { s } from "./strings.js";
import { dataTable, dialog, errorText, facts, failure, heading, ident, loading, notice, when } from "./widgets.js";

const S = {
  zh: {
    title: "回购验货",
    intro: "客户凭回购预约码到网点交验本行投资金条、金币。请先核验客户本人有效身份证件（姓名须与预约一致），再逐件录入序列号、实测重量与品相。回购款只付入客户在本行的结算账户，不接受客户提供的其他账号。",
    branch: "网点", day: "日期", find: "按预约码查找", code: "预约码", findBtn: "查找",
    booking: "预约信息", customer: "客户", item: "回购品", quantity: "件数", bid: "锁定回购价（每克纯金属）",
    quoted: "按标准重量估值", lockUntil: "价格锁定至", slot: "时段", status: "状态",
    inspect: "验货录入", idKind: "证件类型", idName: "证件上的姓名", idChecked: "我已核验客户本人有效身份证件",
    piece: "第 {n} 件", serial: "序列号", weight: "实测重量（克）", condition: "品相", nominal: "标准 {g} 克",
    submit: "提交验货并付款", needChecked: "请先核验身份证件并勾选确认", needWeight: "请填写每件的实测重量",
    result: "验货结果", amount: "回购金额", payout: "付款", account: "收款账户（客户本行账户）",
    pieces: "逐件结果", priced: "计价重量", deduction: "扣减", reason: "说明", origin: "原销售订单",
    today: "当日回购", none: "无", retry: "重新付款", retried: "已重新发起付款",
    done: "验货完成：{id}", serialHint: "如 HJ50-261130-XXXXXXXXXX",
    "cond.intact": "完好", "cond.worn": "轻微磨损/无原包装（按每克 2.00 元扣减）", "cond.damaged": "变形/切割/钻孔（拒收）",
    "cond.not_genuine": "未通过真伪检测（拒收）",
    "st.quoted": "待预约", "st.booked": "待验货", "st.accepted": "已验收，待付款", "st.rejected": "已拒收",
    "st.payout_pending": "付款处理中", "st.paid_out": "已付款", "st.payout_failed": "付款失败", "st.cancelled": "已取消",
    "st.expired": "已过期", "st.awaiting_approval": "待主管审批",
    "why.approval_rejected": "主管审批未通过，回购品退还客户",
    waitingApproval: "金额超过双人复核限额：须由验货人以外的主管在“审批”页批准后才会付款。",
    apTitle: "回购付款审批", apIntro: "金额超过双人复核限额的回购付款，须由验货人以外的主管批准后才发往支付系统；驳回则不回购，回购品退还客户，序列号释放。",
    apNone: "没有待审批的回购付款。", apWaiting: "{n} 笔回购付款待审批。", inspectedBy: "验货人", inspectedAt: "验货时间",
    approve: "批准付款", reject: "驳回", own: "本人验货，须由另一位主管审批（双人复核）",
    confirmTitle: "批准回购付款", confirmBody: "回购 {id}：{amount} 付入 {customer} 的本行账户，验货人 {who}。",
    rejectTitle: "驳回回购付款", rejectReason: "驳回原因", needReason: "请填写驳回原因。",
    approved: "已批准，付款已发出。", rejectedToast: "已驳回，不予回购。",
    "why.weight_short_repriced": "短重，按实测重量计价", "why.weight_short": "短重超过 1%，拒收",
    "why.weight_over": "重量异常偏重，拒收", "why.damaged": "损坏，拒收", "why.not_genuine": "未通过真伪检测，拒收",
    "why.serial_invalid": "序列号无效（校验位不符）", "why.serial_missing": "缺少序列号",
    "why.serial_other_product": "序列号与回购品不符", "why.serial_repeated": "序列号重复",
    "why.serial_refunded": "该序列号已随退款退回本行", "why.serial_bought_back": "该序列号已被本行回购",
    "note.ours": "本行售出", "note.transferred": "本行售出（已转赠）", "note.not_found": "未找到本行证书",
    "note.refunded": "原订单已退款", "note.bought_back": "已回购",
    "err.name_mismatch": "证件姓名与预约姓名不一致，请勿回购。此次核验已记入审计日志。",
    "err.buyback_code_wrong": "本网点没有与此预约码对应的待验货回购。",
    "err.quote_expired": "该回购的锁定价格已过期，请客户重新询价预约。",
    "kind.resident_id": "居民身份证", "kind.passport": "护照", "kind.hk_macao_permit": "港澳居民来往内地通行证",
    "kind.taiwan_permit": "台湾居民来往大陆通行证", "kind.foreign_permanent_id": "外国人永久居留身份证",
  },
  en: {
    title: "Buy-back inspections",
    intro: "Customers bring the bank's investment bars and coins with their buy-back booking code. Check the customer's own ID first (the name must match the booking's), then enter each piece's serial, measured weight and condition. The money goes only to the customer's account of record at the bank; no other account number is taken.",
    branch: "Branch", day: "Day", find: "Find by booking code", code: "Booking code", findBtn: "Find",
    booking: "Booking", customer: "Customer", item: "Item", quantity: "Pieces", bid: "Locked bid (per gram of pure metal)",
    quoted: "Value at nominal weight", lockUntil: "Price locked until", slot: "Slot", status: "Status",
    inspect: "Inspection", idKind: "ID document", idName: "Name on the ID", idChecked: "I checked the customer's own valid ID document",
    piece: "Piece {n}", serial: "Serial number", weight: "Measured weight (g)", condition: "Condition", nominal: "nominal {g} g",
    submit: "Record inspection and pay", needChecked: "Check the ID document and tick the box first", needWeight: "Enter each piece's measured weight",
    result: "Inspection result", amount: "Buy-back amount", payout: "Payout", account: "Paid to (customer's account at the bank)",
    pieces: "Pieces", priced: "Priced weight", deduction: "Deduction", reason: "Note", origin: "Original sale",
    today: "Buy-backs of the day", none: "None", retry: "Pay again", retried: "Payout sent again",
    done: "Inspection recorded: {id}", serialHint: "e.g. HJ50-261130-XXXXXXXXXX",
    "cond.intact": "Intact", "cond.worn": "Worn / no original packaging (2.00 CNY per gram deducted)",
    "cond.damaged": "Bent, cut or drilled (refused)", "cond.not_genuine": "Failed the authenticity test (refused)",
    "st.quoted": "quoted", "st.booked": "awaiting inspection", "st.accepted": "accepted, payout due", "st.rejected": "rejected",
    "st.payout_pending": "payout in progress", "st.paid_out": "paid out", "st.payout_failed": "payout failed",
    "st.cancelled": "cancelled", "st.expired": "expired", "st.awaiting_approval": "awaiting a manager's approval",
    "why.approval_rejected": "not approved by the manager: the pieces go back",
    waitingApproval: "Above the four-eyes limit: a manager other than the inspector approves on the Approvals page before anything is paid.",
    apTitle: "Buy-back payouts to approve", apIntro: "A buy-back payout above the four-eyes limit reaches the payment backend only after a manager other than the inspector approves it; a rejection buys nothing: the pieces go back and their serials are released.",
    apNone: "No buy-back payouts are waiting.", apWaiting: "{n} buy-back payout(s) waiting for approval.", inspectedBy: "Inspected by", inspectedAt: "Inspected at",
    approve: "Approve payout", reject: "Reject", own: "Your own inspection: another manager approves (four eyes)",
    confirmTitle: "Approve the buy-back payout", confirmBody: "Buy-back {id}: {amount} to the account of {customer} at the bank, inspected by {who}.",
    rejectTitle: "Reject the buy-back payout", rejectReason: "Why", needReason: "Give a reason for the rejection.",
    approved: "Approved: the payout was sent.", rejectedToast: "Rejected: nothing is bought.",
    "why.weight_short_repriced": "short: priced on the measured weight", "why.weight_short": "short by over 1%: refused",
    "why.weight_over": "heavier than it should be: refused", "why.damaged": "damaged: refused",
    "why.not_genuine": "failed the authenticity test: refused", "why.serial_invalid": "invalid serial (check symbol)",
    "why.serial_missing": "serial missing", "why.serial_other_product": "serial of another product",
    "why.serial_repeated": "serial entered twice", "why.serial_refunded": "this serial came back to the bank with a refund",
    "why.serial_bought_back": "this serial was bought back already",
    "note.ours": "sold by the bank", "note.transferred": "sold by the bank (given on)", "note.not_found": "no certificate of ours",
    "note.refunded": "original sale refunded", "note.bought_back": "bought back",
    "err.name_mismatch": "The name on the ID does not match the booking's: do not buy. This check is in the audit log.",
    "err.buyback_code_wrong": "No buy-back awaiting inspection at this branch has this code.",
    "err.quote_expired": "This buy-back's locked price has expired: the customer asks for a new quote.",
    "kind.resident_id": "Resident ID card", "kind.passport": "Passport", "kind.hk_macao_permit": "Hong Kong/Macao permit",
    "kind.taiwan_permit": "Taiwan permit", "kind.foreign_permanent_id": "Foreign permanent resident ID",
  },
};
const KINDS = ["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id"];
const CONDITIONS = ["intact", "worn", "damaged", "not_genuine"];
const STATUS_CLASS = { awaiting_approval: "pending", paid_out: "paid", payout_pending: "pending", accepted: "pending", booked: "pending", payout_failed: "failed", rejected: "rejected", expired: "expired", cancelled: "cancelled", quoted: "created" };

const p = localStrings(S);
const badge = (status) => el("span", { class: `badge st-${STATUS_CLASS[status] || status}`, dataset: { buyback: status } }, p(`st.${status}`));
const explain = (ex) => (S.en[`err.${ex?.code}`] ? p(`err.${ex.code}`) : errorText(ex));
const dayOf = (branch, date) => call(`/api/staff/buybacks${queryString({ branch, date })}`);
const lookup = (branch, code) => call(`/api/staff/buybacks/lookup${queryString({ branch, code })}`);
const inspect = (body) => call("/api/staff/buybacks/inspect", { method: "POST", body });
const approvals = (state) => call(`/api/staff/buybacks/approvals${queryString({ state })}`);
const approvePayout = (id) => call(`/api/staff/buybacks/${encodeURIComponent(id)}/approve`, { method: "POST", body: {} });
const rejectPayout = (id, reason) => call(`/api/staff/buybacks/${encodeURIComponent(id)}/reject`, { method: "POST", body: { reason } });
const payAgain = (id) => call(`/api/staff/buybacks/${encodeURIComponent(id)}/payout`, { method: "POST", body: {} });

const view = { branch: null, date: null, branches: [] };

export async function renderBuybacks(main) {
  view.date = view.date || bankDay();
  const result = el("div", { id: "buybacks-result", "aria-live": "polite" });
  main.replaceChildren(heading(p("title"), el("span", { class: "muted small" }, zoneName())), el("p", { class: "muted" }, p("intro")), result);
  result.replaceChildren(loading());
  try {
    view.branches = (await call("/api/branches")).branches;
    if (!view.branches.some((b) => b.id === view.branch)) view.branch = view.branches[0]?.id || null;
  } catch (e) {
    result.replaceChildren(failure(e, () => renderBuybacks(main)));
    return;
  }
  const select = el("select", { id: "buybacks-branch" }, view.branches.map((b) => el("option", { value: b.id }, `${pickText(b.city)} · ${pickText(b.name)}`)));
  select.value = view.branch || "";
  const date = el("input", { type: "date", id: "buybacks-date", value: view.date });
  const list = el("div", { id: "buybacks-list" });
  const desk = el("div", { id: "buyback-desk" });
  select.addEventListener("change", () => { view.branch = select.value; desk.replaceChildren(); load(); });
  date.addEventListener("change", () => { view.date = date.value || bankDay(); load(); });
  result.replaceChildren(
    el("div", { class: "filters" },
      el("label", { class: "field" }, el("span", {}, p("branch")), select),
      el("label", { class: "field" }, el("span", {}, p("day")), date)),
    findForm(desk, () => load()), desk, el("h2", {}, p("today")), list);

  async function load() {
    list.replaceChildren(loading());
    try {
      list.replaceChildren(dayTable((await dayOf(view.branch, view.date)).buybacks, load));
    } catch (e) {
      list.replaceChildren(failure(e, load));
    }
  }
  await load();
}

function findForm(desk, after) {
  const code = el("input", { id: "buyback-code", type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "20", placeholder: "XXXXX-XXXXX", class: "code-input" });
  const err = el("p", { class: "error-text", role: "alert", id: "buyback-find-error" });
  const form = el("form", { class: "card-s", id: "buyback-find", novalidate: true },
    el("h2", {}, p("find")),
    el("div", { class: "filters" }, el("label", { class: "field" }, el("span", {}, p("code")), code),
      el("button", { class: "btn btn-gold", type: "submit", id: "buyback-find-submit" }, p("findBtn"))), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    desk.replaceChildren(loading());
    try {
      const b = await lookup(view.branch, code.value.trim());
      desk.replaceChildren(bookingCard(b), may("fulfil_orders") && b.status === "booked" ? inspectForm(b, code.value.trim(), desk, after) : "");
    } catch (ex) {
      desk.replaceChildren();
      err.textContent = explain(ex);
    }
  });
  return form;
}

function bookingCard(b) {
  return el("section", { class: "card-s", id: "buyback-booking", dataset: { buyback: b.id } }, el("h2", {}, p("booking")), facts([
    [p("customer"), `${b.customer_name || "—"} · ${b.phone}`],
    [p("item"), `${b.product} / ${b.variant}`],
    [p("quantity"), String(b.quantity)],
    [p("bid"), `${money(b.bid_cny_per_g)} / g (${b.metal})`],
    [p("quoted"), money(b.quoted_cny)],
    [p("slot"), b.slot ? formatTime(b.slot, { seconds: false }) : "—"],
    [p("lockUntil"), b.lock_until ? formatTime(b.lock_until, { seconds: false }) : "—"],
    [p("status"), badge(b.status)],
  ]));
}

function pieceRow(i, b) {
  const serial = el("input", { type: "text", class: "code-input", dataset: { piece: String(i), field: "serial" }, autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "40", placeholder: p("serialHint") });
  const weight = el("input", { type: "text", inputmode: "decimal", dataset: { piece: String(i), field: "weight" }, autocomplete: "off", maxlength: "12", placeholder: p("nominal", { g: b.nominal_weight_g }) });
  const cond = el("select", { dataset: { piece: String(i), field: "condition" } }, CONDITIONS.map((c) => el("option", { value: c }, p(`cond.${c}`))));
  return { serial, weight, cond, node: el("fieldset", { class: "filters piece" }, el("legend", {}, p("piece", { n: i + 1 })),
    el("label", { class: "field grow" }, el("span", {}, p("serial")), serial),
    el("label", { class: "field" }, el("span", {}, p("weight")), weight),
    el("label", { class: "field" }, el("span", {}, p("condition")), cond)) };
}

function inspectForm(b, code, desk, after) {
  const kind = el("select", { id: "buyback-kind" }, KINDS.map((k) => el("option", { value: k }, p(`kind.${k}`))));
  const name = el("input", { id: "buyback-name", type: "text", autocomplete: "off", maxlength: "100" });
  const checked = el("input", { id: "buyback-checked", type: "checkbox" });
  const rows = Array.from({ length: b.quantity }, (_, i) => pieceRow(i, b));
  const err = el("p", { class: "error-text", role: "alert", id: "buyback-error" });
  const submit = el("button", { class: "btn btn-gold", type: "submit", id: "buyback-submit" }, p("submit"));
  const form = el("form", { class: "card-s", id: "buyback-inspect", novalidate: true },
    el("h2", {}, p("inspect")),
    el("div", { class: "filters" },
      el("label", { class: "field" }, el("span", {}, p("idKind")), kind),
      el("label", { class: "field" }, el("span", {}, p("idName")), name)),
    el("label", { class: "check" }, checked, el("span", {}, ` ${p("idChecked")}`)),
    ...rows.map((r) => r.node), err, el("div", { class: "btn-row" }, submit));
  checked.addEventListener("change", () => { err.textContent = ""; });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!checked.checked) {
      err.textContent = p("needChecked");
      checked.focus();
      return;
    }
    const pieces = rows.map((r) => ({ serial: r.serial.value.trim() || null, weight_g: r.weight.value.trim(), condition: r.cond.value }));
    if (pieces.some((x) => !/^\d{1,7}(\.\d{1,3})?$/.test(x.weight_g))) {
      err.textContent = p("needWeight");
      return;
    }
    submit.disabled = true;
    try {
      const done = await inspect({ branch: view.branch, code, id_checked: true, id_name: name.value.trim(), id_kind: kind.value, pieces });
      toast(p("done", { id: done.id }));
      desk.replaceChildren(resultCard(done));
      after();
      follow(done, desk, after);
    } catch (ex) {
      err.textContent = explain(ex);
      submit.disabled = false;
    }
  });
  return form;
}

/** Re-reads the buy-back's own day (that of its booked slot: a customer may come on another day than the one
 * the desk shows) until the payout is final (the backend's notification arrives within seconds). */
async function follow(done, desk, after) {
  const day = done.slot ? bankDay(new Date(done.slot)) : view.date;
  for (let i = 0; i < 20; i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    if (!desk.isConnected) return;
    let b;
    try {
      b = (await dayOf(done.branch || view.branch, day)).buybacks.find((x) => x.id === done.id);
    } catch {
      return;
    }
    if (!b) return;
    desk.replaceChildren(resultCard(b));
    if (!["accepted", "payout_pending"].includes(b.status)) {
      after();
      return;
    }
  }
}

function resultCard(b) {
  const kind = b.status === "paid_out" ? "ok" : ["rejected", "payout_failed"].includes(b.status) ? "bad" : b.status === "awaiting_approval" ? "warn" : "info";
  return el("section", { class: "card-s", id: "buyback-outcome", dataset: { buyback: b.id, status: b.status } },
    el("h2", {}, p("result")),
    notice(kind, `${p(`st.${b.status}`)} · ${p("amount")} ${money(b.amount_cny)}`),
    b.status === "awaiting_approval" ? el("p", { class: "muted", id: "buyback-waiting" }, p("waitingApproval")) : null,
    facts([
      [p("customer"), `${b.customer_name || "—"} · ${b.phone}`],
      [p("amount"), el("strong", { id: "buyback-amount" }, money(b.amount_cny))],
      [p("payout"), badge(b.status)],
      [p("account"), b.account_masked || "—"],
      [p("reason"), b.rejection_reason ? b.rejection_reason.split(", ").map((r) => p(`why.${r}`)).join("；") : null],
    ]),
    el("h3", {}, p("pieces")), piecesTable(b.pieces));
}

function piecesTable(pieces) {
  return dataTable([
    { label: p("serial"), cell: (x) => ident(x.serial) },
    { label: p("weight"), num: true, cell: (x) => `${x.weight_g} g` },
    { label: p("priced"), num: true, cell: (x) => (x.priced_weight_g ? `${x.priced_weight_g} g` : "—") },
    { label: p("condition"), cell: (x) => p(`cond.${x.condition}`).split("（")[0].split(" (")[0] },
    { label: p("deduction"), num: true, cell: (x) => (x.deduction_fen ? money(x.deduction_cny) : "—") },
    { label: p("amount"), num: true, cell: (x) => money(x.amount_cny) },
    { label: p("origin"), cell: (x) => el("span", {}, x.original_order_id ? ident(x.original_order_id, { href: `#/orders/${encodeURIComponent(x.original_order_id)}` }) : "—", el("div", { class: "muted small" }, p(`note.${x.certificate_note || "not_found"}`))) },
    { label: p("reason"), cell: (x) => (x.reason ? p(`why.${x.reason}`) : "—") },
  ], pieces, { empty: p("none") });
}

function dayTable(rows, after) {
  const columns = [
    { label: p("slot"), cell: (r) => (r.slot ? formatTime(r.slot, { seconds: false, zone: false }) : "—") },
    { label: "ID", cell: (r) => ident(r.id) },
    { label: p("customer"), cell: (r) => el("span", {}, r.customer_name || "—", el("div", { class: "muted small" }, r.phone)) },
    { label: p("item"), cell: (r) => `${r.product} / ${r.variant} × ${r.quantity}` },
    { label: p("quoted"), num: true, cell: (r) => money(r.quoted_cny) },
    { label: p("amount"), num: true, cell: (r) => (r.inspected_at ? money(r.amount_cny) : "—") },
    { label: p("status"), cell: (r) => badge(r.status) },
  ];
  if (may("fulfil_orders")) {
    columns.push({ label: p("payout"), cell: (r) => (["payout_failed", "accepted"].includes(r.status)
      ? el("button", { class: "btn btn-small", type: "button", dataset: { act: "payout" }, onclick: async (e) => {
        e.target.disabled = true;
        try {
          await payAgain(r.id);
          toast(p("retried"));
        } catch (ex) {
          toast(errorText(ex));
        }
        after();
      } }, p("retry"))
      : r.account_masked || "—") });
  }
  return dataTable(columns, rows, { empty: p("none"), rowAttrs: (r) => ({ dataset: { buyback: r.id, status: r.status } }) });
}

// -- four eyes: the manager's queue of large payouts (shown on the Approvals page) --------------------------------

/** Buy-back payouts waiting for a second person, with approve / reject (never on one's own inspection). */
export async function renderBuybackApprovals(box) {
  const list = el("div", { id: "buyback-approvals-list", "aria-live": "polite" });
  const reload = () => load();
  box.replaceChildren(heading(p("apTitle"), el("button", { class: "btn btn-small", type: "button", onclick: reload }, s("common.refresh"))),
    el("p", { class: "muted" }, p("apIntro")), list);
  async function load() {
    list.replaceChildren(loading());
    try {
      const rows = (await approvals("pending_approval")).buybacks;
      list.replaceChildren(rows.length ? notice("warn", p("apWaiting", { n: rows.length })) : notice("ok", p("apNone")),
        approvalsTable(rows, reload));
    } catch (e) {
      list.replaceChildren(failure(e, reload));
    }
  }
  await load();
}

function approvalsTable(rows, after) {
  return dataTable([
    { label: p("inspectedAt"), cell: (r) => when(r.inspected_at) },
    { label: "ID", cell: (r) => ident(r.id) },
    { label: p("customer"), cell: (r) => el("span", {}, r.customer_name || "—", el("div", { class: "muted small" }, r.phone)) },
    { label: p("item"), cell: (r) => el("span", { class: "nowrap" }, `${r.variant} × ${r.pieces.filter((x) => x.accepted).length}`) },
    { label: p("amount"), num: true, cell: (r) => el("strong", {}, money(r.amount_cny)) },
    { label: p("inspectedBy"), cell: (r) => `${actorName(r.inspected_by)} · ${r.branch || "—"}` },
    { label: p("status"), cell: (r) => badge(r.status) },
    { label: "", cell: (r) => decision(r, after) },
  ], rows, { empty: p("apNone"), rowAttrs: (r) => ({ dataset: { buyback: r.id, status: r.status } }) });
}

function decision(r, after) {
  if (r.status !== "awaiting_approval" || !may("approve_payout")) return "—";
  if (r.inspected_by === currentStaff()?.name) return el("span", { class: "four-eyes muted small", dataset: { reason: "four_eyes" } }, p("own"));
  const approve = el("button", { class: "btn btn-small btn-gold", type: "button", dataset: { act: "approve-payout" } }, p("approve"));
  const reject = el("button", { class: "btn btn-small", type: "button", dataset: { act: "reject-payout" } }, p("reject"));
  approve.addEventListener("click", () => confirmApprove(r, after));
  reject.addEventListener("click", () => rejectDialog(r, after));
  return el("span", { class: "btn-row tight" }, approve, reject);
}

const summary = (r) => p("confirmBody", { id: r.id, amount: money(r.amount_cny), customer: r.customer_name || "—", who: actorName(r.inspected_by) });

function confirmApprove(r, after) {
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "button", id: "payout-approve-confirm" }, p("approve"));
  const dlg = dialog(el("div", { class: "form-dlg" }, el("h2", {}, p("confirmTitle")), el("p", {}, summary(r)),
    el("ul", { class: "piece-list" }, r.pieces.filter((x) => x.accepted).map((x) => el("li", {}, ident(x.serial), ` · ${x.priced_weight_g || x.weight_g} g · ${money(x.amount_cny)}`))),
    err, el("div", { class: "btn-row" }, ok)), p("confirmTitle"));
  ok.focus();
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      await approvePayout(r.id);
      dlg.close();
      toast(p("approved"));
      after();
    } catch (e) {
      ok.disabled = false;
      err.textContent = errorText(e);
    }
  });
}

function rejectDialog(r, after) {
  const reason = el("textarea", { id: "payout-reject-reason", rows: "3", maxlength: "200" });
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-small", type: "submit", id: "payout-reject-confirm" }, p("reject"));
  const form = el("form", { class: "form-dlg", novalidate: true }, el("h2", {}, p("rejectTitle")), el("p", {}, summary(r)),
    el("label", { class: "field" }, el("span", {}, p("rejectReason")), reason), err, el("div", { class: "btn-row" }, ok));
  const dlg = dialog(form, p("rejectTitle"));
  reason.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      err.textContent = p("needReason");
      return;
    }
    ok.disabled = true;
    try {
      await rejectPayout(r.id, reason.value.trim());
      dlg.close();
      toast(p("rejectedToast"));
      after();
    } catch (e2) {
      ok.disabled = false;
      err.textContent = errorText(e2);
    }
  });
}
