// Recordings: the dual recordings of advisor calls (docs/advisor.md "Dual recording"), for staff who may view them
// (auditors: view_recordings). The console asks commerce for a short-lived ticket of scope `recordings`
// (POST /api/staff/recordings/ticket), lists the edge's recordings with it (GET /api/advisor/recordings, Bearer) and
// plays each leg in a <video> whose src carries the ticket (`?ticket=`: a <video> cannot send a header). The edge
// decrypts in memory and logs every playback with the viewer.

import { api, getProducts } from "../common/api.js";
import { pick } from "../common/i18n.js";
import { el } from "../common/ui.js";
import { formatTime } from "./format.js";
import { recordingsTicket } from "./session.js";
import { s } from "./strings.js";
import { failure, heading, loading, notice } from "./widgets.js";

const LEGS = ["customer", "advisor"];
const enc = encodeURIComponent;
let products = null; // id -> name, from /api/products (the list names products by id)

async function productNames() {
  if (products) return products;
  try {
    products = new Map((await getProducts()).map((p) => [p.id, pick(p.name)]));
  } catch (_) {
    products = new Map();
  }
  return products;
}

function duration(rec) {
  const ms = Date.parse(rec.ended_at) - Date.parse(rec.started_at);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const sec = Math.round(ms / 1000);
  return `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, "0")}`;
}

export async function renderRecordings(main) {
  const result = el("div", { id: "rec-result", "aria-live": "polite" });
  const refresh = el("button", { class: "btn btn-small", type: "button", id: "rec-refresh", onclick: () => load() }, s("common.refresh"));
  main.replaceChildren(heading(s("nav.recordings"), refresh), el("p", { class: "muted" }, s("rec.intro")), result);
  await load();

  async function load() {
    result.replaceChildren(loading());
    try {
      const { ticket } = await recordingsTicket();
      const [reply, names] = await Promise.all([
        api("/api/advisor/recordings", { headers: { Authorization: `Bearer ${ticket}` } }),
        productNames(),
      ]);
      const list = reply.recordings || [];
      if (!list.length) return result.replaceChildren(notice("info", s("rec.none")));
      result.replaceChildren(el("p", { class: "muted small" }, s("rec.count", { n: list.length })),
        ...list.map((rec) => recordingCard(rec, ticket, names)));
    } catch (err) {
      result.replaceChildren(failure(err, load));
    }
  }
}

function recordingCard(rec, ticket, names) {
  const product = rec.product ? `${names.get(rec.product) || rec.product}` : "—";
  const legs = LEGS.filter((leg) => rec.legs?.[leg]);
  return el("article", { class: "card-s recording", dataset: { recording: rec.id, call: rec.call } },
    el("header", { class: "recording-head" },
      el("h3", {}, product),
      el("span", { class: "badge st-paid" }, s("rec.sealed")),
      el("span", { class: "spacer" }),
      el("span", { class: "muted small mono" }, rec.id)),
    el("dl", { class: "facts recording-facts" },
      el("dt", {}, s("rec.call")), el("dd", { class: "mono" }, rec.call),
      el("dt", {}, s("rec.advisor")), el("dd", {}, rec.advisor_display_name ? `${rec.advisor_display_name} (${rec.advisor})` : rec.advisor),
      el("dt", {}, s("rec.started")), el("dd", {}, formatTime(rec.started_at)),
      el("dt", {}, s("rec.ended")), el("dd", {}, formatTime(rec.ended_at)),
      el("dt", {}, s("rec.length")), el("dd", {}, duration(rec))),
    el("div", { class: "recording-legs" }, legs.map((leg) => legView(rec, leg, ticket))));
}

function legView(rec, leg, ticket) {
  const info = rec.legs[leg];
  const video = el("video", { class: "recording-video", controls: true, preload: "metadata", playsinline: true,
    dataset: { leg }, "aria-label": `${s(`rec.leg.${leg}`)} · ${rec.call}` });
  video.src = `/api/advisor/recordings/${enc(rec.id)}/${enc(leg)}.webm?ticket=${enc(ticket)}`;
  const problem = el("p", { class: "error-text small", hidden: true });
  video.addEventListener("error", () => {
    problem.textContent = s("rec.play_failed");
    problem.hidden = false;
  });
  return el("figure", { class: "recording-leg", dataset: { leg } },
    video,
    el("figcaption", {},
      el("strong", {}, s(`rec.leg.${leg}`)),
      el("span", { class: "muted small" }, ` · ${Math.round((info.bytes || 0) / 1024)} KB`),
      el("div", { class: "recording-hash" }, el("span", { class: "muted small" }, "SHA-256 "),
        el("code", { class: "mono", dataset: { sha256: info.sha256 } }, info.sha256))),
    problem);
}
