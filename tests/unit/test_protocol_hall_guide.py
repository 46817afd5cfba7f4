"""The guide's hall messages on the wire: guide_walk, guide_reset, guide_say, every field bounded (docs/streams.md,
"Hall mode": the guide)."""

from __future__ import annotations

from typing import Any

import pytest
from showroom_protocol.hall import (
    HALL_MESSAGE_TYPES,
    MAX_VISEME_KEYS,
    VISEMES,
    BadMessage,
    GuideReset,
    GuideSay,
    GuideWalk,
    parse_hall_message,
)

from render_node.guide import visemes as speech_visemes


def test_the_guide_messages_parse_to_their_values() -> None:
    assert {"guide_walk", "guide_reset", "guide_say"} <= set(HALL_MESSAGE_TYPES)
    assert parse_hall_message({"type": "guide_walk", "id": 3, "to": "gold_counter", "follow": True}) == GuideWalk(
        "gold_counter", True, 3)
    assert parse_hall_message({"type": "guide_walk", "to": "car_studio"}) == GuideWalk("car_studio", False, None)
    assert parse_hall_message({"type": "guide_reset"}) == GuideReset(None)
    say = parse_hall_message({"type": "guide_say", "id": 4, "visemes": [[0, "sil", 1], [12.5, "aa", 0.75]]})
    assert say == GuideSay(((0.0, "sil", 1.0), (12.5, "aa", 0.75)), 4)
    assert parse_hall_message({"type": "guide_say", "visemes": []}) == GuideSay((), None)


def test_the_wire_knows_the_same_15_visemes_as_the_speech_track() -> None:
    assert VISEMES == speech_visemes.VISEMES


def test_a_full_length_track_is_accepted() -> None:
    keys = [[i * 30.0, VISEMES[i % len(VISEMES)], (i % 11) / 10] for i in range(MAX_VISEME_KEYS)]
    keys[-1][0] = 60000
    msg = parse_hall_message({"type": "guide_say", "visemes": keys})
    assert isinstance(msg, GuideSay) and len(msg.visemes) == MAX_VISEME_KEYS


@pytest.mark.parametrize("msg", [
    {"type": "guide_walk", "id": 1},
    {"type": "guide_walk", "id": 1, "to": 7},
    {"type": "guide_walk", "id": 1, "to": "x" * 200},
    {"type": "guide_walk", "id": 1, "to": "gold_counter", "follow": "yes"},
    {"type": "guide_say", "id": 1},
    {"type": "guide_say", "id": 1, "visemes": "aa"},
    {"type": "guide_say", "id": 1, "visemes": [[0, "aa"]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "viseme_aa", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "AA", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, ["aa"], 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[-1, "aa", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[60001, "aa", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "aa", 1.5]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "aa", -0.1]]},
    {"type": "guide_say", "id": 1, "visemes": [[float("nan"), "aa", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "aa", float("inf")]]},
    {"type": "guide_say", "id": 1, "visemes": [[True, "aa", 1]]},
    {"type": "guide_say", "id": 1, "visemes": [[0, "aa", 1]] * (MAX_VISEME_KEYS + 1)},
])
def test_a_bad_guide_message_is_a_bad_message_that_keeps_the_id(msg: dict[str, Any]) -> None:
    with pytest.raises(BadMessage) as info:
        parse_hall_message(msg)
    assert info.value.request_id == 1
    assert info.value.to_json()["code"] == "bad_message" and msg["type"] in info.value.message


def test_a_guide_message_with_a_bad_id_is_refused_without_one() -> None:
    with pytest.raises(BadMessage) as info:
        parse_hall_message({"type": "guide_reset", "id": -1})
    assert info.value.request_id is None
