// Small DOM helpers: element builder, toasts, modal dialogs with focus handling, the try-on consent dialog.

import { t } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

let toastTimer = null;
export function toast(message, { error = false, ms = 3500 } = {}) {
  let box = document.querySelector(".toast");
  if (!box) {
    box = el("div", { class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = message;
  box.classList.toggle("error", error);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), ms);
}

export function showError(err) {
  toast(t("common.error", { msg: err?.message || String(err) }), { error: true, ms: 6000 });
}

/** Opens a modal dialog holding `content`; returns {root, close}. Escape and the close button close it. */
export function openDialog(content, { onClose = null, labelKey = null, closable = true } = {}) {
  const prev = document.activeElement;
  const box = el("div", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": labelKey ? t(labelKey) : null });
  const root = el("div", { class: "overlay" }, box);
  box.append(content);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    root.remove();
    document.removeEventListener("keydown", onKey);
    if (onClose) onClose();
    if (prev && prev.focus) prev.focus();
  };
  const onKey = (e) => {
    if (e.key === "Escape" && closable) close();
  };
  if (closable) {
    const x = el("button", { class: "btn btn-ghost btn-small", type: "button", text: t("common.close"), onclick: close });
    box.append(el("div", { class: "btn-row" }, x));
    root.addEventListener("click", (e) => {
      if (e.target === root) close();
    });
  }
  document.addEventListener("keydown", onKey);
  document.body.append(root);
  const first = box.querySelector("button, [href], input, select, [tabindex]");
  if (first) first.focus();
  return { root, box, close };
}

/**
 * The consent screen before any camera is opened for try-on (PIPL: a face or hand is sensitive personal
 * information). Resolves true only when the customer presses "agree"; "decline" (or the dialog being wiped by the
 * kiosk's idle timeout) resolves false.
 */
export function askConsent() {
  return new Promise((resolve) => {
    let answered = false;
    const done = (v) => {
      answered = true;
      dlg.close();
      resolve(v);
    };
    const content = el(
      "div",
      { class: "consent" },
      el("h2", { text: t("tryon.consent_title") }),
      el("p", { text: t("tryon.consent_body") }),
      el(
        "div",
        { class: "btn-row" },
        el("button", { class: "btn", type: "button", id: "consent-decline", text: t("tryon.decline"), onclick: () => done(false) }),
        el("button", { class: "btn btn-gold", type: "button", id: "consent-agree", text: t("tryon.agree"), onclick: () => done(true) }),
      ),
    );
    const dlg = openDialog(content, { labelKey: "tryon.consent_title", closable: false, onClose: () => !answered && resolve(false) });
  });
}
