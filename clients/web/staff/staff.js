// The bank's back-office console at /staff: sign-in (name, password, 6-digit authenticator code), then only the
// sections the member's role may use. Sections are hash routes (#/orders, #/orders/ID, #/approvals, ...), so the
// browser's back button and bookmarks work; the server checks every call again.

import { installToggles, onLangChange } from "../common/i18n.js";
import { el } from "../common/ui.js";
import { renderAccounts } from "./accounts.js";
import { renderApprovals } from "./approvals.js";
import { renderAudit } from "./audit.js";
import { renderBuybacks } from "./buybacks.js";
import { renderCampaigns } from "./campaigns.js";
import { renderCertificates } from "./certificates.js";
import { zoneName } from "./format.js";
import { renderOrder, renderOrders } from "./orders.js";
import { renderPickups } from "./pickups.js";
import { renderRecordings } from "./recordings.js";
import { renderReconciliation, renderStock } from "./reports.js";
import { ApiError, currentStaff, may, onSessionEnded, restore, signIn, signOut } from "./session.js";
import { applyStrings, roleLabel, s } from "./strings.js";
import { closeDialogs, errorText } from "./widgets.js";

const $ = (id) => document.getElementById(id);

/** The sections in nav order, each with the permission it needs. */
const SECTIONS = [
  { id: "orders", permission: "view_orders", render: renderOrders },
  { id: "approvals", permission: "approve_refund", render: renderApprovals },
  { id: "reconciliation", permission: "view_reconciliation", render: renderReconciliation },
  { id: "audit", permission: "view_audit", render: renderAudit },
  { id: "stock", permission: "view_stock", render: renderStock },
  { id: "pickups", permission: "view_orders", render: renderPickups },
  { id: "buybacks", permission: "view_orders", render: renderBuybacks },
  { id: "certificates", permission: "view_orders", render: renderCertificates },
  { id: "recordings", permission: "view_recordings", render: renderRecordings },
  { id: "campaigns", permission: "manage_campaigns", render: renderCampaigns },
  { id: "accounts", permission: "manage_staff", render: renderAccounts },
];

const state = { screen: "signin", section: null, orderId: null, rendering: 0, signInProblem: null, signInNote: null };
window.__staff = { state, currentStaff }; // for operators' diagnostics and the browser tests

function allowed() {
  return SECTIONS.filter((sec) => may(sec.permission));
}

// ---- sign-in ----------------------------------------------------------------------------------------
/** The sign-in screen, with a note (a string key of strings.js, repainted on a language change) when given. */
function showSignIn(note = "", kind = "info") {
  state.signInNote = note ? { note, kind } : null;
  state.signInProblem = null;
  const message = note ? s(note) : "";
  state.screen = "signin";
  document.body.dataset.screen = "signin";
  // nothing of the session stays in the page: open dialogs, the section shown, the nav
  closeDialogs();
  $("main").replaceChildren();
  $("nav").replaceChildren();
  delete document.body.dataset.role;
  $("console").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  const box = $("signin-message");
  box.textContent = message;
  box.hidden = !message;
  box.className = `notice notice-${kind}`;
  box.setAttribute("role", kind === "bad" ? "alert" : "status");
  $("signin-error").textContent = "";
  $("signin-form").reset();
  $("signin-name").focus();
}

async function onSignIn(e) {
  e.preventDefault();
  const form = $("signin-form");
  const name = $("signin-name").value.trim();
  const password = $("signin-password");
  const otp = $("signin-otp");
  const err = $("signin-error");
  err.textContent = "";
  state.signInProblem = null;
  $("signin-message").hidden = true;
  if (!name || !password.value || !/^\d{6}$/.test(otp.value.trim())) {
    err.textContent = s("signin.incomplete");
    (!name ? $("signin-name") : !password.value ? password : otp).focus();
    return;
  }
  const button = $("signin-submit");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await signIn(name, password.value, otp.value.trim());
    form.reset(); // nothing typed stays in the page
    showConsole();
  } catch (ex) {
    password.value = "";
    otp.value = "";
    state.signInProblem = ex; // repainted in the other language when the toggle is pressed
    err.textContent = signInError(ex);
    (ex instanceof ApiError && ex.code === "account_locked" ? $("signin-name") : password).focus();
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

function signInError(ex) {
  if (!(ex instanceof ApiError)) return s("error.other", { msg: String(ex) });
  if (ex.code === "sign_in_refused" || ex.status === 401) return s("signin.refused");
  if (ex.code === "account_locked" || ex.status === 423) return s("signin.locked");
  if (ex.code === "too_many_attempts" || ex.status === 429) return s("signin.too_many");
  if (ex.status === 404 || ex.status === 405) return s("signin.no_service");
  return errorText(ex);
}

// ---- the console --------------------------------------------------------------------------------------
function showConsole() {
  state.screen = "console";
  document.body.dataset.screen = "console";
  $("signin").hidden = true;
  $("console").hidden = false;
  $("signout").hidden = false;
  paintWho();
  paintNav();
  const first = allowed()[0];
  if (!sectionOf(location.hash) && first) location.hash = `#/${first.id}`;
  else route();
}

function paintWho() {
  const me = currentStaff();
  const who = $("who");
  who.hidden = !me;
  if (!me) return;
  who.replaceChildren(el("span", { class: "who-name" }, me.display_name || me.name),
    el("span", { class: "badge role", dataset: { role: me.role } }, roleLabel(me.role)));
  document.body.dataset.role = me.role;
}

function paintNav() {
  const nav = $("nav");
  nav.replaceChildren(...allowed().map((sec) => el("a", {
    href: `#/${sec.id}`, id: `nav-${sec.id}`, class: "nav-item", dataset: { section: sec.id },
    "aria-current": state.section === sec.id ? "page" : null,
  }, s(`nav.${sec.id}`))));
  if (!allowed().length) nav.append(el("p", { class: "muted small" }, s("nav.nothing")));
}

function sectionOf(hash) {
  const m = /^#\/([a-z]+)(?:\/(.+))?$/.exec(hash || "");
  return m ? { id: m[1], arg: m[2] ? decodeURIComponent(m[2]) : null } : null;
}

async function route() {
  if (state.screen !== "console") return;
  const want = sectionOf(location.hash);
  const sections = allowed();
  const sec = sections.find((x) => x.id === want?.id);
  const main = $("main");
  if (!sec) {
    if (want && SECTIONS.some((x) => x.id === want.id)) {
      // a section this role may not use: say so instead of showing an empty page
      state.section = null;
      paintNav();
      main.replaceChildren(el("div", { class: "notice notice-bad", role: "alert", id: "not-allowed" }, s("nav.not_allowed")));
      return;
    }
    if (sections[0]) location.hash = `#/${sections[0].id}`;
    return;
  }
  state.section = sec.id;
  state.orderId = sec.id === "orders" ? want.arg : null;
  paintNav();
  main.dataset.section = sec.id;
  const ticket = ++state.rendering;
  main.setAttribute("aria-busy", "true");
  try {
    if (sec.id === "orders" && want.arg) await renderOrder(main, want.arg);
    else await sec.render(main);
  } finally {
    if (ticket === state.rendering) main.removeAttribute("aria-busy");
  }
}

function sessionEnded(reason) {
  showSignIn(reason === "idle" ? "signin.idle" : "signin.expired", "warn");
}

async function start() {
  installToggles();
  applyStrings();
  $("zone-note").textContent = zoneName();
  $("signin-form").addEventListener("submit", onSignIn);
  $("signout").addEventListener("click", async () => {
    await signOut();
    history.replaceState(null, "", location.pathname + location.search);
    showSignIn("signin.signed_out", "info");
  });
  onSessionEnded(sessionEnded);
  window.addEventListener("hashchange", route);
  onLangChange(() => {
    applyStrings();
    $("zone-note").textContent = zoneName();
    if (state.screen === "console") {
      paintWho();
      route();
    } else {
      if (state.signInNote) $("signin-message").textContent = s(state.signInNote.note);
      if (state.signInProblem) $("signin-error").textContent = signInError(state.signInProblem);
    }
  });
  try {
    if (await restore()) {
      showConsole();
      return;
    }
  } catch (e) {
    showSignIn();
    state.signInProblem = e;
    $("signin-error").textContent = errorText(e);
    return;
  }
  showSignIn();
}

start();
