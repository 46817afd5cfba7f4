// Product helpers shared by the pages: hall, live price, specs (purity, weight, hallmark, certificate), thumbnails.

import { formatCny, renderUrl } from "./api.js";
import { pick, t } from "./i18n.js";

export function hallOf(p) {
  return p.hall || (p.kind === "car" ? "cars" : "metals");
}

export function variantOf(p, variantId) {
  const vs = p.variants || [];
  return vs.find((v) => v.id === variantId) || vs[0] || null;
}

/** The live price of a variant as a decimal string (first field that the API provides), or null. */
export function priceOf(p, v) {
  const keys = ["price_cny", "unit_price_cny", "live_price_cny", "total_cny", "msrp_cny"];
  for (const src of [v?.price, v, p?.price, p]) {
    if (!src || typeof src !== "object") continue;
    for (const k of keys) if (src[k] !== undefined && src[k] !== null) return String(src[k]);
  }
  return null;
}

export function isCar(p) {
  return p.kind === "car";
}

export function canTryOn(p) {
  return !!(p.tryon_anchor || p.tryon || ["ring", "bangle", "bracelet", "necklace", "earrings"].includes(p.kind));
}

function fmtDims(d) {
  if (!d) return null;
  const arr = Array.isArray(d) ? d : [d.width_mm ?? d.w, d.height_mm ?? d.h, d.depth_mm ?? d.d];
  if (arr.some((x) => x === undefined || x === null)) return null;
  return `${arr.map((x) => Number(x).toString()).join(" × ")} mm`;
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
    add("purity", v?.purity || p.purity);
    const w = v?.weight_g ?? p.weight_g;
    if (w !== undefined && w !== null) add("weight", `${Number(w)} g`);
    add("size", v?.size_label);
    add("hallmark", p.hallmark);
    const c = p.certificate;
    if (c) add("certificate", typeof c === "string" ? c : [c.issuer, c.standard].filter(Boolean).join(" · "));
  }
  add("dimensions", fmtDims(p.dimensions_mm));
  if (typeof v?.stock === "number") add("stock", String(v.stock));
  return rows;
}

export function thumbUrl(p, size = "480x360", background = null) {
  if (p.thumbnail_url && !background) return p.thumbnail_url;
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
