// Sell back (docs/commerce.md, "Buy-back"): the bank's live buy-back price of its own bars and coins, a quote that
// locks it for 10 minutes, then a branch and a slot for the inspection (the price stays locked to the slot) with
// the name on the customer's ID and their mobile number; the booking code shows as text and as a QR code for the
// teller. The buy-back's token stays in the URL fragment (never sent to the server nor in a referrer). The money
// is paid into the customer's own account at the bank after the inspection: the page never asks for a card or an
// account number.

import { api, formatCny } from "../common/api.js";
import { mobileFromInput } from "../common/checkout.js";
import { applyI18n, getLang, installToggles, onLangChange, pick } from "../common/i18n.js";
import { branchDay, listBranches, slotLabel } from "../common/pickup.js";
import { el, showError, toast } from "../common/ui.js";

const S = {
  zh: {
    title: "卖回给银行",
    intro: "本行按实时回购价回购本行销售的投资金条、金币。锁定价格后预约网点验货，验货通过后回购款付入您在本行的账户。",
    bidNow: "今日黄金回购价", perGram: "元/克（纯金）", spot: "销售参考价 {p}", asOf: "报价时间 {t}",
    choose: "选择回购品", item: "回购品", qty: "件数", lock: "锁定回购价", unit: "每件约 {p}",
    locked: "已锁定回购价", lockedBid: "锁定回购价", estimate: "预计回购款", estNote: "按标准重量、品相完好估算，以网点验货为准。",
    bookIn: "请在 {t} 内完成预约，否则需重新询价", expired: "报价已过期，请重新锁定价格。", again: "重新询价",
    branch: "验货网点", day: "日期", slot: "时段", noSlot: "当天无可预约时段", left: "余 {n}", full: "已满",
    name: "姓名（与身份证件一致）", phone: "手机号（本行客户）", book: "预约验货",
    needSlot: "请选择网点和时段", needName: "请填写与身份证件一致的姓名",
    booked: "已预约验货", code: "预约码", showCode: "到网点后向柜员出示此码",
    address: "地址", lockUntilL: "价格锁定至", lockUntil: "价格锁定至 {t}", lockLeft: "锁定剩余 {t}",
    bring: "请携带：本人有效身份证件、回购品（含原包装与证书，如有）。柜员将核验证件、称重并检验品相。",
    payNote: "回购款只付入您在本行开立的账户，无需也不接受提供银行卡号。",
    cancel: "取消预约", cancelled: "已取消", cancelConfirm: "确定取消这次回购预约吗？",
    "st.accepted": "验货通过，正在付款", "st.payout_pending": "验货通过，正在付款", "st.paid_out": "回购款已付入您的本行账户",
    "st.rejected": "验货未通过，回购品已退还", "st.payout_failed": "付款未成功，网点将与您联系", "st.cancelled": "预约已取消",
    "st.expired": "价格锁定已过期", amount: "回购款", account: "收款账户",
    "st.approval_rejected": "本行未批准这笔回购",
    approvalRejectedNote: "验货后，本行复核未批准这笔回购：回购款没有支付，回购品将退还给您。如回购品尚未交还，请携带本人有效身份证件到验货网点取回，并可向网点了解原因；如仍想卖回，可重新询价预约。",
    none: "暂无可回购的产品", otherBids: "其他回购价", "metal.Ag": "白银", "metal.Pt": "铂金",
  },
  en: {
    title: "Sell back to the bank",
    intro: "The bank buys back the investment bars and coins it sold, at its live buy-back price. Lock the price, book an inspection at a branch, and once the pieces pass, the money goes to your account at the bank.",
    bidNow: "Gold buy-back price today", perGram: "CNY/g (pure gold)", spot: "sale price {p}", asOf: "as of {t}",
    choose: "What you are selling", item: "Item", qty: "Pieces", lock: "Lock this price", unit: "about {p} each",
    locked: "Price locked", lockedBid: "Locked buy-back price", estimate: "Estimated amount", estNote: "At nominal weight and intact; the branch's inspection decides.",
    bookIn: "Book within {t} or ask for a new quote", expired: "This quote expired: lock a new price.", again: "New quote",
    branch: "Branch", day: "Day", slot: "Time", noSlot: "No slot left that day", left: "{n} left", full: "full",
    name: "Name (as on your ID)", phone: "Mobile (a customer of the bank)", book: "Book the inspection",
    needSlot: "Choose a branch and a time", needName: "Enter your name as on your ID",
    booked: "Inspection booked", code: "Booking code", showCode: "Show this code to the teller at the branch",
    address: "Address", lockUntilL: "Price locked until", lockUntil: "Price locked until {t}", lockLeft: "{t} left on the lock",
    bring: "Bring your own valid ID and the pieces (with their packaging and certificates, if you have them). The teller checks the ID, weighs and examines each piece.",
    payNote: "The money is paid only into your own account at the bank: no card or account number is asked for or taken.",
    cancel: "Cancel the booking", cancelled: "Cancelled", cancelConfirm: "Cancel this buy-back booking?",
    "st.accepted": "Inspection passed: paying", "st.payout_pending": "Inspection passed: paying", "st.paid_out": "Paid into your account at the bank",
    "st.rejected": "Not accepted at inspection: the pieces were returned", "st.payout_failed": "The payment did not go through: the branch will contact you",
    "st.cancelled": "Booking cancelled", "st.expired": "The price lock expired", amount: "Amount", account: "Paid to",
    "st.approval_rejected": "The bank did not approve this buy-back",
    approvalRejectedNote: "After the inspection, the bank's second review did not approve this buy-back: no money was paid and your pieces go back to you. If you have not got them back yet, take your ID to the branch to collect them, and ask there why; to sell anyway, ask for a new quote and book again.",
    none: "Nothing to buy back right now", otherBids: "Other buy-back prices", "metal.Ag": "Silver", "metal.Pt": "Platinum",
  },
};
const LOCK_DAYS = 3;
const main = document.getElementById("sell-main");
const state = { board: null, choice: null, qty: 1, buyback: null, token: null, branches: [], branch: null, day: branchDay(0), slot: null, timer: null };

function s(key, vars = {}) {
  const table = S[getLang() === "en" ? "en" : "zh"];
  return (table[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}
const auth = () => ({ Authorization: `Bearer ${state.token}` });
const timeLabel = (iso) => slotLabel(iso);
const dl = (rows) => el("dl", { class: "facts-list" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));

function left(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (ms <= 0) return null;
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function keepInFragment() {
  const frag = state.buyback ? `#bb=${encodeURIComponent(state.buyback.id)}&token=${encodeURIComponent(state.token)}` : "";
  history.replaceState(null, "", `${location.pathname}${location.search}${frag}`);
}

function countdown(node, iso, template, onEnd) {
  clearInterval(state.timer);
  const paint = () => {
    const t = left(iso);
    if (t === null) {
      clearInterval(state.timer);
      onEnd();
      return;
    }
    node.textContent = s(template, { t });
  };
  paint();
  state.timer = setInterval(paint, 1000);
}

// ---- the live bid and the quote ---------------------------------------------------------------------------

async function showBoard() {
  clearInterval(state.timer);
  state.buyback = null;
  state.token = null;
  keepInFragment();
  const board = await api("/api/buybacks/prices");
  state.board = board;
  const lines = board.lines;
  if (!state.choice || !lines.some((l) => key(l) === state.choice)) state.choice = lines[0] ? key(lines[0]) : null;
  const items = el("div", { class: "sell-items", role: "group", "aria-label": s("choose") }, lines.map((l) => el("button", {
    type: "button", class: "btn sell-item", "aria-pressed": String(key(l) === state.choice), dataset: { item: key(l) },
    onclick: () => { state.choice = key(l); render(); },
  }, el("span", {}, el("span", { text: pick(l.product_name) }), el("br"), el("span", { class: "muted small", text: pick(l.name) })),
  el("span", { class: "price", text: s("unit", { p: formatCny(l.unit_bid_cny) }) }))));
  const others = Object.entries(board.bid_cny_per_g).filter(([m]) => m !== "Au")
    .map(([m, v]) => `${s(`metal.${m}`)} ${formatCny(v)}/g`).join(" · ");
  const qty = el("output", { id: "sell-qty", text: String(state.qty) });
  const step = (d) => { state.qty = Math.min(10, Math.max(1, state.qty + d)); qty.textContent = String(state.qty); };
  const lock = el("button", { type: "button", class: "btn btn-gold", id: "sell-lock", disabled: !state.choice, text: s("lock"), onclick: () => lockPrice(lock) });
  main.replaceChildren(
    el("section", { class: "panel" }, el("h1", { text: s("title") }), el("p", { class: "muted", text: s("intro") }),
      el("div", { class: "bid-now" }, el("span", { class: "muted", text: s("bidNow") }),
        el("strong", { class: "price big", id: "sell-bid" }, formatCny(board.bid_cny_per_g.Au)), el("span", { class: "muted", text: s("perGram") })),
      el("p", { class: "note", text: `${s("spot", { p: formatCny(board.spot_cny_per_g.Au) })} · ${s("asOf", { t: timeLabel(board.as_of) })}` }),
      others ? el("p", { class: "note", text: `${s("otherBids")}: ${others}` }) : ""),
    el("section", { class: "panel" }, el("h2", { text: s("choose") }), lines.length ? items : el("p", { class: "muted", text: s("none") }),
      el("div", { class: "qty" }, el("span", { class: "muted", text: s("qty") }),
        el("button", { type: "button", class: "btn btn-small", "aria-label": "−", text: "−", onclick: () => step(-1) }), qty,
        el("button", { type: "button", class: "btn btn-small", "aria-label": "+", text: "+", onclick: () => step(1) })),
      el("div", { class: "btn-row" }, lock)));
  function render() {
    for (const b of items.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.item === state.choice));
  }
}

const key = (l) => `${l.product}/${l.variant}`;

async function lockPrice(button) {
  const [product, variant] = state.choice.split("/");
  button.disabled = true;
  try {
    const q = await api("/api/buybacks/quotes", { method: "POST", body: { product, variant, quantity: state.qty } });
    state.buyback = q;
    state.token = q.buyback_token;
    keepInFragment();
    await showQuote();
  } catch (e) {
    button.disabled = false;
    showError(e);
  }
}

function itemName(b) {
  const line = state.board?.lines.find((l) => l.product === b.product && l.variant === b.variant);
  return `${line ? `${pick(line.product_name)} · ${pick(line.name)}` : `${b.product} / ${b.variant}`} × ${b.quantity}`;
}

// ---- booking ------------------------------------------------------------------------------------------------

async function showQuote() {
  const b = state.buyback;
  window.scrollTo(0, 0);
  const count = el("p", { class: "countdown-s", id: "sell-countdown", role: "timer" });
  const branchSel = el("select", { id: "sell-branch" });
  const address = el("p", { class: "note", id: "sell-address" });
  const days = el("div", { class: "day-row", role: "group" });
  const slots = el("div", { class: "slot-grid", role: "group", id: "sell-slots" });
  const name = el("input", { type: "text", id: "sell-name", maxlength: "100", autocomplete: "name" });
  const phone = el("input", { type: "tel", id: "sell-phone", inputmode: "numeric", autocomplete: "tel", maxlength: "13", placeholder: "138 0013 8000" });
  const book = el("button", { type: "button", class: "btn btn-gold", id: "sell-book", text: s("book") });
  main.replaceChildren(
    el("section", { class: "panel", id: "sell-quote" }, el("h1", { text: s("locked") }),
      dl([[s("item"), itemName(b)], [s("lockedBid"), `${formatCny(b.bid_cny_per_g)} / g`],
        [s("estimate"), el("strong", { class: "price", id: "sell-estimate", text: formatCny(b.quoted_cny) })]]),
      el("p", { class: "note", text: s("estNote") }), count),
    el("section", { class: "panel" },
      el("label", { class: "field" }, el("span", { class: "muted", text: s("branch") }), branchSel), address,
      el("p", { class: "muted", text: s("day") }), days, el("p", { class: "muted", text: s("slot") }), slots,
      el("label", { class: "field" }, el("span", { class: "muted", text: s("name") }), name),
      el("label", { class: "field" }, el("span", { class: "muted", text: s("phone") }), phone),
      el("p", { class: "note", text: s("payNote") }), el("div", { class: "btn-row" }, book)));
  countdown(count, b.quote_expires_at, "bookIn", () => {
    count.textContent = s("expired");
    count.classList.add("late");
    book.disabled = true;
    count.after(el("div", { class: "btn-row" }, el("button", { type: "button", class: "btn", text: s("again"), onclick: () => showBoard().catch(showError) })));
  });
  if (!state.branches.length) state.branches = (await listBranches()).branches;
  branchSel.replaceChildren(...state.branches.map((x) => el("option", { value: x.id, text: `${pick(x.city)} · ${pick(x.name)}` })));
  if (!state.branches.some((x) => x.id === state.branch)) state.branch = state.branches[0]?.id || null;
  branchSel.value = state.branch || "";
  const paintBranch = () => {
    const x = state.branches.find((y) => y.id === state.branch);
    address.textContent = x ? `${pick(x.address)} · ${x.phone}` : "";
  };
  const paintDays = () => {
    days.replaceChildren(...Array.from({ length: LOCK_DAYS + 1 }, (_, i) => branchDay(i)).map((d) => el("button", {
      type: "button", class: "btn btn-small", "aria-pressed": String(d === state.day), dataset: { day: d },
      text: new Intl.DateTimeFormat(getLang() === "en" ? "en-GB" : "zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", weekday: "short" }).format(new Date(`${d}T12:00:00+08:00`)),
      onclick: () => { state.day = d; state.slot = null; paintDays(); loadSlots(); },
    })));
  };
  async function loadSlots() {
    slots.replaceChildren();
    if (!state.branch) return;
    try {
      const day = await api(`/api/branches/${encodeURIComponent(state.branch)}/slots?date=${state.day}&purpose=advisory`);
      const limit = Date.now() + LOCK_DAYS * 86400000;
      const shown = day.slots.filter((x) => new Date(x.start) > new Date() && new Date(x.start).getTime() <= limit);
      if (!shown.some((x) => x.bookable)) slots.append(el("p", { class: "muted small", text: s("noSlot") }));
      for (const x of shown) {
        slots.append(el("button", {
          type: "button", class: "btn btn-small", disabled: !x.bookable, "aria-pressed": String(x.start === state.slot), dataset: { slot: x.start },
          text: `${slotLabel(x.start, { withDay: false })} · ${x.bookable ? s("left", { n: x.left }) : s("full")}`,
          onclick: () => { state.slot = x.start; for (const y of slots.querySelectorAll("button")) y.setAttribute("aria-pressed", String(y.dataset.slot === x.start)); },
        }));
      }
    } catch (e) {
      showError(e);
    }
  }
  branchSel.addEventListener("change", () => { state.branch = branchSel.value; state.slot = null; paintBranch(); loadSlots(); });
  book.addEventListener("click", async () => {
    if (!state.branch || !state.slot) {
      toast(s("needSlot"), { error: true });
      return;
    }
    if (!name.value.trim()) {
      name.setAttribute("aria-invalid", "true");
      name.focus();
      toast(s("needName"), { error: true });
      return;
    }
    const mobile = mobileFromInput(phone);
    if (!mobile) return;
    book.disabled = true;
    try {
      state.buyback = await api(`/api/buybacks/${encodeURIComponent(b.id)}/book`, {
        method: "POST", headers: auth(), body: { branch: state.branch, slot: state.slot, customer: { name: name.value.trim(), phone: mobile } },
      });
      await showBooked();
    } catch (e) {
      book.disabled = false;
      showError(e);
    }
  });
  paintBranch();
  paintDays();
  await loadSlots();
}

// ---- booked and after ------------------------------------------------------------------------------------

async function showBooked() {
  const b = state.buyback;
  clearInterval(state.timer);
  window.scrollTo(0, 0);
  if (b.status === "quoted") return showQuote();
  if (!state.branches.length) state.branches = (await listBranches()).branches;
  const branch = state.branches.find((x) => x.id === b.branch);
  if (b.status !== "booked") {
    const rows = [[s("item"), itemName(b)]];
    if (["paid_out", "payout_pending", "accepted"].includes(b.status)) rows.push([s("amount"), el("strong", { class: "price", text: formatCny(b.amount_cny) })]);
    if (b.account_masked) rows.push([s("account"), b.account_masked]);
    // a large payout the bank's second person did not approve: say so (not "not accepted at inspection")
    const notApproved = b.status === "rejected" && b.rejected_at === "approval";
    if (notApproved) rows.push([s("branch"), branch ? pick(branch.name) : b.branch], [s("address"), branch ? pick(branch.address) : "—"]);
    main.replaceChildren(el("section", { class: "panel", id: "sell-status", dataset: { status: b.status } },
      el("h1", { text: s(notApproved ? "st.approval_rejected" : `st.${b.status}`) }), dl(rows),
      notApproved ? el("p", { class: "note", id: "sell-why", text: s("approvalRejectedNote") }) : null,
      el("div", { class: "btn-row" }, el("button", { type: "button", class: "btn", text: s("again"), onclick: () => showBoard().catch(showError) }))));
    return;
  }
  const qr = el("img", { class: "code-qr", id: "sell-qr", alt: `${s("code")} ${b.code}`, width: "240", height: "240" });
  const lockLeft = el("p", { class: "countdown-s", role: "timer" });
  const cancel = el("button", { type: "button", class: "btn btn-ghost", id: "sell-cancel", text: s("cancel") });
  main.replaceChildren(el("section", { class: "panel", id: "sell-booked" },
    el("h1", { text: s("booked") }), el("p", { class: "muted", text: s("showCode") }),
    el("div", { class: "code-big", id: "sell-code", text: b.code }), qr,
    dl([[s("item"), itemName(b)], [s("lockedBid"), `${formatCny(b.bid_cny_per_g)} / g`],
      [s("estimate"), el("strong", { class: "price", text: formatCny(b.quoted_cny) })],
      [s("branch"), branch ? `${pick(branch.name)}` : b.branch], [s("address"), branch ? pick(branch.address) : "—"],
      [s("slot"), timeLabel(b.slot)], [s("lockUntilL"), timeLabel(b.lock_until)]]),
    lockLeft, el("p", { class: "note", text: s("bring") }), el("p", { class: "note", text: s("payNote") }),
    el("div", { class: "btn-row" }, cancel)));
  countdown(lockLeft, b.lock_until, "lockLeft", () => refresh());
  try {
    const resp = await fetch(`/api/buybacks/${encodeURIComponent(b.id)}/code.png`, { headers: auth() });
    if (resp.ok) qr.src = URL.createObjectURL(await resp.blob());
  } catch (_) {
    qr.hidden = true;
  }
  cancel.addEventListener("click", async () => {
    if (!window.confirm(s("cancelConfirm"))) return;
    try {
      state.buyback = await api(`/api/buybacks/${encodeURIComponent(b.id)}/cancel`, { method: "POST", headers: auth(), body: {} });
      await showBooked();
    } catch (e) {
      showError(e);
    }
  });
}

async function refresh() {
  state.buyback = await api(`/api/buybacks/${encodeURIComponent(state.buyback.id)}`, { headers: auth() });
  await showBooked();
}

async function start() {
  applyI18n();
  installToggles();
  const frag = new URLSearchParams(location.hash.slice(1));
  try {
    if (frag.get("bb") && frag.get("token")) {
      state.token = frag.get("token");
      state.buyback = { id: frag.get("bb") };
      state.board = await api("/api/buybacks/prices").catch(() => null);
      await refresh();
    } else {
      await showBoard();
    }
  } catch (e) {
    showError(e);
    if (e.status === 404) await showBoard().catch(showError);
  }
}

onLangChange(() => (state.buyback?.status ? showBooked() : showBoard()).catch(showError));
start();
