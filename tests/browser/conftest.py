"""Fixtures of the browser tests: one `showroom serve` on a free port with a temp data dir for the session,
Debian's headless Chromium driven by Playwright, pages that collect console errors, fake camera videos, and
screenshots under test-artifacts/browser/."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _showroom_command() -> list[str]:
    exe = Path(sys.executable).with_name("showroom")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "render_node"]


@dataclass
class Server:
    base: str
    data_dir: Path
    log_path: Path

    def get_json(self, path: str) -> Any:
        import json

        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return json.loads(r.read())

    def post_json(self, url: str, body: dict[str, Any]) -> Any:
        import json

        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None


def wait_for_health(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """True once `url` answers 200; False when the process exits first or after `timeout_s`. Between tries it
    waits on the process itself (so a crash ends the wait at once), never on a bare sleep."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        try:
            proc.wait(timeout=0.2)
            return False  # it exited
        except subprocess.TimeoutExpired:
            continue
    return False


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stops a server started with start_new_session=True and everything it started: SIGTERM to its process
    group, SIGKILL after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`showroom serve` on a free loopback port with a fresh data dir; stopped at the end of the session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup --dev installs it)")
    pytest.importorskip("playwright.sync_api")
    data_dir = tmp_path_factory.mktemp("showroom-data")
    external = os.environ.get("SHOWROOM_BROWSER_BASE_URL")  # test a node that is already running
    if external:
        yield Server(external.rstrip("/"), data_dir, data_dir / "serve.log")
        return
    port = _free_port()
    log_path = data_dir / "serve.log"
    env = {**os.environ, "SHOWROOM_DATA_DIR": str(data_dir), "EGL_PLATFORM": "surfaceless"}
    env.setdefault("SHOWROOM_WORKERS", "2")
    # a short quote lifetime is not wanted here: a purchase must finish inside one quote
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*_showroom_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    if not wait_for_health(base + "/healthz", proc, timeout_s=120):
        proc.kill()
        tail = log_path.read_text(errors="replace")[-2000:]
        pytest.fail(f"showroom serve did not come up:\n{tail}")
    try:
        yield Server(base, data_dir, log_path)
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# Module scope: a sync Playwright must be stopped before another module starts its own in the same thread.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


def launch(playwright: Any, extra_args: list[str] | None = None) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*BASE_ARGS, *(extra_args or [])])


@pytest.fixture(scope="module")
def browser(playwright_instance: Any, server: Server) -> Iterator[Any]:
    b = launch(playwright_instance)
    yield b
    b.close()


@dataclass
class WatchedPage:
    """A page and the console errors / uncaught exceptions it produced."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def screenshot(self, artifacts: Path, name: str) -> Path:
        path = artifacts / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def watch(page: Any) -> WatchedPage:
    w = WatchedPage(page)

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "favicon" not in (msg.location or {}).get("url", ""):
            w.errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: w.errors.append(str(exc)))
    return w


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Factory: new_page(viewport=(w, h), **context options) -> WatchedPage; contexts closed after the test."""
    contexts: list[Any] = []

    def make(viewport: tuple[int, int] = (1280, 800), **options: Any) -> WatchedPage:
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **options)
        contexts.append(ctx)
        return watch(ctx.new_page())

    yield make
    for ctx in contexts:
        ctx.close()


# ---- fake camera videos ---------------------------------------------------------------------------
def write_y4m(path: Path, frames_rgb: list[np.ndarray], fps: int = 15) -> Path:
    """Writes frames (h, w, 3) uint8 RGB as a YUV4MPEG2 4:2:0 file, which Chromium's fake camera plays in a loop."""
    import cv2

    h, w = frames_rgb[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames_rgb:
            yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return path


def face_video(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A person facing the camera (scikit-image's astronaut portrait, public domain), with a little motion."""
    import cv2
    from skimage import data

    img = data.astronaut()  # (512, 512, 3) RGB
    w, h = size
    frames = []
    for i in range(8):
        canvas = np.full((h, w, 3), 40, np.uint8)
        s = h / img.shape[0]
        scaled = cv2.resize(img, (int(img.shape[1] * s), h), interpolation=cv2.INTER_AREA)
        x0 = (w - scaled.shape[1]) // 2 + (i % 4) - 2
        x0 = max(0, min(w - scaled.shape[1], x0))
        canvas[:, x0:x0 + scaled.shape[1]] = scaled
        frames.append(canvas)
    return write_y4m(path, frames)


def board_video(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """The printed AR marker board lying on a wooden counter, seen from above at an angle."""
    import cv2

    from render_node.ar.board import printable_sheet

    sheet = printable_sheet(dpi=100)
    if sheet.ndim == 2:
        sheet = cv2.cvtColor(sheet, cv2.COLOR_GRAY2RGB)
    w, h = size
    sh, sw = sheet.shape[:2]
    src = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    dst = np.float32([[w * 0.22, h * 0.18], [w * 0.78, h * 0.18], [w * 0.92, h * 0.9], [w * 0.08, h * 0.9]])
    m = cv2.getPerspectiveTransform(src, dst)
    wood = np.zeros((h, w, 3), np.uint8)
    wood[:] = (150, 110, 70)
    wood[:, :, 0] = np.clip(150 + 20 * np.sin(np.arange(w) / 9.0), 0, 255).astype(np.uint8)[None, :]
    warped = cv2.warpPerspective(sheet, m, (w, h), borderMode=cv2.BORDER_TRANSPARENT, dst=wood.copy())
    return write_y4m(path, [warped] * 4)


@pytest.fixture(scope="module")
def chromium_with_camera(playwright_instance: Any, server: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Factory: a browser whose fake camera plays the given y4m file."""
    launched: list[Any] = []

    def make(video: Path) -> Any:
        b = launch(playwright_instance, [f"--use-file-for-fake-video-capture={video}"])
        launched.append(b)
        return b

    yield make
    for b in launched:
        b.close()



# ---- what a page's live camera view sends and gets --------------------------------------------------------
@dataclass
class CameraTraffic:
    """The `/ws/stream` sockets of a page and the camera HTTP requests it made: hellos, camera frames sent (binary,
    `SRC1` header), frames received (binary, `SRF1` header), statuses and errors, and the most frames that were
    ever in flight (sent, not yet answered by a frame or an error naming their seq)."""

    sockets: list[Any] = field(default_factory=list)
    hellos: list[dict[str, Any]] = field(default_factory=list)
    text_sent: list[dict[str, Any]] = field(default_factory=list)
    frames_sent: int = 0
    frames_received: int = 0
    errors_with_seq: int = 0
    statuses: list[str] = field(default_factory=list)
    max_in_flight: int = 0
    camera_posts: list[str] = field(default_factory=list)

    def _sent(self, payload: str | bytes) -> None:
        import json

        if isinstance(payload, bytes):
            if payload[:4] == b"SRC1":
                self.frames_sent += 1
                self.max_in_flight = max(self.max_in_flight,
                                         self.frames_sent - self.frames_received - self.errors_with_seq)
            return
        msg = json.loads(payload)
        (self.hellos if msg.get("type") == "hello" else self.text_sent).append(msg)

    def _received(self, payload: str | bytes) -> None:
        import json

        if isinstance(payload, bytes):
            if payload[:4] == b"SRF1":
                self.frames_received += 1
            return
        msg = json.loads(payload)
        if msg.get("type") == "status":
            self.statuses.append(msg["status"])
        elif msg.get("type") == "error" and "seq" in msg:
            self.errors_with_seq += 1

    def open_sockets(self) -> list[Any]:
        return [ws for ws in self.sockets if not ws.is_closed()]


def watch_camera(page: Any) -> CameraTraffic:
    traffic = CameraTraffic()

    def on_socket(ws: Any) -> None:
        if "/ws/stream" not in ws.url:
            return
        traffic.sockets.append(ws)
        ws.on("framesent", traffic._sent)
        ws.on("framereceived", traffic._received)

    def on_request(req: Any) -> None:
        if req.method == "POST" and any(p in req.url for p in ("/api/tryon", "/api/ar/overlay")):
            traffic.camera_posts.append(req.url)

    page.on("websocket", on_socket)
    page.on("request", on_request)
    return traffic


def wait_closed(ws: Any, timeout_ms: float = 30_000) -> None:
    """Returns once the page's WebSocket `ws` has closed (the deadline allows a loaded 2-core CI machine, where
    the node may be mid-way through a try-on frame when the page closes the socket)."""
    if not ws.is_closed():
        ws.wait_for_event("close", timeout=timeout_ms)


# ---- staff accounts of the back office --------------------------------------------------------------
@dataclass(frozen=True)
class StaffLogin:
    """A staff account made for a test: its name, password and TOTP secret (`code()` is the current 6 digits)."""

    name: str
    role: str
    display_name: str
    password: str
    totp_secret: str

    def code(self) -> str:
        import pyotp

        return str(pyotp.TOTP(self.totp_secret).now())


@pytest.fixture(scope="session")
def staff_account(server: Server) -> Any:
    """Factory: staff_account(name, role, display_name) -> StaffLogin, made with `showroom staff add
    --password-stdin` against the node's data dir (the secret read from what the command prints once)."""
    import re

    if os.environ.get("SHOWROOM_BROWSER_BASE_URL"):
        pytest.skip("staff accounts are made in the node's own data dir; not for an external node")

    def make(name: str, role: str, display_name: str = "") -> StaffLogin:
        password = f"Showroom-{os.urandom(8).hex()}"
        done = subprocess.run(
            [*_showroom_command(), "staff", "add", name, "--role", role, "--display-name", display_name or name,
             "--password-stdin", "--data-dir", str(server.data_dir)],
            input=f"{password}\n".encode(), capture_output=True, cwd=ROOT, timeout=120,
            env={**os.environ, "SHOWROOM_DATA_DIR": str(server.data_dir)})
        out = done.stdout.decode(errors="replace")
        assert done.returncode == 0, f"showroom staff add {name} failed:\n{out}\n{done.stderr.decode(errors='replace')}"
        found = re.search(r"secret=([A-Z2-7]+)", out)
        assert found, f"no TOTP secret in the output of showroom staff add:\n{out}"
        return StaffLogin(name, role, display_name or name, password, found.group(1))

    return make
