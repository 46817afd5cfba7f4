"""Per-client rate limits: one token bucket per (limit, client address), in this node's memory.

One middleware, one table (`LIMITS`): each limit names the requests it counts (method and path pattern) and
allows a burst, refilled at a steady rate. A request over its limit is answered 429 with `Retry-After` (whole
seconds until a token is back) and the JSON error, before any work is done. Requests no limit names pass freely.

The client is the peer address, or, when the peer is a trusted proxy (SHOWROOM_TRUSTED_PROXIES: nginx, the
ingress), the right-most address of `X-Forwarded-For` that is not itself a trusted proxy: a client cannot pick
its own key by sending the header. Buckets live per node (several nodes behind a balancer each count their
share); idle buckets that have refilled are dropped, so memory stays bounded by the active clients.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from render_node.config import IpNetwork

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Limit:
    """`burst` requests at once, then `per_minute` a minute, per client, for requests matching `methods`+`path`."""

    name: str
    methods: frozenset[str]
    path: re.Pattern[str]
    burst: int
    per_minute: float

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path.fullmatch(path) is not None


def _limit(name: str, methods: str, path: str, burst: int, per_minute: float) -> Limit:
    return Limit(name, frozenset(methods.split()), re.compile(path), burst, per_minute)


LIMITS: tuple[Limit, ...] = (
    _limit("quotes", "POST", r"/api/quotes", 30, 60),
    _limit("orders", "POST", r"/api/orders(/[^/]+/(payments|refunds|cancel|fulfilment))?", 30, 30),
    _limit("renders", "GET", r"/api/render", 120, 120),
    _limit("view_sets", "GET", r"/api/products/[^/]+/views", 60, 60),
    _limit("camera", "POST", r"/api/(tryon|ar/overlay)", 30, 60),
    _limit("voice", "POST", r"/api/voice/(commands|text)", 30, 60),
    _limit("guide_speech", "POST", r"/api/guide/speech", 20, 30),
    _limit("guide", "POST", r"/api/guide/ask", 30, 60),
    _limit("shares", "POST", r"/api/shares", 20, 20),
    _limit("coupons", "POST", r"/api/(coupons/(claim|mine)|quotes/[^/]+/discounts)", 20, 20),
    _limit("phone_codes", "POST", r"/api/phone/codes", 10, 6),
    _limit("phone_verify", "POST", r"/api/phone/verify", 20, 20),
    _limit("appointments", "POST", r"/api/(appointments(/[^/]+/cancel)?|orders/[^/]+/pickup/move)", 20, 20),
    _limit("advisor_callbacks", "POST", r"/api/advisor/callbacks", 5, 10),
    _limit("staff_sign_in", "POST", r"/api/staff/(sign-?in|login|sessions?)", 10, 10),
)
"""The one table of limits (docs/security.md lists it). Sized for people: a kiosk's product wall loads every
thumbnail at once (renders), a customer quotes and orders a handful of times; scripts hit the limit quickly."""


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """Token buckets of `limits` by client key. `clock` is monotonic seconds (tests pass a fake one)."""

    limits: Sequence[Limit] = LIMITS
    trusted_proxies: Sequence[IpNetwork] = ()
    clock: Clock = time.monotonic
    max_buckets: int = 100_000
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def limit_for(self, method: str, path: str) -> Limit | None:
        return next((limit for limit in self.limits if limit.matches(method, path)), None)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in net for net in self.trusted_proxies)

    def client_of(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or behind trusted proxies the right-most untrusted X-Forwarded-For hop."""
        client = peer or "unknown"
        if forwarded_for and self._trusted(client):
            hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            for hop in reversed(hops):
                client = hop
                if not self._trusted(hop):
                    break
        return client

    def take(self, limit: Limit, client: str) -> float:
        """Takes one token; returns 0 when allowed, else the seconds until one is back."""
        now = self.clock()
        rate_s = limit.per_minute / 60.0
        key = (limit.name, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.at) * rate_s)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate_s if rate_s > 0 else 3600.0

    def _prune(self, now: float) -> None:
        """Drops buckets that have refilled (their client is idle): forgetting them changes nothing."""
        by_name = {limit.name: limit for limit in self.limits}
        for key, bucket in list(self._buckets.items()):
            limit = by_name.get(key[0])
            if limit is None or bucket.tokens + (now - bucket.at) * limit.per_minute / 60.0 >= limit.burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_buckets:  # every bucket busy: start over rather than grow
            self._buckets.clear()


RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter", RateLimiter)
"""The node's rate limiter (set by `create_app` when SHOWROOM_RATE_LIMITS is on)."""


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 `rate_limited` with Retry-After when the client is over the limit that names this request."""
    limiter = request.app.get(RATE_LIMITER)
    if limiter is not None:
        limit = limiter.limit_for(request.method, request.path)
        if limit is not None:
            client = limiter.client_of(request.remote, request.headers.get("X-Forwarded-For"))
            wait_s = limiter.take(limit, client)
            if wait_s > 0:
                retry_after = max(1, math.ceil(wait_s))
                body = {"error": {"code": "rate_limited", "message": (
                    f"too many {limit.name.replace('_', ' ')} requests from {client}: at most {limit.burst} at once "
                    f"and {limit.per_minute:g} a minute; retry in {retry_after} s")}}
                return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})
    return await handler(request)
