// Share landing page /s/{token}: GET /api/shares/{token} (which records the visit for attribution), then the
// 360 view, the price with the time it was quoted, and a buy button that carries the share to the phone page.

import { formatCny, getProduct, getShare, renderUrl } from "../common/api.js";
import { kindLabel, priceOf, specsOf, variantOf } from "../common/catalog.js";
import { getLang, installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { mountSpin } from "../common/spin.js";
import { el } from "../common/ui.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
let data = null;
let product = null;

function quotedAt(s) {
  const v = s.quoted_at || s.price_at || s.created_at;
  if (!v) return null;
  const d = typeof v === "number" ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

function render() {
  if (!data) return;
  const p = product || data.product || {};
  const variantId = data.variant_id || data.variant?.id || (typeof data.variant === "string" ? data.variant : null);
  const v = variantOf(p, variantId) || data.variant;
  $("p-kind").textContent = p.kind ? kindLabel(p) : "";
  $("p-name").textContent = pick(p.name || data.name);
  $("p-desc").textContent = pick(p.description);
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value }));
  const price = data.price_cny ?? data.unit_price_cny ?? data.total_cny ?? priceOf(p, v);
  $("p-price").textContent = formatCny(price);
  const at = quotedAt(data);
  $("p-quoted").textContent = at ? t("share.quoted_at", { t: at }) : "";
  $("disclaimer").textContent = pick(data.disclaimer) || "";
  const q = new URLSearchParams({ product: p.id || data.product_id, view: "buy", share: token });
  if (variantId) q.set("variant", variantId);
  $("buy").href = `/phone?${q}`;
}

async function main() {
  installToggles();
  onLangChange(render);
  try {
    data = await getShare(token);
  } catch (e) {
    $("main").replaceChildren(el("section", { class: "panel" }, el("h1", { text: t("share.invalid") }), el("p", { class: "muted", text: e.message })));
    return;
  }
  const productId = data.product_id || (typeof data.product === "string" ? data.product : data.product?.id);
  const variantId = data.variant_id || data.variant?.id || (typeof data.variant === "string" ? data.variant : null);
  if (typeof data.product === "object") product = data.product;
  try {
    product = { ...(await getProduct(productId)), ...(product || {}) };
  } catch (_) {
    /* the share carries enough to show */
  }
  render();
  try {
    await mountSpin($("spin"), {
      productId,
      variant: variantId,
      size: "640x480",
      stillUrl: renderUrl(productId, variantId, { yawDeg: 0, pitchDeg: 15, size: "640x480" }),
      progressText: (done, total) => t("product.rendering", { done, total }),
    });
  } catch (e) {
    $("spin").append(el("p", { class: "error-text spin-note", text: t("common.error", { msg: e.message }) }));
  }
}
main();
