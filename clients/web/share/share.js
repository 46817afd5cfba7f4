// Share landing page /s/{token}: GET /api/shares/{token} (which records the visit for attribution), then the
// 360 view, the price with the time it was quoted, and a buy button that carries the share to the phone page.

import { formatCny, getProduct, getShare, renderUrl } from "../common/api.js";
import { kindLabel, specsOf, variantOf } from "../common/catalog.js";
import { getLang, installToggles, onLangChange, pick, t } from "../common/i18n.js";
import { mountSpin } from "../common/spin.js";
import { el } from "../common/ui.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
let data = null;
let product = null;

/** The time the shared price was quoted (`quoted_at`, ISO 8601), in the page's language. */
function quotedAt(s) {
  if (!s.quoted_at) return null;
  const d = new Date(s.quoted_at);
  if (Number.isNaN(d.getTime())) return null;
  return d.toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

// GET /api/shares/{token}: {"product", "variant" (ids), "price_cny" (the quoted price, or null), "quoted_at",
// "name", "variant_name", "kind", "disclaimer", "url", "poster_url", ...}; the product itself comes from the catalog.
function render() {
  if (!data) return;
  const p = product || { id: data.product, kind: data.kind, name: data.name, variants: [] };
  const v = variantOf(p, data.variant);
  $("p-kind").textContent = p.kind ? kindLabel(p) : "";
  $("p-name").textContent = pick(p.name);
  $("p-desc").textContent = pick(p.description);
  const dl = $("p-specs");
  dl.replaceChildren();
  for (const row of specsOf(p, v)) dl.append(el("dt", { text: row.label }), el("dd", { text: row.value }));
  $("p-price").textContent = formatCny(data.price_cny);
  const at = quotedAt(data);
  $("p-quoted").textContent = at ? t("share.quoted_at", { t: at }) : "";
  $("disclaimer").textContent = pick(data.disclaimer) || "";
  const q = new URLSearchParams({ product: data.product, view: "buy", share: token });
  if (data.variant) q.set("variant", data.variant);
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
  const productId = data.product;
  const variantId = data.variant;
  try {
    product = await getProduct(productId);
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
