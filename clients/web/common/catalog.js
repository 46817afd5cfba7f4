// The product shape of GET /api/products and GET /api/products/{id} (documented in docs/web.md) and the only
// place the pages read it: hall, variant, live price, deposit, try-on, specs (purity, weight, hallmark,
// certificate), thumbnails. Pages never look at price or spec fields themselves.

import { formatCny, renderUrl } from "./api.js";
import { pick, t } from "./i18n.js";

export function hallOf(p) {
  return p.hall;
}

export function isCar(p) {
  return p.kind === "car";
}

/** The variant `variantId` of a product, else its first one. */
export function variantOf(p, variantId = null) {
  const vs = p.variants || [];
  return vs.find((v) => v.id === variantId) || vs[0] || null;
}

/**
 * The live (unlocked) price of a variant as a decimal string: `price_cny`, merged in by the commerce service
 * (for a car its list price); for a car without a live price the catalog's `msrp_cny`. null when there is none
 * (the commerce service is not running here or the price feed is stale): the page then shows "—".
 * Buying always locks a fresh quote; this is what the wall and the product page show before that.
 */
export function priceOf(v) {
  return v?.price_cny ?? v?.msrp_cny ?? null;
}

/** A car's reservation deposit (`deposit_cny`), or null for products bought outright. */
export function depositOf(v) {
  return v?.deposit_cny ?? null;
}

/** When and from which feed the live price came: {asOf: Date, source} or null. */
export function priceStampOf(v) {
  if (!v?.price_as_of) return null;
  return { asOf: new Date(v.price_as_of), source: v.price_source || "" };
}

/** The metal price per gram behind a precious-metal variant's price, or null. */
export function metalPricePerGramOf(v) {
  return v?.metal_cny_per_g ?? null;
}

/** Worn products carry `tryon_anchor` (neck, ear, finger, wrist); others have null. */
export function canTryOn(p) {
  return !!p.tryon_anchor;
}

/** The product's size [width, height, depth] in millimetres (numbers), or null when the catalog has none. */
export function dimensionsMmOf(p) {
  return p.dimensions_mm ? p.dimensions_mm.map(Number) : null;
}

/** [{key, label, value}] facts of a product variant, in the order a bank customer reads them. */
export function specsOf(p, v) {
  const rows = [];
  const add = (key, value) => {
    if (value !== undefined && value !== null && value !== "") rows.push({ key, label: t(`spec.${key}`), value: String(value) });
  };
  if (isCar(p)) {
    add("trim", v?.trim || pick(v?.name));
    if (v?.msrp_cny) add("msrp", formatCny(v.msrp_cny));
  } else {
    add("purity", v?.purity);
    if (v?.weight_g !== undefined) add("weight", `${Number(v.weight_g)} g`);
    add("size", v?.size_label);
    add("hallmark", v?.hallmark || p.hallmark);
    const c = p.certificate;
    if (c) add("certificate", [c.issuer, c.standard].filter(Boolean).join(" · "));
  }
  const dims = dimensionsMmOf(p);
  if (dims) add("dimensions", `${dims.join(" × ")} mm`);
  if (typeof v?.stock === "number") add("stock", String(v.stock));
  return rows;
}

export function thumbUrl(p, size = "480x360", background = null) {
  const v = variantOf(p);
  return renderUrl(p.id, v?.id, { yawDeg: isCar(p) ? 35 : 20, pitchDeg: isCar(p) ? 10 : 20, size, background });
}

export function kindLabel(p) {
  return t(`kind.${p.kind}`);
}

// Thumbnails render on the node on first request: load them two at a time so a wall of products never
// floods the render pool (which would answer 503 and leave holes).
const thumbQueue = [];
let thumbActive = 0;
const THUMB_CONCURRENCY = 2;

export function loadThumb(img, url) {
  img.dataset.src = url;
  img.classList.add("loading");
  thumbQueue.push(img);
  setTimeout(pumpThumbs, 0); // after the caller has put the image in the page
}

function pumpThumbs() {
  while (thumbActive < THUMB_CONCURRENCY && thumbQueue.length) {
    const img = thumbQueue.shift();
    if (!img.isConnected && img.dataset.keep !== "1") continue;
    thumbActive += 1;
    const done = () => {
      img.classList.remove("loading");
      img.removeEventListener("load", done);
      img.removeEventListener("error", done);
      thumbActive -= 1;
      pumpThumbs();
    };
    img.addEventListener("load", done);
    img.addEventListener("error", done);
    img.src = img.dataset.src;
  }
}
