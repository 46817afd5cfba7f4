"""Dual recording through a real edge node with aiortc peers: a dual-recording product (the 1 kg investment bar)
cannot be offered without a running recording; the customer's refusal blocks it for the call; with consent both
legs are recorded, sealed (no WebM bytes at rest), the receipt's hashes match the stored files, each file decrypts
to a WebM with video frames, and the auditor's playback answers 403 without a recordings ticket, 404 for an
unknown recording and 200 with the WebM."""

from __future__ import annotations

import hashlib
import io
import time

import aiohttp
import av
import pytest

from render_node.rtc.recording import open_sealed
from showroom.advisory import Advisor, sign_ticket, verify_receipt
from tests.e2e.advisor_peers import (
    KEY,
    RECORDING_KEY,
    AdvisorNode,
    Json,
    Peer,
    ticket,
)
from tests.e2e.test_advisor_rtc import BLUE, HELLO, RED, _connect
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

BAR_1KG = {"id": "q_00000000000000aa", "product": "bar-au9999-1kg", "variant": "au9999-1kg",
           "total_cny": "560000.00", "expires_at": "2030-01-01T00:00:00+00:00"}
BAR_50G = {"id": "q_00000000000000bb", "product": "bar-au9999-50g", "variant": "au9999-50g",
           "total_cny": "28000.00", "expires_at": "2030-01-01T00:00:00+00:00"}


@pytest.fixture
def node(advisor_node: AdvisorNode) -> AdvisorNode:
    return advisor_node


async def _call(node: AdvisorNode, http: aiohttp.ClientSession) -> tuple[Json, Json, str]:
    console = await Json.open(http, node.ws_url("console"), {"type": "hello", "ticket": ticket()})
    await console.expect("welcome")
    customer = await Json.open(http, node.ws_url("customer"), HELLO)
    call_id = (await customer.expect("queued"))["call"]
    await console.send({"type": "take"})
    await console.expect("call")
    await customer.expect("advisor")
    await customer.send({"type": "consent", "audio": True, "video": True})
    await console.expect("consent")
    return customer, console, call_id


async def test_a_dual_recording_product_is_never_offered_without_the_customers_consent(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    customer, console, call_id = await _call(node, http)
    await console.send({"type": "offer", "quote": BAR_1KG})
    refused = await console.expect("error", code="recording_required")
    assert "not being recorded" in refused["message"]
    await console.send({"type": "offer", "quote": {"id": "q_1", "total_cny": "1"}})  # a quote naming no product
    assert "quote.product" in (await console.expect("error", code="bad_message"))["message"]

    await console.send({"type": "record", "on": True, "product": "bar-au9999-1kg"})
    assert await customer.expect("record_consent") == {"type": "record_consent", "call": call_id,
                                                       "product": "bar-au9999-1kg"}
    await customer.send({"type": "record_consent", "accepted": False})
    assert (await console.expect("record_consent"))["accepted"] is False
    await console.send({"type": "offer", "quote": BAR_1KG})
    assert "refused" in (await console.expect("error", code="recording_required"))["message"]
    await console.send({"type": "record", "on": True})
    await console.expect("error", code="recording_refused")
    await console.send({"type": "offer", "quote": BAR_50G})  # other products are sold as before
    assert (await customer.expect("offer"))["quote"] == BAR_50G
    assert not customer.seen("offer", quote=BAR_1KG)
    await console.send({"type": "end"})
    await console.expect("ended")
    await wait_until(lambda: node.hub.snapshot()["media"] == 0, what="the call's media closed")

    assert node.hub.recorder is not None and node.hub.recorder.store.recordings() == []
    await customer.close()
    await console.close()


async def test_a_recorded_call_is_sealed_and_its_receipt_matches_the_stored_files(
        node: AdvisorNode, http: aiohttp.ClientSession) -> None:
    customer, console, call_id = await _call(node, http)
    customer_peer, advisor_peer = Peer(RED), Peer(BLUE)
    try:
        await _connect(node, customer, console, customer_peer, advisor_peer)
        await console.send({"type": "record", "on": True, "product": "bar-au9999-1kg"})
        await customer.expect("record_consent")
        await customer.send({"type": "record_consent", "accepted": True})
        assert (await console.expect("record_consent"))["accepted"] is True
        assert await customer.expect("record") == {"type": "record", "call": call_id, "on": True}
        assert await console.expect("record") == {"type": "record", "call": call_id, "on": True}
        live = node.hub.calls[call_id]
        assert live.recording is not None
        writers = live.recording.writers
        await wait_until(lambda: all(w.video_frames >= 5 and w.audio_frames >= 5 for w in writers.values()),
                         what="both legs' audio and video reaching the recording", timeout_s=60.0)
        await console.send({"type": "offer", "quote": BAR_1KG})
        assert (await customer.expect("offer"))["quote"] == BAR_1KG
        await customer.send({"type": "cancel"})  # the call ends: the recording is sealed
        receipt = await console.expect("recording", timeout_s=60.0)
    finally:
        await customer_peer.close()
        await advisor_peer.close()

    rec = receipt["recording"]
    assert verify_receipt(KEY, rec, receipt["sig"])
    assert rec["call"] == call_id and rec["product"] == "bar-au9999-1kg" and set(rec["sha256"]) == {
        "customer", "advisor"}
    store = node.hub.recorder.store  # type: ignore[union-attr]
    assert not list(store.work.glob("*/*")), "no plaintext is left behind"
    for leg in ("customer", "advisor"):
        sealed = store.root / rec["id"] / f"{leg}.webm.enc"
        data = sealed.read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["sha256"][leg] and len(data) == rec["bytes"][leg]
        assert b"\x1a\x45\xdf\xa3" not in data and b"webm" not in data and b"VP8" not in data
        webm = open_sealed(RECORDING_KEY, sealed, rec["id"], leg)
        with av.open(io.BytesIO(webm)) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 0

    base = f"{node.base}/api/advisor/recordings"
    async with http.get(base) as r:
        assert r.status == 403 and (await r.json())["error"]["code"] == "bad_ticket"
    async with http.get(base, headers={"Authorization": f"Bearer {ticket()}"}) as r:
        assert r.status == 403  # an advisor's console ticket opens no recordings
    auditor = sign_ticket(KEY, Advisor("aud-li", "Mr Li"), time.time(), 600, scope="recordings")
    auth = {"Authorization": f"Bearer {auditor}"}
    async with http.get(base, headers=auth) as r:
        assert r.status == 200
        [listed] = (await r.json())["recordings"]
        assert listed["id"] == rec["id"] and listed["legs"]["customer"]["sha256"] == rec["sha256"]["customer"]
    async with http.get(f"{base}/rec_0000000000000000/customer.webm", headers=auth) as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "unknown_recording"
    async with http.get(f"{base}/{rec['id']}/customer.webm", params={"ticket": auditor}) as r:
        assert r.status == 200 and r.content_type == "video/webm"
        assert hashlib.sha256(await r.read()).hexdigest() == store.get(rec["id"])["legs"]["customer"][
            "plain_sha256"]
    await console.close()
    await customer.close()
