"""The advisor settings (render_node/config.py, `showroom serve`): the ticket key has no default, is generated
once per data folder (0600) and reused, reaches the commerce side that signs and the edge that verifies as one
value, is refused when short, and a public start of role commerce needs it set."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from render_node.commands.serve import public_start_problem, resolve_advisor_ticket_key
from render_node.config import Config, load_config
from render_node.errors import BadRequest
from showroom.settings import CommerceSettings

KEY = "k" * 40


def test_the_ticket_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = resolve_advisor_ticket_key(load_config({"data_dir": str(tmp_path)}, environ={}))
    again = resolve_advisor_ticket_key(load_config({"data_dir": str(tmp_path)}, environ={}))
    assert first.advisor_ticket_key == again.advisor_ticket_key and len(first.advisor_ticket_key) >= 32
    assert first.commerce.advisor_ticket_key == first.advisor_ticket_key
    assert stat.S_IMODE((tmp_path / "secrets" / "advisor_ticket").stat().st_mode) == 0o600
    elsewhere = resolve_advisor_ticket_key(load_config({"data_dir": str(tmp_path / "b")}, environ={}))
    assert elsewhere.advisor_ticket_key != first.advisor_ticket_key


def test_a_configured_key_is_used_on_both_sides_and_nothing_is_generated(tmp_path: Path) -> None:
    config = resolve_advisor_ticket_key(load_config({"data_dir": str(tmp_path)},
                                                    environ={"SHOWROOM_ADVISOR_TICKET_KEY": KEY}))
    assert config.advisor_ticket_key == KEY.encode() == config.commerce.advisor_ticket_key
    assert config.advisor_ticket_key_configured and not (tmp_path / "secrets" / "advisor_ticket").exists()
    assert KEY not in repr(config) and KEY not in repr(config.commerce)


def test_a_short_key_is_refused_naming_the_variable() -> None:
    with pytest.raises(BadRequest, match="SHOWROOM_ADVISOR_TICKET_KEY is 31 bytes"):
        load_config(environ={"SHOWROOM_ADVISOR_TICKET_KEY": "x" * 31})
    with pytest.raises(BadRequest, match="advisor ticket key"):
        Config(advisor_ticket_key=b"short")


def test_without_a_key_each_process_has_its_own_random_one_shared_by_its_two_sides() -> None:
    a, b = Config(), Config()
    assert a.advisor_ticket_key != b.advisor_ticket_key
    assert a.advisor_ticket_key == a.commerce.advisor_ticket_key
    assert CommerceSettings(database_url="x").advisor_ticket_key != CommerceSettings(database_url="x").advisor_ticket_key
    given = Config(advisor_ticket_key=KEY.encode())
    assert given.commerce.advisor_ticket_key == KEY.encode()


def test_the_call_limits_come_from_the_environment() -> None:
    config = load_config(environ={})
    assert (config.advisor_max_calls, config.advisor_max_waiting) == (4, 50)
    config = load_config(environ={"SHOWROOM_ADVISOR_MAX_CALLS": "2", "SHOWROOM_ADVISOR_MAX_WAITING": "9"})
    assert (config.advisor_max_calls, config.advisor_max_waiting) == (2, 9)
    with pytest.raises(BadRequest, match="SHOWROOM_ADVISOR_MAX_CALLS"):
        load_config(environ={"SHOWROOM_ADVISOR_MAX_CALLS": "many"})
    with pytest.raises(BadRequest, match="0 or more"):
        load_config(environ={"SHOWROOM_ADVISOR_MAX_WAITING": "-1"})


def test_a_public_commerce_node_needs_the_ticket_key() -> None:
    problem = public_start_problem(load_config({"host": "0.0.0.0", "role": "commerce"}, environ={}))
    assert problem is not None and "SHOWROOM_ADVISOR_TICKET_KEY" in problem
    problem = public_start_problem(load_config({"host": "0.0.0.0", "role": "commerce"},
                                               environ={"SHOWROOM_ADVISOR_TICKET_KEY": KEY}))
    assert problem is not None and "SHOWROOM_ADVISOR_TICKET_KEY" not in problem
    # an edge verifies tickets with whatever key it has (a warning, not a refusal); it needs the recording key
    edge = load_config({"host": "0.0.0.0", "role": "edge"}, environ={"SHOWROOM_RECORDING_KEY": "ab" * 32})
    assert public_start_problem(edge) is None
