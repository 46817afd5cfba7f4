"""Idempotency-Key: a creating request runs once per (scope, key); a replay gets the first answer, the same key
with another body is refused, a duplicate while the first still runs is told so. The answer is what the
client got (status and JSON body), so the caller passes the function that renders a result into it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from showroom.errors import InvalidInput, ShowroomError
from showroom.ports import UnitOfWork
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


@dataclass
class Claim(Generic[T]):
    """An Idempotency-Key claimed for one request. A use case may store its answer inside its own transaction
    with `finish` (then on every path that commits); otherwise `run_once` stores it right after."""

    scope: str
    key: str
    render: Callable[[T], Reply]
    finished: bool = False

    async def finish(self, uow: UnitOfWork, result: T) -> None:
        status, body = self.render(result)
        await uow.idempotency_finish(self.scope, self.key, status, body)
        self.finished = True


async def run_once(ctx: Commerce, scope: str, key: str | None, request: Any,
                   work: Callable[[Claim[T]], Awaitable[T]], render: Callable[[T], Reply]) -> Reply:
    """Runs `work` once per (scope, key) and answers `render(result)`; a replay answers what was stored."""
    key = check_key(key)
    digest = request_hash(request)
    async with ctx.uow() as uow:
        record = await uow.idempotency_begin(scope, key, digest, ctx.clock.now(), ctx.settings.idempotency_stale_s)
        await uow.commit()
    if record is not None:
        if record.request_hash != digest:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
        if record.state == "in_flight":
            raise RequestInFlight("a request with this Idempotency-Key is still being processed")
        assert record.response_status is not None and record.response_body is not None
        return record.response_status, record.response_body
    claim = Claim(scope, key, render)
    try:
        result = await work(claim)
    except BaseException:
        async with ctx.uow() as uow:
            await uow.idempotency_abort(scope, key)
            await uow.commit()
        raise
    reply = render(result)
    if not claim.finished:
        async with ctx.uow() as uow:
            await uow.idempotency_finish(scope, key, *reply)
            await uow.commit()
    return reply
