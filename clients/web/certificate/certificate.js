// The customer's certificates. The capability rides in the URL fragment (never sent to the server, never in a
// referrer): #order=<order id>&token=<order token> (the buyer) or #id=<certificate id>&token=<holder token>
// (someone who received the item as a gift). docs/commerce.md, "Certificates".

import { formatCny } from "../common/api.js";

const LABELS = {
  serial: "序列号 Serial", product: "产品 Product", variant: "规格 Variant", fineness: "成色 Fineness",
  weight_g: "重量 Weight", hallmark: "印记 Hallmark", price_paid_cny: "成交价 Price paid",
  purchased_at: "购买时间 Purchased", branch: "网点 Branch", owner: "持有人 Owner", issued_at: "签发 Issued",
  certificate_id: "证书编号 Certificate", order_id: "订单 Order", unit: "件 Unit", supersedes: "取代 Replaces",
};
const SHOWN = ["product", "variant", "fineness", "weight_g", "hallmark", "price_paid_cny", "purchased_at", "branch",
  "owner", "issued_at", "certificate_id", "order_id", "unit", "supersedes"];

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
const message = document.getElementById("cert-message");

function say(text) {
  message.textContent = text;
  message.hidden = !text;
}

async function call(path, init = {}) {
  const resp = await fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers || {}) } });
  if (!resp.ok) {
    let text = `HTTP ${resp.status}`;
    try { text = (await resp.json()).error.message || text; } catch (_) { /* keep */ }
    throw new Error(text);
  }
  return resp;
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/** A signed timestamp (ISO, UTC) as the branch reads it: Beijing time, with the zone named. */
function beijingTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
  return `${parts.replaceAll("/", "-")} 北京时间 Beijing time`;
}

function shown(name, value) {
  if (name === "weight_g") return `${value} g`;
  if (name === "price_paid_cny") return formatCny(value);
  if (name === "purchased_at" || name === "issued_at") return beijingTime(value);
  return value;
}

async function render(cert) {
  const node = document.getElementById("cert-tpl").content.firstElementChild.cloneNode(true);
  const f = cert.fields;
  node.dataset.certificate = cert.id;
  node.querySelector(".cert-bank").textContent = f.bank;
  node.querySelector(".cert-title").textContent = f.product;
  node.querySelector(".cert-serial strong").textContent = cert.serial;
  const status = node.querySelector(".cert-status");
  status.dataset.status = cert.status;
  status.textContent = cert.status === "valid" ? "有效 Valid" : `已作废 Revoked${cert.superseded_by ? " · 已转赠 transferred" : ""}`;
  const dl = node.querySelector(".cert-fields");
  for (const name of SHOWN) {
    if (!f[name]) continue;
    const dt = document.createElement("dt");
    dt.textContent = LABELS[name];
    const dd = document.createElement("dd");
    dd.textContent = shown(name, f[name]);
    dd.dataset.field = name;
    dl.append(dt, dd);
  }
  const img = node.querySelector(".cert-qr img");
  call(cert.qr_png_url).then(async (r) => { img.src = URL.createObjectURL(await r.blob()); }).catch((e) => say(e.message));
  node.querySelector('[data-role="pdf"]').onclick = async () => {
    try { download(await (await call(cert.pdf_url)).blob(), `certificate-${cert.serial}.pdf`); } catch (e) { say(e.message); }
  };
  node.querySelector('[data-role="json"]').onclick = () => {
    download(new Blob([JSON.stringify(cert.certificate, null, 1)], { type: "application/json" }), `certificate-${cert.serial}.json`);
  };
  node.querySelector('[data-role="verify"]').href = cert.verify_url;
  const gift = node.querySelector('[data-role="gift"]');
  if (cert.status !== "valid") gift.hidden = true;
  gift.onsubmit = async (ev) => {
    ev.preventDefault();
    const out = gift.querySelector(".gift-result");
    const data = new FormData(gift);
    try {
      const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
      const r = await call(`/api/certificates/${cert.id}/transfer`, {
        method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify({ new_owner: { name: data.get("name"), phone: data.get("phone") } }),
      });
      const reply = await r.json();
      out.hidden = false;
      out.textContent = "";
      const a = document.createElement("a");
      a.href = reply.page_url;
      a.textContent = reply.page_url;
      a.dataset.role = "gift-link";
      out.append("已转赠。请把此链接交给新持有人 Transferred: give this link to the new owner: ", a);
      status.dataset.status = "revoked";
      status.textContent = "已作废 Revoked · 已转赠 transferred";
      gift.querySelector('button[type="submit"]').disabled = true;
    } catch (e) {
      out.hidden = false;
      out.textContent = e.message;
    }
  };
  document.getElementById("certs").append(node);
}

async function main() {
  if (!token) return say("此链接缺少凭证。This link carries no token: open it from your order.");
  try {
    if (params.get("order")) {
      const reply = await (await call(`/api/orders/${encodeURIComponent(params.get("order"))}/certificates`)).json();
      if (!reply.certificates.length) return say("订单付款后即签发证书。The certificate is issued once the order is paid.");
      for (const c of reply.certificates) await render(c);
    } else if (params.get("id")) {
      await render(await (await call(`/api/certificates/${encodeURIComponent(params.get("id"))}`)).json());
    }
    document.body.dataset.ready = "1";
  } catch (e) {
    say(e.message);
  }
}

main();
