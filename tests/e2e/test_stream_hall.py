"""The hall stream over a real WebSocket: a hello without a product, the welcome's hall block, teleports the
rules allow and refuse, picking the 100 g bar from the counter, focusing it on the stand, sitting in the sedan,
the head kept out of the counters, bad values answered without ending the session, and stereo hall frames."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import showroom_protocol as protocol
from aiohttp import web
from showroom_protocol import parse_frame

from render_node.app import create_app
from render_node.config import Config
from render_node.hall.files import hall_paths
from render_node.hall.layout import hall_plan
from render_node.pool import RenderPool
from render_node.render.types import RGBA8, RenderRequest, StereoView
from render_node.stream.registry import StreamLimits
from showroom.catalog import load_catalog
from tests.tiny_renderer import TinyRenderer

pytestmark = pytest.mark.asyncio

SEEN: list[RenderRequest] = []
"""What the node asked the (in-process) renderer to draw."""


class RecordingRenderer(TinyRenderer):
    def render(self, request: RenderRequest) -> RGBA8:
        SEEN.append(request)
        return super().render(request)


def _recording_renderer() -> RecordingRenderer:
    return RecordingRenderer()


@dataclass
class HallNode:
    base: str
    assets_dir: Path


@pytest_asyncio.fixture
async def hall_node(tmp_path: Path, project_root: Path) -> AsyncIterator[HallNode]:
    """A node whose hall.glb and product models are stand-ins, rendering in-process with a recording renderer."""
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True)
    for product in catalog.products:
        (assets / "models" / product.model).write_bytes(b"stand-in model")
    files = hall_paths(assets)
    files.glb.parent.mkdir(parents=True)
    files.glb.write_bytes(b"stand-in hall")
    SEEN.clear()
    pool = RenderPool(_recording_renderer, workers=0)
    config = Config(host="127.0.0.1", port=0, data_dir=tmp_path / "data", role="edge", assets_dir=assets, workers=0)
    app = create_app(config, catalog=catalog, renderer_pool=pool,
                     stream_limits=StreamLimits(max_sessions=3, max_message_bytes=4096, idle_timeout_s=5.0,
                                                heartbeat_s=2.0))
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield HallNode(f"http://127.0.0.1:{runner.addresses[0][1]}", assets)
    finally:
        await runner.cleanup()
        await pool.close()


def _hello(**kw: Any) -> dict[str, Any]:
    msg = {"type": "hello", "client": "vr", "mode": "hall", "viewport": {"width": 96, "height": 108}, "eyes": 2,
           "fov_deg": 90, "ipd_m": 0.063, "codec": "jpeg", "max_kbps": 20000, "target_fps": 30}
    msg.update(kw)
    return msg


def _pose(seq: int, position: list[float], yaw_deg: float = 0.0) -> dict[str, Any]:
    h = math.radians(yaw_deg) / 2
    return {"type": "pose", "seq": seq, "t": time.time(), "position": position,
            "orientation": [0, math.sin(h), 0, math.cos(h)]}


async def _reply(ws: aiohttp.ClientWebSocketResponse, kind: str | tuple[str, ...], timeout_s: float = 10.0
                 ) -> dict[str, Any]:
    """The next text message of type `kind` (frames and other messages on the way are skipped)."""
    kinds = (kind,) if isinstance(kind, str) else kind
    while True:
        msg = await ws.receive(timeout=timeout_s)
        if msg.type == aiohttp.WSMsgType.TEXT:
            data: dict[str, Any] = msg.json()
            if data.get("type") in kinds:
                return data
        else:
            assert msg.type == aiohttp.WSMsgType.BINARY, f"socket ended: {msg.type} {msg.extra}"


async def _frame(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 10.0) -> bytes:
    while True:
        msg = await ws.receive(timeout=timeout_s)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type} {msg.extra}"


def _aim(origin: tuple[float, float, float], target: tuple[float, float, float]) -> list[float]:
    d = [b - a for a, b in zip(origin, target, strict=True)]
    n = math.sqrt(sum(c * c for c in d))
    return [c / n for c in d]


async def test_a_hall_hello_without_a_product_is_welcomed_with_the_hall_block(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(overscan_deg=12))
        welcome = await _reply(ws, "welcome")
        hall = welcome["hall"]
        assert welcome["mode"] == "hall" and hall["version"] == protocol.HALL_VERSION == 1
        assert hall["render_fov_deg"] == 90 + 2 * 12 and hall["overscan_deg"] == 12
        assert hall["zone"] == "entrance" and hall["position"] == [0.0, 0.0, 6.4] and hall["eye_height_m"] == 1.6
        assert {z["id"] for z in hall["zones"]} >= {"entrance", "gold_counter", "car_studio", "wealth_corner",
                                                      "service_counter"}
        gold = next(z for z in hall["zones"] if z["id"] == "gold_counter")
        assert gold["zh"] == "贵金属柜台" and len(gold["point"]) == 3


async def test_stereo_hall_frames_come_with_the_stereo_header_and_the_overscanned_field_of_view(
        hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        await _reply(ws, "welcome")
        for seq in range(3):
            await ws.send_json(_pose(seq, [0.0, 1.6, 6.4], yaw_deg=10 * seq))
            header, _ = parse_frame(await _frame(ws))
            assert header.stereo and header.eyes == 2 and (header.width_px, header.height_px) == (192, 108)
            assert header.t_receive <= header.t_render_start <= header.t_render_end <= header.t_send
    request = SEEN[-1]
    assert isinstance(request.view, StereoView) and request.view.ipd_m == pytest.approx(0.063)
    assert request.view.intrinsics.vertical_fov_deg == pytest.approx(90 + 2 * protocol.DEFAULT_OVERSCAN_DEG)
    assert request.model_path == hall_paths(hall_node.assets_dir).glb and not request.shadow
    plan = hall_plan()
    assert len(request.placements) == len(plan.slots), "every product in its slot"
    assert {p.content.kind for p in request.panels} >= {"price_tag", "gold_chart", "loan", "button"}


async def test_teleports_go_to_zones_and_walkable_points_and_refuse_the_counter(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        await _reply(ws, "welcome")
        await ws.send_json({"type": "teleport", "id": 1, "to": "gold_counter"})
        done = await _reply(ws, ("teleported", "refused"))
        assert done == {"type": "teleported", "id": 1, "position": [-8.4, 0.0, 0.2], "yaw_deg": 90.0,
                        "zone": "gold_counter", "seated": None, "eye": [-8.4, 1.6, 0.2]}
        await ws.send_json({"type": "teleport", "id": 2, "point": [-9.7, 0.0, -2.2]})
        refused = await _reply(ws, ("teleported", "refused"))
        assert refused["type"] == "refused" and refused["id"] == 2 and refused["code"] == "not_walkable"
        assert "case-bars" in refused["message"]
        await ws.send_json({"type": "teleport", "id": 3, "to": "the_vault"})
        assert (await _reply(ws, "refused"))["code"] == "unknown_zone"
        await ws.send_json({"type": "teleport", "id": 4, "point": [-6.0, 0.0, 1.0], "yaw_deg": 45})
        moved = await _reply(ws, "teleported")
        assert moved["position"] == [-6.0, 0.0, 1.0] and moved["yaw_deg"] == 45.0


async def test_picking_the_100_g_bar_from_the_counter_then_focusing_it_on_the_stand(hall_node: HallNode) -> None:
    plan = hall_plan()
    slot = plan.slot_of("bar-au9999-100g")
    eye = (-8.4, 1.6, 0.2)
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(start="gold_counter"))
        assert (await _reply(ws, "welcome"))["hall"]["zone"] == "gold_counter"
        target = (slot.position_m[0], slot.position_m[1] + 0.03, slot.position_m[2])
        await ws.send_json({"type": "pick", "id": 7, "origin": list(eye), "direction": _aim(eye, target)})
        picked = await _reply(ws, "picked")
        assert picked["id"] == 7
        assert picked["hit"]["kind"] == "product" and picked["hit"]["product"] == "bar-au9999-100g"
        assert picked["hit"]["zone"] == "gold_counter" and picked["hit"]["distance_m"] > 1
        await ws.send_json({"type": "focus", "id": 8, "product": "bar-au9999-100g"})
        focused = await _reply(ws, ("focused", "refused"))
        assert focused["type"] == "focused" and focused["product"] == "bar-au9999-100g"
        assert focused["variant"] == "au9999-100g" and focused["zone"] == "gold_counter"
        assert focused["scale"] == pytest.approx(0.22 / 0.055, rel=1e-3) and focused["scale"] > 1
        stand = plan.stands[0]
        assert focused["view_point"] == [stand.view_point_m[0], 0.0, stand.view_point_m[2]]
        await ws.send_json({"type": "turn", "yaw_deg": 30})
        SEEN.clear()
        await ws.send_json(_pose(1, [-8.4, 1.6, 0.2], yaw_deg=90))
        await _frame(ws)
        request = SEEN[-1]
        scales = sorted(math.hypot(p.matrix[0], p.matrix[8]) for p in request.placements)
        assert scales[-1] == pytest.approx(focused["scale"]), "the magnified bar on the stand"
        assert len(request.placements) == len(plan.slots) + 1, "off its tray, onto the stand, and a true-size copy"
        tags = [q for q in request.panels if q.content.kind == "price_tag" and q.content.highlight]
        assert [t.content.title_en for t in tags] == ["Huajin investment gold bar 100 g (minted)"]
        await ws.send_json({"type": "unfocus", "id": 9})
        assert await _reply(ws, "unfocused") == {"type": "unfocused", "id": 9}
        await ws.send_json({"type": "focus", "id": 10, "product": "no-such-bar"})
        assert (await _reply(ws, "refused"))["code"] == "unknown_product"


async def test_sitting_in_the_sedan_and_standing_up_beside_its_door(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(start="car_studio"))
        await _reply(ws, "welcome")
        await ws.send_json({"type": "sit", "id": 1, "product": "car-sedan-aurora"})
        seated = await _reply(ws, ("teleported", "refused"))
        assert seated["type"] == "teleported" and seated["seated"] == "car-sedan-aurora"
        assert 1.0 < seated["eye"][1] < 1.6 and seated["position"][1] == pytest.approx(seated["eye"][1] - 1.6)
        await ws.send_json(_pose(1, seated["eye"], yaw_deg=seated["yaw_deg"]))
        await _frame(ws)
        await ws.send_json({"type": "stand_up", "id": 2})
        standing = await _reply(ws, "teleported")
        assert standing["seated"] is None and standing["position"][1] == 0.0
        sedan = hall_plan().slot_of("car-sedan-aurora").position_m
        assert math.hypot(standing["position"][0] - sedan[0], standing["position"][2] - sedan[2]) < 3.0
        await ws.send_json({"type": "stand_up", "id": 3})
        assert (await _reply(ws, "refused"))["code"] == "not_seated"
        await ws.send_json({"type": "sit", "id": 4, "product": "bar-au9999-100g"})
        assert (await _reply(ws, "refused"))["code"] == "no_seat"


async def test_a_head_walked_into_a_showcase_is_drawn_at_the_counter_and_told_so(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello(start="gold_counter"))
        await _reply(ws, "welcome")
        await ws.send_json(_pose(1, [-9.8, 1.6, 0.2], yaw_deg=90))
        corrected = await _reply(ws, "corrected")
        x, _, z = corrected["position"]
        assert x == pytest.approx(-9.1 - 0.35, abs=0.02) and z == pytest.approx(0.2)
        await _frame(ws)
        assert SEEN[-1].view.head.position_m[0] == pytest.approx(x)  # type: ignore[union-attr]


async def test_bad_values_are_answered_and_the_session_goes_on_but_an_unknown_type_closes_it(
        hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        await _reply(ws, "welcome")
        for rid, bad in ((1, '{"type": "teleport", "id": 1, "point": [1e999, 0, 0]}'),
                         (2, '{"type": "teleport", "id": 2, "point": [NaN, 0, 0]}'),
                         (3, '{"type": "pick", "id": 3, "origin": [0, 1.6, 0], "direction": [0, 0, 0]}'),
                         (4, '{"type": "focus", "id": 4, "product": 17}'),
                         (None, '{"type": "turn", "yaw_deg": "left"}')):
            await ws.send_str(bad)
            error = await _reply(ws, "error")
            assert error["code"] == "bad_message" and error.get("id") == rid, bad
        await ws.send_json({"type": "turn", "yaw_deg": 10})
        assert (await _reply(ws, "refused"))["code"] == "not_focused"
        await ws.send_json({"type": "teleport", "id": 5, "to": "wealth_corner"})
        assert (await _reply(ws, "teleported"))["zone"] == "wealth_corner", "still in session"
        await ws.send_json({"type": "fly", "id": 6})
        msg = await ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == protocol.CLOSE_POLICY


async def test_a_hall_hello_with_an_unknown_start_zone_or_too_much_overscan_is_refused(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s:
        for hello in (_hello(start="the_vault"), _hello(fov_deg=150, overscan_deg=20)):
            async with s.ws_connect(hall_node.base + "/ws/stream") as ws:
                await ws.send_json(hello)
                error = await _reply(ws, "error")
                assert "hello." in error["message"]
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == protocol.CLOSE_BAD_HELLO


async def test_a_node_without_a_built_hall_says_so_and_closes(hall_node: HallNode) -> None:
    hall_paths(hall_node.assets_dir).glb.unlink()
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        error = await _reply(ws, "error")
        assert error["code"] == "hall_not_built" and "showroom assets build" in error["message"]
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == protocol.CLOSE_INTERNAL


async def test_spoken_commands_drive_the_hall(hall_node: HallNode) -> None:
    """espeak-ng speaks; the node's offline recogniser turns each WAV into a command; the client's part (zone ->
    teleport, product -> focus) is played here the way clients/web/common/voice.js plays it."""
    from tests.voice_speech import VOICES, speak

    async def command(phrase: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.post(
                f"{hall_node.base}/api/voice/commands", params={"lang": "en"}, data=speak(phrase, VOICES[0]),
                headers={"Content-Type": "audio/wav"}) as r:
            assert r.status == 200, await r.text()
            reply: dict[str, Any] = await r.json()
        assert reply["command"] is not None, f"{phrase!r} was heard as {reply['text']!r}"
        return dict(reply["command"])

    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        await _reply(ws, "welcome")
        go = await command("go to the gold counter")
        assert go == {"intent": "go", "target": "gold_counter"}
        await ws.send_json({"type": "teleport", "id": 1, "to": go["target"]})
        assert (await _reply(ws, ("teleported", "refused")))["zone"] == "gold_counter"
        show = await command("show the one hundred gram bar")
        assert show == {"intent": "show", "target": "bar-au9999-100g"}
        await ws.send_json({"type": "focus", "id": 2, "product": show["target"]})
        focused = await _reply(ws, ("focused", "refused"))
        assert focused["type"] == "focused" and focused["product"] == "bar-au9999-100g" and focused["scale"] > 1
        assert (await command("how much is this"))["intent"] == "price"
        assert (await command("buy this"))["intent"] == "buy"
        assert (await command("call an advisor"))["intent"] == "call_advisor"
        assert (await command("go back"))["intent"] == "back"
        await ws.send_json({"type": "unfocus"})
        assert (await _reply(ws, "unfocused"))["type"] == "unfocused"


# -- the digital guide ---------------------------------------------------------------------------------------------

def _guide_file(node: HallNode) -> Path:
    path = node.assets_dir / "guide" / "guide.glb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"stand-in guide")
    return path


def _guide_of(request: RenderRequest, glb: Path) -> Any:
    found = [p for p in request.placements if p.model_path == glb]
    assert len(found) <= 1
    return found[0] if found else None


async def test_the_guide_waits_at_the_entrance_and_leads_the_customer_to_the_car_studio(hall_node: HallNode) -> None:
    glb = _guide_file(hall_node)
    plan = hall_plan()
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        guide = (await _reply(ws, "welcome"))["hall"]["guide"]
        assert guide["at"] == [plan.guide_m[0], 0.0, plan.guide_m[2]] and guide["activity"] == "idle"
        await ws.send_json(_pose(1, [0.0, 1.6, 6.4]))
        await _frame(ws)
        standing = _guide_of(SEEN[-1], glb)
        assert standing is not None and standing.pose.animation == "idle"
        assert standing.matrix[3] == pytest.approx(plan.guide_m[0]) and standing.matrix[11] == pytest.approx(
            plan.guide_m[2])

        await ws.send_json({"type": "guide_walk", "id": 1, "to": "car_studio", "follow": True})
        walking = await _reply(ws, "guide")
        assert walking["id"] == 1 and walking["activity"] == "walking" and walking["to"] == "car_studio"
        assert walking["follow"] is True and 3.0 < walking["eta_s"] < 8.0
        # the client keeps sending its old place; the node moves the rig behind the guide
        corrections: list[dict[str, Any]] = []
        arrived: dict[str, Any] | None = None
        seq = 2
        deadline = time.monotonic() + walking["eta_s"] + 10.0
        while arrived is None and time.monotonic() < deadline:
            await ws.send_json(_pose(seq, [0.0, 1.6, 6.4]))
            seq += 1
            try:
                msg = await _reply(ws, ("corrected", "guide"), timeout_s=0.1)
            except TimeoutError:
                continue
            if msg["type"] == "corrected":
                corrections.append(msg)
            elif msg["activity"] == "pointing":
                arrived = msg
        assert arrived is not None, "the guide never arrived"
        point = plan.zone("car_studio").point_m
        assert arrived["at"] == [point[0], 0.0, point[2]] and arrived["eta_s"] == 0.0
        assert len(corrections) >= 5 and all(c.get("follow") is True for c in corrections)
        firsts = [math.dist(c["position"][::2], point[::2]) for c in corrections]
        assert firsts[0] > firsts[-1], "the customer did not come along"
        for c in corrections[1:]:  # behind the guide: never closer than the follow distance
            assert math.dist(c["position"][::2], point[::2]) > 1.0
        # the frames show the guide on its way (walk clip) and the head where the node put it
        walked = [r for r in SEEN if (p := _guide_of(r, glb)) is not None and p.pose.animation == "walk"]
        assert walked
        heads = [r.view.head.position_m for r in walked]  # type: ignore[union-attr]
        assert any(math.dist((h[0], h[2]), (0.0, 6.4)) > 1.0 for h in heads)
        # then it stops there: the last correction puts the rig 1.2 m short of the guide, facing it
        for _ in range(6):
            await ws.send_json(_pose(seq, [0.0, 1.6, 6.4]))
            seq += 1
            await asyncio.sleep(0.1)
        await ws.send_json({"type": "guide_reset", "id": 2})
        reset = await _reply(ws, "guide")
        assert reset["id"] == 2 and reset["at"] == [plan.guide_m[0], 0.0, plan.guide_m[2]]
        assert reset["activity"] == "idle" and reset["follow"] is False


async def test_the_guide_moves_its_lips_with_the_track_and_bad_guide_messages_are_answered(
        hall_node: HallNode) -> None:
    glb = _guide_file(hall_node)
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        await _reply(ws, "welcome")
        await ws.send_json({"type": "guide_say", "id": 1,
                            "visemes": [[0, "aa", 1.0], [20000, "aa", 1.0], [0, "sil", 0.0], [20000, "sil", 0.0]]})
        said = await _reply(ws, "guide")
        assert said["id"] == 1 and said["speaking"] is True
        await ws.send_json(_pose(1, [0.0, 1.6, 6.4]))
        await _frame(ws)
        guide = _guide_of(SEEN[-1], glb)
        assert guide is not None and guide.pose.animation == "talk"
        assert dict(guide.pose.morph) == {"viseme_aa": 1.0, "viseme_sil": 0.0}
        for rid, bad in ((2, '{"type": "guide_say", "id": 2, "visemes": [[0, "blah", 1]]}'),
                         (3, '{"type": "guide_say", "id": 3, "visemes": [[70000, "aa", 1]]}'),
                         (4, '{"type": "guide_say", "id": 4, "visemes": [[0, "aa", 2]]}'),
                         (5, '{"type": "guide_walk", "id": 5, "to": "gold_counter", "follow": 1}')):
            await ws.send_str(bad)
            error = await _reply(ws, "error")
            assert error["code"] == "bad_message" and error["id"] == rid, bad
        await ws.send_json({"type": "guide_walk", "id": 6, "to": "the_vault"})
        refused = await _reply(ws, "refused")
        assert refused["id"] == 6 and refused["code"] == "unknown_zone"
        await ws.send_json({"type": "guide_walk", "id": 7, "to": "gold_counter"})
        assert (await _reply(ws, "guide"))["follow"] is False, "still in session"


async def test_without_a_guide_model_the_hall_is_drawn_without_one_and_says_so(hall_node: HallNode) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(hall_node.base + "/ws/stream") as ws:
        await ws.send_json(_hello())
        assert (await _reply(ws, "welcome"))["hall"]["guide"] is None
        await ws.send_json(_pose(1, [0.0, 1.6, 6.4]))
        await _frame(ws)
        assert all(Path(p.model_path).name != "guide.glb" for p in SEEN[-1].placements)
        await ws.send_json({"type": "guide_walk", "id": 1, "to": "gold_counter", "follow": True})
        refused = await _reply(ws, "refused")
        assert refused["id"] == 1 and refused["code"] == "no_guide"
