// Pick-ups: a branch's day (its pick-ups by slot and its advisory appointments), the hand-over against the
// customer's pick-up code AND the identity check (the teller ticks that the ID was checked and types the name on
// it; the server refuses a name that differs from the order's and records both in the audit log), and the
// branch's shelves (on hand, reserved, free), which a manager counts (adjust_stock). Times are the bank's.

import { el, toast } from "../common/ui.js";
import { bankDay, formatTime, localStrings, money, pickText, queryString, zoneName } from "./format.js";
import { call, may } from "./session.js";
import { dataTable, dialog, errorText, failure, heading, ident, loading, notice, statusBadge } from "./widgets.js";

const S = {
  zh: {
    title: "网点自提",
    intro: "按网点查看当日自提与理财预约。交付前请核验客户本人有效身份证件，证件姓名须与订单一致。",
    branch: "网点",
    day: "日期",
    handover: "凭自提码交付",
    code: "自提码",
    idKind: "证件类型",
    idName: "证件上的姓名",
    idChecked: "我已核验客户本人有效身份证件",
    submit: "核验并交付",
    needChecked: "请先核验身份证件并勾选确认",
    done: "已交付：订单 {order}（{name}）",
    pickups: "当日自提",
    appointments: "理财预约",
    stock: "网点库存",
    slot: "时段",
    order: "订单",
    customer: "客户",
    item: "商品",
    amount: "金额",
    orderStatus: "订单状态",
    pickup: "自提状态",
    by: "交付柜员",
    topic: "事项",
    state: "状态",
    product: "商品",
    onHand: "在库",
    reserved: "已预留",
    free: "可售",
    count: "盘点",
    countTitle: "盘点 {branch} · {product} / {variant}",
    countNew: "实际在库数量",
    counted: "已更新在库数量",
    none: "无",
    extended: "已顺延",
    "st.booked": "待提货",
    "st.handed_over": "已交付",
    "st.released": "已释放",
    "st.refunded": "已退款",
    "kind.resident_id": "居民身份证",
    "kind.passport": "护照",
    "kind.hk_macao_permit": "港澳居民来往内地通行证",
    "kind.taiwan_permit": "台湾居民来往大陆通行证",
    "kind.foreign_permanent_id": "外国人永久居留身份证",
  },
  en: {
    title: "Branch pick-ups",
    intro: "A branch's pick-ups and advisory appointments for the day. Check the customer's own ID before handing over: the name on it must match the order's.",
    branch: "Branch",
    day: "Day",
    handover: "Hand over by pick-up code",
    code: "Pick-up code",
    idKind: "ID document",
    idName: "Name on the ID",
    idChecked: "I checked the customer's own valid ID document",
    submit: "Check and hand over",
    needChecked: "Check the ID document and tick the box first",
    done: "Handed over: order {order} ({name})",
    pickups: "Pick-ups",
    appointments: "Advisory appointments",
    stock: "Branch stock",
    slot: "Slot",
    order: "Order",
    customer: "Customer",
    item: "Item",
    amount: "Amount",
    orderStatus: "Order",
    pickup: "Pick-up",
    by: "Handed over by",
    topic: "Topic",
    state: "Status",
    product: "Product",
    onHand: "On hand",
    reserved: "Reserved",
    free: "Free",
    count: "Count",
    countTitle: "Count {branch} · {product} / {variant}",
    countNew: "Pieces on hand",
    counted: "On-hand count updated",
    none: "None",
    extended: "moved once",
    "st.booked": "waiting",
    "st.handed_over": "handed over",
    "st.released": "released",
    "st.refunded": "refunded",
    "kind.resident_id": "Resident ID card",
    "kind.passport": "Passport",
    "kind.hk_macao_permit": "Hong Kong/Macao permit",
    "kind.taiwan_permit": "Taiwan permit",
    "kind.foreign_permanent_id": "Foreign permanent resident ID",
  },
};
const KINDS = ["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id"];

const p = localStrings(S);

const dayOf = (branch, date) => call(`/api/staff/pickups${queryString({ branch, date })}`);
const branchStock = (branch) => call(`/api/staff/branches/stock${queryString({ branch })}`);
const handOver = (body) => call("/api/staff/pickups/handover", { method: "POST", body });
const countShelf = (body) => call("/api/staff/branches/stock", { method: "PUT", body });

const view = { branch: null, date: null, branches: [] };

export async function renderPickups(main) {
  view.date = view.date || bankDay();
  const result = el("div", { id: "pickups-result", "aria-live": "polite" });
  main.replaceChildren(heading(p("title"), el("span", { class: "muted small" }, zoneName())), el("p", { class: "muted" }, p("intro")), result);
  result.replaceChildren(loading());
  try {
    const stock = await branchStock(null);
    view.branches = stock.branches;
    if (!view.branches.some((b) => b.id === view.branch)) view.branch = view.branches[0]?.id || null;
  } catch (e) {
    result.replaceChildren(failure(e, () => renderPickups(main)));
    return;
  }
  const select = el("select", { id: "pickups-branch" }, view.branches.map((b) => el("option", { value: b.id }, `${pickText(b.city)} · ${pickText(b.name)}`)));
  select.value = view.branch || "";
  const date = el("input", { type: "date", id: "pickups-date", value: view.date });
  const reload = () => load();
  select.addEventListener("change", () => { view.branch = select.value; reload(); });
  date.addEventListener("change", () => { view.date = date.value || bankDay(); reload(); });
  const controls = el("div", { class: "filters" },
    el("label", { class: "field" }, el("span", {}, p("branch")), select),
    el("label", { class: "field" }, el("span", {}, p("day")), date));
  const handover = may("fulfil_orders") ? handOverForm(reload) : null;
  const lists = el("div", { id: "pickups-lists" });
  result.replaceChildren(controls, handover || "", lists);

  async function load() {
    lists.replaceChildren(loading());
    try {
      const [day, shelves] = await Promise.all([dayOf(view.branch, view.date), branchStock(view.branch)]);
      lists.replaceChildren(
        el("h2", {}, p("pickups")), pickupsTable(day.pickups),
        el("h2", {}, p("appointments")), appointmentsTable(day.appointments),
        el("h2", {}, p("stock")), stockTable(shelves.stock, reload));
    } catch (e) {
      lists.replaceChildren(failure(e, reload));
    }
  }
  await load();
}

function handOverForm(after) {
  const code = el("input", { id: "handover-code", type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "20", placeholder: "XXXXX-XXXXX", class: "code-input" });
  const kind = el("select", { id: "handover-kind" }, KINDS.map((k) => el("option", { value: k }, p(`kind.${k}`))));
  const name = el("input", { id: "handover-name", type: "text", autocomplete: "off", maxlength: "100" });
  const checked = el("input", { id: "handover-checked", type: "checkbox" });
  const err = el("p", { class: "error-text", role: "alert", id: "handover-error" });
  const out = el("div", { id: "handover-result", "aria-live": "polite" });
  const submit = el("button", { class: "btn btn-gold", type: "submit", id: "handover-submit" }, p("submit"));
  const form = el("form", { class: "panel handover", id: "handover-form", novalidate: true },
    el("h2", {}, p("handover")),
    el("div", { class: "filters" },
      el("label", { class: "field" }, el("span", {}, p("code")), code),
      el("label", { class: "field" }, el("span", {}, p("idKind")), kind),
      el("label", { class: "field" }, el("span", {}, p("idName")), name)),
    el("label", { class: "check" }, checked, el("span", {}, ` ${p("idChecked")}`)),
    err, el("div", { class: "btn-row" }, submit), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    out.replaceChildren();
    if (!checked.checked) {
      err.textContent = p("needChecked");
      checked.focus();
      return;
    }
    submit.disabled = true;
    try {
      const line = await handOver({ branch: view.branch, code: code.value.trim(), id_checked: true, id_name: name.value.trim(), id_kind: kind.value });
      out.replaceChildren(notice("ok", p("done", { order: line.order_id, name: line.customer_name || "" })));
      toast(p("done", { order: line.order_id, name: line.customer_name || "" }));
      form.reset();
      after();
    } catch (ex) {
      err.textContent = errorText(ex);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function pickupsTable(rows) {
  return dataTable([
    { label: p("slot"), cell: (r) => formatTime(r.slot, { seconds: false, zone: false }) },
    { label: p("order"), cell: (r) => ident(r.order_id, { href: `#/orders/${encodeURIComponent(r.order_id)}` }) },
    { label: p("customer"), cell: (r) => el("span", {}, r.customer_name || "—", el("div", { class: "muted small" }, r.phone)) },
    { label: p("item"), cell: (r) => `${r.product} / ${r.variant} × ${r.quantity}` },
    { label: p("amount"), num: true, cell: (r) => money(r.amount_cny) },
    { label: p("orderStatus"), cell: (r) => statusBadge(r.order_status) },
    { label: p("pickup"), cell: (r) => el("span", { class: `badge st-${r.status}`, dataset: { pickup: r.status } }, p(`st.${r.status}`), r.extended ? el("span", { class: "muted small" }, ` · ${p("extended")}`) : null) },
    { label: p("by"), cell: (r) => r.handed_over_by || "—" },
  ], rows, { empty: p("none"), rowAttrs: (r) => ({ dataset: { order: r.order_id, pickup: r.status } }) });
}

function appointmentsTable(rows) {
  return dataTable([
    { label: p("slot"), cell: (r) => formatTime(r.slot, { seconds: false, zone: false }) },
    { label: p("customer"), cell: (r) => r.name || "—" },
    { label: p("topic"), cell: (r) => r.topic.replace(/_/g, " ") },
    { label: p("state"), cell: (r) => r.status },
  ], rows, { empty: p("none") });
}

function stockTable(rows, after) {
  const columns = [
    { label: p("product"), cell: (r) => `${r.product} / ${r.variant}` },
    { label: p("onHand"), num: true, cell: (r) => String(r.on_hand) },
    { label: p("reserved"), num: true, cell: (r) => String(r.reserved) },
    { label: p("free"), num: true, cell: (r) => String(r.free) },
  ];
  if (may("adjust_stock")) {
    columns.push({ label: p("count"), cell: (r) => el("button", { class: "btn btn-small", type: "button", dataset: { act: "count" }, onclick: () => countDialog(r, after) }, p("count")) });
  }
  return dataTable(columns, rows.filter((r) => r.on_hand || r.reserved), { empty: p("none"), rowAttrs: (r) => ({ dataset: { shelf: `${r.product}/${r.variant}` } }) });
}

function countDialog(r, after) {
  const input = el("input", { type: "number", min: String(r.reserved), step: "1", value: String(r.on_hand), id: "count-on-hand" });
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "submit", id: "count-confirm" }, p("count"));
  const title = p("countTitle", { branch: r.branch, product: r.product, variant: r.variant });
  const form = el("form", { class: "form-dlg", novalidate: true }, el("h2", {}, title),
    el("label", { class: "field" }, el("span", {}, p("countNew")), input), err, el("div", { class: "btn-row" }, ok));
  const dlg = dialog(form, title);
  input.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ok.disabled = true;
    try {
      await countShelf({ branch: r.branch, product: r.product, variant: r.variant, on_hand: Number.parseInt(input.value, 10) });
      dlg.close();
      toast(p("counted"));
      after();
    } catch (ex) {
      ok.disabled = false;
      err.textContent = errorText(ex);
    }
  });
}
