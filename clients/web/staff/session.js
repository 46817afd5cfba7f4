// The signed-in staff member and every call the console makes. The session itself is the HttpOnly cookie
// `showroom_staff` (script never sees it); the page keeps only who is signed in and the CSRF token, in memory,
// and sends the token as X-CSRF-Token on every state-changing call. A 401 on any call means the session ended
// (idle, absolute end, revoked): the console goes back to the sign-in screen and says so. The console also
// locks itself after the idle time with no activity, so a terminal left alone does not stay open.

import { ApiError, api, newIdempotencyKey } from "../common/api.js";

const SESSION = "/api/staff/session";

/** What each role may do when the sign-in reply names no `permissions` (mirrors showroom/staff.py). */
const ROLE_PERMISSIONS = {
  teller: ["view_orders", "fulfil_orders", "request_refund", "view_stock"],
  manager: ["view_orders", "fulfil_orders", "request_refund", "approve_refund", "approve_payout", "view_compliance",
    "view_reconciliation", "view_audit", "view_stock", "manage_campaigns", "adjust_stock"],
  auditor: ["view_orders", "view_compliance", "view_reconciliation", "view_audit", "view_stock", "view_recordings"],
  advisor: ["view_orders", "answer_calls"],
  admin: ["manage_staff", "manage_settings", "view_audit", "view_internals", "view_stock"],
};

const DEFAULT_IDLE_S = 30 * 60;

let me = null; // {name, role, display_name, expires_at, permissions}
let csrf = null;
let endedHandler = () => {};
let idleTimer = null;
let endTimer = null;
let idleS = DEFAULT_IDLE_S;

export function currentStaff() {
  return me;
}

/** True when the signed-in member may `permission` (the server checks every call again). */
export function may(permission) {
  return !!me && me.permissions.includes(permission);
}

/** `fn(reason)` runs when the session ends by itself: "expired" (server said 401) or "idle" (console lock). */
export function onSessionEnded(fn) {
  endedHandler = fn;
}

function adopt(reply) {
  const { csrf_token: token, ...who } = reply;
  csrf = token || csrf;
  const permissions = Array.isArray(who.permissions) ? who.permissions : ROLE_PERMISSIONS[who.role] || [];
  me = { ...who, permissions };
  const idle = Number(who.idle_timeout_s ?? who.idle_s);
  idleS = Number.isFinite(idle) && idle > 0 ? idle : DEFAULT_IDLE_S;
  armTimers();
  return me;
}

function forget() {
  me = null;
  csrf = null;
  clearTimeout(idleTimer);
  clearTimeout(endTimer);
}

function end(reason) {
  if (!me) return;
  forget();
  endedHandler(reason);
}

function armTimers() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    // nothing done for the idle time: the console locks itself (the server ends the session at the same time)
    api(SESSION, { method: "DELETE", headers: csrf ? { "X-CSRF-Token": csrf } : {} }).catch(() => {});
    end("idle");
  }, idleS * 1000);
  clearTimeout(endTimer);
  const endsAt = me?.expires_at ? Date.parse(me.expires_at) : NaN;
  if (Number.isFinite(endsAt)) {
    // `expires_at` is the end unless the session is used again: ask the server then whether it still lives
    const ms = Math.min(Math.max(0, endsAt - Date.now()) + 1000, 2 ** 31 - 1);
    endTimer = setTimeout(recheck, ms);
  }
}

async function recheck() {
  if (!me) return;
  try {
    adopt(await api(SESSION));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) end("expired");
  }
}

/** Call a staff route. State-changing calls carry the CSRF token (and `idempotencyKey` when given). */
export async function call(path, { method = "GET", body, idempotencyKey } = {}) {
  const headers = {};
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  try {
    const reply = await api(path, { method, body: method === "GET" ? undefined : body ?? {}, headers });
    if (me) armTimers();
    return reply;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && me) end("expired");
    throw e;
  }
}

/** Sign in; the caller clears the password and code fields whatever the outcome. */
export async function signIn(name, password, otp) {
  const reply = await api(SESSION, { method: "POST", body: { name, password, otp } });
  return adopt(reply);
}

/** The session the cookie carries, or null (not signed in, or no staff service on this node). */
export async function restore() {
  try {
    return adopt(await api(SESSION));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 404 || e.status === 405)) return null;
    throw e;
  }
}

export async function signOut() {
  const token = csrf;
  forget();
  try {
    await api(SESSION, { method: "DELETE", headers: token ? { "X-CSRF-Token": token } : {} });
  } catch (_) {
    /* the session is gone here whatever the server says */
  }
}

export { ApiError, newIdempotencyKey };

// ---- the staff routes -------------------------------------------------------------------------------
const enc = encodeURIComponent;
const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
};

export const listOrders = (params) => call(`/api/staff/orders${query(params)}`);
export const orderStory = (id) => call(`/api/staff/orders/${enc(id)}`);
export const advanceFulfilment = (id, status) =>
  call(`/api/orders/${enc(id)}/fulfilment`, { method: "POST", body: { status } });
export const requestRefund = (id, body, key) =>
  call(`/api/orders/${enc(id)}/refunds`, { method: "POST", body, idempotencyKey: key });
export const refundRequests = (state = "pending_approval") => call(`/api/staff/refund-requests${query({ state })}`);
export const approveRefund = (id) => call(`/api/staff/refund-requests/${enc(id)}/approve`, { method: "POST", body: {} });
export const rejectRefund = (id, reason) =>
  call(`/api/staff/refund-requests/${enc(id)}/reject`, { method: "POST", body: { reason } });
export const reconciliation = (day) => call(`/api/reconciliation/${enc(day)}`);
export const auditLog = (params) => call(`/api/staff/audit${query(params)}`);
export const verifyAudit = () => call("/api/staff/audit/verify");
export const stock = () => call("/api/staff/stock");
export const accounts = () => call("/api/staff/accounts");
export const addAccount = (body) => call("/api/staff/accounts", { method: "POST", body });
export const changeAccount = (name, body) => call(`/api/staff/accounts/${enc(name)}`, { method: "PATCH", body });
export const resetPassword = (name, body) =>
  call(`/api/staff/accounts/${enc(name)}/password`, { method: "POST", body });
export const resetTotp = (name) => call(`/api/staff/accounts/${enc(name)}/totp-reset`, { method: "POST", body: {} });
// Advisors (answer_calls; docs/advisor.md "Commerce"): the console socket's ticket, call-backs, call records.
export const advisorTicket = () => call("/api/staff/advisor/ticket", { method: "POST", body: {} });
export const advisorCallbacks = (status = "open") => call(`/api/staff/advisor/callbacks${query({ status })}`);
export const callbackDone = (id) => call(`/api/staff/advisor/callbacks/${enc(id)}/done`, { method: "POST", body: {} });
export const recordCall = (body, key) => call("/api/staff/advisor/calls", { method: "POST", body, idempotencyKey: key });
export const advisorCalls = (limit) => call(`/api/staff/advisor/calls${query({ limit })}`);
// Dual recordings (docs/advisor.md "Dual recording"): the desk audits a receipt; auditors get a playback ticket.
export const postRecordingReceipt = (body) => call("/api/staff/advisor/recordings", { method: "POST", body });
export const recordingsTicket = () => call("/api/staff/recordings/ticket", { method: "POST", body: {} });
