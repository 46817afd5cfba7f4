// Certificates: look one up by the item's serial number (tellers, auditors): every owner in turn, when each
// certificate was issued or revoked, and the signature check of each (GET /api/staff/certificates?serial=).

import { el } from "../common/ui.js";
import { call } from "./session.js";
import { s } from "./strings.js";
import { dataTable, failure, heading, loading, when } from "./widgets.js";

let lastSerial = "";

export async function renderCertificates(main) {
  const serial = el("input", { type: "search", id: "cert-serial", value: lastSerial, required: true,
    autocomplete: "off", spellcheck: "false", size: "30", placeholder: "HJ50-261130-…" });
  const form = el("form", { class: "filters", "aria-label": s("cert.find") },
    el("label", {}, el("span", {}, s("cert.serial")), serial),
    el("button", { class: "btn btn-small btn-gold", type: "submit", id: "cert-find" }, s("cert.find")));
  const result = el("div", { id: "cert-result", "aria-live": "polite" });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    lastSerial = serial.value.trim();
    if (lastSerial) load();
  });
  main.replaceChildren(heading(s("nav.certificates")), el("p", { class: "muted" }, s("cert.intro")), form, result);
  if (lastSerial) load();

  async function load() {
    result.replaceChildren(loading());
    try {
      const r = await call(`/api/staff/certificates?serial=${encodeURIComponent(lastSerial)}`);
      const f = r.certificates[r.certificates.length - 1].fields;
      result.replaceChildren(
        el("p", {}, el("strong", {}, f.product), " · ", f.fineness, " · ", `${f.weight_g} g`, " · ", f.hallmark),
        dataTable([
          { label: s("cert.generation"), cell: (c) => String(c.generation + 1), num: true },
          { label: s("cert.owner"), cell: (c) => c.owner_name },
          { label: s("cert.phone"), cell: (c) => c.owner_phone },
          { label: s("cert.status"), cell: (c) => el("span", { class: `badge st-${c.status === "valid" ? "paid" : "refunded"}`,
            dataset: { status: c.status } }, s(`cert.${c.status}`)) },
          { label: s("cert.issued"), cell: (c) => when(c.issued_at) },
          { label: s("cert.verdict"), cell: (c) => c.verdict.summary },
          { label: "ID", cell: (c) => el("code", {}, c.id) },
        ], r.certificates, { rowAttrs: (c) => ({ dataset: { certificate: c.id, status: c.status } }) }));
    } catch (err) {
      result.replaceChildren(failure(err, load));
    }
  }
}
