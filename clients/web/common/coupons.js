// Coupons and points at checkout (docs/commerce.md, "Coupons and points"): the running public campaigns with a
// one-click claim, a coupon-code field, the points to redeem, and the discount lines of the locked quote
// (POST /api/quotes/{id}/discounts) with the total after them. At most one coupon per order, then points.
// The coupon and points ride in the order body (`coupon`, `points`); an e-CNY coupon is paid with the e-CNY
// wallet only (the node refuses other methods with 422 coupon_requires_ecny; the box tells the customer first).
// Proof of the phone first (docs/commerce.md, "Proof of the phone"): the box asks the bank to text a 6-digit
// code to the number (POST /api/phone/codes), takes the code (POST /api/phone/verify) and only then shows the
// coupons and points; the proof rides as `X-Phone-Proof` on claims, `mine`, the discount preview and the order
// (`orderHeaders()`). A new number needs a new proof.

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
    before: "优惠前金额",
    pts: "{n} 积分",
    coupon: "优惠券",
    pointsLine: "积分抵扣",
    ecny: "仅限数字人民币支付",
    needEcny: "该优惠券仅限数字人民币支付，请选择数字人民币",
    needPhone: "请先输入手机号码",
    off: "立减 {a}",
    pct: "{p}% 折扣，最高 {a}",
    min: "满 {a} 可用",
    verifyWhy: "为保护您的优惠券与积分，请先验证手机号：我们将向该号码发送短信验证码。",
    sendCode: "发送验证码",
    resend: "重新发送（{s} 秒）",
    otp: "短信验证码",
    verify: "验证",
    sent: "验证码已发送至 {p}，5 分钟内有效",
    verified: "已验证 {p}",
    mine: "我的优惠券",
    use: "使用",
    inUse: "已选用",
    err_code_wrong: "验证码不正确，还可尝试 {n} 次",
    err_code_locked: "错误次数过多，请重新获取验证码",
    err_code_expired: "验证码已失效，请重新获取",
    err_code_throttled: "发送过于频繁，请 {s} 秒后再试",
    err_sms_unavailable: "短信服务暂不可用，请稍后再试",
    err_proof: "手机验证已失效，请重新验证",
    err_otp_format: "请输入 6 位数字验证码",
    clear: "清除",
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
    before: "Before discounts",
    pts: "{n} points",
    coupon: "Coupon",
    pointsLine: "Points",
    ecny: "e-CNY wallet only",
    needEcny: "This coupon applies only when paying with the e-CNY wallet: choose the e-CNY wallet",
    needPhone: "Enter your mobile number first",
    off: "{a} off",
    pct: "{p}% off, up to {a}",
    min: "from {a}",
    verifyWhy: "To protect your coupons and points, verify your number first: we text a code to it.",
    sendCode: "Send code",
    resend: "Send again ({s} s)",
    otp: "Code from the SMS",
    verify: "Verify",
    sent: "Code sent to {p}; valid for 5 minutes",
    verified: "Verified {p}",
    mine: "My coupons",
    use: "Use",
    inUse: "Selected",
    err_code_wrong: "Wrong code; {n} tries left",
    err_code_locked: "Too many wrong codes: ask for a new one",
    err_code_expired: "The code has expired: ask for a new one",
    err_code_throttled: "Too many codes: try again in {s} s",
    err_sms_unavailable: "The SMS service is not available; try again shortly",
    err_proof: "Your phone check has expired: verify again",
    err_otp_format: "Enter the 6-digit code",
    clear: "Clear",
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

/** `138 0013 8000` for display. */
function spaced(phone) {
  return String(phone).replace(/^(\d{3})(\d{4})(\d{4})$/, "$1 $2 $3");
}

/** The customer's words for a refusal of the phone check (the node's message otherwise). */
function phoneError(e) {
  const code = e?.code || "";
  if (code === "code_wrong") return s("err_code_wrong", { n: (/(\d+) tr/.exec(e.message) || [])[1] ?? "" });
  if (code === "code_throttled") return s("err_code_throttled", { s: (/in (\d+) s/.exec(e.message) || [])[1] ?? "60" });
  if (code.startsWith("phone_proof_")) return s("err_proof");
  const known = { code_locked: 1, code_expired: 1, sms_unavailable: 1 };
  return known[code] ? s(`err_${code}`) : null;
}

/**
 * The coupon box: `getPhone()` gives the typed number's digits (or null), `getQuoteId()` the locked quote;
 * `keypad` (the kiosk: no keyboard) adds digit keys for the SMS code.
 * Returns {el, refresh(quoteId), orderExtra(), orderHeaders(), checkMethod(method), phoneChanged(), lines}.
 */
export function couponBox({ getPhone, getQuoteId, onChange = () => {}, keypad = false }) {
  const state = { coupon: null, points: 0, discounts: null, claimed: new Set(), proof: null, resendAt: 0, timer: null };
  const list = el("div", { class: "coupon-offers", dataset: { role: "coupon-offers" } });
  const mine = el("div", { class: "coupon-mine", dataset: { role: "coupon-mine" } });
  const code = el("input", { type: "text", id: "coupon-code", maxlength: "40", autocomplete: "off", placeholder: "ABCD EFGH 2345", dataset: { role: "coupon-code" } });
  const points = el("input", { type: "text", id: "coupon-points", inputmode: "numeric", maxlength: "9", value: "0", dataset: { role: "coupon-points" } });
  const balance = el("p", { class: "muted small", dataset: { role: "points-balance" } });
  const lines = el("ul", { class: "discount-lines", dataset: { role: "discount-lines" }, "aria-live": "polite" });
  const apply = el("button", { class: "btn btn-small", type: "button", dataset: { role: "coupon-apply" }, text: s("apply"), onclick: () => refresh() });

  // -- the phone check: send code / enter code -------------------------------------------------------------
  const otp = el("input", { type: "text", id: "coupon-otp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", placeholder: "······", dataset: { role: "otp-code" } });
  const send = el("button", { class: "btn btn-small btn-gold", type: "button", dataset: { role: "send-code" }, text: s("sendCode"), onclick: () => sendCode() });
  const check = el("button", { class: "btn btn-small", type: "button", dataset: { role: "verify-code" }, text: s("verify"), onclick: () => verifyCode() });
  const status = el("p", { class: "muted small", dataset: { role: "verify-status" }, "aria-live": "polite" });
  const keys = keypad ? el("div", { class: "otp-keys", role: "group", "aria-label": s("otp") }) : null;
  if (keys) {
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "del"]) {
      const label = k === "del" ? "⌫" : k === "clr" ? s("clear") : k;
      keys.append(el("button", { class: "btn key", type: "button", dataset: { otpKey: k }, text: label, onclick: () => {
        otp.value = k === "del" ? otp.value.slice(0, -1) : k === "clr" ? "" : (otp.value + k).slice(0, 6);
        if (otp.value.length === 6) verifyCode();
      } }));
    }
  }
  const verifyStep = el(
    "div",
    { class: "phone-verify", dataset: { role: "phone-verify" } },
    el("p", { class: "small", text: s("verifyWhy") }),
    el("div", { class: "btn-row" }, send),
    el("label", { class: "field" }, el("span", { class: "muted", text: s("otp") }), otp),
    keys,
    el("div", { class: "btn-row" }, check),
    status,
  );
  const verifiedNote = el("p", { class: "verified-note small", dataset: { role: "phone-verified" }, hidden: true });
  const content = el(
    "div",
    { class: "coupon-content", dataset: { role: "coupon-content" }, hidden: true },
    list,
    mine,
    el("label", { class: "field" }, el("span", { class: "muted", text: s("code") }), code),
    el("label", { class: "field" }, el("span", { class: "muted", text: s("points") }), points),
    balance,
    el("div", { class: "btn-row" }, apply),
    lines,
  );
  const box = el("section", { class: "coupon-box", dataset: { role: "coupon-box" } }, el("h3", { text: s("title") }), verifiedNote, verifyStep, content);

  /** The proof token when it is for `phone` and still fresh. */
  function proofFor(phone) {
    const p = state.proof;
    return p && phone && p.phone === phone && Date.now() < p.expiresMs - 5000 ? p.token : null;
  }

  function proofHeaders(phone) {
    const token = proofFor(phone);
    return token ? { "X-Phone-Proof": token } : {};
  }

  function showStep() {
    const phone = getPhone();
    const ok = Boolean(proofFor(phone));
    verifyStep.hidden = ok;
    content.hidden = !ok;
    verifiedNote.hidden = !ok;
    if (ok) verifiedNote.textContent = `✓ ${s("verified", { p: spaced(phone) })}`;
  }

  /** The number changed (or the proof lapsed): coupons and points wait for a new check. */
  function phoneChanged() {
    if (state.proof && !proofFor(getPhone())) {
      state.proof = null;
      state.coupon = null;
      state.points = 0;
      state.discounts = null;
      points.value = "0";
      code.value = "";
      lines.replaceChildren();
      mine.replaceChildren();
      balance.textContent = "";
      otp.value = "";
      status.textContent = "";
    }
    showStep();
  }

  function tickResend() {
    clearInterval(state.timer);
    const paint = () => {
      const left = Math.ceil((state.resendAt - Date.now()) / 1000);
      if (!box.isConnected && state.timer) return clearInterval(state.timer);
      send.disabled = left > 0;
      send.textContent = left > 0 ? s("resend", { s: left }) : s("sendCode");
      if (left <= 0) clearInterval(state.timer);
    };
    paint();
    state.timer = setInterval(paint, 1000);
  }

  function tellPhoneError(e) {
    const words = phoneError(e);
    status.textContent = words || e.message;
    status.classList.add("error-text");
    if (words) toast(words, { error: true });
    else showError(e);
  }

  async function sendCode() {
    const phone = phoneOrTell();
    if (!phone) return;
    try {
      const sent = await api("/api/phone/codes", { method: "POST", body: { customer: { phone } } });
      state.resendAt = Date.now() + (sent.resend_after_s || 60) * 1000;
      status.classList.remove("error-text");
      status.textContent = s("sent", { p: spaced(phone) });
      tickResend();
      if (!keypad) otp.focus();
    } catch (e) {
      tellPhoneError(e);
    }
  }

  async function verifyCode() {
    const phone = phoneOrTell();
    if (!phone) return;
    const typed = otp.value.trim();
    if (!/^\d{6}$/.test(typed)) {
      status.textContent = s("err_otp_format");
      status.classList.add("error-text");
      return;
    }
    try {
      const got = await api("/api/phone/verify", { method: "POST", body: { customer: { phone }, code: typed } });
      state.proof = { phone, token: got.phone_proof, expiresMs: Date.parse(got.expires_at) };
      otp.value = "";
      status.textContent = "";
      status.classList.remove("error-text");
      showStep();
      await loadMine();
      onChange(state.discounts);
    } catch (e) {
      otp.value = "";
      tellPhoneError(e);
    }
  }

  async function loadMine() {
    const phone = getPhone();
    if (!proofFor(phone)) return;
    try {
      const got = await api("/api/coupons/mine", { method: "POST", body: { customer: { phone } }, headers: proofHeaders(phone) });
      balance.textContent = s("balance", { n: got.points_balance });
      mine.replaceChildren(
        ...(got.coupons.length ? [el("p", { class: "muted small", text: s("mine") })] : []),
        ...got.coupons.map((cp) =>
          el(
            "div",
            { class: "coupon-offer", dataset: { coupon: cp.coupon_id } },
            el("div", {}, el("strong", { text: cp.campaign.name }), el("div", { class: "muted small", text: campaignText(cp.campaign) })),
            el("button", { class: "btn btn-small", type: "button", dataset: { role: "coupon-use" }, text: state.coupon === cp.coupon_id ? s("inUse") : s("use"), onclick: () => {
              state.coupon = cp.coupon_id;
              code.value = "";
              refresh();
            } }),
          ),
        ),
      );
    } catch (e) {
      if (phoneError(e)) phoneChanged();
      tellPhoneError(e);
    }
  }

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
    if (!proofFor(phone)) return phoneChanged();
    try {
      const got = await api("/api/coupons/claim", { method: "POST", body: { campaign_id: c.id, customer: { phone } }, headers: proofHeaders(phone) });
      state.claimed.add(c.id);
      state.coupon = got.coupon_id;
      code.value = "";
      button.textContent = s("claimed");
      button.disabled = true;
      await refresh();
    } catch (e) {
      if (phoneError(e)) {
        phoneChanged();
        tellPhoneError(e);
      } else showError(e);
    }
  }

  function renderLines(d) {
    lines.replaceChildren();
    if (!d) return;
    for (const line of d.lines) {
      const label = line.kind === "coupon" ? `${s("coupon")} · ${line.label}${line.ecny_only ? ` (${s("ecny")})` : ""}` : `${s("pointsLine")} · ${s("pts", { n: line.points })}`;
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
    if (!phone || !id || !proofFor(phone)) {
      if (!quoteId) phoneOrTell() && phoneChanged();
      return null;
    }
    try {
      state.discounts = await api(`/api/quotes/${encodeURIComponent(id)}/discounts`, {
        method: "POST",
        body: { customer: { phone }, ...(state.coupon ? { coupon: state.coupon } : {}), points: state.points },
        headers: proofHeaders(phone),
      });
    } catch (e) {
      state.discounts = null;
      renderLines(null);
      if (phoneError(e)) phoneChanged();
      if (quoteId) throw e;
      showError(e);
      return null;
    }
    renderLines(state.discounts);
    onChange(state.discounts);
    return state.discounts;
  }

  loadOffers();
  showStep();
  return {
    el: box,
    refresh,
    phoneChanged,
    reloadOffers: loadOffers,
    get discounts() {
      return state.discounts;
    },
    /** What the order body carries: nothing until the phone is proven held. */
    orderExtra() {
      if (!proofFor(getPhone())) return {};
      return { ...(state.coupon ? { coupon: state.coupon } : {}), ...(state.points ? { points: state.points } : {}) };
    },
    /** The headers of the order request: the phone proof when the order redeems a coupon or points. */
    orderHeaders() {
      const phone = getPhone();
      return (state.coupon || state.points) ? proofHeaders(phone) : {};
    },
    /** False (and the customer told) when the held coupon needs the e-CNY wallet and `method` is another. */
    checkMethod(method) {
      if (state.discounts?.ecny_only && method !== "ecny_wallet") {
        toast(s("needEcny"), { error: true });
        return false;
      }
      return true;
    },
    /** Whether anything is held (a coupon or points) for a proven phone. */
    get active() {
      return Boolean((state.coupon || state.points) && proofFor(getPhone()));
    },
  };
}

/**
 * The discount lines under a pay panel's total (what the order took off): `d` is a discount preview
 * (`{lines, total_cny}`) or the order as its customer reads it (`{discounts, subtotal_cny}`, GET /api/orders/{id}).
 * The total before them comes first, then every line; the pay panel's own total is what is paid after them.
 */
export function discountLinesEl(d) {
  const lines = d?.discounts || d?.lines;
  if (!lines?.length) return null;
  const before = d.subtotal_cny ?? d.total_cny;
  return el(
    "ul",
    { class: "discount-lines", dataset: { role: "paid-discount-lines" } },
    before ? el("li", { class: "discount-subtotal", dataset: { role: "subtotal" } }, el("span", { text: s("before") }), el("strong", { text: formatCny(before) })) : null,
    ...lines.map((line) => el("li", { class: "discount-line", dataset: { kind: line.kind } }, el("span", { text: line.kind === "coupon" ? `${s("coupon")} · ${line.label}` : `${s("pointsLine")} · ${s("pts", { n: line.points })}` }), el("strong", { text: `−${formatCny(line.amount_cny)}` }))),
  );
}
