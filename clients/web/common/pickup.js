// Branch pick-up at checkout (docs/commerce.md, "Branch pick-up"): the customer ticks "pick up at a branch",
// chooses the branch (address, hours), a day and a 30-minute slot with places left (GET /api/branches,
// GET /api/branches/{id}/slots), and gives the name on their ID; the branch and slot ride in the order body
// (`branch`, `pickup_slot`), which reserves the piece at that branch and the slot's place. After payment the
// pick-up code shows through the order's token (GET /api/orders/{id}/pickup): the teller hands over against it
// and the customer's ID. Times are the branch's, Asia/Shanghai.

import { api } from "./api.js";
import { getLang, pick } from "./i18n.js";
import { el, showError, toast } from "./ui.js";

const TZ = "Asia/Shanghai";
const DAYS_SHOWN = 7;
const S = {
  zh: {
    toggle: "到网点自提（预约时段）",
    branch: "自提网点",
    day: "日期",
    slots: "时段",
    left: "余 {n}",
    full: "已满",
    none: "当天无可预约时段",
    stock: "该网点有货 {n} 件",
    noStock: "该网点暂无此商品，请选择其他网点",
    name: "提货人姓名（与身份证件一致）",
    needSlot: "请选择自提网点和时段",
    needName: "请填写提货人姓名（与身份证件一致）",
    code: "自提码",
    at: "请于 {slot} 到 {branch} 提货",
    bring: "请携带本人有效身份证件，柜员核验证件与订单姓名后交付。",
    extended: "已顺延一次；再次错过将自动退款。",
    handed: "已交付",
    refunded: "未按时提货，订单已退款",
    phone: "电话",
  },
  en: {
    toggle: "Pick up at a branch (book a slot)",
    branch: "Branch",
    day: "Day",
    slots: "Time",
    left: "{n} left",
    full: "full",
    none: "No slots left on this day",
    stock: "{n} in stock at this branch",
    noStock: "Not in stock at this branch: choose another",
    name: "Name on your ID (the teller checks it)",
    needSlot: "Choose a branch and a time to pick up",
    needName: "Enter the name on your ID",
    code: "Pick-up code",
    at: "Pick up at {branch}, {slot}",
    bring: "Bring your ID: the teller checks it against the name on the order before handing over.",
    extended: "Moved once already; missing it again refunds the order.",
    handed: "Handed over",
    refunded: "Not picked up in time: the order was refunded",
    phone: "Phone",
  },
};

function s(key, vars = {}) {
  const table = S[getLang() === "en" ? "en" : "zh"];
  return (table[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** YYYY-MM-DD of the branch's calendar day `offset` days from today. */
export function branchDay(offset = 0, now = Date.now()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(now + offset * 86400000));
}

/** A slot's start in the branch's time, e.g. "11/24 周二 10:00". */
export function slotLabel(iso, { withDay = true } = {}) {
  const lang = getLang() === "en" ? "en-GB" : "zh-CN";
  const opts = withDay
    ? { timeZone: TZ, month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false }
    : { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false };
  return new Intl.DateTimeFormat(lang, opts).format(new Date(iso));
}

function dayLabel(day) {
  const lang = getLang() === "en" ? "en-GB" : "zh-CN";
  return new Intl.DateTimeFormat(lang, { timeZone: TZ, month: "2-digit", day: "2-digit", weekday: "short" }).format(new Date(`${day}T12:00:00+08:00`));
}

export const listBranches = () => api("/api/branches");
export const branchSlots = (branch, { date, product, variant, purpose = "pickup" }) => {
  const q = new URLSearchParams({ date, purpose });
  if (product) q.set("product", product);
  if (variant) q.set("variant", variant);
  return api(`/api/branches/${encodeURIComponent(branch)}/slots?${q}`);
};
export const readPickup = (orderId, token) =>
  api(`/api/orders/${encodeURIComponent(orderId)}/pickup`, { headers: { Authorization: `Bearer ${token}` } });

/**
 * The pick-up chooser. `getItem()` gives `{product, variant}`. `orderExtra()` is what the order body carries;
 * `ready()` says (and tells the customer) whether a chosen pick-up is complete; `customerName()` the name to
 * send with the customer.
 */
export function pickupBox({ getItem, branch: preferred = null }) {
  const state = { on: false, branches: [], branch: preferred, day: branchDay(0), slot: null, available: null };
  const toggle = el("input", { type: "checkbox", dataset: { role: "pickup-toggle" } });
  const select = el("select", { dataset: { role: "branch-select" }, "aria-label": s("branch") });
  const address = el("p", { class: "muted small", dataset: { role: "branch-address" } });
  const days = el("div", { class: "pickup-days", role: "group", dataset: { role: "pickup-days" } });
  const slots = el("div", { class: "pickup-slots", role: "group", dataset: { role: "pickup-slots" } });
  const stock = el("p", { class: "small", dataset: { role: "pickup-stock" } });
  const name = el("input", { type: "text", maxlength: "100", autocomplete: "name", dataset: { role: "pickup-name" } });
  const form = el("div", { class: "pickup-form", hidden: true },
    el("label", { class: "field" }, el("span", { class: "muted", text: s("branch") }), select), address,
    el("p", { class: "muted", text: s("day") }), days, el("p", { class: "muted", text: s("slots") }), slots, stock,
    el("label", { class: "field" }, el("span", { class: "muted", text: s("name") }), name));
  const box = el("section", { class: "pickup-box", dataset: { role: "pickup-box" } },
    el("label", { class: "pickup-toggle" }, toggle, el("span", { text: ` ${s("toggle")}` })), form);

  function renderBranch() {
    const b = state.branches.find((x) => x.id === state.branch);
    address.replaceChildren();
    if (b) address.append(el("span", { text: pick(b.address) }), el("br"), el("span", { text: `${s("phone")} ${b.phone}` }));
  }

  function renderDays() {
    days.replaceChildren();
    for (let i = 0; i < DAYS_SHOWN; i++) {
      const d = branchDay(i);
      days.append(el("button", {
        type: "button", class: "btn btn-small", "aria-pressed": String(d === state.day), dataset: { day: d },
        text: dayLabel(d), onclick: () => { state.day = d; state.slot = null; renderDays(); loadSlots(); },
      }));
    }
  }

  async function loadSlots() {
    slots.replaceChildren();
    stock.textContent = "";
    if (!state.branch) return;
    const item = getItem();
    try {
      const day = await branchSlots(state.branch, { date: state.day, product: item.product, variant: item.variant });
      state.available = day.available;
      stock.textContent = day.available ? s("stock", { n: day.available }) : s("noStock");
      stock.classList.toggle("error", !day.available);
      const open = day.slots.filter((x) => x.bookable);
      if (!open.length) slots.append(el("p", { class: "muted small", text: s("none") }));
      for (const x of day.slots) {
        if (!x.bookable && new Date(x.start) < new Date()) continue;
        slots.append(el("button", {
          type: "button", class: "btn btn-small slot", disabled: !x.bookable || !day.available,
          "aria-pressed": String(x.start === state.slot), dataset: { slot: x.start },
          text: `${slotLabel(x.start, { withDay: false })} · ${x.bookable ? s("left", { n: x.left }) : s("full")}`,
          onclick: () => { state.slot = x.start; for (const b of slots.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.slot === x.start)); },
        }));
      }
    } catch (e) {
      showError(e);
    }
  }

  async function open() {
    if (!state.branches.length) {
      try {
        state.branches = (await listBranches()).branches;
      } catch (e) {
        showError(e);
        return;
      }
      select.replaceChildren(...state.branches.map((b) => el("option", { value: b.id, text: `${pick(b.city)} · ${pick(b.name)}` })));
      if (!state.branches.some((b) => b.id === state.branch)) state.branch = state.branches[0]?.id || null;
      select.value = state.branch || "";
    }
    renderBranch();
    renderDays();
    await loadSlots();
  }

  toggle.addEventListener("change", () => {
    state.on = toggle.checked;
    form.hidden = !state.on;
    if (state.on) open();
  });
  select.addEventListener("change", () => { state.branch = select.value; state.slot = null; renderBranch(); loadSlots(); });

  return {
    el: box,
    get active() { return state.on; },
    refresh: () => (state.on ? loadSlots() : null),
    orderExtra: () => (state.on && !box.hidden && state.branch && state.slot ? { branch: state.branch, pickup_slot: state.slot } : {}),
    customerName: () => (state.on && !box.hidden ? name.value.trim() || null : null),
    /** Cars are not picked up at a branch: the box hides (and sends nothing). */
    setAvailable(yes) {
      box.hidden = !yes;
    },
    ready() {
      if (!state.on || box.hidden) return true;
      if (!state.branch || !state.slot || !state.available) {
        toast(s("needSlot"), { error: true });
        return false;
      }
      if (!name.value.trim()) {
        name.setAttribute("aria-invalid", "true");
        name.focus();
        toast(s("needName"), { error: true });
        return false;
      }
      name.removeAttribute("aria-invalid");
      return true;
    },
  };
}

/** The order's pick-up (code once paid) as a panel; empty and hidden when the order has no pick-up. */
export function pickupPanel(orderId, token) {
  const panel = el("div", { class: "pickup-panel", hidden: true, dataset: { role: "pickup-panel" } });
  readPickup(orderId, token).then((p) => {
    if (!p) return; // delivered: no pick-up (204)
    const branch = pick(p.branch.name);
    panel.replaceChildren(...[
      p.code ? el("p", { class: "muted", text: s("code") }) : null,
      p.code ? el("p", { class: "pickup-code", dataset: { role: "pickup-code" }, text: p.code }) : null,
      p.status === "booked" ? el("p", { text: s("at", { branch, slot: slotLabel(p.slot) }) }) : null,
      p.status === "booked" ? el("p", { class: "muted small", text: pick(p.branch.address) }) : null,
      p.status === "booked" && p.code ? el("p", { class: "muted small", text: s("bring") }) : null,
      p.extended && p.status === "booked" ? el("p", { class: "small", text: s("extended") }) : null,
      p.status === "handed_over" ? el("p", { text: s("handed") }) : null,
      p.status === "refunded" ? el("p", { text: s("refunded") }) : null,
    ].filter(Boolean));
    panel.hidden = false;
  }, () => {});
  return panel;
}
