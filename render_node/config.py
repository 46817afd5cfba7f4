"""The one frozen `Config`, built in one place from CLI flags and the `SHOWROOM_*` environment.

This is the only module that reads `os.environ`. Every setting has a row in README.md's settings table
(a test checks that). Precedence: CLI flag > environment > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from render_node.errors import BadRequest
from showroom.settings import CommerceSettings

Role = Literal["all", "edge", "commerce", "payments"]
ROLES: tuple[Role, ...] = ("all", "edge", "commerce", "payments")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "showroom"


@dataclass(frozen=True)
class Setting:
    """One documented setting: its environment variable, default shown in the README, and meaning."""

    env: str
    default: str
    help: str


# Every setting the node reads. The README's settings table lists exactly these (tests/unit/test_config.py).
SETTINGS: tuple[Setting, ...] = (
    Setting("SHOWROOM_HOST", "127.0.0.1", "interface `showroom serve` listens on"),
    Setting("SHOWROOM_PORT", "8080", "port of the node (API, streams, web pages)"),
    Setting("SHOWROOM_DATA_DIR", "~/.local/share/showroom", "SQLite database, view cache, payment sandbox state"),
    Setting("SHOWROOM_ROLE", "all", "all | edge | commerce | payments: which parts this process runs"),
    Setting("SHOWROOM_ASSETS_DIR", "<checkout>/assets", "catalog.toml, built models and environment maps"),
    Setting("SHOWROOM_WORKERS", "number of cores", "render worker processes"),
    Setting("SHOWROOM_DATABASE_URL", "sqlite in the data dir", "SQLAlchemy async URL, e.g. postgresql+asyncpg://..."),
    Setting("SHOWROOM_PAYMENT_BACKEND_URL", "(sandbox on loopback)", "the bank's payment backend; unset starts the sandbox"),
    Setting("SHOWROOM_PAYMENT_WEBHOOK_SECRET", "sandbox-webhook-secret", "HMAC-SHA256 key of payment notifications"),
    Setting("SHOWROOM_PUBLIC_URL", "http://HOST:PORT", "base URL customers reach (pay return, share links, QR codes)"),
    Setting("SHOWROOM_SHARE_SECRET", "sandbox-share-secret", "key that signs share links"),
    Setting("SHOWROOM_QUOTE_TTL_S", "300", "how long a quote locks the metal price"),
    Setting("SHOWROOM_REDIS_URL", "(none: in-process events)", "Redis for events between nodes"),
    Setting("SHOWROOM_PRICE_FEED", "sandbox", "metal spot prices: sandbox, a JSON file path, or an http(s) URL"),
    Setting("SHOWROOM_RESERVATION_TTL_S", "900", "how long an unpaid order holds its stock before it expires"),
    Setting("SHOWROOM_LOG_LEVEL", "INFO", "logging level"),
    Setting("SHOWROOM_MAX_SESSIONS", "8", "live stream sessions one edge node accepts; more are refused (1013)"),
    Setting("SHOWROOM_VIEW_CACHE_MB", "256", "memory for encoded view frames (the disk cache is unbounded)"),
    Setting("SHOWROOM_ACCESS_LOG", "0", "1: log every request (aiohttp access log)"),
    Setting("SHOWROOM_COMMERCE_URL", "(none: an edge-only node shows no prices)",
            "base URL of the commerce service an edge-only node asks for live prices (`GET /api/prices/catalog`)"),
)


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=_default_data_dir)
    role: Role = "all"
    assets_dir: Path = PROJECT_ROOT / "assets"
    workers: int = max(1, os.cpu_count() or 1)
    log_level: str = "INFO"
    max_sessions: int = 8
    view_cache_mb: int = 256
    access_log: bool = False
    commerce_url: str = ""
    commerce: CommerceSettings = field(
        default_factory=lambda: CommerceSettings(database_url="sqlite+aiosqlite:///showroom.db")
    )

    @property
    def public_url(self) -> str:
        return self.commerce.public_base_url


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None


def _url(name: str, raw: str) -> str:
    """An http(s) base URL without its trailing slash, or "" for none."""
    url = raw.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise BadRequest(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return url


def load_config(flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Builds the Config from CLI flags (None values ignored) and the environment."""
    env = dict(os.environ if environ is None else environ)
    given = {k: v for k, v in (flags or {}).items() if v is not None}

    def pick(flag: str, var: str, default: str) -> str:
        if flag in given:
            return str(given[flag])
        return env.get(var, default)

    host = pick("host", "SHOWROOM_HOST", "127.0.0.1")
    port = _int("SHOWROOM_PORT", pick("port", "SHOWROOM_PORT", "8080"))
    data_dir = Path(pick("data_dir", "SHOWROOM_DATA_DIR", str(_default_data_dir()))).expanduser()
    role = pick("role", "SHOWROOM_ROLE", "all")
    if role not in ROLES:
        raise BadRequest(f"SHOWROOM_ROLE must be one of {', '.join(ROLES)}, got {role!r}")
    assets_dir = Path(pick("assets_dir", "SHOWROOM_ASSETS_DIR", str(PROJECT_ROOT / "assets"))).expanduser()
    workers = _int("SHOWROOM_WORKERS", pick("workers", "SHOWROOM_WORKERS", str(max(1, os.cpu_count() or 1))))
    if workers < 1:
        raise BadRequest("SHOWROOM_WORKERS must be at least 1")
    public = pick("public_url", "SHOWROOM_PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
    db_url = pick("database_url", "SHOWROOM_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'showroom.db'}")
    commerce = CommerceSettings(
        database_url=db_url,
        payment_backend_url=pick("payment_backend_url", "SHOWROOM_PAYMENT_BACKEND_URL", "") or None,
        payment_webhook_secret=pick("payment_webhook_secret", "SHOWROOM_PAYMENT_WEBHOOK_SECRET", "sandbox-webhook-secret"),
        public_base_url=public,
        share_secret=pick("share_secret", "SHOWROOM_SHARE_SECRET", "sandbox-share-secret"),
        quote_ttl_s=_int("SHOWROOM_QUOTE_TTL_S", pick("quote_ttl_s", "SHOWROOM_QUOTE_TTL_S", "300")),
        redis_url=pick("redis_url", "SHOWROOM_REDIS_URL", "") or None,
        price_feed=pick("price_feed", "SHOWROOM_PRICE_FEED", "sandbox"),
        reservation_ttl_s=_int("SHOWROOM_RESERVATION_TTL_S",
                               pick("reservation_ttl_s", "SHOWROOM_RESERVATION_TTL_S", "900")),
    )
    return Config(
        host=host,
        port=port,
        data_dir=data_dir,
        role=role,  # type: ignore[arg-type]
        assets_dir=assets_dir,
        workers=workers,
        log_level=pick("log_level", "SHOWROOM_LOG_LEVEL", "INFO").upper(),
        max_sessions=_int("SHOWROOM_MAX_SESSIONS", pick("max_sessions", "SHOWROOM_MAX_SESSIONS", "8")),
        view_cache_mb=_int("SHOWROOM_VIEW_CACHE_MB", pick("view_cache_mb", "SHOWROOM_VIEW_CACHE_MB", "256")),
        access_log=pick("access_log", "SHOWROOM_ACCESS_LOG", "0").strip().lower() in ("1", "true", "yes", "on"),
        commerce_url=_url("SHOWROOM_COMMERCE_URL", pick("commerce_url", "SHOWROOM_COMMERCE_URL", "")),
        commerce=commerce,
    )
