"""Settings of the commerce side, as plain values. Built by `render_node.config` (the only reader of the
environment) and handed to `showroom.bootstrap`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

MIN_SECRET_BYTES = 32
"""A configured webhook or share secret shorter than this (in UTF-8 bytes) is refused."""


def ephemeral_secret() -> str:
    """A random secret for settings built without one (tests, tools): it lives as long as the process, so a
    forgotten setting fails closed instead of falling back to a published value."""
    return secrets.token_urlsafe(MIN_SECRET_BYTES)


@dataclass(frozen=True)
class PreviousSecret:
    """The secret a rotation replaced, still accepted until `until` (the grace period)."""

    value: str = field(repr=False)
    until: datetime


def accepted_secrets(current: str, previous: PreviousSecret | None, now: datetime) -> tuple[str, ...]:
    """Secrets a signature may be made with at `now`: the current one first, the previous one during its grace."""
    if previous is not None and now < previous.until:
        return (current, previous.value)
    return (current,)


@dataclass(frozen=True)
class CommerceSettings:
    database_url: str
    """SQLAlchemy async URL: sqlite+aiosqlite:///... (default) or postgresql+asyncpg://..."""
    payment_backend_url: str | None = None
    """Base URL of the payment backend; None means `showroom serve` starts the sandbox on loopback."""
    customer_info_url: str | None = None
    """Base URL of the bank's customer-information service (KYC level, limits); None: the packaged sandbox
    register of test customers (docs/commerce.md)."""
    customer_info_timeout_s: float = 3.0
    sms_url: str | None = None
    """Base URL of the bank's SMS service (one-time codes that prove a customer holds the phone); None: the
    payment sandbox's SMS outbox at `payment_backend_url` (test mode; docs/commerce.md, "Proof of the phone")."""
    sms_api_key: str | None = field(default=None, repr=False)
    """Bearer key of the bank's SMS service (SHOWROOM_SMS_API_KEY); required with `sms_url`, no default."""
    payment_webhook_secret: str = field(default_factory=ephemeral_secret, repr=False)
    """HMAC-SHA256 key of payment notifications. `showroom serve` sets it from SHOWROOM_PAYMENT_WEBHOOK_SECRET or
    from the secret it generated in the data folder; there is no published default."""
    payment_webhook_previous: PreviousSecret | None = None
    """During a rotation: the replaced webhook secret and when it stops being accepted."""
    public_base_url: str = "http://127.0.0.1:8080"
    """Where customers reach the node: pay return URLs, share links and QR codes point here."""
    share_secret: str = field(default_factory=ephemeral_secret, repr=False)
    """Key that signs share links (SHOWROOM_SHARE_SECRET or generated in the data folder)."""
    share_previous: PreviousSecret | None = None
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
    teller_refund_limit_cny: Decimal = Decimal("5000")
    """A staff refund up to this amount (counting the order's earlier staff refunds) goes ahead; above it a
    manager other than the requester approves (four eyes)."""
    buyback_four_eyes_cny: Decimal = Decimal("50000")
    """A buy-back payout above this amount waits until a second staff member (APPROVE_PAYOUT, never the one who
    inspected it) approves; at or below it the payout goes at once (docs/commerce.md, "Buy-back")."""
    certificate_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Certificates: the 32-byte Ed25519 seed the bank signs item certificates with (SHOWROOM_CERTIFICATE_KEY, a
    PEM file, or generated in the data folder); built without one, a random key of this process."""
    certificate_retired_keys: tuple[tuple[bytes, datetime], ...] = ()
    """Certificates: (raw public key, retired at) of keys a rotation replaced, still published for verification."""
    advisor_ticket_key: bytes = field(default_factory=lambda: secrets.token_bytes(MIN_SECRET_BYTES), repr=False)
    """Advisors: the HMAC-SHA256 key of the tickets that let a signed-in advisor into a node's console socket
    (SHOWROOM_ADVISOR_TICKET_KEY or generated in the data folder, `showroom/advisory.py`); built without one, a
    random key of this process. The node's `Config.advisor_ticket_key` is the same value (edges verify)."""
    points_earn_fen_per_point: int = 1000
    """Campaigns: paid fen per point earned (1000: 1 point per 10.00 CNY paid; docs/commerce.md)."""
    points_per_cny: int = 100
    """Campaigns: points that take 1.00 CNY off at checkout (100: 1 point = 0.01 CNY)."""
    points_max_share: Decimal = Decimal("0.5")
    """Campaigns: points pay at most this share of what is left after the coupon."""
    branches_file: Path | None = None
    """Branches: `<assets dir>/branches.toml`, loaded into the database on start (details replaced, shelves
    stocked where they have no row yet; `showroom/branches.py`). None: no branches are loaded."""
    data_dir: Path | None = None
    """The node's data folder: the audit key and the kept audit-chain head live in `secrets/` there. None (tests,
    tools): a throwaway audit key for this process, and no kept head."""

    def webhook_secrets(self, now: datetime) -> tuple[str, ...]:
        """Secrets a payment notification may be signed with at `now` (current first)."""
        return accepted_secrets(self.payment_webhook_secret, self.payment_webhook_previous, now)

    def share_secrets(self, now: datetime) -> tuple[str, ...]:
        """Secrets a share link may be signed with at `now` (current first; links are always signed with it)."""
        return accepted_secrets(self.share_secret, self.share_previous, now)
