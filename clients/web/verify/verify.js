// Verifies a certificate: POST /api/certificates/verify with the JSON or the QR text. The signature is checked
// against the bank's published keys (/.well-known/showroom-certificate-keys.json) with no database look-up; the
// node adds its revocation list. Every problem is named, an altered field by name.

const LABELS = {
  serial: "序列号 Serial", product: "产品 Product", variant: "规格 Variant", fineness: "成色 Fineness",
  weight_g: "重量 Weight (g)", hallmark: "印记 Hallmark", price_paid_cny: "成交价 Price paid (CNY)",
  purchased_at: "购买时间 Purchased", branch: "网点 Branch", owner: "持有人 Owner", issued_at: "签发 Issued",
  certificate_id: "证书编号 Certificate", order_id: "订单 Order", unit: "件 Unit", supersedes: "取代 Replaces",
  bank: "银行 Bank", product_id: "产品代码 Product code",
};

const input = document.getElementById("verify-input");
const box = document.getElementById("verdict");

async function check(text) {
  const trimmed = text.trim();
  let body;
  if (trimmed.startsWith("{")) {
    try { body = { certificate: JSON.parse(trimmed) }; } catch (_) { body = { qr: trimmed }; }
  } else {
    body = { qr: trimmed };
  }
  const resp = await fetch("/api/certificates/verify", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const reply = await resp.json();
  show(resp.ok ? reply : { valid: false, problems: [{ message: reply.error?.message || `HTTP ${resp.status}` }], fields: {} });
}

function show(v) {
  box.hidden = false;
  box.dataset.valid = String(Boolean(v.valid));
  document.getElementById("verdict-title").textContent = v.valid
    ? "✓ 证书有效：银行签发，内容未被改动 · Valid: signed by the bank, every field as issued"
    : "✗ 证书无效 · Not valid";
  const ul = document.getElementById("verdict-problems");
  ul.replaceChildren();
  const altered = new Set();
  for (const p of v.problems || []) {
    const li = document.createElement("li");
    li.textContent = p.message;
    if (p.field) { li.dataset.field = p.field; altered.add(p.field); }
    li.dataset.code = p.code || "";
    ul.append(li);
  }
  const dl = document.getElementById("verdict-fields");
  dl.replaceChildren();
  for (const [name, value] of Object.entries(v.fields || {})) {
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = LABELS[name] || name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = name;
    if (altered.has(name)) dd.className = "altered";
    dl.append(dt, dd);
  }
  document.getElementById("verdict-key").textContent = v.kid ? `Ed25519 key ${v.kid}` : "";
  document.body.dataset.verified = v.valid ? "valid" : "invalid";
}

document.getElementById("verify-form").onsubmit = (ev) => {
  ev.preventDefault();
  check(input.value).catch((e) => show({ valid: false, problems: [{ message: e.message }], fields: {} }));
};
document.getElementById("verify-file").onchange = async (ev) => {
  const file = ev.target.files[0];
  if (!file) return;
  input.value = await file.text();
  check(input.value).catch((e) => show({ valid: false, problems: [{ message: e.message }], fields: {} }));
};

const given = new URLSearchParams(location.search).get("c") || new URLSearchParams(location.hash.slice(1)).get("c");
if (given) {
  input.value = given;
  check(given).catch((e) => show({ valid: false, problems: [{ message: e.message }], fields: {} }));
}
