"""The digital guide on the kiosk and the phone in headless Chromium against a real `showroom serve` and its real
portrait frames: typed questions get today's price (the very unit price of `POST /api/quotes`) as a caption and
as speech with a moving mouth, investment advice is refused, a question it does not understand offers an advisor,
mute keeps the captions, off is remembered, unprompted speech comes at most once a minute (Playwright's clock),
and the phone's small figure closes and stays closed. The compositor's blend of the two strongest visemes is
checked on a small fake portrait (routed in the page; a unit check of guide.js only). Screenshots land in
test-artifacts/browser/guide-*.png."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import Server, WatchedPage, launch, watch

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

KIOSK = (1920, 1080)
PHONE = (390, 844)
PORTRAIT_TIMEOUT_S = 900  # the first portrait render runs on the node's render pool (llvmpipe on 2 cores)
ANSWER_MS = 30_000
GUIDE = "#guide"
CAPTION = "#guide .guide-caption"


# ---- fixtures ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guide_browser(playwright_instance: Any, server: Server) -> Iterator[Any]:
    """Chromium that plays audio without a gesture (the kiosk's first touch does that for a customer)."""
    b = launch(playwright_instance, ["--autoplay-policy=no-user-gesture-required"])
    yield b
    b.close()


@pytest.fixture
def open_page(guide_browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(viewport: tuple[int, int]) -> WatchedPage:
        ctx = guide_browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(ctx)
        return watch(ctx.new_page())

    yield make
    for ctx in contexts:
        ctx.close()


def _portrait_manifest(server: Server, size: str) -> dict[str, Any]:
    """The node's portrait manifest once rendered (the first request starts the render; 202 meanwhile)."""
    deadline = time.monotonic() + PORTRAIT_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{server.base}/api/guide/portrait?size={size}", timeout=30) as r:
                body: dict[str, Any] = json.loads(r.read())
                if r.status == 200:
                    return body
                retry_s = float(r.headers.get("Retry-After") or 2)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"GET /api/guide/portrait?size={size}: {exc.code} {exc.read()[:300]!r}")
        assert time.monotonic() < deadline, f"the {size} portrait was still rendering after {PORTRAIT_TIMEOUT_S} s"
        time.sleep(min(max(retry_s, 0.5), 10))  # the node's own Retry-After while its render runs


@pytest.fixture(scope="module")
def portrait(server: Server) -> dict[str, dict[str, Any]]:
    return {size: _portrait_manifest(server, size) for size in ("kiosk", "phone")}


# ---- helpers --------------------------------------------------------------------------------------------------------------
def _log(w: WatchedPage) -> dict[str, Any]:
    log: dict[str, Any] = w.page.evaluate("JSON.parse(JSON.stringify(window.__guideLog))")
    return log


def _open_kiosk(w: WatchedPage, server: Server, lang: str, *, figure: bool = True) -> None:
    w.page.goto(f"{server.base}/kiosk?hall=0&idle_s=900&lang={lang}", wait_until="domcontentloaded")
    w.page.wait_for_function("document.body.dataset.screen === 'attract'")  # the page has started
    w.page.click("#attract")  # the customer's first touch: the guide greets
    w.page.wait_for_selector(f"{GUIDE}:not([hidden])")
    if figure:
        w.page.wait_for_selector(f'{GUIDE}[data-portrait="ready"]', timeout=60_000)


def _ask(w: WatchedPage, text: str) -> dict[str, Any]:
    """Types a question into the guide's ask box; returns the node's reply once its answer is the caption."""
    with w.page.expect_response(lambda r: "/api/guide/ask" in r.url, timeout=ANSWER_MS) as info:
        w.page.fill(f"{GUIDE} .guide-input", text)
        w.page.press(f"{GUIDE} .guide-input", "Enter")
    reply: dict[str, Any] = info.value.json()
    expect(w.page.locator(CAPTION)).to_have_text(reply["answer"]["text"], timeout=ANSWER_MS)
    return reply


def _price_answer_is_the_quote(w: WatchedPage, server: Server, question: str) -> dict[str, Any]:
    """Asks until no price tick falls between the answer and the quote taken right after it; returns the reply."""
    for _ in range(6):
        reply = _ask(w, question)
        facts = reply["facts"]
        assert reply["intent"] == "product_price" and facts.get("price_cny"), reply
        quote = server.post_json(server.base + "/api/quotes",
                                 {"product": facts["product_id"], "variant": facts["variant_id"], "quantity": 1})
        if Decimal(quote["unit_price_cny"]) == Decimal(facts["price_cny"]):
            caption = w.page.inner_text(CAPTION)
            assert f"{Decimal(quote['unit_price_cny']):,.2f}" in caption, (caption, quote["unit_price_cny"])
            assert facts["product_id"] == "bar-au9999-100g"
            return reply
    pytest.fail(f"the guide's price never matched a quote taken right after it ({question!r})")


def _wait_spoken_with_moving_mouth(w: WatchedPage, audio_before: int, mouth_box: list[int]) -> None:
    """The answer's audio started and, while it plays, the mouth patch drawn on the portrait changes (three
    different pictures of the mouth box seen in the canvas, and the drawn viseme changed)."""
    w.page.wait_for_function("(n) => window.__guideLog.audioStarted > n", arg=audio_before, timeout=ANSWER_MS)
    changes = _log(w)["mouthChanges"]
    w.page.evaluate("window.__mouthSeen = new Set()")
    w.page.wait_for_function("""([changes, box]) => {
        const root = document.querySelector('#guide');
        if (root.dataset.speaking !== 'true') return false;
        const c = root.querySelector('.guide-canvas');
        const d = c.getContext('2d').getImageData(box[0], box[1], box[2], box[3]).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 12) h = (Math.imul(h, 31) + d[i]) >>> 0;
        window.__mouthSeen.add(h);
        return window.__mouthSeen.size >= 3 && window.__guideLog.mouthChanges >= changes + 2;
    }""", arg=[changes, mouth_box], timeout=ANSWER_MS)
    assert _log(w)["mouthFrames"] > 0


def _shot(w: WatchedPage, artifacts: Path, name: str) -> None:
    w.page.screenshot(path=str(artifacts / f"guide-{name}.png"))


def _assert_clean(w: WatchedPage, what: str) -> None:
    assert not w.errors, f"{what}: console errors {w.errors[:3]}"


# ---- the kiosk ---------------------------------------------------------------------------------------------------------------
def test_the_kiosk_guide_says_today_s_price_of_the_100_g_bar_with_a_moving_mouth(
        server: Server, open_page: Any, portrait: dict[str, Any], artifacts: Path) -> None:
    w = open_page(KIOSK)
    _open_kiosk(w, server, "zh")
    w.page.wait_for_function("window.__guideLog.said.length >= 1")
    assert "欢迎" in _log(w)["said"][0]  # the greeting on leaving the attract screen
    audio = _log(w)["audioStarted"]
    reply = _price_answer_is_the_quote(w, server, "100克金条多少钱")
    assert reply["answer"]["lang"] == "zh"
    _wait_spoken_with_moving_mouth(w, audio, portrait["kiosk"]["mouth"]["box"])
    _shot(w, artifacts, "kiosk-zh-speaking")

    w.page.click('[data-action="lang"]')  # the customer switches to English and asks in English
    audio = _log(w)["audioStarted"]
    reply = _price_answer_is_the_quote(w, server, "how much is the 100 g bar")
    assert reply["answer"]["lang"] == "en" and "CNY" in w.page.inner_text(CAPTION)
    _wait_spoken_with_moving_mouth(w, audio, portrait["kiosk"]["mouth"]["box"])
    _shot(w, artifacts, "kiosk-en-speaking")
    assert w.page.input_value(f"{GUIDE} .guide-input") == ""
    _assert_clean(w, "kiosk guide")


def test_the_kiosk_guide_gives_no_advice_and_offers_an_advisor_when_it_does_not_understand(
        server: Server, open_page: Any, portrait: dict[str, Any], artifacts: Path) -> None:
    w = open_page(KIOSK)
    _open_kiosk(w, server, "en")
    reply = _ask(w, "should I buy gold now")
    assert reply["intent"] == "investment_advice"
    assert "can't give investment advice" in w.page.inner_text(CAPTION)

    reply = _ask(w, "what colour is the moon tonight")
    assert reply["intent"] is None and reply["offer_advisor"] is True
    advisor = w.page.locator(f"{GUIDE} .guide-advisor")
    advisor.wait_for(state="visible")
    w.page.click('[data-action="large"]')  # large type enlarges the captions
    assert w.page.evaluate(f"parseFloat(getComputedStyle(document.querySelector('{CAPTION}')).fontSize)") >= 30
    _shot(w, artifacts, "kiosk-en-large-advisor")
    advisor.click()  # what the kiosk's "call an advisor" does: the video call's panel, topic first
    w.page.wait_for_selector('#advisor-call [data-topic="precious_metals"]')
    _shot(w, artifacts, "kiosk-en-advisor-call")
    assert advisor.is_hidden()
    w.page.click("#advisor-cancel")  # not now: the panel closes and the guide is back
    w.page.wait_for_selector("#advisor-call", state="hidden")

    w.page.click('[data-action="lang"]')  # Chinese, large type
    _ask(w, "现在适合买黄金吗")
    assert "不能提供投资建议" in w.page.inner_text(CAPTION)
    _shot(w, artifacts, "kiosk-zh-large")
    _assert_clean(w, "kiosk guide advice")


def test_mute_keeps_the_captions_and_off_is_remembered_with_a_button_to_bring_the_guide_back(
        server: Server, open_page: Any, portrait: dict[str, Any]) -> None:
    w = open_page(KIOSK)
    _open_kiosk(w, server, "zh", figure=False)
    w.page.click(f"{GUIDE} .guide-mute")
    assert w.page.get_attribute(f"{GUIDE} .guide-mute", "aria-pressed") == "true"
    audio = _log(w)["audioStarted"]
    reply = _ask(w, "今天金价多少？")
    assert reply["intent"] == "gold_price" and "元" in w.page.inner_text(CAPTION)
    assert _log(w)["audioStarted"] == audio  # muted: the caption alone

    w.page.click(f"{GUIDE} .guide-off")
    assert w.page.locator(GUIDE).is_hidden()
    restore = w.page.locator(".guide-restore-kiosk")
    assert restore.is_visible()
    w.page.reload(wait_until="domcontentloaded")
    w.page.wait_for_function("document.body.dataset.screen === 'attract'")  # started again (a click before is lost)
    w.page.click("#attract")
    w.page.wait_for_function("document.body.dataset.screen !== 'attract'")  # the button shows off the attract screen
    w.page.wait_for_selector(".guide-restore-kiosk:not([hidden])")
    assert w.page.locator(GUIDE).is_hidden()
    assert w.page.evaluate("window.__guideLog.said.length") == 0  # off: no greeting either
    w.page.click(".guide-restore-kiosk")
    w.page.wait_for_selector(f"{GUIDE}:not([hidden])")
    assert w.page.evaluate("localStorage.getItem('showroom.guide.kiosk.off')") is None
    _assert_clean(w, "kiosk guide mute/off")


def test_the_guide_speaks_unprompted_at_most_once_a_minute(server: Server, open_page: Any) -> None:
    w = open_page(KIOSK)
    w.page.clock.install()  # Date, timers and animation frames under the test's control
    _open_kiosk(w, server, "zh", figure=False)
    w.page.wait_for_function("window.__guideLog.said.length === 1")  # the greeting
    assert "欢迎" in _log(w)["said"][0]
    # muted, so that nothing here waits on the sound's own clock: the rule counts what is said (captions too)
    w.page.click(f"{GUIDE} .guide-mute")
    # from here the page's time moves only when the test moves it
    w.page.clock.pause_at(w.page.evaluate("Date.now()") / 1000 + 1)  # seconds since the epoch

    def said() -> int:
        return len(_log(w)["said"])

    def hinted(n: int) -> bool:
        return said() == n and "帮忙" in _log(w)["said"][-1]

    w.page.clock.fast_forward(50_000)  # 50 s without a touch: a hint is due, but the greeting was < 60 s ago
    assert said() == 1
    w.page.clock.fast_forward(11_000)  # 61 s after the greeting: the hint
    assert hinted(2), w.page.evaluate("""(() => { const g = window.__kiosk.guide; return {now: Date.now(),
                lu: Date.now() - g.lastUnpromptedMs, la: Date.now() - g.lastActivityMs, sp: g.voice.speaking,
                hinted: g.hinted, said: window.__guideLog.said, vis: g.visible, off: g.off,
                screen: document.body.dataset.screen}; })()""")
    w.page.clock.fast_forward(90_000)  # still no touch: one hint per quiet spell
    assert said() == 2
    # the customer's own questions are answered whatever the clock says
    _ask(w, "怎么提货？")
    _ask(w, "今天金价多少？")
    assert said() == 4
    w.page.clock.fast_forward(46_000)  # a new quiet spell, the last unprompted words > 60 s ago
    assert hinted(5)


# ---- the phone -----------------------------------------------------------------------------------------------------------------
def test_the_phone_s_small_figure_answers_closes_and_stays_closed(server: Server, open_page: Any,
                                                                  portrait: dict[str, Any], artifacts: Path) -> None:
    w = open_page(PHONE)
    w.page.goto(f"{server.base}/phone?lang=zh", wait_until="domcontentloaded")
    w.page.wait_for_selector(f'{GUIDE}[data-portrait="ready"]', timeout=60_000)
    w.page.wait_for_function("document.querySelector('#p-name').textContent.trim() !== ''")
    figure = w.page.locator(f"{GUIDE} .guide-figure")
    assert figure.is_visible()
    fig = figure.bounding_box()
    assert fig is not None and fig["width"] <= 120 and fig["x"] + fig["width"] <= PHONE[0]
    _shot(w, artifacts, "phone-zh")
    figure.click()  # opens the captions and the ask box
    w.page.wait_for_selector(f"{GUIDE} .guide-panel", state="visible")
    product = w.page.evaluate("[window.__phone.product.id, window.__phone.variantId]")
    with w.page.expect_response(lambda r: "/api/guide/ask" in r.url, timeout=ANSWER_MS) as info:
        w.page.click(f'{GUIDE} .guide-chip[data-suggest="price"]')  # "how much is this one?"
    reply = info.value.json()
    assert reply["intent"] == "product_price"  # about the product in focus on the page
    assert [reply["facts"]["product_id"], reply["facts"]["variant_id"]] == product
    w.page.wait_for_function("([sel, text]) => document.querySelector(sel).textContent === text",
                             arg=[CAPTION, reply["answer"]["text"]], timeout=ANSWER_MS)
    _shot(w, artifacts, "phone-zh-open")

    w.page.click('[data-action="lang"]')
    w.page.click('[data-action="large"]')
    _ask(w, "how do I pick it up")
    panel = w.page.locator(f"{GUIDE} .guide-panel").bounding_box()
    assert panel is not None and panel["x"] >= 0 and panel["x"] + panel["width"] <= PHONE[0]
    _shot(w, artifacts, "phone-en-large-open")

    w.page.click(f"{GUIDE} .guide-close")
    assert w.page.locator(GUIDE).is_hidden()
    w.page.reload(wait_until="domcontentloaded")
    w.page.wait_for_selector(".guide-restore-phone:not([hidden])")
    assert w.page.locator(GUIDE).is_hidden()
    _shot(w, artifacts, "phone-closed")
    _assert_clean(w, "phone guide")


# ---- the compositor, on a small fake portrait (a unit check of guide.js; the tests above use the real one) ----------------------
_VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"]
_BOX = [10, 20, 20, 10]


def _png(rgba: np.ndarray[Any, np.dtype[np.uint8]]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    return buf.getvalue()


def _fake_portrait() -> dict[str, tuple[str, bytes]]:
    """A 40x40 portrait: grey clip frames; mouth patch k is solid (16 k, 0, 255); eyes half/closed green shades."""
    frame = np.full((40, 80, 4), 128, np.uint8)
    mouth = np.zeros((40, 80, 4), np.uint8)
    for k in range(len(_VISEMES)):
        x, y = (k % 4) * _BOX[2], (k // 4) * _BOX[3]
        mouth[y:y + _BOX[3], x:x + _BOX[2]] = (16 * k, 0, 255, 255)
    eyes = np.zeros((8, 60, 4), np.uint8)
    eyes[:, :30] = (0, 120, 0, 255)
    eyes[:, 30:] = (0, 240, 0, 255)
    clips = {name: {"sheet": f"/guide/portrait/fake/{name}.webp", "fps": 8, "frames": 2, "cols": 2,
                    "loop": name in ("idle", "talk")} for name in ("idle", "talk", "welcome", "point")}
    manifest = {"version": 1, "key": "fake", "size": "kiosk", "frame": [40, 40], "clips": clips,
                "mouth": {"box": _BOX, "sheet": "/guide/portrait/fake/mouth.webp", "cols": 4, "visemes": _VISEMES},
                "eyes": {"box": [5, 5, 30, 8], "sheet": "/guide/portrait/fake/eyes.webp", "frames": ["half", "closed"]}}
    files = {f"/guide/portrait/fake/{n}.webp": ("image/png", _png(frame)) for n in clips}
    files["/guide/portrait/fake/mouth.webp"] = ("image/png", _png(mouth))
    files["/guide/portrait/fake/eyes.webp"] = ("image/png", _png(eyes))
    files["/api/guide/portrait"] = ("application/json", json.dumps(manifest).encode())
    return files


def test_the_portrait_draws_the_two_strongest_visemes_blended_and_the_track_is_read_linearly(
        server: Server, open_page: Any) -> None:
    w = open_page((800, 600))
    files = _fake_portrait()

    def fulfil(route: Any) -> None:
        path = route.request.url.split(server.base, 1)[1].split("?")[0]
        content_type, body = files[path]
        route.fulfill(status=200, content_type=content_type, body=body)

    w.page.route("**/api/guide/portrait*", fulfil)
    w.page.route("**/guide/portrait/fake/*", fulfil)
    w.page.goto(f"{server.base}/kiosk?hall=0&screen=wall&lang=en", wait_until="domcontentloaded")
    got = w.page.evaluate("""async (box) => {
        const g = await import('/static/common/guide.js');
        const c = document.createElement('canvas');
        c.style.cssText = 'position:fixed;left:0;top:0;width:40px;height:40px;z-index:99';
        document.body.append(c);
        const p = new g.GuidePortrait(c, {size: 'kiosk'});
        await p.load();
        const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const px = () => Array.from(c.getContext('2d').getImageData(box[0] + 10, box[1] + 5, 1, 1).data);
        p.setSpeaking(true);
        p.setMouth(new Map([['aa', 0.6], ['PP', 0.2], ['E', 0.1]]));
        await frames();
        const blended = px();
        p.setMouth(new Map());
        await frames();
        const silent = px();
        p.setSpeaking(false);
        await frames();
        const idle = px();
        const track = g.compileTrack([[0, 'PP', 0], [20, 'PP', 1], [60, 'PP', 1], [80, 'PP', 0], [60, 'aa', 0],
                                      [80, 'aa', 1], [100, 'aa', 1], [120, 'aa', 0]]);
        const at = (t) => Object.fromEntries([...g.weightsAt(track, t)].map(([k, v]) => [k, +v.toFixed(3)]));
        const long = '华锦足金投资金条现在的售价是九万四千元。'.repeat(20);
        const chunks = g.speechChunks(long, 'zh');
        return {blended, silent, idle, w10: at(10), w70: at(70), w130: at(130), wneg: at(-5),
                chunks: chunks.map((s) => s.length), joined: chunks.join('') === long};
    }""", _BOX)
    # aa (k=10, red 160) at alpha 1, then PP (k=1, red 16) at 0.2 / (0.6 + 0.2) = 0.25: red 124; E is left out
    assert abs(got["blended"][0] - 124) <= 3 and got["blended"][2] == 255, got["blended"]
    assert got["silent"][:3] == [0, 0, 255]  # silent while talking: the "sil" patch
    assert got["idle"][:3] == [128, 128, 128]  # the idle clip moves its own head: no patch
    assert got["w10"] == {"PP": 0.5} and got["w70"] == {"PP": 0.5, "aa": 0.5}
    assert got["w130"] == {} and got["wneg"] == {}
    assert max(got["chunks"]) <= 150 and got["joined"]
