// The digital guide on the customers' screens (docs/guide.md, "Pages"): the widget the kiosk and the phone show
// (bust or small figure, captions, an ask box, mute, off, the advisor offer, the once-a-minute rule for unprompted
// speech), over the guide's voice (guide-voice.js) and portrait (guide-portrait.js). The hall page uses the voice
// alone. Everything a page needs is exported from here.

import { ApiError } from "./api.js";
import { GuidePortrait } from "./guide-portrait.js";
import { GuideVoice, askGuide } from "./guide-voice.js";
import { getLang, onLangChange, t } from "./i18n.js";
import { el } from "./ui.js";

export { GuidePortrait } from "./guide-portrait.js";
export { GuideVoice, askGuide, compileTrack, guideLog, speechChunks, weightsAt } from "./guide-voice.js";

// ---- the widget: kiosk bust / phone figure ---------------------------------------------------------------------------
const UNPROMPTED_GAP_MS = 60 * 1000; // the guide speaks unprompted at most once a minute
const HINT_AFTER_MS = 45 * 1000; // a gentle hint after this long without a touch

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch (_) {
    return null;
  }
}
function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch (_) {
    /* private mode: remembered for this page only */
  }
}

/**
 * The guide on a page. Kiosk (`size: "kiosk"`): the bust in a column beside the products, captions under it, an
 * ask box with suggested questions, mute and off. Phone (`size: "phone"`): a small figure in a corner with a close
 * (x) button; a tap opens the captions and the ask box. Off is remembered in localStorage (a small button brings
 * the guide back). Unprompted speech (`greet()`, the idle hint) is at most once a minute; answers to the customer's
 * own questions are never held back. `getFocus()` -> {product, variant} the customer is looking at;
 * `onAdvisor()` does what the page's "call an advisor" does.
 */
export class GuideWidget {
  constructor({ parent = document.body, size = "kiosk", getFocus = () => ({}), onAdvisor = null, advisorText = () => t("hall.advisor_coming"), storageKey = null } = {}) {
    this.size = size;
    this.getFocus = getFocus;
    this.onAdvisor = onAdvisor;
    this.advisorText = advisorText; // what the guide says after "call an advisor" (null: onAdvisor says it)
    this.storageKey = storageKey || `showroom.guide.${size}.off`;
    this.visible = true; // the page wants the guide on this screen
    this.off = stored(this.storageKey) === "1";
    this.open = size === "kiosk"; // the phone's panel opens on a tap
    this.lastUnpromptedMs = -Infinity;
    this.lastActivityMs = Date.now();
    this.hinted = false; // one hint per quiet spell
    this._askSeq = 0;
    this._build(parent);
    this.voice = new GuideVoice({
      captionEl: this.caption,
      onViseme: (w) => this.portrait.setMouth(w),
      onBlocked: () => (this.note.hidden = false),
      onState: (st) => {
        this.root.dataset.speaking = String(st === "speaking");
        this.portrait.setSpeaking(st === "speaking");
      },
    });
    this.portrait = new GuidePortrait(this.canvas, { size });
    this.root.dataset.portrait = "loading";
    this.portrait.load().then(
      () => (this.root.dataset.portrait = "ready"),
      (e) => {
        this.root.dataset.portrait = "unavailable"; // captions and the ask box go on without the figure
        if (!(e instanceof ApiError)) console.warn("guide portrait:", e);
      },
    );
    for (const ev of ["pointerdown", "keydown", "wheel", "touchstart"]) document.addEventListener(ev, () => this.activity(), { capture: true, passive: true });
    this._idleTimer = setInterval(() => this._idleCheck(), 1000);
    onLangChange(() => this._labels());
    this._labels();
    this._apply();
  }

  _build(parent) {
    const kiosk = this.size === "kiosk";
    this.canvas = el("canvas", { class: "guide-canvas", role: "img" });
    this.caption = el("p", { class: "guide-caption", id: `guide-caption-${this.size}`, "aria-live": "polite" });
    this.question = el("p", { class: "guide-question muted", hidden: true });
    this.note = el("p", { class: "guide-note muted small", hidden: true });
    this.advisorBtn = el("button", { class: "btn btn-gold guide-advisor", type: "button", hidden: true, onclick: () => this.callAdvisor() });
    this.input = el("input", { type: "text", class: "guide-input", maxlength: "200", autocomplete: "off", enterkeyhint: "send" });
    this.askBtn = el("button", { class: "btn btn-gold guide-send", type: "submit" });
    this.form = el("form", { class: "guide-ask" }, this.input, this.askBtn);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const q = this.input.value.trim();
      if (q) this.ask(q);
    });
    this.suggest = el("div", { class: "guide-suggest" });
    this.muteBtn = el("button", { class: "btn btn-small guide-mute", type: "button", onclick: () => this.mute(!this.voice.muted) });
    this.offBtn = el("button", { class: "btn btn-small guide-off", type: "button", onclick: () => this.setOff(true) });
    this.nameEl = el("span", { class: "guide-name" });
    this.figure = el("div", { class: "guide-figure" }, this.canvas);
    this.bubble = el("div", { class: "guide-bubble" }, this.question, this.caption, this.note);
    if (kiosk) {
      this.root = el(
        "aside",
        { class: "guide guide-kiosk", id: "guide" },
        el("div", { class: "guide-head" }, this.nameEl, el("span", { class: "spacer" }), this.muteBtn, this.offBtn),
        this.figure,
        this.bubble,
        this.advisorBtn,
        this.suggest,
        this.form,
      );
    } else {
      this.figure.append(el("span", { class: "guide-fallback", "aria-hidden": "true", text: "?" }));
      this.figure.setAttribute("role", "button");
      this.figure.tabIndex = 0;
      this.figure.addEventListener("click", () => this.setOpen(!this.open));
      this.figure.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && this.setOpen(!this.open));
      this.closeBtn = el("button", { class: "guide-close", type: "button", text: "×", onclick: () => this.setOff(true) });
      this.panel = el("div", { class: "guide-panel panel" }, el("div", { class: "guide-head" }, this.nameEl, el("span", { class: "spacer" }), this.muteBtn), this.bubble, this.advisorBtn, this.suggest, this.form);
      this.root = el("aside", { class: "guide guide-phone", id: "guide" }, this.panel, el("div", { class: "guide-dock" }, this.figure, this.closeBtn));
    }
    this.restoreBtn = el("button", { class: `btn btn-small guide-restore guide-restore-${this.size}`, type: "button", onclick: () => this.setOff(false) });
    parent.append(this.root, this.restoreBtn);
  }

  _labels() {
    this.nameEl.textContent = t("guide.name");
    this.canvas.setAttribute("aria-label", t("guide.name"));
    this.input.placeholder = t("guide.ask_ph");
    this.input.setAttribute("aria-label", t("guide.ask_ph"));
    this.askBtn.textContent = t("guide.ask");
    this.advisorBtn.textContent = t("guide.advisor");
    this.muteBtn.textContent = this.voice?.muted ? t("guide.unmute") : t("guide.mute");
    this.muteBtn.setAttribute("aria-pressed", String(!!this.voice?.muted));
    this.offBtn.textContent = t("guide.hide");
    this.offBtn.setAttribute("aria-label", t("guide.off"));
    this.note.textContent = t("guide.tap_to_hear");
    this.restoreBtn.replaceChildren(el("span", { class: "guide-dot", "aria-hidden": "true" }), t("guide.on"));
    this.restoreBtn.setAttribute("aria-label", t("guide.on"));
    if (this.closeBtn) this.closeBtn.setAttribute("aria-label", t("guide.close"));
    this.figure.setAttribute("aria-label", this.size === "phone" ? t("guide.open") : t("guide.name"));
    if (!this.caption.textContent || this.caption.dataset.intro === "1") {
      this.caption.textContent = t("guide.intro");
      this.caption.dataset.intro = "1";
    }
    this.suggest.replaceChildren(
      ...["price", "gold", "pickup"].map((k) =>
        el("button", { class: "chip guide-chip", type: "button", dataset: { suggest: k }, text: t(`guide.suggest.${k}`), onclick: () => this.ask(t(`guide.suggest.${k}`)) }),
      ),
    );
  }

  _apply() {
    const shown = this.visible && !this.off;
    this.root.hidden = !shown;
    this.restoreBtn.hidden = !(this.visible && this.off);
    this.root.dataset.open = String(this.open);
    document.body.classList.toggle(`guide-on-${this.size}`, shown);
    if (!shown) this.voice?.stop();
  }

  /** The page shows the guide on this screen or not (the kiosk hides it on the attract loop and in the hall). */
  setVisible(on) {
    this.visible = !!on;
    this._apply();
  }

  /** Off: the guide disappears (remembered); a small button brings it back. */
  setOff(on) {
    this.off = !!on;
    store(this.storageKey, this.off ? "1" : null);
    this._apply();
  }

  setOpen(on) {
    this.open = !!on;
    this._apply();
    if (this.open && this.size === "phone") this.input.focus({ preventScroll: true });
  }

  mute(on) {
    this.voice.mute(on);
    this._labels();
  }

  /** A touch or a key: the customer is here (the idle hint waits for a quiet spell). */
  activity() {
    this.lastActivityMs = Date.now();
    this.hinted = false;
    if (this.note) this.note.hidden = true;
  }

  /** Says something the customer did not ask for, unless the guide did so less than a minute ago (or is busy). */
  unprompted(text, { clip = null } = {}) {
    const now = Date.now();
    if (!this.visible || this.off || this.voice.speaking || now - this.lastUnpromptedMs < UNPROMPTED_GAP_MS) return false;
    this.lastUnpromptedMs = now;
    this._showAnswer(null, false);
    if (clip) this.portrait.play(clip);
    this.voice.say(text, getLang());
    return true;
  }

  /** The greeting as the customer leaves the attract screen. */
  greet() {
    this.activity();
    return this.unprompted(t("guide.greeting"), { clip: "welcome" });
  }

  _idleCheck() {
    if (this.hinted || !this.visible || this.off) return;
    if (Date.now() - this.lastActivityMs < HINT_AFTER_MS) return;
    if (document.querySelector(".overlay")) return; // a dialog is open (paying, consent): no hint over it
    if (this.unprompted(t("guide.hint"))) this.hinted = true;
  }

  _showAnswer(questionText, offerAdvisor) {
    this.question.hidden = !questionText;
    this.question.textContent = questionText ? t("guide.you_asked", { q: questionText }) : "";
    this.advisorBtn.hidden = !offerAdvisor;
    this.root.dataset.offer = String(!!offerAdvisor);
    this.caption.dataset.intro = "0";
  }

  /** The customer's question: the answer is shown and said (never held back by the once-a-minute rule). */
  async ask(text) {
    const seq = ++this._askSeq;
    this.input.value = "";
    this.voice.stop();
    this._showAnswer(text, false);
    this.caption.textContent = t("guide.thinking");
    this.root.dataset.asking = "true";
    const focus = this.getFocus() || {};
    let reply;
    try {
      reply = await askGuide(text, { product: focus.product, variant: focus.variant });
    } catch (_) {
      if (seq !== this._askSeq) return null;
      this.root.dataset.asking = "false";
      this._showAnswer(text, true);
      await this.voice.say(t("guide.unavailable"), getLang());
      return null;
    }
    if (seq !== this._askSeq) return null;
    this.root.dataset.asking = "false";
    this._showAnswer(text, !!reply.offer_advisor);
    this.root.dataset.intent = reply.intent || "";
    const about = /counter|pick|branch/.test(reply.intent || "") ? "point" : null;
    if (about) this.portrait.play(about);
    await this.voice.say(reply.answer.text, reply.answer.lang);
    return reply;
  }

  /** "Call an advisor": what the page's own call_advisor does, and the guide says so. */
  callAdvisor() {
    this.advisorBtn.hidden = true;
    this.question.hidden = true;
    this.onAdvisor?.();
    if (this.advisorText) this.voice.say(this.advisorText(), getLang());
  }

  /** A new customer (the kiosk's idle wipe): silent, the intro caption, on and unmuted, the clock of the rule kept. */
  reset() {
    this.voice.stop();
    this.voice.mute(false);
    this._askSeq += 1;
    this.input.value = "";
    this.caption.textContent = "";
    this._showAnswer(null, false);
    this.caption.dataset.intro = "1";
    this.setOff(false);
    this._labels();
  }
}
