"""The VR bank hall in headless Chromium (the canvas fallback of /vr) against a real `showroom serve`: a customer
walks in, goes to the precious-metals counter, picks the 100 g bar, sees it on the presentation stand with its
size reference, buys it, pays on the phone page and sees "paid" in the hall; and the reprojection test: with the
stream held back 200 ms, a world-fixed feature stays where the current head pose puts it while the head turns,
and swims when reprojection is switched off. Screenshots land in test-artifacts/browser/hall-*.png."""

from __future__ import annotations

import base64
import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.browser.conftest import Server, WatchedPage

pytestmark = pytest.mark.browser

HALL_TIMEOUT_MS = 180_000  # the first hall frame loads the hall and the catalog's models on the node (llvmpipe)
FRAME_TIMEOUT_MS = 90_000
BAR = "bar-au9999-100g"


def _assert_clean(w: WatchedPage, what: str) -> None:
    assert not w.errors, f"{what}: console errors {w.errors[:3]}"


def _shown(w: WatchedPage) -> int:
    return int(w.page.evaluate("window.__hall.stats.framesShown"))


def _wait_settled(w: WatchedPage, frames: int = 2, timeout_ms: float = FRAME_TIMEOUT_MS) -> None:
    """Waits until `frames` more frames of the current place were shown and the teleport fade has cleared."""
    start = _shown(w)
    w.page.wait_for_function(
        "([n]) => window.__hall.stats.framesShown >= n && !window.__hall.view.waitingFresh"
        " && window.__hall.view.fade < 0.02",
        arg=[start + frames], timeout=timeout_ms)


def _open_hall(w: WatchedPage, server: Server, query: str) -> None:
    resp = w.page.goto(f"{server.base}/vr?{query}", wait_until="domcontentloaded")
    assert resp is not None and resp.status == 200
    w.page.wait_for_selector('#stage[data-hall="ready"]', timeout=60_000)
    w.page.wait_for_function("window.__hall.stats.framesShown >= 1", timeout=HALL_TIMEOUT_MS)
    _wait_settled(w)


def _sandbox_base(server: Server) -> str:
    health = server.get_json("/healthz")
    base = health.get("payment_backend")
    assert base, f"/healthz names no payment_backend: {health}"
    return str(base).rstrip("/")


def _bar_point() -> tuple[float, float, float]:
    from render_node.hall.layout import hall_plan

    x, y, z = hall_plan().slot_of(BAR).position_m
    return (x, y + 0.02, z)


def test_a_customer_walks_to_the_gold_counter_picks_the_100_g_bar_and_buys_it(server: Server, new_page: Any,
                                                                               artifacts: Path) -> None:
    w = new_page((1360, 820))
    sent: list[str] = []
    w.page.on("websocket", lambda ws: ws.on("framesent", lambda p: sent.append(p) if isinstance(p, str) else None)
              if "/ws/stream" in ws.url else None)
    _open_hall(w, server, "eyes=1&eye_w=800&fov=70&codec=jpeg&lang=en")
    hello = next(m for m in sent if '"hello"' in m)
    assert '"mode":"hall"' in hello.replace(" ", "")
    w.screenshot(artifacts, "hall-01-entrance")

    # the zone button takes the customer to the precious-metals counter (a fade, not a glide)
    w.page.click('#zones [data-zone="gold_counter"]')
    w.page.wait_for_selector('#stage[data-zone="gold_counter"]', timeout=30_000)
    _wait_settled(w)
    w.screenshot(artifacts, "hall-02-gold-counter")

    # two snap turns to the right face the bar showcase; a click on the 100 g bar picks it
    w.page.click("#turn-right")
    w.page.click("#turn-right")
    _wait_settled(w)
    w.screenshot(artifacts, "hall-03-bar-showcase")
    at = w.page.evaluate("(p) => window.__hall.screenOf(p)", list(_bar_point()))
    assert at is not None, "the 100 g bar is behind the customer"
    w.page.mouse.click(at["x"], at["y"])
    w.page.wait_for_selector(f'#stage[data-focused="{BAR}"]', timeout=30_000)
    w.page.wait_for_function("document.querySelector('#p-price').textContent.includes('¥')", timeout=30_000)
    w.page.wait_for_function("document.querySelector('#p-countdown').textContent.trim() !== ''", timeout=30_000)
    _wait_settled(w, frames=3)
    assert "100" in w.page.inner_text("#p-name")
    assert "10 cm" in w.page.inner_text("#p-scale"), "the stand shows a size reference"
    focused = w.page.evaluate("window.__hall.state.focused")
    assert focused["product"] == BAR and focused["scale"] > 1
    w.screenshot(artifacts, "hall-04-bar-on-stand")

    # turn it on the stand
    w.page.click("#rotate-right")
    w.page.wait_for_function("window.__hall.state.turnDeg === 30")
    assert any('"turn"' in m for m in sent)
    _wait_settled(w)
    w.screenshot(artifacts, "hall-05-bar-turned")

    # buy: the QR code and the link to finish on the phone
    w.page.fill("#cust-phone", "13800138000")
    w.page.click("#buy")
    w.page.wait_for_selector("#pay .qr img", timeout=30_000)
    w.page.wait_for_function("document.querySelector('#pay .qr img').naturalWidth > 0", timeout=10_000)
    assert w.page.get_attribute("#pay .pay-status", "data-status") == "pending_payment"
    pay_link = w.page.get_attribute('#pay [data-role="pay-link"]', "href")
    assert pay_link
    w.screenshot(artifacts, "hall-06-pay-qr")

    # the customer's phone opens the one-time link and pays
    payment = w.page.evaluate("window.__hall.state.checkout.payment")
    phone = new_page((390, 844))
    resp = phone.page.goto(payment["pay_url"], wait_until="networkidle")
    assert resp is not None and resp.status == 200
    approve = phone.page.locator("button[name='action'][value='approve']")
    if approve.count():
        phone.screenshot(artifacts, "hall-07-phone-pay-page")
        approve.first.click()
        phone.page.wait_for_load_state("networkidle")
    else:  # the sandbox's test control, as a card network's test helpers would
        phone.screenshot(artifacts, "hall-07-phone-pay-page")
        server.post_json(f"{_sandbox_base(server)}/payments/{payment['payment_id']}/complete", {"outcome": "approved"})
    w.page.wait_for_selector('#pay .pay-status[data-status="paid"]', timeout=30_000)
    w.page.wait_for_selector('#stage[data-order="paid"]', timeout=10_000)
    w.screenshot(artifacts, "hall-08-paid")
    _assert_clean(w, "hall purchase")


# ---- reprojection -------------------------------------------------------------------------------------------
BAND_ROWS = 24
Array = npt.NDArray[np.float64]
TEMPLATE_HALF_PX = 24


def _grey(sample: dict[str, Any]) -> Array:
    raw = np.frombuffer(base64.b64decode(sample["grey"]), np.uint8)
    return raw.reshape(sample["rows"], sample["width"]).astype(np.float64)


def _quat(yaw_deg: float, pitch_deg: float) -> Array:
    """Rotation matrix of a turn by yaw about +Y, then pitch about the local X (camera looks along -Z)."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rotation: Array = ry @ rx
    return rotation


def _ray(sample: dict[str, Any], x_px: float, y_px: float) -> Array:
    """The hall direction seen at pixel (x, y) of the eye under the sample's head pose."""
    w, h = sample["eyeWidth"], sample["height"]
    ty = math.tan(math.radians(sample["fovDeg"]) / 2)
    tx = ty * w / h
    d = np.array([((x_px + 0.5) / w * 2 - 1) * tx, (1 - (y_px + 0.5) / h * 2) * ty, -1.0])
    ray: Array = _quat(sample["yawDeg"], sample["pitchDeg"]) @ d
    return ray


def _project_x(sample: dict[str, Any], direction: Array) -> float:
    """Where the current head pose puts a hall direction on screen (x in pixels)."""
    w, h = sample["eyeWidth"], sample["height"]
    ty = math.tan(math.radians(sample["fovDeg"]) / 2)
    tx = ty * w / h
    c = _quat(sample["yawDeg"], sample["pitchDeg"]).T @ direction
    return float(((c[0] / -c[2] / tx) * 0.5 + 0.5) * w - 0.5)


def _find(template: Array, band: Array) -> float:
    """x of the template's centre where it matches the band best (normalised cross-correlation)."""
    tw = template.shape[1]
    t = (template - template.mean()) / (template.std() + 1e-6)
    best, best_x = -2.0, 0
    for x0 in range(0, band.shape[1] - tw + 1):
        win = band[:, x0:x0 + tw]
        s = win.std()
        if s < 1e-3:
            continue
        score = float(((win - win.mean()) / s * t).mean())
        if score > best:
            best, best_x = score, x0
    return best_x + tw / 2 - 0.5


def _swim_px(w: WatchedPage, server: Server, reproject: bool, artifacts: Path) -> list[float]:
    """Opens the hall with the stream held back 200 ms, turns the head at 60 deg/s and returns, per display frame,
    how far a world-fixed feature is from where the current head pose projects it (pixels)."""
    _open_hall(w, server, f"eyes=1&eye_w=480&eye_h=360&fov=70&codec=jpeg&lang=en&delay_ms=200"
                          f"&reproject={1 if reproject else 0}")
    w.page.evaluate("window.__hall.lookAt(0, 0)")
    _wait_settled(w, frames=3)
    y0 = 180 - BAND_ROWS // 2
    still = w.page.evaluate("([y, n]) => window.__hall.capture(y, n)", [y0, BAND_ROWS])
    band = _grey(still)
    # the most textured column near the middle is the world-fixed feature to follow
    grad = np.abs(np.diff(band, axis=1)).sum(axis=0)
    lo, hi = still["eyeWidth"] // 2 - 80, still["eyeWidth"] // 2 + 80
    fx = int(lo + np.argmax(np.convolve(grad[lo:hi], np.ones(2 * TEMPLATE_HALF_PX), "same")))
    template = band[:, fx - TEMPLATE_HALF_PX:fx + TEMPLATE_HALF_PX]
    assert template.std() > 4, "the hall shows no texture to follow at eye height"
    feature = _ray(still, fx, y0 + BAND_ROWS / 2)
    w.page.evaluate("window.__hall.spin(60, 20)")
    shown = _shown(w)
    w.page.wait_for_function("([n]) => window.__hall.stats.framesShown >= n", arg=[shown + 4],
                             timeout=FRAME_TIMEOUT_MS)
    samples = w.page.evaluate("""async ([y, n, count]) => {
        const out = [];
        for (let i = 0; i < count; i++) out.push(await window.__hall.capture(y, n));
        return out;
    }""", [y0, BAND_ROWS, 30])
    w.page.evaluate("window.__hall.stopSpin()")
    w.screenshot(artifacts, f"hall-reprojection-{'on' if reproject else 'off'}")
    errors = []
    for s in samples:
        expected = _project_x(s, feature)
        if not TEMPLATE_HALF_PX < expected < s["eyeWidth"] - TEMPLATE_HALF_PX:
            continue
        errors.append(abs(_find(template, _grey(s)) - expected))
    assert len(errors) >= 15, f"too few samples kept the feature in view: {len(errors)}"
    yaws = [s["yawDeg"] for s in samples]
    assert max(yaws) - min(yaws) > 10, f"the head did not turn: {yaws}"
    return errors


def test_reprojection_keeps_the_hall_world_locked_while_the_head_turns(server: Server, new_page: Any,
                                                                       artifacts: Path) -> None:
    on = new_page((1100, 760))
    with_reprojection = _swim_px(on, server, True, artifacts)
    on.page.close()
    off = new_page((1100, 760))
    head_locked = _swim_px(off, server, False, artifacts)
    # reprojected: within a few pixels of where the current pose puts it (one outlier allowed: a frame whose
    # quality the node just lowered; on a loaded machine the node streams smaller frames, and the match is only as
    # sharp as they are: 1-3 px quiet, up to ~5 px with other builds on the cores); head-locked: it swims by tens
    # of pixels
    on_sorted, off_sorted = sorted(with_reprojection), sorted(head_locked)
    assert statistics.median(on_sorted) <= 5 and on_sorted[-2] <= 10, f"reprojected, px off: {on_sorted}"
    assert statistics.median(off_sorted) >= 20, f"head-locked, px off: {off_sorted}"
    assert statistics.median(off_sorted) >= 5 * max(1.0, statistics.median(on_sorted))
    _assert_clean(on, "hall with reprojection")
    _assert_clean(off, "hall without reprojection")


def test_the_reprojection_rate_is_counted_for_the_bench(server: Server, new_page: Any) -> None:
    w = new_page((1100, 760))
    _open_hall(w, server, "eyes=2&codec=jpeg&lang=zh")
    w.page.wait_for_function("window.__hall.stats.reprojectFps >= 5", timeout=30_000)
    stats = w.page.evaluate("window.__hall.stats")
    assert stats["draws"] > stats["framesShown"], f"every display frame is drawn, not only new stream frames: {stats}"
    assert "重投影" in w.page.inner_text("#fps")
    _assert_clean(w, "hall stats")


# ---- the kiosk ----------------------------------------------------------------------------------------------
def test_the_kiosk_attract_loop_walks_slowly_through_the_hall(server: Server, new_page: Any, artifacts: Path) -> None:
    import json

    w = new_page((1600, 900))
    sent: list[dict[str, Any]] = []
    w.page.on("websocket", lambda ws: ws.on("framesent", lambda p: sent.append(json.loads(p))
                                            if isinstance(p, str) else None) if "/ws/stream" in ws.url else None)
    w.page.goto(f"{server.base}/kiosk?lang=zh", wait_until="domcontentloaded")
    w.page.wait_for_selector("#attract.hall-live", timeout=HALL_TIMEOUT_MS)
    w.page.wait_for_function("window.__kiosk.attractHall?.stats.framesShown >= 2", timeout=FRAME_TIMEOUT_MS)
    # the walk leaves its first point after a pause to look around
    w.page.wait_for_function("""() => { const p = window.__kiosk.attractHall?.current?.position;
        return !!p && Math.hypot(p[0] - 0, p[2] - 6.4) > 0.4; }""", timeout=60_000)
    w.page.wait_for_function("window.__kiosk.attractHall.stats.framesShown >= 4", timeout=FRAME_TIMEOUT_MS)
    w.screenshot(artifacts, "hall-kiosk-attract")
    hello = next(m for m in sent if m["type"] == "hello")
    assert (hello["mode"], hello["client"]) == ("hall", "kiosk")
    poses = [m for m in sent if m["type"] == "pose"]
    assert len(poses) >= 20, "poses go out at the display rate"
    steps = [(math.dist(a["position"], b["position"]), b["t"] - a["t"]) for a, b in itertools.pairwise(poses)]
    walked = sum(d for d, _ in steps)
    took = sum(dt for _, dt in steps)
    assert walked > 0.3 and walked / took < 0.8, f"a slow walk: {walked:.2f} m in {took:.1f} s"
    assert w.page.locator("#attract-slides img.on").count() == 1, "the featured products show in a card"
    _assert_clean(w, "kiosk attract walk")


def test_walking_the_hall_on_the_kiosk_and_choosing_a_car(server: Server, new_page: Any, artifacts: Path) -> None:
    w = new_page((1600, 900))
    w.page.goto(f"{server.base}/kiosk?screen=wall&lang=en", wait_until="domcontentloaded")
    w.page.click("#walk-hall")
    w.page.wait_for_function("Number(document.querySelector('#hall-stage').dataset.frames || 0) >= 1",
                             timeout=HALL_TIMEOUT_MS)
    w.page.click('#hall-zones [data-zone="car_studio"]')
    w.page.wait_for_selector('#hall-stage[data-zone="car_studio"]', timeout=30_000)
    w.page.wait_for_function("window.__kiosk.hallView.stats.framesShown >= 1 && !window.__kiosk.hallView.waitingFresh"
                             " && window.__kiosk.hallView.fade < 0.02", timeout=FRAME_TIMEOUT_MS)
    w.screenshot(artifacts, "hall-kiosk-car-studio")
    from render_node.hall.layout import hall_plan

    x, _, z = hall_plan().slot_of("car-suv-summit").position_m
    at = w.page.evaluate("(p) => window.__kiosk.hallView.screenOf(p)", [x, 0.7, z])
    assert at is not None
    w.page.mouse.click(at["x"], at["y"])
    w.page.wait_for_selector('#hall-stage[data-focused="car-suv-summit"]', timeout=30_000)
    w.page.wait_for_selector("#hall-card:not([hidden])")
    assert "¥" in w.page.inner_text("#hall-card-price")
    w.page.wait_for_function("window.__kiosk.hallView.stats.framesShown >= 1 && !window.__kiosk.hallView.waitingFresh"
                             " && window.__kiosk.hallView.fade < 0.02", timeout=FRAME_TIMEOUT_MS)
    w.screenshot(artifacts, "hall-kiosk-car-focused")
    assert w.page.is_visible("#hall-card-details")
    _assert_clean(w, "kiosk hall walk")


# ---- voice --------------------------------------------------------------------------------------------------
def test_a_spoken_command_takes_the_customer_to_the_gold_counter(server: Server, playwright_instance: Any,
                                                                tmp_path: Path, artifacts: Path) -> None:
    import shutil
    import subprocess
    import urllib.error
    import urllib.request
    import wave

    from tests.browser.conftest import launch, watch

    probe = urllib.request.Request(f"{server.base}/api/voice/text", method="POST",
                                   data=b'{"text": "go to the gold counter", "lang": "en"}',
                                   headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(probe, timeout=60) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 405):
            pytest.skip("this node has no voice commands")
        raise
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    speech = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "140", "-w", str(speech), "go to the gold counter"], check=True)
    # the fake microphone plays the file in a loop: the command, then silence up to the page's 3 s take
    wav = tmp_path / "go-gold.wav"
    with wave.open(str(speech), "rb") as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    silence = b"\0" * (params.sampwidth * params.nchannels * params.framerate * 3)
    with wave.open(str(wav), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames + silence)
    b = launch(playwright_instance, [f"--use-file-for-fake-audio-capture={wav}"])
    try:
        w = watch(b.new_context(viewport={"width": 1360, "height": 820}).new_page())
        _open_hall(w, server, "eyes=1&eye_w=640&codec=jpeg&lang=en")
        w.page.click("#mic")
        w.page.wait_for_function("window.__hall.state.lastVoice !== null", timeout=60_000)
        reply = w.page.evaluate("window.__hall.state.lastVoice")
        assert reply["command"] == {"intent": "go", "target": "gold_counter"} or (
            reply["command"] and reply["command"]["intent"] == "go"), reply
        w.page.wait_for_selector('#stage[data-zone="gold_counter"]', timeout=30_000)
        _wait_settled(w)
        w.screenshot(artifacts, "hall-voice-gold-counter")
        _assert_clean(w, "hall voice")
    finally:
        b.close()


# ---- the headset ------------------------------------------------------------------------------------------------
# A stand-in for a headset's WebXR runtime (Chromium has none headless): an immersive session whose frames hold a
# fixed two-view pose, a layer drawing to the default framebuffer, and a controller whose select can be fired.
_FAKE_XR = """
(() => {
  const persp = (fovY, aspect) => { const f = 1 / Math.tan(fovY / 2), n = 0.05, fa = 100;
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (fa + n) / (n - fa), -1, 0, 0, 2 * fa * n / (n - fa), 0]); };
  const eye = (x) => ({ position: { x, y: 1.6, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 },
    matrix: new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, 1.6, 0, 1]) });
  const views = [{ eye: "left", projectionMatrix: persp(1.7, 0.9), transform: eye(-0.032) },
                 { eye: "right", projectionMatrix: persp(1.7, 0.9), transform: eye(0.032) }];
  window.XRWebGLLayer = class { constructor(session, gl) { this.framebuffer = null; this.gl = gl; }
    getViewport(v) { return { x: v.eye === "left" ? 0 : 150, y: 0, width: 150, height: 150 }; } };
  const controller = { targetRayMode: "tracked-pointer", targetRaySpace: { ray: true },
                       gamepad: { axes: [0, 0, 0, 0] } };
  const session = {
    renderState: {}, inputSources: [controller], listeners: {},
    updateRenderState(s) { Object.assign(this.renderState, s); },
    async requestReferenceSpace(kind) { return { kind }; },
    addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); },
    requestAnimationFrame(cb) { return setTimeout(() => cb(performance.now(), frame), 16); },
    async end() { for (const fn of this.listeners.end || []) fn(); },
  };
  // the controller points down and ahead: at the floor about 2 m in front
  const ray = { position: { x: 0.2, y: 1.2, z: -0.2 }, orientation: { x: -0.2588, y: 0, z: 0, w: 0.9659 } };
  const frame = {
    session,
    getViewerPose() { return { transform: eye(0), views }; },
    getPose(space) { return space.ray ? { transform: ray } : null; },
  };
  window.__fakeXr = { session, select() { for (const fn of session.listeners.select || []) fn({ frame, inputSource: controller }); } };
  Object.defineProperty(navigator, "xr", { value: {
    async isSessionSupported(mode) { return mode === "immersive-vr"; },
    async requestSession() { return session; },
  } });
})();
"""


def test_in_a_headset_frames_are_drawn_per_view_and_the_controller_walks(server: Server, new_page: Any) -> None:
    w = new_page((1360, 820))
    w.page.add_init_script(_FAKE_XR)
    _open_hall(w, server, "codec=jpeg&lang=en")
    w.page.wait_for_selector("#enter-vr:not([hidden])")
    w.page.click("#enter-vr")
    w.page.wait_for_function("window.__hall.state.xr !== null && window.__hall.view.paused === true")
    shown = _shown(w)
    w.page.wait_for_function("([n]) => window.__hall.stats.framesShown >= n", arg=[shown + 2],
                             timeout=FRAME_TIMEOUT_MS)
    w.page.wait_for_function("window.__hall.stats.reprojectFps >= 5")
    before = w.page.evaluate("window.__hall.client.rig.position")
    w.page.evaluate("window.__fakeXr.select()")
    w.page.wait_for_function("([x, z]) => { const p = window.__hall.client.rig.position;"
                             " return Math.hypot(p[0] - x, p[2] - z) > 0.5; }", arg=[before[0], before[2]],
                             timeout=30_000)
    w.page.evaluate("window.__hall.state.xr.end()")
    w.page.wait_for_function("window.__hall.view.paused === false && window.__hall.state.xr === null")
    _assert_clean(w, "hall in a headset")


def test_the_guide_greets_the_customer_and_walks_them_to_the_gold_counter(server: Server, new_page: Any,
                                                                           artifacts: Path) -> None:
    """The digital guide (assets/guide/guide.glb from the asset build) greets once with a caption, and "take me to
    the gold counter" has it walk there with the customer's rig following, then point and say where they are."""
    import time

    w = new_page((1360, 820))
    sent: list[str] = []
    w.page.on("websocket", lambda ws: ws.on("framesent", lambda p: sent.append(p) if isinstance(p, str) else None)
              if "/ws/stream" in ws.url else None)
    _open_hall(w, server, "eyes=1&eye_w=800&fov=70&codec=jpeg&lang=en")
    assert w.page.evaluate("window.__hall.client.guide !== null"), "the node has no guide (run showroom assets build)"
    w.page.wait_for_function("(document.querySelector('#guide-caption')?.textContent || '').includes('digital guide')",
                             timeout=30_000)
    w.screenshot(artifacts, "hall-guide-01-greeting")

    w.page.click('#guide-bar [data-guide-to="gold_counter"]')
    w.page.wait_for_selector('#stage[data-guide="walking"]', timeout=30_000)
    walk = next(m for m in sent if '"guide_walk"' in m)
    assert '"gold_counter"' in walk and '"follow":true' in walk.replace(" ", "")
    w.page.wait_for_selector('#stage[data-guide="pointing"]', timeout=90_000)
    w.page.wait_for_function(
        "(document.querySelector('#guide-caption')?.textContent || '').includes('precious-metals counter')",
        timeout=30_000)
    rig = w.page.evaluate("window.__hall.client.rig.position")
    assert math.dist((rig[0], rig[2]), (-8.4, 0.2)) < 2.5, f"the customer stayed behind: {rig}"
    assert w.page.evaluate("window.__hall.client.zone") == "gold_counter"
    _wait_settled(w, frames=3)
    w.screenshot(artifacts, "hall-guide-02-pointing")
    deadline = time.monotonic() + 30
    while not any('"guide_say"' in m for m in sent) and time.monotonic() < deadline:
        w.page.wait_for_timeout(200)
    assert any('"guide_say"' in m for m in sent), "the guide's lips never got the speech track"

    # off: silent and captionless, remembered across a reload, one button brings the guide back
    w.page.click("#guide-bar [data-guide-off]")
    w.page.wait_for_selector('#stage[data-guide-off="true"]')
    assert w.page.evaluate("document.querySelector('#guide-caption').hidden")
    assert w.page.locator("#guide-bar [data-guide-to]").count() == 0
    said = w.page.evaluate("window.__guideLog.said.length")
    w.page.evaluate("sessionStorage.clear()")  # a new visit would be greeted: off keeps the guide quiet
    _open_hall(w, server, "eyes=1&eye_w=800&fov=70&codec=jpeg&lang=en")
    w.page.wait_for_selector('#stage[data-guide-off="true"]')
    w.page.wait_for_timeout(1500)
    assert w.page.evaluate("window.__guideLog.said.length") == 0, "the guide spoke while turned off"
    w.page.click("#guide-bar [data-guide-on]")
    w.page.wait_for_selector('#guide-bar [data-guide-to="car_studio"]')
    w.page.click("#guide-bar [data-guide-mute]")
    assert w.page.evaluate("localStorage.getItem('showroom.guide.vr.muted')") == "1"
    assert said >= 2
    _assert_clean(w, "guide walk")
