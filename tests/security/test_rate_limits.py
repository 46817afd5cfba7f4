"""The rate limiter's rules, without a server: token buckets on a fake clock, which requests each limit names, and
who the client is behind (and not behind) a trusted proxy."""

from __future__ import annotations

import ipaddress

from render_node.ratelimit import LIMITS, RateLimiter

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_abused_route_has_a_limit_and_frames_and_pages_have_none() -> None:
    limiter = RateLimiter()
    named = {
        ("POST", "/api/quotes"): "quotes",
        ("POST", "/api/orders"): "orders",
        ("POST", "/api/orders/ord_1/payments"): "orders",
        ("POST", "/api/orders/ord_1/refunds"): "orders",
        ("GET", "/api/render"): "renders",
        ("GET", "/api/products/bar-10g/views"): "view_sets",
        ("POST", "/api/tryon"): "camera",
        ("POST", "/api/ar/overlay"): "camera",
        ("POST", "/api/voice/commands"): "voice",
        ("POST", "/api/voice/text"): "voice",
        ("POST", "/api/shares"): "shares",
        ("POST", "/api/staff/sign-in"): "staff_sign_in",
        ("POST", "/api/staff/session"): "staff_sign_in",
    }
    for (method, path), name in named.items():
        limit = limiter.limit_for(method, path)
        assert limit is not None and limit.name == name, path
    for method, path in (("GET", "/views/" + "0" * 64 + ".jpg"), ("GET", "/kiosk"), ("GET", "/api/products"),
                         ("GET", "/api/orders/ord_1"), ("GET", "/healthz"), ("POST", "/api/payments/notify")):
        assert limiter.limit_for(method, path) is None, path
    assert len({limit.name for limit in LIMITS}) == len(LIMITS)


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limit = next(limit for limit in LIMITS if limit.name == "staff_sign_in")
    assert [limiter.take(limit, "203.0.113.9") for _ in range(limit.burst)] == [0.0] * limit.burst
    wait = limiter.take(limit, "203.0.113.9")
    step_s = 60.0 / limit.per_minute
    assert step_s - 0.1 < wait <= step_s, "one token back after a minute / per_minute"
    assert limiter.take(limit, "203.0.113.10") == 0.0, "each client has its own bucket"
    clock.now += step_s
    assert limiter.take(limit, "203.0.113.9") == 0.0
    assert limiter.take(limit, "203.0.113.9") > 0
    clock.now += 3600
    assert [limiter.take(limit, "203.0.113.9") for _ in range(limit.burst)] == [0.0] * limit.burst, \
        "a bucket never holds more than its burst"
    assert limiter.take(limit, "203.0.113.9") > 0


def test_x_forwarded_for_counts_only_from_trusted_proxies_and_cannot_be_spoofed_through_them() -> None:
    limiter = RateLimiter(trusted_proxies=LOOPBACK)
    assert limiter.client_of("198.51.100.4", "1.2.3.4") == "198.51.100.4", "an untrusted peer is the client"
    assert limiter.client_of("127.0.0.1", None) == "127.0.0.1"
    assert limiter.client_of("127.0.0.1", "198.51.100.4") == "198.51.100.4"
    # the client sent its own X-Forwarded-For; nginx appended the real address: the right-most untrusted hop wins
    assert limiter.client_of("127.0.0.1", "1.2.3.4, 198.51.100.4") == "198.51.100.4"
    assert limiter.client_of("10.1.2.3", "1.2.3.4, 198.51.100.4, 10.9.9.9") == "198.51.100.4", "two proxies deep"
    assert limiter.client_of("127.0.0.1", "not-an-ip") == "not-an-ip"


def test_idle_buckets_are_forgotten_so_memory_stays_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, max_buckets=100)
    limit = next(limit for limit in LIMITS if limit.name == "quotes")
    for i in range(100):
        limiter.take(limit, f"198.51.100.{i}")
    clock.now += 3600
    limiter.take(limit, "203.0.113.1")
    assert len(limiter._buckets) == 1
