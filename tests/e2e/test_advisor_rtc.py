"""Calling an advisor through a real edge node: the queue and its estimates, an advisor taking the call with a
signed ticket, consent, both WebRTC legs answered by the node, each side decoding the OTHER side's video (its
colour, changed mid-call), co-view forwarding, ending, a dropped console, shutdown, and every refusal."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.advisor_peers import (
    KEY,
    AdvisorNode,
    Json,
    Peer,
    ticket,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

RED, GREEN, BLUE = (200, 40, 40), (40, 200, 40), (40, 40, 200)
HELLO = {"type": "hello", "topic": "precious_metals", "lang": "zh", "channel": "kiosk", "place": "kiosk-01",
         "view": {"screen": "product", "product": "bar-au9999-50g", "variant": "au9999-50g", "yaw_deg": 30}}
QUOTE = {"id": "q_0123456789abcdef", "product": "bar-au9999-50g", "variant": "au9999-50g", "total_cny": "28000.00",
         "expires_at": "2030-01-01T00:00:00+00:00"}


@pytest.fixture
def node(advisor_node: AdvisorNode) -> AdvisorNode:
    return advisor_node


async def _console(node: AdvisorNode, http: aiohttp.ClientSession, name: str = "adv-wang") -> Json:
    console = await Json.open(http, node.ws_url("console"), {"type": "hello", "ticket": ticket(name)})
    await console.expect("welcome")
    return console


async def _connect(node: AdvisorNode, customer: Json, console: Json, customer_peer: Peer,
                   advisor_peer: Peer) -> None:
    """Both legs: the customer offers first (answered before the advisor has any media), then the advisor."""
    await customer.send({"type": "sdp", "kind": "offer", "sdp": await customer_peer.offer()})
    answer = await customer.expect("sdp", kind="answer")
    await customer_peer.accept(answer["sdp"])
    await console.send({"type": "sdp", "kind": "offer", "sdp": await advisor_peer.offer()})
    answer = await console.expect("sdp", kind="answer")
    await advisor_peer.accept(answer["sdp"])
    await customer.expect("connected", timeout_s=30.0)
    await console.expect("connected", timeout_s=30.0)


def _empty(node: AdvisorNode, **expected: int) -> bool:
    snap = node.hub.snapshot()
    return snap["calls"] == 0 and snap["media"] == 0 and snap["peer_connections"] == 0 and all(
        snap[k] == v for k, v in expected.items())


async def test_a_customer_waits_an_advisor_takes_the_call_and_both_see_each_other(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console = await Json.open(http, node.ws_url("console"), {"type": "hello", "ticket": ticket()})
    welcome = await console.expect("welcome")
    assert welcome["advisor"] == {"name": "adv-wang", "display_name": "Ms Wang"}
    assert welcome["on_duty"] is False and welcome["queues"] == {"precious_metals": [], "car_finance": [],
                                                                 "other": []}
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    queued = await customer.expect("queued")
    call_id = queued["call"]
    assert queued["position"] == 1 and queued["wait_s"] is None and queued["advisors_on_duty"] == 0

    await console.send({"type": "duty", "on": True})
    assert (await customer.expect("queued", advisors_on_duty=1))["wait_s"] == 240.0
    queues = await console.expect("queues", advisors_on_duty=1)
    [entry] = queues["queues"]["precious_metals"]
    assert entry["call"] == call_id and entry["channel"] == "kiosk" and entry["place"] == "kiosk-01"
    assert entry["view"]["product"] == "bar-au9999-50g"

    second = await Json.open(http, node.ws_url("customer"), HELLO)
    assert (await second.expect("queued")) | {"call": None} == {
        "type": "queued", "call": None, "position": 2, "wait_s": 480.0, "advisors_on_duty": 1}

    await console.send({"type": "take", "topic": "precious_metals"})
    call = await console.expect("call")
    assert call["call"] == call_id and call["lang"] == "zh" and call["view"]["yaw_deg"] == 30.0
    assert (await customer.expect("advisor"))["advisor"] == {"display_name": "Ms Wang"}
    assert (await second.expect("queued", position=1))["wait_s"] == 240.0

    await customer.send({"type": "consent", "audio": True, "video": True})
    assert (await console.expect("consent")) == {"type": "consent", "call": call_id, "audio": True, "video": True}

    customer_peer, advisor_peer = Peer(RED), Peer(BLUE)
    try:
        await _connect(node, customer, console, customer_peer, advisor_peer)
        await advisor_peer.wait_colour(RED)   # the customer's camera, relayed: the node draws nothing itself
        await customer_peer.wait_colour(BLUE)
        assert customer_peer.video is not None
        customer_peer.video.rgb = GREEN
        await advisor_peer.wait_colour(GREEN)  # live, not a stale frame
        await wait_until(lambda: advisor_peer.audio_frames > 0 and customer_peer.audio_frames > 0,
                         what="relayed audio on both sides")

        await _co_view(customer, console, call_id)

        await console.send({"type": "end"})
        ended = await customer.expect("ended")
        assert ended["reason"] == "advisor_ended"
        assert await customer.closed() == 1000
        assert (await console.expect("ended"))["reason"] == "advisor_ended"
        await wait_until(lambda: _empty(node, customers=1, waiting=1), what="no call state left on the node")
        # the finished call's talk time (seconds here) replaces the 240 s default in the estimate
        assert (await second.expect("queued", position=1, match=lambda m: m["wait_s"] < 240))["wait_s"] > 0
    finally:
        await customer_peer.close()
        await advisor_peer.close()
    await second.close()
    await console.close()
    await wait_until(lambda: node.hub.snapshot() == {k: 0 for k in node.hub.snapshot()},
                     what="an idle hub after everyone left")


async def _co_view(customer: Json, console: Json, call_id: str) -> None:
    view = {"screen": "product", "product": "bar-au9999-100g", "yaw_deg": 90, "pitch_deg": 10, "extra": "x"}
    await customer.send({"type": "view", "view": view})
    got = await console.expect("view")
    assert got == {"type": "view", "call": call_id, "view": {"screen": "product", "product": "bar-au9999-100g",
                                                             "yaw_deg": 90.0, "pitch_deg": 10.0}}
    actions: list[dict[str, Any]] = [
        {"type": "show", "product": "bar-au9999-50g", "variant": "au9999-50g", "yaw_deg": 45},
        {"type": "pointer", "x": 0.25, "y": 0.75}, {"type": "pointer", "x": None},
        {"type": "hotspot", "id": "hallmark"}, {"type": "offer", "quote": QUOTE}]
    for action in actions:
        await console.send(action)
    assert await customer.expect("show") == {"type": "show", "product": "bar-au9999-50g", "variant": "au9999-50g",
                                             "yaw_deg": 45.0}
    assert await customer.expect("pointer", x=0.25) == {"type": "pointer", "x": 0.25, "y": 0.75}
    assert await customer.expect("pointer", x=None) == {"type": "pointer", "x": None}
    assert await customer.expect("hotspot") == {"type": "hotspot", "id": "hallmark"}
    assert (await customer.expect("offer"))["quote"] == QUOTE
    await customer.send({"type": "offer_reply", "quote_id": QUOTE["id"], "accepted": True})
    assert await console.expect("offer_reply") == {"type": "offer_reply", "call": call_id,
                                                   "quote_id": QUOTE["id"], "accepted": True}
    await customer.send({"type": "order", "order_id": "ord_0011223344"})
    assert (await console.expect("order"))["order_id"] == "ord_0011223344"

    # co-view off: views stop, show/pointer/hotspot are refused, an offer still goes through
    await customer.send({"type": "coview", "on": False})
    assert await console.expect("coview") == {"type": "coview", "call": call_id, "on": False}
    await customer.send({"type": "view", "view": {"screen": "wall"}})
    await customer.send({"type": "video", "on": False})
    await console.expect("video", on=False)
    assert not console.seen("view", view={"screen": "wall"}), "a view was forwarded with co-view off"
    await console.send({"type": "show", "product": "bar-au9999-10g"})
    assert (await console.expect("error"))["code"] == "coview_off"
    await console.send({"type": "offer", "quote": QUOTE})
    await customer.expect("offer")
    assert not customer.seen("show", product="bar-au9999-10g")
    await customer.send({"type": "coview", "on": True})
    await console.expect("coview", on=True)


async def test_a_dropped_console_puts_the_customer_back_at_the_head_of_the_queue(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console = await _console(node, http)
    await console.send({"type": "duty", "on": True})
    first = await Json.open(http, node.ws_url("customer"), HELLO)
    call_id = (await first.expect("queued"))["call"]
    second = await Json.open(http, node.ws_url("customer"), HELLO)
    await second.expect("queued", position=2)
    await console.send({"type": "take"})
    await first.expect("advisor")
    await second.expect("queued", position=1)
    await first.send({"type": "consent", "audio": True, "video": False})
    await console.expect("consent", video=False)
    peer = Peer(None)
    try:
        await first.send({"type": "sdp", "kind": "offer", "sdp": await peer.offer()})
        await peer.accept((await first.expect("sdp"))["sdp"])
        await wait_until(lambda: node.hub.snapshot()["peer_connections"] == 1, what="the customer's leg")

        await console.ws.close()  # the advisor's browser is gone, without "end"
        requeued = await first.expect("queued", requeued=True)
        assert requeued["call"] == call_id and requeued["position"] == 1
        assert (await second.expect("queued", position=2))["call"] != call_id
        await wait_until(lambda: _empty(node, customers=2, waiting=2, consoles=0),
                         what="the call's media closed, both customers waiting")

        again = await _console(node, http, "adv-li")
        await again.send({"type": "take"})
        assert (await again.expect("call"))["call"] == call_id
        await again.close()
    finally:
        await peer.close()
    await first.close()
    await second.close()


async def test_declining_consent_ends_the_call_and_cancel_leaves_the_queue(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console = await _console(node, http)
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    await customer.expect("queued")
    await console.send({"type": "take", "topic": "precious_metals"})
    await customer.expect("advisor")
    await customer.send({"type": "consent", "audio": False, "video": False})
    assert (await customer.expect("ended"))["reason"] == "declined"
    assert await customer.closed() == 1000
    assert (await console.expect("ended"))["reason"] == "declined"

    other = await Json.open(http, node.ws_url("customer"), {**HELLO, "topic": "car_finance"})
    call_id = (await other.expect("queued"))["call"]
    await console.expect("queues", match=lambda m: [e["call"] for e in m["queues"]["car_finance"]] == [call_id])
    await other.send({"type": "cancel"})
    assert (await other.expect("ended"))["reason"] == "customer_left"
    assert await other.closed() == 1000
    await console.expect("queues", match=lambda m: m["queues"]["car_finance"] == [])
    await console.send({"type": "take"})
    assert (await console.expect("error"))["code"] == "nothing_waiting"
    await console.close()
    await wait_until(lambda: _empty(node, customers=0, waiting=0, consoles=0), what="an empty hub")


async def test_bad_tickets_are_refused_with_4403(node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    for bad in (ticket(key=b"another-key-of-at-least-thirty-two-bytes!"), ticket(ttl_s=-1.0),
                ticket()[:-4] + "AAAA", "not-a-ticket"):
        console = await Json.open(http, node.ws_url("console"), {"type": "hello", "ticket": bad})
        assert (await console.expect("error"))["code"] == "bad_ticket"
        assert await console.closed() == 4403
    console = await Json.open(http, node.ws_url("console"), {"type": "hello"})
    assert (await console.expect("error"))["code"] == "bad_message"
    assert await console.closed() == 4400
    assert KEY and node.hub.snapshot()["consoles"] == 0


async def test_bad_messages_are_answered_bad_message_and_the_socket_stays_open(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    for hello in ({"type": "hello", "topic": "lottery", "lang": "zh", "channel": "kiosk"},
                  {**HELLO, "lang": "fr"}, {**HELLO, "place": "no spaces please"}, {"type": "cancel"}):
        customer = await Json.open(http, node.ws_url("customer"), hello)
        assert (await customer.expect("error"))["code"] == "bad_message"
        assert await customer.closed() == 4400

    console = await _console(node, http)
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    await customer.expect("queued")
    await customer.ws.send_str("{not json")
    await customer.send({"type": "dance"})
    await customer.send({"type": "view", "view": {"screen": "product", "yaw_deg": "NaN"}})
    await customer.send({"type": "consent", "audio": True, "video": True})  # nobody took the call yet
    await customer.send({"type": "sdp", "kind": "answer", "sdp": "v=0"})
    for _ in range(5):
        assert (await customer.expect("error"))["code"] == "bad_message"
    await console.send({"type": "take"})
    await customer.expect("advisor")
    for bad in ({"type": "show", "product": "../../etc"}, {"type": "pointer", "x": 2, "y": 0.5},
                {"type": "hotspot"}, {"type": "offer", "quote": "free"}, {"type": "duty", "on": "yes"},
                {"type": "take", "topic": "lottery"}, {"type": "hello", "ticket": ticket()}):
        await console.send(bad)
        assert (await console.expect("error"))["code"] == "bad_message", bad
    await console.send({"type": "show", "product": "bar-au9999-50g"})
    assert (await console.expect("error"))["code"] == "not_ready"  # no consent yet
    await customer.send({"type": "consent", "audio": True, "video": True})
    await console.expect("consent")
    await console.send({"type": "sdp", "kind": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"})
    assert (await console.expect("error"))["code"] == "bad_message"
    await customer.send({"type": "cancel"})
    assert (await console.expect("ended"))["reason"] == "customer_left"
    await console.close()
    await wait_until(lambda: _empty(node, customers=0, consoles=0), what="an empty hub")


async def test_the_node_refuses_customers_and_calls_past_its_limits(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    waiting = [await Json.open(http, node.ws_url("customer"), HELLO) for _ in range(2)]
    for customer in waiting:
        await customer.expect("queued")
    third = await Json.open(http, node.ws_url("customer"), HELLO)
    assert (await third.expect("error"))["code"] == "busy"
    assert await third.closed() == 1013

    first, second = await _console(node, http, "adv-a"), await _console(node, http, "adv-b")
    await first.send({"type": "take"})
    await first.expect("call")
    await second.send({"type": "take"})
    assert (await second.expect("error"))["code"] == "busy"  # SHOWROOM_ADVISOR_MAX_CALLS=1
    await first.send({"type": "take"})
    assert (await first.expect("error"))["code"] == "in_call"
    for sock in (*waiting, first, second):
        await sock.close()
    await wait_until(lambda: _empty(node, customers=0, consoles=0, sockets=0), what="an empty hub")


async def test_node_shutdown_ends_every_call_and_closes_every_socket_going_away(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console = await _console(node, http)
    live = await Json.open(http, node.ws_url("customer"), HELLO)
    await live.expect("queued")
    waiting = await Json.open(http, node.ws_url("customer"), HELLO)
    await waiting.expect("queued", position=2)
    await console.send({"type": "take"})
    await live.expect("advisor")
    await live.send({"type": "consent", "audio": True, "video": True})
    await console.expect("consent")
    await node.stop()
    for customer in (live, waiting):
        assert (await customer.expect("ended"))["reason"] == "node_shutdown"
        assert await customer.closed() == 1001
    assert (await console.expect("ended"))["reason"] == "node_shutdown"
    assert await console.closed() == 1001
    assert node.hub.snapshot() | {"sockets": 0} == {k: 0 for k in node.hub.snapshot()}


@pytest.mark.parametrize("side", ["customer", "console"])
async def test_an_oversized_message_closes_the_socket_with_1009(
        node: AdvisorNode, http: aiohttp.ClientSession, side: str) -> None:
    sock = await Json.open(http, node.ws_url(side))
    await sock.ws.send_str('{"type": "hello", "pad": "' + "x" * (64 * 1024) + '"}')
    assert await sock.closed() == 1009


async def test_more_than_50_messages_a_second_close_the_socket_with_1008(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    await customer.expect("queued")
    for _ in range(60):
        await customer.send({"type": "ping"})
    assert await customer.closed() == 1008
    await wait_until(lambda: _empty(node, customers=0, sockets=0), what="the flooder gone from the queue")
