// Coupons and points at checkout (docs/commerce.md, "Coupons and points"): the running public campaigns with a
// one-click claim, a coupon-code field, the points to redeem, and the discount lines of the locked quote
// (POST /api/quotes/{id}/discounts) with the total after them. At most one coupon per order, then points.
// The coupon and points ride in the order body (`coupon`, `points`); an e-CNY coupon is paid with the e-CNY
// wallet only (the node refuses other methods with 422 coupon_requires_ecny; the box tells the customer first).

import { api, formatCny } from "./api.js";
import { getLang } from "./i18n.js";
import { el, showError, toast } from "./ui.js";

const S = {
  zh: {
    title: "优惠券与积分",
    code: "优惠码",
    apply: "使用",
    claim: "领取",
    claimed: "已领取",
    points: "使用积分",
    balance: "可用积分 {n}（100 积分 = ¥1.00）",
    payable: "优惠后应付",
    coupon: "优惠券",
    pointsLine: "积分抵扣",
    ecny: "仅限数字人民币支付",
    needEcny: "该优惠券仅限数字人民币支付，请选择数字人民币",
    needPhone: "请先输入手机号码",
    off: "立减 {a}",
    pct: "{p}% 折扣，最高 {a}",
    min: "满 {a} 可用",
  },
  en: {
    title: "Coupons and points",
    code: "Coupon code",
    apply: "Apply",
    claim: "Claim",
    claimed: "Claimed",
    points: "Points to use",
    balance: "{n} points available (100 points = ¥1.00)",
    payable: "To pay after discounts",
    coupon: "Coupon",
    pointsLine: "Points",
    ecny: "e-CNY wallet only",
    needEcny: "This coupon applies only when paying with the e-CNY wallet: choose the e-CNY wallet",
    needPhone: "Enter your mobile number first",
    off: "{a} off",
    pct: "{p}% off, up to {a}",
    min: "from {a}",
  },
};

function s(key, vars = {}) {
  const table = S[getLang() === "en" ? "en" : "zh"];
  return (table[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** What a campaign gives, in words. */
export function campaignText(c) {
  const what = c.kind === "percent_off" ? s("pct", { p: c.percent, a: formatCny(c.cap_cny) }) : s("off", { a: formatCny(c.amount_off_cny) });
  const min = c.min_spend_cny && c.min_spend_cny !== "0.00" ? ` · ${s("min", { a: formatCny(c.min_spend_cny) })}` : "";
  return `${what}${min}${c.ecny_only ? ` · ${s("ecny")}` : ""}`;
}

/**
 * The coupon box: `getPhone()` gives the verified number's digits (or null), `getQuoteId()` the locked quote.
 * Returns {el, refresh(quoteId), orderExtra(), checkMethod(method), lines}.
 */
export function couponBox({ getPhone, getQuoteId, onChange = () => {} }) {
  const state = { coupon: null, points: 0, discounts: null, claimed: new Set() };
  const list = el("div", { class: "coupon-offers", dataset: { role: "coupon-offers" } });
  const code = el("input", { type: "text", id: "coupon-code", maxlength: "40", autocomplete: "off", placeholder: "ABCD EFGH 2345", dataset: { role: "coupon-code" } });
  const points = el("input", { type: "text", id: "coupon-points", inputmode: "numeric", maxlength: "9", value: "0", dataset: { role: "coupon-points" } });
  const balance = el("p", { class: "muted small", dataset: { role: "points-balance" } });
  const lines = el("ul", { class: "discount-lines", dataset: { role: "discount-lines" }, "aria-live": "polite" });
  const apply = el("button", { class: "btn btn-small", type: "button", dataset: { role: "coupon-apply" }, text: s("apply"), onclick: () => refresh() });
  const box = el(
    "section",
    { class: "coupon-box", dataset: { role: "coupon-box" } },
    el("h3", { text: s("title") }),
    list,
    el("label", { class: "field" }, el("span", { class: "muted", text: s("code") }), code),
    el("label", { class: "field" }, el("span", { class: "muted", text: s("points") }), points),
    balance,
    el("div", { class: "btn-row" }, apply),
    lines,
  );

  async function loadOffers() {
    try {
      const { campaigns } = await api("/api/campaigns");
      list.replaceChildren(
        ...campaigns.map((c) =>
          el(
            "div",
            { class: "coupon-offer", dataset: { campaign: c.id } },
            el("div", {}, el("strong", { text: c.name }), el("div", { class: "muted small", text: campaignText(c) })),
            el("button", { class: "btn btn-small btn-gold", type: "button", dataset: { role: "coupon-claim" }, text: state.claimed.has(c.id) ? s("claimed") : s("claim"), onclick: (e) => claim(c, e.currentTarget) }),
          ),
        ),
      );
    } catch (_) {
      list.replaceChildren(); // no campaigns (or none kept here): the box still takes a code
    }
  }

  function phoneOrTell() {
    const phone = getPhone();
    if (!phone) toast(s("needPhone"), { error: true });
    return phone;
  }

  async function claim(c, button) {
    const phone = phoneOrTell();
    if (!phone) return;
    try {
      const got = await api("/api/coupons/claim", { method: "POST", body: { campaign_id: c.id, customer: { phone } } });
      state.claimed.add(c.id);
      state.coupon = got.coupon_id;
      code.value = "";
      button.textContent = s("claimed");
      button.disabled = true;
      await refresh();
    } catch (e) {
      showError(e);
    }
  }

  function renderLines(d) {
    lines.replaceChildren();
    if (!d) return;
    for (const line of d.lines) {
      const label = line.kind === "coupon" ? `${s("coupon")} · ${line.label}${line.ecny_only ? ` (${s("ecny")})` : ""}` : `${s("pointsLine")} · ${line.label}`;
      lines.append(el("li", { class: "discount-line", dataset: { kind: line.kind } }, el("span", { text: label }), el("strong", { text: `−${formatCny(line.amount_cny)}` })));
    }
    lines.append(el("li", { class: "discount-total", dataset: { role: "payable" } }, el("span", { text: s("payable") }), el("strong", { class: "price", text: formatCny(d.payable_cny) })));
    if (d.points_balance !== null && d.points_balance !== undefined) balance.textContent = s("balance", { n: d.points_balance });
  }

  /** The discount lines of `quoteId` (or the page's quote) for what the box holds; throws the node's refusal. */
  async function refresh(quoteId = null) {
    const phone = getPhone();
    const id = quoteId || getQuoteId();
    const typed = code.value.trim();
    if (typed) state.coupon = typed;
    state.points = Math.max(0, Math.floor(Number(points.value) || 0));
    if (!phone || !id) {
      if (!quoteId) phoneOrTell();
      return null;
    }
    try {
      state.discounts = await api(`/api/quotes/${encodeURIComponent(id)}/discounts`, {
        method: "POST",
        body: { customer: { phone }, ...(state.coupon ? { coupon: state.coupon } : {}), points: state.points },
      });
    } catch (e) {
      state.discounts = null;
      renderLines(null);
      if (quoteId) throw e;
      showError(e);
      return null;
    }
    renderLines(state.discounts);
    onChange(state.discounts);
    return state.discounts;
  }

  loadOffers();
  return {
    el: box,
    refresh,
    reloadOffers: loadOffers,
    get discounts() {
      return state.discounts;
    },
    /** What the order body carries. */
    orderExtra() {
      return { ...(state.coupon ? { coupon: state.coupon } : {}), ...(state.points ? { points: state.points } : {}) };
    },
    /** False (and the customer told) when the held coupon needs the e-CNY wallet and `method` is another. */
    checkMethod(method) {
      if (state.discounts?.ecny_only && method !== "ecny_wallet") {
        toast(s("needEcny"), { error: true });
        return false;
      }
      return true;
    },
    /** Whether anything is held (a coupon or points). */
    get active() {
      return Boolean(state.coupon || state.points);
    },
  };
}

/** The discount lines under a pay panel's total (what the order took off). */
export function discountLinesEl(d) {
  if (!d || !d.lines?.length) return null;
  return el(
    "ul",
    { class: "discount-lines", dataset: { role: "paid-discount-lines" } },
    ...d.lines.map((line) => el("li", { class: "discount-line", dataset: { kind: line.kind } }, el("span", { text: line.kind === "coupon" ? `${s("coupon")} · ${line.label}` : `${s("pointsLine")} · ${line.label}` }), el("strong", { text: `−${formatCny(line.amount_cny)}` }))),
  );
}
