"""The hall mode's wire messages: a hello without a product, and every control message bounded and finite."""

from __future__ import annotations

import math
from typing import Any

import pytest
import showroom_protocol as protocol
from showroom_protocol import ProtocolError, parse_hello
from showroom_protocol.hall import (
    BadMessage,
    Focus,
    Pick,
    Sit,
    StandUp,
    Teleport,
    Turn,
    Unfocus,
    parse_hall_message,
)

HALL_HELLO: dict[str, Any] = {"type": "hello", "client": "vr", "mode": "hall", "viewport": {"width": 480, "height": 540},
                              "eyes": 2, "fov_deg": 90, "ipd_m": 0.063, "codec": "jpeg"}


def test_a_hall_hello_needs_no_product_and_renders_with_the_overscan() -> None:
    hello = parse_hello(HALL_HELLO)
    assert hello.hall and hello.mode == "hall" and hello.product == ""
    assert hello.overscan_deg == protocol.DEFAULT_OVERSCAN_DEG and hello.start == "entrance"
    assert hello.render_fov_deg == 90 + 2 * protocol.DEFAULT_OVERSCAN_DEG
    again = parse_hello(hello.to_json())
    assert again == hello and "product" not in hello.to_json()
    other = parse_hello({**HALL_HELLO, "overscan_deg": 0, "start": "gold_counter"})
    assert other.render_fov_deg == 90 and other.start == "gold_counter"


def test_other_modes_still_need_a_product_and_ignore_the_overscan() -> None:
    with pytest.raises(ProtocolError) as err:
        parse_hello({**HALL_HELLO, "mode": "vr"})
    assert err.value.close_code == protocol.CLOSE_BAD_HELLO
    vr = parse_hello({**HALL_HELLO, "mode": "vr", "product": "ring"})
    assert vr.render_fov_deg == vr.fov_deg == 90


@pytest.mark.parametrize("extra", [
    {"overscan_deg": -1}, {"overscan_deg": 31}, {"overscan_deg": math.nan}, {"overscan_deg": "10"},
    {"overscan_deg": True}, {"fov_deg": 150, "overscan_deg": 20}, {"start": ""}, {"start": 7}, {"start": "x" * 200},
    {"product": 5}, {"product": "p" * 500},
])
def test_a_bad_hall_hello_is_refused_with_4400_naming_the_field(extra: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_hello({**HALL_HELLO, **extra})
    assert err.value.close_code == protocol.CLOSE_BAD_HELLO
    assert "hello." in err.value.message


def test_the_hall_messages_parse_to_their_values() -> None:
    assert parse_hall_message({"type": "teleport", "id": 1, "to": "gold_counter"}) == Teleport(1, to="gold_counter")
    assert parse_hall_message({"type": "teleport", "id": 2, "point": [1, 0, 2.5], "yaw_deg": 270}) == Teleport(
        2, point_m=(1.0, 0.0, 2.5), yaw_deg=-90.0)
    pick = parse_hall_message({"type": "pick", "id": 3, "origin": [0, 1.6, 0], "direction": [0, 0, -2]})
    assert pick == Pick(3, (0.0, 1.6, 0.0), (0.0, 0.0, -1.0)), "the direction is normalised"
    assert parse_hall_message({"type": "focus", "id": 4, "product": "bar"}) == Focus(4, "bar")
    assert parse_hall_message({"type": "focus", "id": 4, "product": "bar", "variant": "v"}) == Focus(4, "bar", "v")
    assert parse_hall_message({"type": "turn", "yaw_deg": 540}) == Turn(180.0)
    assert parse_hall_message({"type": "turn", "yaw_deg": -190}) == Turn(170.0)
    assert parse_hall_message({"type": "unfocus"}) == Unfocus(None)
    assert parse_hall_message({"type": "unfocus", "id": 9}) == Unfocus(9)
    assert parse_hall_message({"type": "sit", "id": 5, "product": "car"}) == Sit(5, "car")
    assert parse_hall_message({"type": "stand_up", "id": 6}) == StandUp(6)


@pytest.mark.parametrize("msg", [
    {"type": "teleport", "id": 1},
    {"type": "teleport", "id": 1, "to": "entrance", "point": [0, 0, 0]},
    {"type": "teleport", "id": 1, "to": 3},
    {"type": "teleport", "id": 1, "point": [0, 0]},
    {"type": "teleport", "id": 1, "point": [math.nan, 0, 0]},
    {"type": "teleport", "id": 1, "point": [math.inf, 0, 0]},
    {"type": "teleport", "id": 1, "point": [1e300, 0, 0]},
    {"type": "teleport", "id": 1, "point": ["1", 0, 0]},
    {"type": "teleport", "id": 1, "point": [True, 0, 0]},
    {"type": "teleport", "id": 1, "point": {"x": 0}},
    {"type": "teleport", "id": 1, "to": "entrance", "yaw_deg": math.nan},
    {"type": "teleport", "id": 1, "to": "entrance", "yaw_deg": 1e300},
    {"type": "pick", "id": 1, "origin": [0, 1.6, 0], "direction": [0, 0, 0]},
    {"type": "pick", "id": 1, "origin": [0, 1.6, 0], "direction": [1e-300, 0, 0]},
    {"type": "pick", "id": 1, "origin": [0, 1.6, 0]},
    {"type": "pick", "id": 1, "origin": [0, 1e9, 0], "direction": [0, 0, 1]},
    {"type": "focus", "id": 1},
    {"type": "focus", "id": 1, "product": ""},
    {"type": "focus", "id": 1, "product": ["bar"]},
    {"type": "focus", "id": 1, "product": "bar", "variant": 5},
    {"type": "focus", "id": 1, "product": "bar\n\x00"},
    {"type": "turn"},
    {"type": "turn", "yaw_deg": "90"},
    {"type": "turn", "yaw_deg": math.inf},
    {"type": "sit", "id": 1},
    {"type": "unfocus", "id": "x"},
])
def test_a_bad_hall_message_is_a_bad_message_that_names_the_field_and_keeps_the_id(msg: dict[str, Any]) -> None:
    with pytest.raises(BadMessage) as err:
        parse_hall_message(msg)
    assert str(msg["type"]) in err.value.message
    reply = err.value.to_json()
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    if isinstance(msg.get("id"), int):
        assert reply["id"] == msg["id"]


@pytest.mark.parametrize("rid", [None, -1, 2**53, 1.5, "1", True, [1]])
def test_a_request_id_must_be_a_non_negative_integer_a_browser_holds_exactly(rid: object) -> None:
    msg: dict[str, Any] = {"type": "stand_up"}
    if rid is not None:
        msg["id"] = rid
    with pytest.raises(BadMessage, match="id"):
        parse_hall_message(msg)
