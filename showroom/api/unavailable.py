"""The database out of reach is not a bug: commerce's routes (public and staff) answer it with 503
`database_unavailable`, a JSON body and Retry-After, and the pool reconnects on its own when PostgreSQL is back
(docs/deploy.md, "What each fault does to a customer")."""

from __future__ import annotations

import sys

from aiohttp import web

DATABASE_RETRY_AFTER_S = 2
"""What a 503 `database_unavailable` asks the client to wait before it tries again (same Idempotency-Key)."""
_DB_MODULES = ("asyncpg", "sqlalchemy")


def database_unavailable(exc: BaseException) -> bool:
    """The error means "the database cannot be reached right now" (PostgreSQL stopped, restarting, or the
    connection it gave us was cut), not a bug: the driver's connection errors, anywhere in the chain of causes.
    The drivers are looked up only when already loaded (an edge node never loads them)."""
    sa_exc, apg = sys.modules.get("sqlalchemy.exc"), sys.modules.get("asyncpg")
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if sa_exc is not None and ((isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated)
                                   or isinstance(e, sa_exc.TimeoutError)):  # cut connection; pool exhausted
            return True
        if apg is not None and isinstance(e, apg.PostgresConnectionError | apg.CannotConnectNowError
                                          | apg.exceptions.OperatorInterventionError
                                          | apg.ConnectionDoesNotExistError):
            return True
        if isinstance(e, OSError | TimeoutError) and _raised_in(e, _DB_MODULES):  # refused, reset, no answer
            return True
        stack += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return False


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(modules):
            return True
        tb = tb.tb_next
    return False


def unavailable_reply() -> web.Response:
    """503 with a JSON body and Retry-After: the request did nothing, or what it did is rolled back."""
    response = web.json_response({"error": {"code": "database_unavailable", "message": "the order database cannot be "
                                "reached; please try again shortly (with the same Idempotency-Key)"}}, status=503)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response
