"""Which errors mean "the database cannot be reached right now" (503 `database_unavailable`, Retry-After) and which
are bugs (500): showroom/api/unavailable.py."""

from __future__ import annotations

import json

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from showroom.api.unavailable import DATABASE_RETRY_AFTER_S, database_unavailable, unavailable_reply


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_cut_connection_and_an_exhausted_pool_are_unavailability() -> None:
    cut = sa_exc.DBAPIError("SELECT 1", None, ConnectionResetError("reset"), connection_invalidated=True)
    assert database_unavailable(cut)
    assert database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))


def test_asyncpg_connection_errors_count_even_wrapped_in_a_cause_chain() -> None:
    inner = asyncpg.CannotConnectNowError("the database system is starting up")
    try:
        try:
            raise inner
        except asyncpg.CannotConnectNowError as e:
            raise RuntimeError("while placing the order") from e
    except RuntimeError as outer:
        assert database_unavailable(outer)


def test_a_refused_connection_counts_only_when_the_driver_raised_it() -> None:
    ours = _raised(ConnectionRefusedError(111, "refused"))  # raised here, in a test module: not the database's
    assert not database_unavailable(ours)


@pytest.mark.parametrize("exc", [
    sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")),  # a bug or a race, not an outage
    sa_exc.DBAPIError("SELECT", None, Exception("syntax"), connection_invalidated=False),
    ValueError("bad"),
    KeyError("x"),
])
def test_other_errors_are_not_unavailability(exc: BaseException) -> None:
    assert not database_unavailable(_raised(exc))


def test_the_reply_is_a_json_503_with_retry_after() -> None:
    reply = unavailable_reply()
    assert reply.status == 503
    assert reply.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_S)
    assert json.loads(reply.body)["error"]["code"] == "database_unavailable"
