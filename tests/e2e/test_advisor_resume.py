"""A call survives the customer's network change (a phone moving from Wi-Fi to 5G): its socket and its media both
break, the page comes back on a new socket with the call's resume token and offers a fresh peer connection with
`restart`, the node replaces the customer's leg and the advisor's own connection goes on untouched, decoding the new
leg's video. A customer who does not come back within the grace ends the call; tokens are single-use."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest

from tests.e2e.advisor_peers import (
    AdvisorNode,
    Json,
    Peer,
    ticket,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

RED, GREEN, BLUE = (200, 40, 40), (40, 200, 40), (40, 40, 200)
HELLO = {"type": "hello", "topic": "precious_metals", "lang": "zh", "channel": "phone",
         "view": {"screen": "product", "product": "bar-au9999-50g", "yaw_deg": 30}}


@pytest.fixture
def node(advisor_node: AdvisorNode) -> AdvisorNode:
    return advisor_node


async def _taken(node: AdvisorNode, http: aiohttp.ClientSession) -> tuple[Json, Json, str, str]:
    """An advisor on duty takes a customer's call; (console, customer, call id, resume token)."""
    console = await Json.open(http, node.ws_url("console"), {"type": "hello", "ticket": ticket()})
    await console.expect("welcome")
    await console.send({"type": "duty", "on": True})
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    call_id = (await customer.expect("queued"))["call"]
    await console.send({"type": "take", "topic": "precious_metals"})
    await console.expect("call")
    advisor = await customer.expect("advisor")
    return console, customer, call_id, advisor["resume"]


async def _offer(sock: Json, peer: Peer, *, restart: bool = False) -> None:
    msg = {"type": "sdp", "kind": "offer", "sdp": await peer.offer()}
    if restart:
        msg["restart"] = True
    await sock.send(msg)
    await peer.accept((await sock.expect("sdp", kind="answer"))["sdp"])


async def test_a_phone_that_changes_networks_comes_back_to_its_call_on_a_fresh_connection(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console, customer, call_id, token = await _taken(node, http)
    await customer.send({"type": "consent", "audio": True, "video": True})
    await console.expect("consent")
    phone, advisor_peer = Peer(RED), Peer(BLUE)
    new_phone: Peer | None = None
    try:
        await _offer(customer, phone)
        await _offer(console, advisor_peer)
        await console.expect("connected", timeout_s=30.0)
        await advisor_peer.wait_colour(RED)
        await phone.wait_colour(BLUE)

        # the network changes: the phone's socket and its peer connection are gone at once
        await customer.close()
        await phone.close()
        away = await console.expect("customer_away")
        assert away["call"] == call_id and away["why"] == "socket" and away["grace_s"] == 30.0
        assert node.hub.snapshot()["calls"] == 1, "the call waits for the customer"

        back = await Json.open(http, node.ws_url("customer"), {"type": "resume", "call": call_id, "token": token})
        resumed = await back.expect("resumed")
        assert resumed["call"] == call_id and resumed["consent"] is True and resumed["record"] == "off"
        assert resumed["advisor"] == {"display_name": "Ms Wang"}
        assert resumed["resume"] != token, "a resume token is used once"

        new_phone = Peer(GREEN)
        await _offer(back, new_phone, restart=True)
        again = await console.expect("connected", timeout_s=30.0, match=lambda m: m.get("again") is True)
        assert again["call"] == call_id
        await console.expect("customer_back")
        await back.expect("connected", again=True)
        # the advisor's peer connection was never renegotiated: it now decodes the new leg's camera
        await advisor_peer.wait_colour(GREEN)
        await new_phone.wait_colour(BLUE)
        assert advisor_peer.pc.connectionState == "connected"
        await wait_until(lambda: node.hub.snapshot()["peer_connections"] == 2, what="the old leg closed")

        # co-view goes on over the new socket
        await back.send({"type": "view", "view": {"screen": "product", "product": "bar-au9999-100g"}})
        assert (await console.expect("view"))["view"]["product"] == "bar-au9999-100g"

        # the used token opens nothing
        thief = await Json.open(http, node.ws_url("customer"), {"type": "resume", "call": call_id, "token": token})
        assert (await thief.expect("error"))["code"] == "bad_message"
        assert await thief.closed() == 4400

        await console.send({"type": "end"})
        assert (await back.expect("ended"))["reason"] == "advisor_ended"
        await wait_until(lambda: node.hub.snapshot()["calls"] == 0 and node.hub.snapshot()["media"] == 0
                         and node.hub.snapshot()["peer_connections"] == 0, what="nothing of the call left")
    finally:
        for peer in (phone, advisor_peer, new_phone):
            if peer is not None:
                await peer.close()
    await console.close()


async def test_when_only_the_media_breaks_the_same_socket_offers_a_fresh_connection(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console, customer, call_id, _ = await _taken(node, http)
    await customer.send({"type": "consent", "audio": True, "video": True})
    await console.expect("consent")
    phone, advisor_peer, new_phone = Peer(RED), Peer(BLUE), Peer(GREEN)
    try:
        await _offer(customer, phone)
        await _offer(console, advisor_peer)
        await advisor_peer.wait_colour(RED)
        await customer.send({"type": "sdp", "kind": "offer", "sdp": await new_phone.offer()})
        assert (await customer.expect("error"))["message"].startswith("sdp: this side's offer was answered")
        await phone.close()
        await _offer(customer, new_phone, restart=True)
        await console.expect("connected", again=True, timeout_s=30.0)
        await advisor_peer.wait_colour(GREEN)
        await new_phone.wait_colour(BLUE)
        assert node.hub.calls[call_id].media is not None
        assert node.hub.calls[call_id].media.restarts == {"customer": 1, "advisor": 0}
    finally:
        for peer in (phone, advisor_peer, new_phone):
            await peer.close()
    await customer.close()
    await console.close()


async def test_a_customer_who_does_not_come_back_in_time_ends_the_call(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    node.hub.limits = dataclasses.replace(node.hub.limits, resume_grace_s=0.5)
    console, customer, call_id, token = await _taken(node, http)
    await customer.close()
    assert (await console.expect("customer_away"))["grace_s"] == 0.5
    ended = await console.expect("ended", timeout_s=10.0)
    assert ended["reason"] == "customer_left" and "did not come back" in ended["message"]
    late = await Json.open(http, node.ws_url("customer"), {"type": "resume", "call": call_id, "token": token})
    assert (await late.expect("error"))["code"] == "bad_message"
    assert await late.closed() == 4400
    await wait_until(lambda: node.hub.snapshot()["calls"] == 0 and node.hub.snapshot()["customers"] == 0,
                     what="the call and the customer gone")
    await console.close()


async def test_a_resume_while_the_old_socket_still_looks_alive_takes_the_call_over(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    console, customer, call_id, token = await _taken(node, http)
    back = await Json.open(http, node.ws_url("customer"), {"type": "resume", "call": call_id, "token": token})
    assert (await back.expect("resumed"))["consent"] is False
    assert await customer.closed() == 1000, "the node closes the socket it had"
    assert not console.seen("customer_away")
    await back.send({"type": "consent", "audio": True, "video": False})
    assert await console.expect("consent") == {"type": "consent", "call": call_id, "audio": True, "video": False}
    await back.send({"type": "cancel"})
    assert (await console.expect("ended"))["reason"] == "customer_left"
    await console.close()


@pytest.mark.parametrize("bad", [
    {"type": "resume"},
    {"type": "resume", "call": "call_0123456789abcdef"},
    {"type": "resume", "call": "call_0123456789abcdef", "token": "short"},
    {"type": "resume", "call": "nope", "token": "A" * 32},
    {"type": "resume", "call": "call_0123456789abcdef", "token": "A" * 32},
])
async def test_a_bad_resume_is_refused_with_4400(node: AdvisorNode, http: aiohttp.ClientSession,
                                                bad: dict[str, str]) -> None:
    sock = await Json.open(http, node.ws_url("customer"), bad)
    assert (await sock.expect("error"))["code"] == "bad_message"
    assert await sock.closed() == 4400
