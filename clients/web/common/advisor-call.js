// "Call an advisor" on the customers' screens (kiosk, phone, VR hall): a panel docked at the side (a sheet at the
// bottom of a phone) that takes the customer from choosing a topic and a language, through the queue (position and
// an honest wait estimate, or "no advisor on duty" with a call-back form), the on-screen consent for the camera and
// microphone, to a live video call with a bank advisor relayed by the node (docs/advisor.md), with co-view: the
// advisor sees the product and angle on the customer's screen, can show another product or angle, point at the
// product view and offer a locked price that the customer accepts and pays through the page's usual checkout.
//
// Protocol: JSON over /ws/advisor/customer (hello -> queued ... -> advisor -> consent -> sdp offer/answer ->
// connected -> ended). WebRTC: one RTCPeerConnection with no ICE servers (the node is reachable directly), one audio
// and one video transceiver (sending the customer's microphone and camera where consented, receiving the advisor's),
// the offer sent once ICE gathering has completed (no trickle).
//
// A network change (a phone moving from Wi-Fi to 5G) breaks the socket, the media, or both. The call survives it: a
// socket lost during a call is reopened with the call's resume token (`{type: resume}`; the node keeps the call for
// 30 s), and media that failed, or did not come back with the socket, is offered again on a fresh peer connection
// (`restart: true`): the node replaces this side's leg and the advisor's connection goes on untouched.
//
// A page supplies hooks: getView() (what is on its screen: {screen, product?, variant?, yaw_deg?, pitch_deg?, zone?}),
// applyShow({product, variant, yaw_deg}) (show what the advisor shows), onAccept(quote) (buy with that quote),
// pointerHost() (the element holding the product view the advisor points at, or null) and tells the widget
// viewChanged() whenever its view changes and orderPlaced(orderId) when the offered quote became an order.

import { ApiError, api, formatCny, getProduct, newIdempotencyKey, wsUrl } from "./api.js";
import { countdown, expiryMs, formatMobile, mobileNumber } from "./checkout.js";
import { getLang, onLangChange, pick, t } from "./i18n.js";
import { el } from "./ui.js";

export const TOPICS = ["precious_metals", "car_finance", "other"];
export const LANGS = ["zh", "en"];
const VIEW_MIN_INTERVAL_MS = 200; // at most 5 views a second (the node drops more)
const GATHER_TIMEOUT_MS = 5000;
const RESUME_WITHIN_MS = 25000; // the node keeps a call 30 s for a customer whose connection dropped
const RESUME_DELAYS_MS = [250, 1000, 2000, 3000, 4000, 5000];
const RESUME_ANSWER_MS = 5000; // a reopened socket that has not said `resumed` by then is dropped and tried again
const DISCONNECTED_GRACE_MS = 4000; // ICE "disconnected" this long (not back by itself): offer a fresh connection
const MAX_RESTARTS = 6; // per call: past this the call ends as failed
const PLACE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const BANK_OFFSET_MS = 8 * 3600 * 1000; // Beijing time, UTC+8 (no daylight saving)
const CALLBACK_DAYS = 7; // the node takes preferred times within the next 14 days
const CALLBACK_SLOTS = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"];

/** The part of an <img> shown with object-fit: contain (its transform included), in client pixels. */
export function contentRect(img) {
  const r = img.getBoundingClientRect();
  const nw = img.naturalWidth;
  const nh = img.naturalHeight;
  if (!nw || !nh || !r.width || !r.height) return { left: r.left, top: r.top, width: r.width, height: r.height };
  const s = Math.min(r.width / nw, r.height / nh);
  const w = nw * s;
  const h = nh * s;
  return { left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h };
}

/** The picture of a product view: the spinner's frame (or its still) inside `host`, else the host itself. */
export function viewPicture(host) {
  if (!host) return null;
  const imgs = [...host.querySelectorAll("img.spin-frame")].filter((i) => !i.hidden && i.naturalWidth > 0);
  return imgs.find((i) => !i.classList.contains("spin-still")) || imgs[0] || host;
}

/** The peer connection of a call (customer or advisor side): mic (+camera) out, one audio and one video in. */
export function makePeer(stream) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const kind of ["audio", "video"]) {
    const track = stream?.getTracks().find((x) => x.kind === kind) || null;
    if (track) pc.addTransceiver(track, { direction: "sendrecv", streams: [stream] });
    else pc.addTransceiver(kind, { direction: "recvonly" });
  }
  return pc;
}

/** Creates the offer and resolves to its SDP once ICE gathering is complete (or after a few seconds, as it is). */
export async function gatheredOffer(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => pc.iceGatheringState === "complete" && done();
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  return pc.localDescription.sdp;
}

/** Plays a remote stream in `video`; where the browser refuses sound without a gesture, plays muted. */
export function playRemote(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream;
  video.play().catch(() => {
    video.muted = true;
    video.play().catch(() => {});
  });
}

/** Counts the frames a <video> actually presents into `counter.dataset.frames` (requestVideoFrameCallback). */
export function countFrames(video, counter) {
  let stopped = false;
  let n = 0;
  const tick = () => {
    if (stopped) return;
    n += 1;
    counter.dataset.frames = String(n);
    video.requestVideoFrameCallback(tick);
  };
  if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(tick);
  return () => (stopped = true);
}

const minutes = (s) => Math.max(1, Math.round(s / 60));
const present = (kids) => kids.flat().filter((k) => k !== null && k !== undefined && k !== false);
/** node.append / node.replaceChildren without the "null" text a left-out child would become. */
const fill = (node, ...kids) => node.append(...present(kids));
const refill = (node, ...kids) => node.replaceChildren(...present(kids));

export class AdvisorCall {
  constructor({
    channel,
    place = null,
    getView = () => null,
    applyShow = async () => {},
    onAccept = async () => {},
    pointerHost = () => null,
    keypad = false,
    defaultTopic = () => "precious_metals",
    onState = () => {},
  }) {
    this.channel = channel;
    this.place = place && PLACE_RE.test(place) ? place : null;
    this.getView = getView;
    this.applyShow = applyShow;
    this.onAccept = onAccept;
    this.pointerHost = pointerHost;
    this.keypad = keypad;
    this.defaultTopic = defaultTopic;
    this.onState = onState;
    this.state = "closed"; // closed | choose | connecting | queued | callback | callback_done | consent | live | ended
    this.topic = null;
    this.lang = getLang();
    this.ws = null;
    this.callId = null;
    this.queue = null; // the last `queued`: {position, wait_s, advisors_on_duty, requeued}
    this.busy = false;
    this.lost = false;
    this.advisorName = "";
    this.endReason = null;
    this.pc = null;
    this.resumeToken = null; // from `advisor` / `resumed`: takes the call over on a new socket
    this.reconnecting = false; // the socket or the media dropped during the call and is being re-established
    this._resume = null; // {deadline, attempt, timer} while the socket is being reopened
    this._restarts = 0;
    this._disconnectedTimer = null;
    this.local = null; // the customer's own MediaStream
    this.remote = null;
    this.connected = false;
    this.videoOn = false;
    this.coview = true;
    this.offer = null; // {quote, status: "open" | "accepted" | "declined" | "expired", stop}
    this.rec = "off"; // dual recording: off | asking (the consent on screen) | starting | on | refused
    this.recProduct = null;
    this.minimised = false;
    this._view = { last: null, sentAt: 0, timer: null };
    this._stops = [];
    this.root = el("aside", { class: "advisor-call", id: "advisor-call", "aria-live": "polite", hidden: true });
    this.root.setAttribute("aria-label", t("advisor.title"));
    this.pointer = el("div", { class: "advisor-pointer", "aria-label": t("advisor.pointer"), role: "img", hidden: true });
    this.pill = el("button", { class: "btn btn-gold advisor-pill", type: "button", id: "advisor-expand", hidden: true, onclick: () => this.setMinimised(false) });
    document.body.append(this.root, this.pointer, this.pill);
    this._pointerAt = null;
    this._pointerTimer = null;
    window.addEventListener("resize", () => this._placePointer());
    onLangChange(() => {
      this.root.setAttribute("aria-label", t("advisor.title"));
      this.render();
    });
  }

  // ---- what the page asks -------------------------------------------------------------------------------
  /** The customer is talking with an advisor (consent asked or the call live): the page counts this as activity. */
  get live() {
    return this.state === "consent" || this.state === "live";
  }

  /** A call is waiting in the queue (or being connected). */
  get waiting() {
    return this.state === "connecting" || this.state === "queued" || (this.state === "callback" && !!this.ws);
  }

  get open() {
    return this.state !== "closed";
  }

  /** Opens the panel: the topic and language choice (or the call as it stands). */
  start() {
    this.setMinimised(false);
    if (this.state === "closed" || this.state === "ended") {
      this._reset();
      this.topic = TOPICS.includes(this.defaultTopic()) ? this.defaultTopic() : "precious_metals";
      this.lang = getLang();
      this._set("choose");
    }
    (this.root.querySelector("#advisor-start") || this.root.querySelector(".advisor-body button"))?.focus();
  }

  /** Ends everything (the customer's cancel, the kiosk's idle wipe): leaves the queue, ends the call, closes. */
  cancel() {
    if (this.ws && this.ws.readyState <= 1) {
      this._send({ type: "cancel" });
      this._closeSocket();
    }
    this._teardownMedia();
    this._reset();
    this._set("closed");
  }

  /** The page's view changed: sent to the node (latest wins, at most 5 a second) while co-view is on. */
  viewChanged() {
    if (!this.ws || this.ws.readyState !== 1 || !this.coview) return;
    const wait = this._view.sentAt + VIEW_MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      if (!this._view.timer) this._view.timer = setTimeout(() => ((this._view.timer = null), this.viewChanged()), wait);
      return;
    }
    const view = this._currentView();
    if (!view) return;
    const text = JSON.stringify(view);
    if (text === this._view.last) return;
    this._view.last = text;
    this._view.sentAt = Date.now();
    this._send({ type: "view", view });
  }

  /** The order placed from the advisor's offer: the advisor's console follows its status (from the bank's records). */
  orderPlaced(orderId) {
    if (orderId && this.ws && this.ws.readyState === 1) this._send({ type: "order", order_id: orderId });
  }

  setMinimised(on) {
    this.minimised = !!on && this.state !== "closed";
    this._paintDock();
  }

  // ---- the socket ---------------------------------------------------------------------------------------
  _connect() {
    this._closeSocket();
    this.busy = false;
    this.lost = false;
    this.queue = null;
    this._set("connecting");
    if (!this._open(() => {
      const hello = { type: "hello", topic: this.topic, lang: this.lang, channel: this.channel };
      if (this.place) hello.place = this.place;
      const view = this._currentView();
      if (view) hello.view = view;
      this._view.last = view ? JSON.stringify(view) : null;
      return hello;
    })) {
      this.lost = true;
      this._set("ended");
    }
  }

  /** Opens the socket; `first()` is the first message (a hello, or a resume). False when it cannot be opened. */
  _open(first) {
    let ws;
    try {
      ws = new WebSocket(wsUrl("/ws/advisor/customer"));
    } catch (e) {
      return false;
    }
    this.ws = ws;
    ws.onopen = () => this._send(first());
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      this._onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (["closed", "ended", "callback_done"].includes(this.state) || this.busy) return this.render();
      // gone in a call without an `ended`: the network changed, most likely; come back to the same call (unless
      // the node just refused the resume: 4400, the call is over)
      const refused = this._resume && ev.code === 4400;
      if (this.live && this.callId && this.resumeToken && !refused) return this._resumeSoon();
      // gone without an `ended`: the call (or the wait) is over; the customer may call again
      this._resumeDone();
      this._teardownMedia();
      this.lost = true;
      this._set(this.state === "callback" ? "callback" : "ended");
    };
    return true;
  }

  /** The socket dropped during a call: reopen it with the resume token, a few times, within the node's grace. */
  _resumeSoon() {
    const now = Date.now();
    if (!this._resume) this._resume = { deadline: now + RESUME_WITHIN_MS, attempt: 0, timer: null };
    const r = this._resume;
    if (!this.reconnecting) {
      this.reconnecting = true;
      this.render();
    }
    const delay = RESUME_DELAYS_MS[Math.min(r.attempt, RESUME_DELAYS_MS.length - 1)];
    if (now + delay > r.deadline) {
      // the node has ended the call by now
      this._resumeDone();
      this._teardownMedia();
      this.lost = true;
      return this._set("ended");
    }
    r.attempt += 1;
    r.timer = setTimeout(() => {
      r.timer = null;
      if (this._resume !== r || !this.live) return;
      if (!this._open(() => ({ type: "resume", call: this.callId, token: this.resumeToken }))) return this._resumeSoon();
      // a socket that opens but never answers (a captive portal, a half-open path): give up on it and try again
      r.timer = setTimeout(() => {
        r.timer = null;
        if (this._resume !== r || !this.ws) return;
        const ws = this.ws;
        this.ws = null;
        ws.close();
        this._resumeSoon();
      }, RESUME_ANSWER_MS);
    }, delay);
  }

  _resumeDone() {
    if (this._resume?.timer) clearTimeout(this._resume.timer);
    this._resume = null;
  }

  /** The node has the call again on this socket (`resumed`): give back what it may have missed, then the media. */
  _resumed(msg) {
    this._resumeDone();
    this.resumeToken = msg.resume || this.resumeToken;
    if (!this.live) return;
    if (this.state === "live" && this.local) {
      if (!msg.consent) this._send({ type: "consent", audio: true, video: this.videoOn });
      if (!this.pc || this.pc.connectionState !== "connected" || !msg.consent) this._restartMedia(!!msg.consent);
      else this.reconnecting = false;
    } else {
      this.reconnecting = false;
    }
    if (this.coview) {
      this._view.last = null;
      this.viewChanged();
    }
    this.render();
  }

  _send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  _closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000);
  }

  _onMessage(msg) {
    switch (msg.type) {
      case "queued": {
        this.callId = msg.call || this.callId;
        this.queue = { position: msg.position, wait_s: msg.wait_s, advisors_on_duty: msg.advisors_on_duty, requeued: !!msg.requeued };
        if (msg.requeued) {
          this._teardownMedia();
          this._clearOffer();
          this.advisorName = "";
        }
        if (this.state === "callback") return this.render(); // the customer is filling in the form: keep it
        return this._set("queued");
      }
      case "advisor":
        this.advisorName = msg.advisor?.display_name || "";
        this.callId = msg.call || this.callId;
        this.resumeToken = msg.resume || null;
        this._restarts = 0;
        return this._set("consent");
      case "resumed":
        return this._resumed(msg);
      case "sdp":
        if (msg.kind === "answer" && this.pc && this.pc.signalingState === "have-local-offer") {
          const pc = this.pc;
          pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }).catch((e) => this.pc === pc && this._mediaFailed(e));
        }
        return;
      case "connected":
        this.connected = true;
        this.reconnecting = false;
        return this.render();
      case "ended":
        this.endReason = msg.reason || "error";
        this._teardownMedia();
        this._closeSocket();
        return this._set("ended");
      case "show":
        return this._show(msg);
      case "pointer":
        return this._point(msg);
      case "hotspot":
        return; // the pages have no hotspot to light yet
      case "offer":
        return this._offer(msg.quote);
      case "record_consent":
        // the product on offer is sold only with the call recorded: ask, on screen, before anything is recorded
        if (!this.live) return;
        this.rec = "asking";
        this.recProduct = msg.product || null;
        this._recName = "";
        this._productName(this.recProduct).then((name) => {
          this._recName = name;
          if (this.rec === "asking") this.render();
        });
        this.setMinimised(false); // the customer must see the question to answer it
        return this.render();
      case "record":
        if (msg.on) this.rec = "on";
        else if (this.rec !== "refused") this.rec = "off";
        return this.render();
      case "error":
        if (msg.code === "busy") {
          this.busy = true;
          this._closeSocket();
          return this._set("queued");
        }
        return; // bad_message and the like: nothing the customer can act on
      default:
        return;
    }
  }

  // ---- media --------------------------------------------------------------------------------------------
  async _consent(choice) {
    if (choice === "decline") {
      this._send({ type: "consent", audio: false, video: false });
      this.endReason = "declined";
      this._closeSocket();
      return this._set("ended");
    }
    const wantVideo = choice === "video";
    this._set("live");
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: wantVideo ? { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" } : false });
    } catch (e) {
      if (wantVideo) {
        try {
          stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false }); // no camera: sound only
        } catch (_) {
          stream = null;
        }
      }
      if (!stream) return this._mediaFailed(e);
    }
    if (this.state !== "live") return stream.getTracks().forEach((x) => x.stop()); // cancelled meanwhile
    this.local = stream;
    this.videoOn = stream.getVideoTracks().length > 0;
    this._send({ type: "consent", audio: true, video: this.videoOn });
    this.render();
    await this._offerMedia(false);
  }

  /** A peer connection for the call (the customer's camera and microphone out), offered to the node; `restart`
   * when it replaces one the node answered before (the network changed). */
  async _offerMedia(restart) {
    try {
      const pc = makePeer(this.local);
      this.pc = pc;
      this.remote = new MediaStream();
      pc.ontrack = (ev) => {
        if (this.pc !== pc) return;
        if (!this.remote.getTracks().includes(ev.track)) this.remote.addTrack(ev.track);
        if (this._remoteVideo) playRemote(this._remoteVideo, this.remote);
      };
      pc.onconnectionstatechange = () => {
        if (this.pc !== pc) return;
        clearTimeout(this._disconnectedTimer);
        if (pc.connectionState === "failed") this._mediaLost();
        else if (pc.connectionState === "disconnected") this._disconnectedTimer = setTimeout(() => this.pc === pc && pc.connectionState === "disconnected" && this._mediaLost(), DISCONNECTED_GRACE_MS);
      };
      const sdp = await gatheredOffer(pc);
      if (this.pc === pc) this._send(restart ? { type: "sdp", kind: "offer", sdp, restart: true } : { type: "sdp", kind: "offer", sdp });
    } catch (e) {
      this._mediaFailed(e);
    }
  }

  /** The media connection failed (the network changed under it): a fresh one, once the socket is there. */
  _mediaLost() {
    this.connected = false;
    this.reconnecting = true;
    this.render();
    if (this.ws && this.ws.readyState === 1) this._restartMedia(true);
    // else: the socket is being reopened; `resumed` restarts the media
  }

  _restartMedia(restart) {
    if (!this.local || this.state !== "live") return;
    this._restarts += 1;
    if (this._restarts > MAX_RESTARTS) return this._mediaFailed(new Error("the connection kept failing"));
    clearTimeout(this._disconnectedTimer);
    const old = this.pc;
    this.pc = null;
    old?.close();
    for (const tr of this.remote?.getTracks() || []) tr.stop();
    this.connected = false;
    this.reconnecting = true;
    this.render();
    this._offerMedia(restart);
  }

  _mediaFailed(err) {
    this._teardownMedia();
    this._send({ type: "cancel" });
    this._closeSocket();
    this.endReason = "error";
    this.mediaError = err?.message || String(err);
    this._set("ended");
  }

  _teardownMedia() {
    clearTimeout(this._disconnectedTimer);
    this.reconnecting = false;
    this.pc?.close();
    this.pc = null;
    for (const tr of this.local?.getTracks() || []) tr.stop();
    this.local = null;
    for (const tr of this.remote?.getTracks() || []) tr.stop();
    this.remote = null;
    this.connected = false;
    if (this.rec !== "refused") this.rec = "off";
    this._liveEl = null;
    for (const stop of this._stops) stop();
    this._stops = [];
    this._point({ x: null });
  }

  _toggleVideo() {
    const track = this.local?.getVideoTracks()[0];
    if (!track) return;
    this.videoOn = !this.videoOn;
    track.enabled = this.videoOn; // the microphone stays on
    this._send({ type: "video", on: this.videoOn });
    this.render();
  }

  _toggleCoview() {
    this.coview = !this.coview;
    this._send({ type: "coview", on: this.coview });
    if (!this.coview) this._point({ x: null });
    else {
      this._view.last = null;
      this.viewChanged();
    }
    this.render();
  }

  // ---- co-view ------------------------------------------------------------------------------------------
  _currentView() {
    let v = null;
    try {
      v = this.getView();
    } catch (_) {
      v = null;
    }
    if (!v || !v.screen) return null;
    const out = { screen: String(v.screen) };
    for (const k of ["product", "variant", "zone"]) if (typeof v[k] === "string" && v[k]) out[k] = v[k];
    for (const k of ["yaw_deg", "pitch_deg"]) if (Number.isFinite(v[k])) out[k] = v[k];
    return out;
  }

  async _show(msg) {
    if (!this.coview || !msg.product) return;
    this._point({ x: null });
    try {
      await this.applyShow({ product: msg.product, variant: msg.variant || null, yaw_deg: Number.isFinite(msg.yaw_deg) ? msg.yaw_deg : null });
    } catch (_) {
      /* the page could not show it: the advisor sees the customer's view unchanged */
    }
    const name = await this._productName(msg.product, msg.variant);
    this._note = t("advisor.showing", { name });
    this.render();
    this.viewChanged();
  }

  _point(msg) {
    if (msg.x === null || msg.x === undefined || !this.coview) {
      this._pointerAt = null;
      this.pointer.hidden = true;
      clearInterval(this._pointerTimer);
      this._pointerTimer = null;
      return;
    }
    const x = Number(msg.x);
    const y = Number(msg.y);
    if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return;
    this._pointerAt = { x, y };
    this._placePointer();
    // the product view may zoom, scroll or change under the pointer: keep it on the same point of the picture
    if (!this._pointerTimer) this._pointerTimer = setInterval(() => this._placePointer(), 250);
  }

  _placePointer() {
    const at = this._pointerAt;
    const pic = at ? viewPicture(this.pointerHost()) : null;
    if (!at || !pic || !pic.isConnected) {
      this.pointer.hidden = true;
      return;
    }
    const r = pic.tagName === "IMG" ? contentRect(pic) : pic.getBoundingClientRect();
    if (!r.width || !r.height) {
      this.pointer.hidden = true;
      return;
    }
    this.pointer.style.left = `${r.left + at.x * r.width}px`;
    this.pointer.style.top = `${r.top + at.y * r.height}px`;
    this.pointer.hidden = false;
    this.pointer.dataset.x = at.x.toFixed(3);
    this.pointer.dataset.y = at.y.toFixed(3);
  }

  // ---- the advisor's offer ------------------------------------------------------------------------------
  async _offer(quote) {
    if (!quote || !quote.id) return;
    this._clearOffer();
    const offer = { quote, status: "open", name: "", left: null, stop: null };
    this.offer = offer;
    offer.name = await this._productName(quote.product, quote.variant);
    if (this.offer !== offer) return;
    const until = expiryMs(quote);
    offer.stop = countdown(
      until || Date.now(),
      (s) => {
        offer.left = s;
        const c = this.root.querySelector("#advisor-offer-countdown");
        if (c && offer.status === "open") c.textContent = t("advisor.offer_valid", { s });
      },
      () => {
        if (offer.status === "open") offer.status = "expired";
        if (this.offer === offer) this.render();
      },
    );
    this.render();
  }

  _clearOffer() {
    this.offer?.stop?.();
    this.offer = null;
  }

  async _replyOffer(accepted) {
    const offer = this.offer;
    if (!offer || offer.status !== "open") return;
    offer.status = accepted ? "accepted" : "declined";
    offer.stop?.();
    this._send({ type: "offer_reply", quote_id: offer.quote.id, accepted });
    this.render();
    if (accepted) {
      if (this.channel !== "phone") this.setMinimised(false);
      await this.onAccept(offer.quote);
    }
  }

  async _productName(productId, variantId) {
    if (!productId) return "";
    this._names = this._names || new Map();
    if (!this._names.has(productId)) this._names.set(productId, getProduct(productId).catch(() => null));
    const p = await this._names.get(productId);
    if (!p) return productId;
    const v = (p.variants || []).find((x) => x.id === variantId);
    return v && (p.variants || []).length > 1 ? `${pick(p.name)} · ${pick(v.name)}` : pick(p.name);
  }

  // ---- rendering ----------------------------------------------------------------------------------------
  _reset() {
    this._resumeDone();
    this._closeSocket();
    this._teardownMedia();
    this.resumeToken = null;
    this._restarts = 0;
    this._clearOffer();
    this.callId = null;
    this.queue = null;
    this.busy = false;
    this.lost = false;
    this.advisorName = "";
    this.endReason = null;
    this.mediaError = null;
    this.coview = true;
    this.rec = "off";
    this.recProduct = null;
    this._note = null;
    this._callback = null;
    clearTimeout(this._view.timer);
    this._view = { last: null, sentAt: 0, timer: null };
  }

  _set(state) {
    if (state !== "live") this._liveEl = null;
    this.state = state;
    this.render();
    try {
      this.onState(state, this);
    } catch (_) {
      /* the page's business */
    }
  }

  _paintDock() {
    const shown = this.state !== "closed";
    this.root.hidden = !shown || this.minimised;
    this.pill.hidden = !shown || !this.minimised;
    this.pill.textContent = this.live ? `● ${this.rec === "on" ? t("advisor.rec_on") : t("advisor.live")}` : t("advisor.expand");
    this.pill.classList.toggle("advisor-pill-rec", this.live && this.rec === "on");
    document.body.classList.toggle("advisor-docked", shown && !this.minimised);
    document.body.dataset.advisor = this.state;
  }

  render() {
    this.root.dataset.state = this.state;
    this._paintDock();
    if (this.state === "closed") {
      this.root.replaceChildren();
      return;
    }
    if (this.state === "live" && this._liveEl) return this._paintLive();
    const head = el(
      "div",
      { class: "advisor-head" },
      el("span", { class: "advisor-icon", "aria-hidden": "true" }),
      el("h2", { text: this.state === "live" ? t("advisor.with", { name: this.advisorName }) : t("advisor.title") }),
      el("button", { class: "btn btn-ghost btn-small advisor-min", type: "button", text: t("advisor.minimise"), onclick: () => this.setMinimised(true) }),
    );
    const body = el("div", { class: "advisor-body" });
    this.root.replaceChildren(head, body);
    const paint = {
      choose: () => this._paintChoose(body),
      connecting: () => fill(body, el("div", { class: "spinner" }), el("p", { class: "advisor-center muted", text: t("advisor.connecting") }), this._cancelRow()),
      queued: () => this._paintQueued(body),
      callback: () => this._paintCallback(body),
      callback_done: () => this._paintCallbackDone(body),
      consent: () => this._paintConsent(body),
      live: () => this._paintLiveFrame(body),
      ended: () => this._paintEnded(body),
    }[this.state];
    paint?.();
  }

  _cancelRow(label = "advisor.cancel_call") {
    return el("div", { class: "btn-row advisor-actions" }, el("button", { class: "btn", type: "button", id: "advisor-cancel", text: t(label), onclick: () => this.cancel() }));
  }

  _paintChoose(body) {
    const group = (labelKey, values, current, textKey, onPick, name) =>
      el(
        "div",
        { class: "advisor-group", role: "group", "aria-label": t(labelKey) },
        el("p", { class: "advisor-label", text: t(labelKey) }),
        el(
          "div",
          { class: "advisor-chips" },
          values.map((v) => el("button", { class: "chip", type: "button", "aria-pressed": String(v === current), dataset: { [name]: v }, text: t(`${textKey}.${v}`), onclick: () => onPick(v) })),
        ),
      );
    fill(body, 
      el("p", { class: "muted", text: t("advisor.intro") }),
      group("advisor.topic", TOPICS, this.topic, "advisor.topic", (v) => ((this.topic = v), this.render()), "topic"),
      group("advisor.lang", LANGS, this.lang, "advisor.lang", (v) => ((this.lang = v), this.render()), "lang"),
      el(
        "div",
        { class: "btn-row advisor-actions" },
        el("button", { class: "btn", type: "button", id: "advisor-cancel", text: t("advisor.cancel"), onclick: () => this.cancel() }),
        el("button", { class: "btn btn-gold", type: "button", id: "advisor-start", text: t("advisor.start"), onclick: () => this._connect() }),
      ),
    );
  }

  _paintQueued(body) {
    const q = this.queue || {};
    if (this.busy) {
      fill(body, 
        el("p", { class: "advisor-status", id: "advisor-busy", text: t("advisor.busy") }),
        el(
          "div",
          { class: "btn-row advisor-actions" },
          el("button", { class: "btn", type: "button", id: "advisor-cancel", text: t("advisor.close"), onclick: () => this.cancel() }),
          el("button", { class: "btn", type: "button", text: t("advisor.call_again"), onclick: () => this._connect() }),
          el("button", { class: "btn btn-gold", type: "button", id: "advisor-callback", text: t("advisor.callback"), onclick: () => this._set("callback") }),
        ),
      );
      return;
    }
    const topic = el("p", { class: "advisor-topic muted", text: `${t(`advisor.topic.${this.topic}`)} · ${t(`advisor.lang.${this.lang}`)}` });
    if (q.requeued) fill(body, el("p", { class: "advisor-note", text: t("advisor.requeued") }));
    if (!q.advisors_on_duty) {
      fill(body, 
        topic,
        el("p", { class: "advisor-status", id: "advisor-none", text: t("advisor.none_on_duty") }),
        el("p", { class: "muted", text: t("advisor.none_body") }),
        el(
          "div",
          { class: "btn-row advisor-actions" },
          el("button", { class: "btn", type: "button", id: "advisor-cancel", text: t("advisor.cancel_call"), onclick: () => this.cancel() }),
          el("button", { class: "btn btn-gold", type: "button", id: "advisor-callback", text: t("advisor.callback"), onclick: () => this._set("callback") }),
        ),
      );
      return;
    }
    const pos = Number(q.position) || 1;
    const wait = Number.isFinite(q.wait_s) ? (q.wait_s < 60 ? t("advisor.wait_short") : t("advisor.wait", { min: minutes(q.wait_s) })) : "";
    fill(body, 
      topic,
      el("div", { class: "advisor-position", id: "advisor-position", dataset: { position: String(pos) } }, el("span", { class: "advisor-pos-n", text: String(pos) }), el("span", { text: pos <= 1 ? t("advisor.queued_first") : t("advisor.queued", { n: pos }) })),
      wait ? el("p", { class: "advisor-wait", id: "advisor-wait", text: wait }) : null,
      el("p", { class: "muted small", text: `${t("advisor.on_duty", { n: q.advisors_on_duty })} · ${t("advisor.wait_note")}` }),
      el(
        "div",
        { class: "btn-row advisor-actions" },
        el("button", { class: "btn", type: "button", id: "advisor-cancel", text: t("advisor.cancel_call"), onclick: () => this.cancel() }),
        el("button", { class: "btn btn-ghost", type: "button", id: "advisor-callback", text: t("advisor.callback"), onclick: () => this._set("callback") }),
      ),
    );
  }

  _paintConsent(body) {
    fill(body, 
      el("h3", { class: "advisor-consent-title", text: t("advisor.consent_title", { name: this.advisorName || t("advisor.title") }) }),
      el("p", { text: t("advisor.consent_body") }),
      el(
        "div",
        { class: "advisor-consent" },
        el("button", { class: "btn btn-gold", type: "button", id: "advisor-consent-video", text: t("advisor.consent_video"), onclick: () => this._consent("video") }),
        el("button", { class: "btn", type: "button", id: "advisor-consent-audio", text: t("advisor.consent_audio"), onclick: () => this._consent("audio") }),
        el("button", { class: "btn btn-ghost", type: "button", id: "advisor-consent-decline", text: t("advisor.consent_decline"), onclick: () => this._consent("decline") }),
      ),
    );
  }

  /** The live call's frame (built once per call: the <video> elements must not be moved while they play). */
  _paintLiveFrame(body) {
    const remote = el("video", { class: "advisor-remote", id: "advisor-remote", autoplay: true, playsinline: true });
    const own = el("video", { class: "advisor-own mirror", id: "advisor-own", autoplay: true, playsinline: true });
    own.muted = true;
    const waiting = el("div", { class: "advisor-waiting", text: t("advisor.media_starting") });
    const ownOff = el("div", { class: "advisor-own-off", text: t("advisor.your_camera_off") });
    const rec = el("div", { class: "advisor-rec", id: "advisor-rec", role: "status", hidden: true }, el("span", { class: "advisor-rec-dot", "aria-hidden": "true" }), el("span", { class: "advisor-rec-text" }));
    const stage = el("div", { class: "advisor-stage", id: "advisor-stage", dataset: { frames: "0" } }, remote, waiting, rec, el("div", { class: "advisor-own-box" }, own, ownOff));
    const recConsent = el("section", { class: "advisor-rec-consent", id: "advisor-rec-consent", role: "alertdialog", "aria-labelledby": "advisor-rec-title", hidden: true });
    const controls = el("div", { class: "advisor-controls" });
    const extra = el("div", { class: "advisor-extra" });
    fill(body, recConsent, stage, controls, extra);
    this._remoteVideo = remote;
    this._liveEl = { stage, remote, own, waiting, ownOff, controls, extra, rec, recConsent };
    this._stops.push(countFrames(remote, stage));
    remote.addEventListener("playing", () => stage.classList.add("playing"));
    if (this.remote) playRemote(remote, this.remote);
    this._paintLive();
  }

  _paintLive() {
    const L = this._liveEl;
    if (this.local && L.own.srcObject !== this.local) {
      L.own.srcObject = this.local;
      L.own.play().catch(() => {});
    }
    L.ownOff.hidden = this.videoOn;
    L.waiting.textContent = this.reconnecting ? t("advisor.reconnecting") : t("advisor.media_starting");
    L.stage.classList.toggle("reconnecting", this.reconnecting);
    L.stage.dataset.connected = String(this.connected);
    L.stage.dataset.rec = this.rec;
    L.rec.hidden = this.rec !== "on";
    L.rec.querySelector(".advisor-rec-text").textContent = t("advisor.rec_on");
    this._paintRecConsent(L.recConsent);
    const hasCamera = !!this.local?.getVideoTracks().length;
    refill(L.controls, 
      hasCamera ? el("button", { class: "btn btn-small", type: "button", id: "advisor-video", "aria-pressed": String(!this.videoOn), text: this.videoOn ? t("advisor.video_off") : t("advisor.video_on"), onclick: () => this._toggleVideo() }) : null,
      el("button", { class: "btn btn-small", type: "button", id: "advisor-coview", "aria-pressed": String(this.coview), text: this.coview ? t("advisor.coview_stop") : t("advisor.coview_start"), onclick: () => this._toggleCoview() }),
      el("button", { class: "btn btn-small advisor-end", type: "button", id: "advisor-end", text: t("advisor.end"), onclick: () => this._endByCustomer() }),
    );
    const extra = [el("p", { class: "muted small advisor-coview-note", text: this.coview ? t("advisor.coview_on_note") : t("advisor.coview_off_note") })];
    if (this._note && this.coview) extra.push(el("p", { class: "advisor-note", id: "advisor-showing", text: this._note }));
    if (this.rec === "starting") extra.push(el("p", { class: "advisor-note", id: "advisor-rec-starting", text: t("advisor.rec_starting") }));
    if (this.rec === "refused") extra.push(el("p", { class: "advisor-note advisor-rec-refused", id: "advisor-rec-refused", text: t("advisor.rec_refused_note") }));
    if (this.offer) extra.push(this._offerCard());
    refill(L.extra, extra);
  }

  /** The dual-recording consent: why, what, how long, and that refusing is allowed (then this product is not sold). */
  _paintRecConsent(box) {
    const asking = this.rec === "asking";
    box.hidden = !asking;
    if (!asking) {
      delete box.dataset.painted;
      return box.replaceChildren();
    }
    const name = this._recName || this.recProduct || "";
    const painted = `${getLang()}|${name}`;
    if (box.dataset.painted === painted) return; // keep the buttons (and the focus) while other things repaint
    box.dataset.painted = painted;
    refill(box,
      el("h3", { id: "advisor-rec-title", class: "advisor-rec-title" }, el("span", { class: "advisor-rec-dot", "aria-hidden": "true" }), el("span", { text: t("advisor.rec_title") })),
      el("p", { text: t("advisor.rec_why", { name }) }),
      el("ul", { class: "advisor-rec-facts" },
        el("li", { text: t("advisor.rec_what") }),
        el("li", { text: t("advisor.rec_keep") }),
        el("li", { text: t("advisor.rec_refuse_note") })),
      el("div", { class: "btn-row advisor-rec-actions" },
        el("button", { class: "btn", type: "button", id: "advisor-rec-refuse", text: t("advisor.rec_refuse"), onclick: () => this._answerRecording(false) }),
        el("button", { class: "btn btn-gold", type: "button", id: "advisor-rec-accept", text: t("advisor.rec_accept"), onclick: () => this._answerRecording(true) })),
    );
  }

  _answerRecording(accepted) {
    if (this.rec !== "asking") return;
    this._send({ type: "record_consent", accepted });
    this.rec = accepted ? "starting" : "refused";
    this.render();
  }

  _offerCard() {
    const o = this.offer;
    const q = o.quote;
    const card = el(
      "section",
      { class: `advisor-offer offer-${o.status}`, id: "advisor-offer", dataset: { quote: q.id, status: o.status }, "aria-label": t("advisor.offer_title") },
      el("h3", { text: t("advisor.offer_title") }),
      el("p", { class: "advisor-offer-name", text: o.name || q.product }),
      el("p", { class: "price advisor-offer-price", text: formatCny(q.total_cny) }),
    );
    if (o.status === "open") {
      card.append(
        el("p", { class: "countdown", id: "advisor-offer-countdown", text: o.left !== null ? t("advisor.offer_valid", { s: o.left }) : "" }),
        el(
          "div",
          { class: "btn-row" },
          el("button", { class: "btn", type: "button", id: "advisor-offer-decline", text: t("advisor.offer_decline"), onclick: () => this._replyOffer(false) }),
          el("button", { class: "btn btn-gold", type: "button", id: "advisor-offer-accept", text: t("advisor.offer_accept"), onclick: () => this._replyOffer(true) }),
        ),
      );
    } else {
      const key = { accepted: "advisor.offer_accepted", declined: "advisor.offer_declined", expired: "advisor.offer_expired" }[o.status];
      card.append(el("p", { class: o.status === "expired" ? "countdown expired" : "muted", text: t(key) }));
    }
    return card;
  }

  _endByCustomer() {
    this._send({ type: "cancel" });
    this._closeSocket();
    this._teardownMedia();
    this.endReason = "customer_left";
    this._set("ended");
  }

  _paintEnded(body) {
    const key = this.lost ? "advisor.lost" : `advisor.ended.${this.endReason || "error"}`;
    fill(body, 
      el("p", { class: "advisor-status", id: "advisor-ended", dataset: { reason: this.lost ? "lost" : this.endReason || "error" }, text: t(key) !== key ? t(key) : t("advisor.ended") }),
      this.mediaError ? el("p", { class: "muted small", text: t("advisor.camera_failed", { msg: this.mediaError }) }) : null,
      el(
        "div",
        { class: "btn-row advisor-actions" },
        el("button", { class: "btn", type: "button", id: "advisor-close", text: t("advisor.close"), onclick: () => this.cancel() }),
        el("button", { class: "btn btn-gold", type: "button", id: "advisor-again", text: t("advisor.call_again"), onclick: () => (this._reset(), this._connect()) }),
      ),
    );
  }

  // ---- call-back ----------------------------------------------------------------------------------------
  _paintCallback(body) {
    const f = (this._callback = this._callback || { digits: "", day: null, slot: null, name: "", key: newIdempotencyKey(), error: "", sending: false });
    const days = callbackDays();
    if (!f.day || !days.some((d) => d.id === f.day)) f.day = days[0]?.id || null;
    const day = days.find((d) => d.id === f.day);
    if (f.slot && !day?.slots.includes(f.slot)) f.slot = null;
    const submit = el("button", { class: "btn btn-gold", type: "button", id: "cb-submit", text: t("advisor.cb_submit"), disabled: f.sending, onclick: () => this._sendCallback() });
    let phoneField;
    if (this.keypad) {
      const shown = el("output", { class: "phone-number advisor-phone", id: "cb-phone", "aria-live": "polite", text: formatMobile(f.digits) || "1__ ____ ____" });
      const press = (k) => {
        if (k === "del") f.digits = f.digits.slice(0, -1);
        else if (k === "clr") f.digits = "";
        else if (f.digits.length < 11) f.digits += k;
        f.error = "";
        shown.textContent = formatMobile(f.digits) || "1__ ____ ____";
      };
      const pad = el("div", { class: "keypad advisor-keypad", role: "group", "aria-label": t("advisor.cb_phone") });
      for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "del"]) {
        pad.append(el("button", { class: "btn key", type: "button", dataset: { key: k }, text: k === "del" ? "⌫" : k === "clr" ? t("checkout.clear") : k, onclick: () => press(k) }));
      }
      phoneField = el("div", { class: "advisor-group" }, el("p", { class: "advisor-label", text: t("advisor.cb_phone") }), shown, pad);
    } else {
      const input = el("input", { type: "tel", id: "cb-phone", inputmode: "numeric", autocomplete: "tel", maxlength: "13", placeholder: "138 0013 8000", value: f.digits });
      input.addEventListener("input", () => (f.digits = input.value.replace(/\D/g, "").slice(0, 11)));
      const name = el("input", { type: "text", id: "cb-name", maxlength: "40", autocomplete: "name", value: f.name });
      name.addEventListener("input", () => (f.name = name.value));
      phoneField = el(
        "div",
        {},
        el("label", { class: "field" }, el("span", { class: "advisor-label", text: t("advisor.cb_phone") }), input),
        el("label", { class: "field" }, el("span", { class: "advisor-label", text: t("advisor.cb_name") }), name),
      );
    }
    fill(body, 
      el("h3", { text: t("advisor.cb_title") }),
      el("p", { class: "muted small", text: `${t(`advisor.topic.${this.topic}`)} · ${t(`advisor.lang.${this.lang}`)}` }),
      phoneField,
      el(
        "div",
        { class: "advisor-group", role: "group", "aria-label": t("advisor.cb_day") },
        el("p", { class: "advisor-label", text: t("advisor.cb_day") }),
        el("div", { class: "advisor-chips" }, days.map((d) => el("button", { class: "chip", type: "button", "aria-pressed": String(d.id === f.day), dataset: { day: d.id }, text: d.label, onclick: () => ((f.day = d.id), (f.slot = null), this.render()) }))),
      ),
      el(
        "div",
        { class: "advisor-group", role: "group", "aria-label": t("advisor.cb_time") },
        el("p", { class: "advisor-label", text: t("advisor.cb_time") }),
        el("div", { class: "advisor-chips advisor-slots" }, (day?.slots || []).map((s) => el("button", { class: "chip", type: "button", "aria-pressed": String(s === f.slot), dataset: { slot: s }, text: s, onclick: () => ((f.slot = s), (f.error = ""), this.render()) }))),
      ),
      el("p", { class: "error-text", id: "cb-error", role: "alert", text: f.error }),
      el("p", { class: "muted small", text: t("advisor.cb_privacy") }),
      el(
        "div",
        { class: "btn-row advisor-actions" },
        el("button", { class: "btn", type: "button", id: "cb-back", text: this.ws ? t("advisor.cb_back") : t("advisor.cancel"), onclick: () => (this.ws ? this._set("queued") : this.cancel()) }),
        submit,
      ),
    );
  }

  async _sendCallback() {
    const f = this._callback;
    if (!f || f.sending) return;
    const phone = mobileNumber(f.digits);
    if (!phone) {
      f.error = t("advisor.cb_phone_invalid");
      return this.render();
    }
    if (!f.day || !f.slot) {
      f.error = t("advisor.cb_pick_time");
      return this.render();
    }
    const preferred = `${f.day}T${f.slot}:00+08:00`;
    const body = { topic: this.topic, lang: this.lang, channel: this.channel, phone, preferred_at: preferred };
    if (this.place) body.place = this.place;
    if (f.name.trim()) body.name = f.name.trim().slice(0, 40);
    f.sending = true;
    f.error = "";
    this.render();
    try {
      const reply = await api("/api/advisor/callbacks", { method: "POST", body, headers: { "Idempotency-Key": f.key } });
      f.done = { phone, at: reply?.preferred_at || preferred };
      // the customer will be called: the wait in the queue (if any) ends here
      if (this.ws) {
        this._send({ type: "cancel" });
        this._closeSocket();
      }
      this._set("callback_done");
    } catch (e) {
      f.sending = false;
      f.error = e instanceof ApiError && e.status === 429 ? t("advisor.busy") : t("advisor.error", { msg: e.message });
      this.render();
    }
  }

  _paintCallbackDone(body) {
    const f = this._callback || {};
    const d = f.done || {};
    fill(body, 
      el("div", { class: "paid-mark advisor-done-mark", "aria-hidden": "true" }),
      el("h3", { class: "advisor-center", id: "cb-done", text: t("advisor.cb_done_title") }),
      el("p", { class: "advisor-center", text: t("advisor.cb_done", { phone: maskPhone(d.phone || ""), when: bankTimeLabel(d.at) }) }),
      el("div", { class: "btn-row advisor-actions" }, el("button", { class: "btn btn-gold", type: "button", id: "advisor-close", text: t("advisor.close"), onclick: () => this.cancel() })),
    );
    const mark = body.querySelector(".advisor-done-mark");
    mark.innerHTML = '<svg viewBox="0 0 24 24" width="44" height="44"><path d="M5 12.5l4.2 4.2L19 7" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';
  }
}

// ---- call-back times, in Beijing time ---------------------------------------------------------------------
const pad2 = (n) => String(n).padStart(2, "0");

/** The next days an advisor can call back on, each with its free half-hour slots (at least 30 min from now). */
export function callbackDays(nowMs = Date.now()) {
  const out = [];
  const fmt = new Intl.DateTimeFormat(getLang() === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", month: "short", day: "numeric", weekday: "short" });
  for (let i = 0; i < CALLBACK_DAYS; i++) {
    const d = new Date(nowMs + BANK_OFFSET_MS + i * 86400000);
    const id = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
    const slots = CALLBACK_SLOTS.filter((s) => Date.parse(`${id}T${s}:00+08:00`) > nowMs + 30 * 60 * 1000);
    if (!slots.length) continue;
    const label = i === 0 ? t("advisor.cb_today") : i === 1 ? t("advisor.cb_tomorrow") : fmt.format(new Date(Date.parse(`${id}T12:00:00+08:00`)));
    out.push({ id, label, slots });
  }
  return out;
}

function bankTimeLabel(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso || "");
  const fmt = new Intl.DateTimeFormat(getLang() === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return fmt.format(new Date(ms));
}

function maskPhone(phone) {
  return phone.length === 11 ? `${phone.slice(0, 3)} **** ${phone.slice(7)}` : phone;
}
