"""Idempotency-Key: a creating request runs once per (scope, key); a replay gets the first answer, the same key
with another body is refused, a duplicate while the first still runs is told so. The answer is what the
client got (status and JSON body), so the caller passes the function that renders a result into it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from showroom.errors import InvalidInput, ShowroomError
from showroom.ports import IdempotencyRecord, UnitOfWork
from showroom.services._uow import Commerce

T = TypeVar("T")
Reply = tuple[int, dict[str, Any]]
MAX_KEY_LEN = 200


class IdempotencyKeyMissing(ShowroomError):
    code = "idempotency_key_missing"
    http_status = 400


class IdempotencyKeyReused(ShowroomError):
    code = "idempotency_key_reused"
    http_status = 422


class RequestInFlight(ShowroomError):
    code = "request_in_flight"
    http_status = 409


def check_key(key: str | None) -> str:
    """The key a creating request must carry (checked before its body)."""
    if not key:
        raise IdempotencyKeyMissing("this request needs an Idempotency-Key header")
    if len(key) > MAX_KEY_LEN:
        raise InvalidInput(f"Idempotency-Key is at most {MAX_KEY_LEN} characters")
    return key


def request_hash(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
                          .encode()).hexdigest()


class Replay(Exception):
    """Raised by `Claim.begin` inside a use case's transaction when the key has its answer already: the
    transaction rolls back untouched and `run_once` answers what was stored."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("replayed")
        self.reply = reply


def _stored(record: IdempotencyRecord, digest: str) -> Reply:
    """The stored answer of a key's first request, or why there is none to give."""
    if record.request_hash != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
    if record.state == "in_flight":
        raise RequestInFlight("a request with this Idempotency-Key is still being processed")
    assert record.response_status is not None and record.response_body is not None
    return record.response_status, record.response_body


@dataclass
class Claim(Generic[T]):
    """An Idempotency-Key claimed for one request. A use case may store its answer inside its own transaction
    with `finish` (then on every path that commits); otherwise `run_once` stores it right after. With
    `in_transaction`, the use case also takes the key inside its first transaction (`begin`): one commit less,
    and a failure before that commit leaves no claim behind to undo."""

    scope: str
    key: str
    render: Callable[[T], Reply]
    digest: str = ""
    now: datetime | None = None
    stale_after_s: float = 0.0
    in_transaction: bool = False
    begun: bool = False
    held: bool = False
    """The key is committed as in flight (and must be released if the request then fails)."""
    finished: bool = False

    async def begin(self, uow: UnitOfWork) -> None:
        """Takes the key in the caller's transaction (`in_transaction` claims; a no-op otherwise). Raises `Replay`
        with the first answer when the key has one, `RequestInFlight` or `IdempotencyKeyReused` as `run_once`."""
        if not self.in_transaction:
            return
        assert self.now is not None
        record = await uow.idempotency_begin(self.scope, self.key, self.digest, self.now, self.stale_after_s)
        if record is not None:
            raise Replay(_stored(record, self.digest))
        self.begun = True

    def committed(self) -> None:
        """The use case's transaction that took the key committed (without finishing it): the key is now held."""
        if self.begun and not self.finished:
            self.held = True

    async def finish(self, uow: UnitOfWork, result: T) -> None:
        status, body = self.render(result)
        await uow.idempotency_finish(self.scope, self.key, status, body)
        self.finished = True


async def run_once(ctx: Commerce, scope: str, key: str | None, request: Any,
                   work: Callable[[Claim[T]], Awaitable[T]], render: Callable[[T], Reply], *,
                   in_transaction: bool = False) -> Reply:
    """Runs `work` once per (scope, key) and answers `render(result)`; a replay answers what was stored.
    `in_transaction`: `work` takes the key itself with `claim.begin(uow)` as the first step of its first
    transaction (see `Claim`)."""
    key = check_key(key)
    digest = request_hash(request)
    now = ctx.clock.now()
    claim = Claim(scope, key, render, digest, now, ctx.settings.idempotency_stale_s, in_transaction)
    if not in_transaction:
        async with ctx.uow() as uow:
            record = await uow.idempotency_begin(scope, key, digest, now, claim.stale_after_s)
            await uow.commit()
        if record is not None:
            return _stored(record, digest)
        claim.begun = claim.held = True
    try:
        result = await work(claim)
    except Replay as replay:
        return replay.reply
    except BaseException:
        # Only a key committed in flight is released: one whose transaction rolled back left nothing, and the key
        # may already be another request's.
        if claim.held and not claim.finished:
            async with ctx.uow() as uow:
                await uow.idempotency_abort(scope, key)
                await uow.commit()
        raise
    if in_transaction and not claim.begun:
        raise AssertionError(f"{scope}: the use case never took its Idempotency-Key (claim.begin)")
    reply = render(result)
    if not claim.finished:
        async with ctx.uow() as uow:
            await uow.idempotency_finish(scope, key, *reply)
            await uow.commit()
    return reply
