// Staff accounts (admins): the list, add an account (its authenticator set-up is shown once: QR code when the
// node sends one, else the otpauth URI and the secret with copy buttons), change a role, disable and enable,
// set a new password. An admin cannot disable or demote themselves (the server refuses; the page says so).

import { el, toast } from "../common/ui.js";
import { accounts, addAccount, changeAccount, currentStaff, resetPassword, resetTotp } from "./session.js";
import { roleLabel, s } from "./strings.js";
import { dataTable, dialog, errorText, failure, heading, loading, when } from "./widgets.js";

export const ROLES = ["teller", "manager", "auditor", "advisor", "admin"];
const NAME_PATTERN = /^[a-z][a-z0-9._-]{1,39}$/;
const PASSWORD_MIN = 12;

function roleSelect(id, value) {
  return el("select", { id }, ROLES.map((r) => el("option", { value: r, selected: r === value }, roleLabel(r))));
}

export async function renderAccounts(main) {
  const result = el("div", { id: "accounts-result", "aria-live": "polite" });
  const add = el("button", { class: "btn btn-small btn-gold", type: "button", id: "account-add" }, s("accounts.add"));
  add.addEventListener("click", () => addDialog(load));
  main.replaceChildren(heading(s("nav.accounts"), add), el("p", { class: "muted" }, s("accounts.intro")), result);

  async function load() {
    result.replaceChildren(loading());
    try {
      const reply = await accounts();
      const rows = Array.isArray(reply) ? reply : reply.accounts || reply.staff || [];
      const self = currentStaff()?.name;
      result.replaceChildren(dataTable([
        { label: s("accounts.name"), cell: (a) => el("span", { class: "ident" }, a.name) },
        { label: s("accounts.display"), cell: (a) => a.display_name || "—" },
        { label: s("accounts.role"), cell: (a) => roleCell(a, self, load) },
        { label: s("accounts.state"), cell: (a) => stateBadge(a) },
        { label: s("accounts.changed"), cell: (a) => when(a.updated_at || a.created_at) },
        { label: s("col.actions"), cell: (a) => actionsCell(a, self, load) },
      ], rows, { empty: s("common.none"), rowAttrs: (a) => ({ dataset: { account: a.name, disabled: String(!!a.disabled) } }) }));
    } catch (e) {
      result.replaceChildren(failure(e, load));
    }
  }
  await load();
}

function stateBadge(a) {
  if (a.disabled) return el("span", { class: "badge st-disabled" }, s("accounts.disabled"));
  if (a.locked_until && Date.parse(a.locked_until) > Date.now()) return el("span", { class: "badge st-locked", title: a.locked_until || "" }, s("accounts.locked"));
  return el("span", { class: "badge st-active" }, s("accounts.active"));
}

function roleCell(a, self, reload) {
  if (a.name === self) return el("span", {}, roleLabel(a.role), el("span", { class: "muted small" }, ` · ${s("accounts.you")}`));
  const sel = roleSelect(`role-${a.name}`, a.role);
  sel.setAttribute("aria-label", s("accounts.role_of", { name: a.name }));
  sel.addEventListener("change", async () => {
    sel.disabled = true;
    try {
      await changeAccount(a.name, { role: sel.value });
      toast(s("accounts.role_changed", { name: a.name, role: roleLabel(sel.value) }));
      reload();
    } catch (e) {
      sel.value = a.role;
      sel.disabled = false;
      toast(errorText(e), { error: true, ms: 6000 });
    }
  });
  return sel;
}

function actionsCell(a, self, reload) {
  const toggle = el("button", { class: "btn btn-small", type: "button", dataset: { act: a.disabled ? "enable" : "disable" },
    disabled: a.name === self, title: a.name === self ? s("accounts.not_self") : null },
  a.disabled ? s("accounts.enable") : s("accounts.disable"));
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      await changeAccount(a.name, { disabled: !a.disabled });
      toast(a.disabled ? s("accounts.enabled", { name: a.name }) : s("accounts.disabled_done", { name: a.name }));
      reload();
    } catch (e) {
      toggle.disabled = false;
      toast(errorText(e), { error: true, ms: 6000 });
    }
  });
  const pw = el("button", { class: "btn btn-small btn-ghost", type: "button", dataset: { act: "password" } }, s("accounts.password"));
  pw.addEventListener("click", () => passwordDialog(a, reload));
  const totp = el("button", { class: "btn btn-small btn-ghost", type: "button", dataset: { act: "totp" } }, s("accounts.totp_reset"));
  totp.addEventListener("click", () => totpDialog(a, reload));
  return el("span", { class: "btn-row tight" }, toggle, pw, totp);
}

function passwordField(id) {
  return el("input", { type: "password", id, autocomplete: "new-password", minlength: String(PASSWORD_MIN), required: true });
}

function addDialog(reload) {
  const name = el("input", { type: "text", id: "new-name", autocomplete: "off", required: true, spellcheck: "false" });
  const display = el("input", { type: "text", id: "new-display", autocomplete: "off" });
  const role = roleSelect("new-role", "teller");
  const password = passwordField("new-password");
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "submit", id: "new-create" }, s("accounts.create"));
  const form = el("form", { class: "form-dlg", novalidate: true },
    el("h2", {}, s("accounts.add")),
    el("label", { class: "field" }, el("span", {}, s("accounts.name")), name, el("span", { class: "muted small" }, s("accounts.name_hint"))),
    el("label", { class: "field" }, el("span", {}, s("accounts.display")), display),
    el("label", { class: "field" }, el("span", {}, s("accounts.role")), role),
    el("label", { class: "field" }, el("span", {}, s("accounts.initial_password")), password, el("span", { class: "muted small" }, s("accounts.password_hint", { n: PASSWORD_MIN }))),
    err, el("div", { class: "btn-row" }, ok));
  const dlg = dialog(form, s("accounts.add"));
  name.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const n = name.value.trim();
    if (!NAME_PATTERN.test(n)) {
      err.textContent = s("accounts.bad_name");
      name.focus();
      return;
    }
    if (password.value.length < PASSWORD_MIN) {
      err.textContent = s("accounts.password_hint", { n: PASSWORD_MIN });
      password.focus();
      return;
    }
    ok.disabled = true;
    try {
      const reply = await addAccount({ name: n, role: role.value, display_name: display.value.trim() || n, password: password.value });
      password.value = "";
      dlg.close();
      reload();
      showEnrolment(n, reply);
    } catch (e2) {
      ok.disabled = false;
      err.textContent = errorText(e2);
    }
  });
}

function passwordDialog(a, reload) {
  const password = passwordField("set-password");
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "submit", id: "set-password-ok" }, s("accounts.password"));
  const form = el("form", { class: "form-dlg", novalidate: true },
    el("h2", {}, s("accounts.password_title", { name: a.name })),
    el("label", { class: "field" }, el("span", {}, s("accounts.new_password")), password, el("span", { class: "muted small" }, s("accounts.password_hint", { n: PASSWORD_MIN }))),
    el("p", { class: "muted small" }, s("accounts.password_note")),
    err, el("div", { class: "btn-row" }, ok));
  const dlg = dialog(form, s("accounts.password_title", { name: a.name }));
  password.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (password.value.length < PASSWORD_MIN) {
      err.textContent = s("accounts.password_hint", { n: PASSWORD_MIN });
      return;
    }
    ok.disabled = true;
    try {
      await resetPassword(a.name, { password: password.value });
      password.value = "";
      dlg.close();
      toast(s("accounts.password_set", { name: a.name }));
      reload();
    } catch (e2) {
      ok.disabled = false;
      err.textContent = errorText(e2);
    }
  });
}

function totpDialog(a, reload) {
  const err = el("p", { class: "error-text", role: "alert" });
  const ok = el("button", { class: "btn btn-gold btn-small", type: "button", id: "totp-reset-ok" }, s("accounts.totp_reset"));
  const dlg = dialog(el("div", { class: "form-dlg" }, el("h2", {}, s("accounts.totp_reset")),
    el("p", {}, s("accounts.totp_reset_confirm", { name: a.name })), err, el("div", { class: "btn-row" }, ok)), s("accounts.totp_reset"));
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      const reply = await resetTotp(a.name);
      dlg.close();
      reload();
      showEnrolment(a.name, reply);
    } catch (e) {
      ok.disabled = false;
      err.textContent = errorText(e);
    }
  });
}

/** The new account's authenticator set-up, shown once: QR (when the node sends an image), URI and secret. */
function showEnrolment(name, reply) {
  const uri = reply?.otpauth_uri || reply?.provisioning_uri || reply?.totp_uri || reply?.totp?.uri || "";
  const secret = reply?.totp_secret || reply?.secret || reply?.totp?.secret || secretOf(uri);
  const qr = reply?.qr_png_url || reply?.totp_qr_png_url || reply?.qr_data_url || reply?.totp_qr_data_url
    || pngData(reply?.totp_qr_png ?? reply?.qr_png);
  const content = el("div", { class: "form-dlg enrol", id: "enrolment" },
    el("h2", {}, s("accounts.enrol_title", { name })),
    el("p", { class: "notice notice-warn" }, s("accounts.enrol_once")),
    qr ? el("figure", { class: "qr-s" }, el("img", { src: qr, alt: s("accounts.enrol_qr_alt"), width: "220", height: "220" })) : null,
    el("p", {}, qr ? s("accounts.enrol_scan") : s("accounts.enrol_type")),
    uri ? copyRow(s("accounts.uri"), uri, "enrol-uri") : null,
    secret ? copyRow(s("accounts.secret"), secret, "enrol-secret") : null);
  const dlg = dialog(content, s("accounts.enrol_title", { name }));
}

/** A PNG the reply carries as base64 or as a data URL, as an image source; null when there is none. */
function pngData(value) {
  if (typeof value !== "string" || !value) return null;
  return value.startsWith("data:image/png;base64,") ? value : `data:image/png;base64,${value}`;
}

function secretOf(uri) {
  try {
    return new URL(uri).searchParams.get("secret") || "";
  } catch (_) {
    return "";
  }
}

function copyRow(label, value, id) {
  const input = el("input", { type: "text", id, value, readonly: true, spellcheck: "false", class: "mono" });
  const b = el("button", { class: "btn btn-small", type: "button", dataset: { copy: id } }, s("common.copy"));
  b.addEventListener("click", async () => {
    input.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(value);
      copied = true;
    } catch (_) {
      copied = document.execCommand && document.execCommand("copy");
    }
    toast(copied ? s("common.copied") : s("common.copy_failed"));
  });
  return el("label", { class: "field" }, el("span", {}, label), el("span", { class: "copy-row" }, input, b));
}
