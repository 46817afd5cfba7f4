"""Settings of the commerce side, as plain values. Built by `render_node.config` (the only reader of the
environment) and handed to `showroom.bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class CommerceSettings:
    database_url: str
    """SQLAlchemy async URL: sqlite+aiosqlite:///... (default) or postgresql+asyncpg://..."""
    payment_backend_url: str | None = None
    """Base URL of the payment backend; None means `showroom serve` starts the sandbox on loopback."""
    payment_webhook_secret: str = "sandbox-webhook-secret"
    public_base_url: str = "http://127.0.0.1:8080"
    """Where customers reach the node: pay return URLs, share links and QR codes point here."""
    share_secret: str = "sandbox-share-secret"
    quote_ttl_s: int = 300
    reservation_ttl_s: int = 900
    redis_url: str | None = None
    notify_retry_schedule_s: tuple[float, ...] = field(default=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0))
    # -- commerce details (defaults documented in docs/commerce.md) ------------------------------------------
    price_feed: str = "sandbox"
    """sandbox (seeded random walk), a file path (JSON, re-read when it changes) or an http(s) URL (JSON)."""
    price_feed_seed: int = 2026
    price_max_age_s: int = 120
    """A feed snapshot older than this refuses to quote (PriceUnavailable)."""
    car_deposit_cny: Decimal = Decimal("5000")
    """Reservation deposit of a car when the catalog gives none."""
    default_loan_annual_rate: Decimal = Decimal("0.0399")
    default_branch_id: str = "online"
    default_branch_stock: int = 50
    """Pieces on hand at a branch for a variant whose catalog `stock` is 0."""
    payment_expires_in_s: int = 900
    sweep_interval_s: float = 5.0
    pending_query_after_s: int = 300
    """Payments pending longer than this are queried at the backend (on start and by the sweeper)."""
    idempotency_stale_s: int = 60
    """An in-flight Idempotency-Key older than this (its server died) may be taken over by a retry."""
    share_ttl_s: int = 30 * 24 * 3600
    bank_name: str = "华锦银行 Huajin Bank"
    disclaimer: str = ("贵金属价格随市场波动，海报价格仅为报价时参考价，以下单时实时报价为准。"
                       " Precious-metal prices move with the market; the price shown was quoted at the time printed"
                       " and is for reference only. The price at checkout applies.")
    aml_threshold_cny: Decimal = Decimal("50000")
    settlement_utc_offset_h: int = 8
    """Settlement days are calendar days in this UTC offset (China Standard Time), like the backend's file."""
