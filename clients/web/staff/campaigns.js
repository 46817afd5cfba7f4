// Campaigns (managers, MANAGE_CAMPAIGNS): the list with each campaign's remaining budget and what coupons took
// off, a form to create one (it waits for a second manager), approve (not one's own: four eyes), reject and
// disable. Every decision is in the audit log (subject campaign:<id>). Contract: docs/commerce.md, "Coupons and
// points".

import { getLang } from "../common/i18n.js";
import { el, toast } from "../common/ui.js";
import { call, currentStaff } from "./session.js";
import { dataTable, failure, heading, ident, loading, moneyCell, notice, when } from "./widgets.js";

const T = {
  zh: {
    intro: "经理创建活动，另一位经理批准后生效（四眼原则）。预算以条件更新扣减，永不为负；每次发券均记入审计日志。",
    create: "新建活动", name: "名称", kind: "类型", amount_off: "立减", percent_off: "折扣", amount: "立减金额（元）",
    percent: "折扣比例（%）", cap: "封顶（元）", budget: "总预算（元）", limit: "每位客户限领", min: "最低消费（元）",
    starts: "开始", ends: "结束", ecny: "仅限数字人民币", public: "在展厅页面展示（一键领取）", products: "限定商品（逗号分隔，可空）",
    submit: "提交审批", state: "状态", remaining: "剩余", redeemed: "已抵扣", code: "优惠码", by: "创建 / 批准",
    actions: "操作", approve: "批准", reject: "驳回", disable: "停用", own: "本人创建，需另一位经理批准", none: "暂无活动",
    created: "已提交，等待另一位经理批准", done: "已更新", window: "有效期", give: "优惠",
    "st.pending_approval": "待批准", "st.active": "进行中", "st.rejected": "已驳回", "st.disabled": "已停用",
  },
  en: {
    intro: "A manager creates a campaign; it goes live when another manager approves it (four eyes). The budget only moves by conditional updates and never goes below zero; every coupon granted is in the audit log.",
    create: "New campaign", name: "Name", kind: "Kind", amount_off: "Amount off", percent_off: "Percent off", amount: "Amount off (CNY)",
    percent: "Percent off (%)", cap: "Cap (CNY)", budget: "Total budget (CNY)", limit: "Coupons per customer", min: "Minimum spend (CNY)",
    starts: "Starts", ends: "Ends", ecny: "e-CNY wallet only", public: "Show on the showroom pages (one-click claim)", products: "Products only (comma-separated, optional)",
    submit: "Submit for approval", state: "State", remaining: "Remaining", redeemed: "Taken off", code: "Code", by: "Created / approved",
    actions: "Actions", approve: "Approve", reject: "Reject", disable: "Disable", own: "Your own: another manager approves", none: "No campaigns yet",
    created: "Submitted: waiting for another manager's approval", done: "Updated", window: "Valid", give: "Gives",
    "st.pending_approval": "Pending approval", "st.active": "Active", "st.rejected": "Rejected", "st.disabled": "Disabled",
  },
};
const c = (key) => T[getLang() === "en" ? "en" : "zh"][key] ?? key;

const toLocalInput = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

function gives(r) {
  const what = r.kind === "percent_off" ? `${r.percent}% ≤ ¥${r.cap_cny}` : `−¥${r.amount_off_cny}`;
  return `${what}${r.min_spend_cny !== "0.00" ? ` · ≥ ¥${r.min_spend_cny}` : ""}${r.ecny_only ? ` · ${c("ecny")}` : ""}`;
}

function form(after) {
  const now = new Date();
  const f = (id, attrs = {}) => el("input", { id: `cmp-${id}`, name: id, ...attrs });
  const kind = el("select", { id: "cmp-kind", name: "kind" }, el("option", { value: "amount_off" }, c("amount_off")), el("option", { value: "percent_off" }, c("percent_off")));
  const fields = {
    name: f("name", { type: "text", maxlength: "100", required: true }),
    amount: f("amount", { type: "text", inputmode: "decimal", value: "10.00" }),
    percent: f("percent", { type: "text", inputmode: "decimal", value: "5" }),
    cap: f("cap", { type: "text", inputmode: "decimal", value: "50.00" }),
    budget: f("budget", { type: "text", inputmode: "decimal", value: "1000.00", required: true }),
    limit: f("limit", { type: "text", inputmode: "numeric", value: "1" }),
    min: f("min", { type: "text", inputmode: "decimal", value: "0.00" }),
    starts: f("starts", { type: "datetime-local", value: toLocalInput(now) }),
    ends: f("ends", { type: "datetime-local", value: toLocalInput(new Date(now.getTime() + 7 * 86400000)) }),
    products: f("products", { type: "text" }),
  };
  const ecny = el("input", { type: "checkbox", id: "cmp-ecny" });
  const pub = el("input", { type: "checkbox", id: "cmp-public", checked: true });
  const err = el("p", { class: "error-text", role: "alert" });
  const label = (key, input) => el("label", { class: "field" }, el("span", {}, c(key)), input);
  const percentRow = el("div", { class: "form-row", hidden: true }, label("percent", fields.percent), label("cap", fields.cap));
  const amountRow = el("div", { class: "form-row" }, label("amount", fields.amount));
  kind.addEventListener("change", () => {
    percentRow.hidden = kind.value !== "percent_off";
    amountRow.hidden = kind.value === "percent_off";
  });
  const submit = el("button", { class: "btn btn-gold btn-small", type: "submit", id: "cmp-submit" }, c("submit"));
  const node = el("form", { class: "panel campaign-form", id: "campaign-form", novalidate: true },
    el("h3", {}, c("create")),
    el("div", { class: "form-row" }, label("name", fields.name), label("kind", kind)),
    amountRow, percentRow,
    el("div", { class: "form-row" }, label("budget", fields.budget), label("limit", fields.limit), label("min", fields.min)),
    el("div", { class: "form-row" }, label("starts", fields.starts), label("ends", fields.ends)),
    label("products", fields.products),
    el("label", { class: "check" }, ecny, " ", c("ecny")),
    el("label", { class: "check" }, pub, " ", c("public")),
    err, el("div", { class: "btn-row" }, submit));
  node.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const body = {
      name: fields.name.value.trim(), kind: kind.value, budget_cny: fields.budget.value.trim(),
      per_customer_limit: Number(fields.limit.value) || 1, min_spend_cny: fields.min.value.trim() || "0",
      starts_at: new Date(fields.starts.value).toISOString(), ends_at: new Date(fields.ends.value).toISOString(),
      ecny_only: ecny.checked, public: pub.checked,
      product_ids: fields.products.value.split(",").map((x) => x.trim()).filter(Boolean),
    };
    if (kind.value === "percent_off") Object.assign(body, { percent: fields.percent.value.trim(), cap_cny: fields.cap.value.trim() });
    else body.amount_off_cny = fields.amount.value.trim();
    submit.disabled = true;
    try {
      await call("/api/staff/campaigns", { method: "POST", body });
      toast(c("created"));
      node.reset();
      after();
    } catch (ex) {
      err.textContent = ex.message || String(ex);
    } finally {
      submit.disabled = false;
    }
  });
  return node;
}

function actions(r, after) {
  const me = currentStaff()?.name;
  const act = (state, key, cls = "btn btn-small") => {
    const b = el("button", { class: cls, type: "button", dataset: { act: state } }, c(key));
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await call(`/api/staff/campaigns/${encodeURIComponent(r.id)}/state`, { method: "POST", body: { state } });
        toast(c("done"));
        after();
      } catch (ex) {
        b.disabled = false;
        toast(ex.message || String(ex), { error: true });
      }
    });
    return b;
  };
  const row = [];
  if (r.state === "pending_approval") {
    if (r.created_by === me) row.push(el("span", { class: "four-eyes muted small", dataset: { reason: "four_eyes" } }, c("own")));
    else row.push(act("active", "approve", "btn btn-small btn-gold"));
    row.push(act("rejected", "reject"));
  }
  if (r.state === "active") row.push(act("disabled", "disable"));
  return row.length ? el("span", { class: "btn-row tight" }, ...row) : "—";
}

export async function renderCampaigns(main) {
  const result = el("div", { id: "campaigns-result", "aria-live": "polite" });
  const reload = () => load();
  main.replaceChildren(heading(sectionTitle(),
    el("button", { class: "btn btn-small", type: "button", onclick: reload }, "↻")),
  el("p", { class: "muted" }, c("intro")), result, form(reload));
  async function load() {
    result.replaceChildren(loading());
    try {
      const { campaigns } = await call("/api/staff/campaigns");
      result.replaceChildren(campaigns.length ? dataTable([
        { label: c("name"), cell: (r) => el("span", {}, el("strong", {}, r.name), el("div", { class: "muted small" }, ident(r.id)), el("div", { class: "small" }, `${c("code")} `, el("code", { class: "ident" }, r.code))) },
        { label: c("give"), cell: (r) => el("span", { class: "campaign-gives" }, gives(r)) },
        { label: c("state"), cell: (r) => el("span", { class: `badge st-${r.state === "active" ? "paid" : r.state === "pending_approval" ? "pending_payment" : "cancelled"}`, dataset: { state: r.state } }, c(`st.${r.state}`)) },
        { label: `${c("remaining")} / ${c("budget")}`, num: true, cell: (r) => el("span", { dataset: { role: "remaining" } }, moneyCell(r.remaining_cny), el("div", { class: "muted small" }, moneyCell(r.budget_cny))) },
        { label: c("redeemed"), num: true, cell: (r) => moneyCell(r.redeemed_cny) },
        { label: c("window"), cell: (r) => el("span", { class: "small" }, when(r.starts_at), el("br"), when(r.ends_at)) },
        { label: c("by"), cell: (r) => `${r.created_by} / ${r.decided_by || "—"}` },
        { label: c("actions"), cell: (r) => actions(r, reload) },
      ], campaigns, { rowAttrs: (r) => ({ dataset: { campaign: r.id, state: r.state } }) }) : notice("ok", c("none")));
    } catch (e) {
      result.replaceChildren(failure(e, reload));
    }
  }
  await load();
}

function sectionTitle() {
  return getLang() === "en" ? "Campaigns" : "营销活动";
}
