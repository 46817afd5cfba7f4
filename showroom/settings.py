"""Settings of the commerce side, as plain values. Built by `render_node.config` (the only reader of the
environment) and handed to `showroom.bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass, field


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
