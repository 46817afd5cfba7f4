// Fetch wrappers for the node's HTTP API. Every failure becomes an ApiError carrying the server's
// {"error": {"code", "message"}} body, so pages can show a clear message instead of a console error.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "http_error";
  }
}

/** A fresh idempotency key (one per customer intent; re-sent on a retry of the same intent). */
export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function errorFrom(resp) {
  let code = "http_error";
  let message = `HTTP ${resp.status}`;
  try {
    const body = await resp.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) {
    /* not JSON: keep the status line */
  }
  return new ApiError(resp.status, code, message);
}

/** Calls the API and returns the parsed JSON body (or null on 204). */
export async function api(path, { method = "GET", body, headers = {}, signal, timeoutMs = 30000 } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (body instanceof FormData || body instanceof Blob) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let timer = null;
  if (!signal && timeoutMs) {
    const ctl = new AbortController();
    init.signal = ctl.signal;
    timer = setTimeout(() => ctl.abort(), timeoutMs);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e.name === "AbortError" ? "timeout" : "network", e.message);
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (!resp.ok) throw await errorFrom(resp);
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  if (type.includes("json")) return resp.json();
  return resp;
}

/** Like api() but for routes that may answer with an image: returns {blob, json}. */
export async function apiImage(path, { method = "POST", body, headers = {}, timeoutMs = 30000 } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let resp;
  try {
    const init = { method, headers: { ...headers }, signal: ctl.signal };
    if (body instanceof FormData || body instanceof Blob) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e.name === "AbortError" ? "timeout" : "network", e.message);
  } finally {
    clearTimeout(timer);
  }
  if (!resp.ok) throw await errorFrom(resp);
  const type = resp.headers.get("Content-Type") || "";
  if (type.startsWith("image/")) return { blob: await resp.blob(), json: null, headers: resp.headers };
  const json = await resp.json();
  return { blob: await imageFromJson(json), json, headers: resp.headers };
}

/** JSON answers may carry an image as a URL or base64 (data URL or raw); returns a Blob or null. */
async function imageFromJson(json) {
  if (!json) return null;
  for (const key of ["image_url", "url", "overlay_url", "composite_url"]) {
    if (typeof json[key] === "string") {
      const r = await fetch(json[key]);
      if (r.ok) return r.blob();
    }
  }
  for (const key of ["image", "overlay", "composite", "png", "jpeg", "image_b64", "overlay_b64", "composite_b64"]) {
    const v = json[key];
    if (typeof v !== "string") continue;
    if (v.startsWith("data:")) return (await fetch(v)).blob();
    const bin = atob(v);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const mime = bytes[0] === 0x89 ? "image/png" : "image/jpeg";
    return new Blob([bytes], { type: mime });
  }
  return null;
}

// ---- catalog and views -------------------------------------------------------------------------
export const getProducts = async () => {
  const d = await api("/api/products");
  return Array.isArray(d) ? d : d.products || [];
};
export const getProduct = (id) => api(`/api/products/${encodeURIComponent(id)}`);
/**
 * The 360 view set manifest. The first request for a product renders it on the node; with wait=0 the node
 * answers 202 {"status": "rendering", "progress": {"done", "total"}} meanwhile, which goes to onProgress.
 */
export async function getViews(productId, variant, size, { onProgress = null, signal = null } = {}) {
  const q = new URLSearchParams();
  if (variant) q.set("variant", variant);
  if (size) q.set("size", size);
  q.set("wait", "0");
  const path = `/api/products/${encodeURIComponent(productId)}/views?${q}`;
  for (;;) {
    if (signal?.aborted) throw new ApiError(0, "aborted", "aborted");
    const d = await api(path, { timeoutMs: 120000 });
    if (d && Array.isArray(d.frames)) return d;
    if (onProgress && d?.progress) onProgress(d.progress.done, d.progress.total);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
export function renderUrl(productId, variant, { yawDeg = 30, pitchDeg = 15, size = "480x360", format = "jpeg", background = null } = {}) {
  const q = new URLSearchParams({ product: productId, yaw_deg: yawDeg, pitch_deg: pitchDeg, size, format });
  if (background) q.set("background", background);
  if (variant) q.set("variant", variant);
  return `/api/render?${q}`;
}

// ---- commerce ---------------------------------------------------------------------------------
export const createQuote = (product, variant, quantity = 1) =>
  api("/api/quotes", { method: "POST", body: { product, variant, quantity } });
export const createOrder = (body, key, headers = {}) =>
  api("/api/orders", { method: "POST", body, headers: { ...headers, "Idempotency-Key": key } });
export const getOrder = (id) => api(`/api/orders/${encodeURIComponent(id)}`);
export const cancelOrder = (id) => api(`/api/orders/${encodeURIComponent(id)}/cancel`, { method: "POST", body: {} });
export const startPayment = (orderId, method, key) =>
  api(`/api/orders/${encodeURIComponent(orderId)}/payments`, {
    method: "POST",
    body: { method },
    headers: key ? { "Idempotency-Key": key } : {},
  });
export const financePlans = (body) => api("/api/finance/plans", { method: "POST", body });
export const createShare = (body, key) =>
  api("/api/shares", { method: "POST", body, headers: key ? { "Idempotency-Key": key } : {} });
export const getShare = (token) => api(`/api/shares/${encodeURIComponent(token)}`);

/** ws:// or wss:// URL of a path on this origin. */
export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

/** Decimal-string money shown with grouping, e.g. "¥12,345.67"; never parsed into a float for arithmetic. */
export function formatCny(value) {
  if (value === null || value === undefined || value === "") return "—";
  const s = String(value);
  const neg = s.startsWith("-");
  const [intPart, frac = ""] = (neg ? s.slice(1) : s).split(".");
  const grouped = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (frac + "00").slice(0, 2);
  return `${neg ? "-" : ""}¥${grouped}.${cents}`;
}
