"""The one frozen `Config`, built in one place from CLI flags and the `SHOWROOM_*` environment.

This is the only module that reads `os.environ`. Every setting has a row in README.md's settings table
(a test checks that). Precedence: CLI flag > environment > default.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from render_node.errors import BadRequest
from showroom.settings import MIN_SECRET_BYTES, CommerceSettings, PreviousSecret

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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
    Setting("SHOWROOM_PAYMENT_WEBHOOK_SECRET", "(generated: <data dir>/secrets/webhook)",
            "HMAC-SHA256 key of payment notifications, at least 32 bytes; unset: generated once (0600) and reused"),
    Setting("SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS", "(none)",
            "rotation: the replaced webhook secret, still accepted until ..._PREVIOUS_UNTIL (docs/security.md)"),
    Setting("SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS_UNTIL", "(none)",
            "end of the previous webhook secret's grace period, ISO 8601 (e.g. 2026-12-01T12:00:00Z)"),
    Setting("SHOWROOM_CUSTOMER_INFO_URL", "(sandbox register)",
            "the bank's customer-information service (KYC level, limits); unset: the packaged test register"),
    Setting("SHOWROOM_SMS_URL", "(payment sandbox's SMS outbox)",
            "the bank's SMS service that sends one-time codes (proof of the phone for coupons and points)"),
    Setting("SHOWROOM_SMS_API_KEY", "(none; required with SHOWROOM_SMS_URL)",
            "bearer key of the bank's SMS service, at least 32 bytes"),
    Setting("SHOWROOM_PUBLIC_URL", "http://HOST:PORT", "base URL customers reach (pay return, share links, QR codes)"),
    Setting("SHOWROOM_SHARE_SECRET", "(generated: <data dir>/secrets/share)",
            "key that signs share links, at least 32 bytes; unset: generated once (0600) and reused"),
    Setting("SHOWROOM_SHARE_SECRET_PREVIOUS", "(none)",
            "rotation: the replaced share secret; links signed with it open until ..._PREVIOUS_UNTIL"),
    Setting("SHOWROOM_SHARE_SECRET_PREVIOUS_UNTIL", "(none)", "end of the previous share secret's grace, ISO 8601"),
    Setting("SHOWROOM_CERTIFICATE_KEY", "(generated: <data dir>/secrets/certificate)",
            "PEM file (PKCS#8, mode 0600) of the Ed25519 key that signs item certificates; required for a public "
            "start; unset: generated once (0600) and reused"),
    Setting("SHOWROOM_CERTIFICATE_RETIRED_KEYS", "(none; generated: <data dir>/secrets/certificate.retired.json)",
            "JSON file of retired certificate public keys, still published so their certificates verify"),
    Setting("SHOWROOM_ADVISOR_TICKET_KEY", "(generated: <data dir>/secrets/advisor_ticket)",
            "key that signs advisors' console tickets (commerce signs, edges verify), at least 32 bytes; the same "
            "on every node; unset: generated once (0600) and reused"),
    Setting("SHOWROOM_ADVISOR_MAX_CALLS", "4", "live advisor calls one node relays at once; more customers wait"),
    Setting("SHOWROOM_ADVISOR_MAX_WAITING", "50",
            "customers one node keeps waiting for an advisor; more are refused as busy (1013)"),
    Setting("SHOWROOM_RECORDING_KEY", "(generated: <data dir>/secrets/recording)",
            "AES-256-GCM key of dual recordings at rest: 32 bytes as 64 hex digits or base64; required for a public "
            "start of roles edge and all; unset: generated once (0600) and reused"),
    Setting("SHOWROOM_RECORDING_RETENTION_DAYS", "1825",
            "days a dual recording is kept; older ones are deleted at node start and daily"),
    Setting("SHOWROOM_DEMO", "0",
            "1: allow a public start (not loopback) with the payment sandbox or generated secrets, loudly logged"),
    Setting("SHOWROOM_TRUSTED_PROXIES", "127.0.0.1,::1",
            "addresses/CIDRs whose X-Forwarded-For is believed (nginx, the ingress); others are the client"),
    Setting("SHOWROOM_RATE_LIMITS", "1",
            "0: no per-client rate limits (quotes, orders, renders, view sets, AR/try-on, staff sign-in)"),
    Setting("SHOWROOM_QUOTE_TTL_S", "300", "how long a quote locks the metal price"),
    Setting("SHOWROOM_REDIS_URL", "(none: in-process events)", "Redis for events between nodes"),
    Setting("SHOWROOM_PRICE_FEED", "sandbox", "metal spot prices: sandbox, a JSON file path, or an http(s) URL"),
    Setting("SHOWROOM_RESERVATION_TTL_S", "900", "how long an unpaid order holds its stock before it expires"),
    Setting("SHOWROOM_TELLER_REFUND_LIMIT_CNY", "5000",
            "staff refunds of an order up to this total go ahead; above it a second person (a manager) approves"),
    Setting("SHOWROOM_BUYBACK_FOUR_EYES_CNY", "50000",
            "a buy-back payout above this waits for a second person (a manager, not the inspecting teller)"),
    Setting("SHOWROOM_LOG_LEVEL", "INFO", "logging level"),
    Setting("SHOWROOM_MAX_SESSIONS", "8", "live stream sessions one edge node accepts; more are refused (1013)"),
    Setting("SHOWROOM_VIEW_CACHE_MB", "256", "memory for encoded view frames"),
    Setting("SHOWROOM_VIEW_DISK_CACHE_MB", "2048",
            "disk for view sets; past it, the least recently used whole sets are evicted (re-rendered on request)"),
    Setting("SHOWROOM_EXTRA_VIEW_SIZES", "(none)",
            "view-set sizes served besides the published ones, e.g. 1080x1920,800x600 (docs/streams.md)"),
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
    view_disk_cache_mb: int = 2048
    extra_view_sizes: tuple[tuple[int, int], ...] = ()
    """View-set sizes served besides the published list (`render_node.views.VIEW_SIZES`)."""
    demo: bool = False
    """A public start with the sandbox or generated secrets is allowed (and loudly logged)."""
    trusted_proxies: tuple[IpNetwork, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    rate_limits: bool = True
    webhook_secret_configured: bool = False
    """True when the operator set SHOWROOM_PAYMENT_WEBHOOK_SECRET; else `showroom serve` uses the generated one."""
    share_secret_configured: bool = False
    certificate_key_configured: bool = False
    """True when SHOWROOM_CERTIFICATE_KEY names the bank's key file; else `showroom serve` uses the generated one."""
    advisor_ticket_key: bytes = field(default=b"", repr=False)
    """Key of advisors' console tickets (SHOWROOM_ADVISOR_TICKET_KEY, or the one `showroom serve` generated in the
    data folder). Left empty, the commerce settings' key (random for this process) is used; given, it is also the
    commerce settings' key, so the commerce side that signs and the edge that verifies always agree."""
    advisor_ticket_key_configured: bool = False
    """True when the operator set SHOWROOM_ADVISOR_TICKET_KEY; else `showroom serve` uses the generated one."""
    advisor_max_calls: int = 4
    """Live advisor calls this node relays at once (SHOWROOM_ADVISOR_MAX_CALLS)."""
    recording_key: bytes = field(default=b"", repr=False)
    """AES-256 key of dual recordings at rest (SHOWROOM_RECORDING_KEY, or the one `showroom serve` generated in the
    data folder); empty: the node records nothing and refuses to offer dual-recording products."""
    recording_key_configured: bool = False
    recording_retention_days: int = 1825
    advisor_max_waiting: int = 50
    """Customers this node keeps waiting for an advisor (SHOWROOM_ADVISOR_MAX_WAITING)."""
    payment_sandbox: bool = False
    """True when this process started the built-in payment sandbox (test mode) on loopback: only then does
    `/healthz` name the payment backend (the sandbox's test controls need it)."""
    commerce: CommerceSettings = field(
        default_factory=lambda: CommerceSettings(database_url="sqlite+aiosqlite:///showroom.db")
    )

    def __post_init__(self) -> None:
        key = self.advisor_ticket_key
        if not key:
            object.__setattr__(self, "advisor_ticket_key", self.commerce.advisor_ticket_key)
        elif len(key) < MIN_SECRET_BYTES:
            raise BadRequest(f"the advisor ticket key is {len(key)} bytes; it needs at least {MIN_SECRET_BYTES}")
        elif key != self.commerce.advisor_ticket_key:
            object.__setattr__(self, "commerce", replace(self.commerce, advisor_ticket_key=key))

    @property
    def public_url(self) -> str:
        return self.commerce.public_base_url


def _cny(name: str, raw: str) -> Decimal:
    """A non-negative amount of CNY with at most 2 decimal places."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise BadRequest(f"{name} must be an amount of CNY like 5000 or 5000.00, got {raw!r}") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise BadRequest(f"{name} must be a non-negative amount with at most 2 decimals, got {raw!r}")
    return value


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


def _bool(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


RECORDING_KEY_BYTES = 32


def recording_key(name: str, raw: str) -> bytes | None:
    """An AES-256 key: 64 hex digits or the base64 (standard or url-safe) of 32 bytes; None when unset."""
    text = raw.strip()
    if not text:
        return None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        value = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != RECORDING_KEY_BYTES:
        raise BadRequest(f"{name} must be {RECORDING_KEY_BYTES} bytes as 64 hex digits or base64 (make one with: "
                         f"python -c 'import secrets; print(secrets.token_hex(32))')")
    return value


def _secret(name: str, raw: str) -> str | None:
    """A configured secret (None when unset); shorter than MIN_SECRET_BYTES is refused, naming the variable."""
    if raw == "":
        return None
    size = len(raw.encode("utf-8"))
    if size < MIN_SECRET_BYTES:
        raise BadRequest(f"{name} is {size} bytes; a secret needs at least {MIN_SECRET_BYTES} "
                         f"(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return raw


def _previous(name: str, raw: str, until_raw: str) -> PreviousSecret | None:
    """The replaced secret of a rotation and the end of its grace period (both or neither)."""
    value = _secret(f"{name}_PREVIOUS", raw)
    if value is None:
        if until_raw:
            raise BadRequest(f"{name}_PREVIOUS_UNTIL is set but {name}_PREVIOUS is not")
        return None
    if not until_raw:
        raise BadRequest(f"{name}_PREVIOUS needs {name}_PREVIOUS_UNTIL: when its grace period ends (ISO 8601)")
    try:
        until = datetime.fromisoformat(until_raw.strip())
    except ValueError:
        raise BadRequest(f"{name}_PREVIOUS_UNTIL must be an ISO 8601 time like 2026-12-01T12:00:00Z, "
                         f"got {until_raw!r}") from None
    return PreviousSecret(value, until if until.tzinfo else until.replace(tzinfo=UTC))


def _networks(name: str, raw: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise BadRequest(f"{name} must be a comma list of addresses or CIDRs: {exc}") from None


def _sizes(name: str, raw: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d{2,4})[xX](\d{2,4})", part)
        if not m or not all(16 <= int(v) <= 4096 for v in m.groups()):
            raise BadRequest(f"{name} must be a comma list of WxH sizes (16-4096 px a side), got {part!r}")
        out.append((int(m.group(1)), int(m.group(2))))
    return tuple(out)


_SECRET_SUFFIXES = ("_KEY", "_KEYS", "_SECRET", "_PASSWORD", "_TOKEN", "_KEY_FILE")


def child_environ(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a node this process starts (`showroom cluster up`): this process's environment (PATH,
    GL hints, the operator's SHOWROOM_* tuning) without the operator's SHOWROOM_* secrets (each part gets only its
    own, in `settings`), with `settings` over it."""
    inherited = {k: v for k, v in os.environ.items()
                 if not (k.startswith("SHOWROOM_") and k.endswith(_SECRET_SUFFIXES))}
    return {**inherited, **settings}


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
    webhook_secret = _secret("SHOWROOM_PAYMENT_WEBHOOK_SECRET",
                             pick("payment_webhook_secret", "SHOWROOM_PAYMENT_WEBHOOK_SECRET", ""))
    share_secret = _secret("SHOWROOM_SHARE_SECRET", pick("share_secret", "SHOWROOM_SHARE_SECRET", ""))
    secrets: dict[str, Any] = {}  # unset secrets stay the settings' process-local random ones until `serve` resolves
    if webhook_secret is not None:
        secrets["payment_webhook_secret"] = webhook_secret
    if share_secret is not None:
        secrets["share_secret"] = share_secret
    sms_url = _url("SHOWROOM_SMS_URL", pick("sms_url", "SHOWROOM_SMS_URL", ""))
    sms_api_key = _secret("SHOWROOM_SMS_API_KEY", pick("sms_api_key", "SHOWROOM_SMS_API_KEY", ""))
    if sms_url and sms_api_key is None:
        raise BadRequest("SHOWROOM_SMS_URL needs SHOWROOM_SMS_API_KEY (the SMS service's key; there is no default)")
    certificate_key_file = pick("certificate_key", "SHOWROOM_CERTIFICATE_KEY", "")
    if certificate_key_file:
        from showroom.adapters.certificate_keys import load_pem_seed

        secrets["certificate_key"] = load_pem_seed(Path(certificate_key_file).expanduser())
    retired_file = pick("certificate_retired_keys", "SHOWROOM_CERTIFICATE_RETIRED_KEYS", "")
    if retired_file:
        from showroom.adapters.certificate_keys import load_retired

        secrets["certificate_retired_keys"] = load_retired(Path(retired_file).expanduser())
    advisor_key = _secret("SHOWROOM_ADVISOR_TICKET_KEY", pick("advisor_ticket_key", "SHOWROOM_ADVISOR_TICKET_KEY", ""))
    advisor_max_calls = _int("SHOWROOM_ADVISOR_MAX_CALLS", pick("advisor_max_calls", "SHOWROOM_ADVISOR_MAX_CALLS", "4"))
    advisor_max_waiting = _int("SHOWROOM_ADVISOR_MAX_WAITING",
                               pick("advisor_max_waiting", "SHOWROOM_ADVISOR_MAX_WAITING", "50"))
    rec_key = recording_key("SHOWROOM_RECORDING_KEY", pick("recording_key", "SHOWROOM_RECORDING_KEY", ""))
    retention_days = _int("SHOWROOM_RECORDING_RETENTION_DAYS",
                          pick("recording_retention_days", "SHOWROOM_RECORDING_RETENTION_DAYS", "1825"))
    if retention_days < 1:
        raise BadRequest("SHOWROOM_RECORDING_RETENTION_DAYS must be at least 1")
    if advisor_max_calls < 0 or advisor_max_waiting < 0:
        raise BadRequest("SHOWROOM_ADVISOR_MAX_CALLS and SHOWROOM_ADVISOR_MAX_WAITING must be 0 or more")
    commerce = CommerceSettings(
        database_url=db_url,
        payment_backend_url=pick("payment_backend_url", "SHOWROOM_PAYMENT_BACKEND_URL", "") or None,
        customer_info_url=_url("SHOWROOM_CUSTOMER_INFO_URL",
                               pick("customer_info_url", "SHOWROOM_CUSTOMER_INFO_URL", "")) or None,
        sms_url=sms_url or None,
        sms_api_key=sms_api_key,
        payment_webhook_previous=_previous("SHOWROOM_PAYMENT_WEBHOOK_SECRET",
                                           env.get("SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS", ""),
                                           env.get("SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS_UNTIL", "")),
        share_previous=_previous("SHOWROOM_SHARE_SECRET", env.get("SHOWROOM_SHARE_SECRET_PREVIOUS", ""),
                                 env.get("SHOWROOM_SHARE_SECRET_PREVIOUS_UNTIL", "")),
        public_base_url=public,
        **secrets,
        quote_ttl_s=_int("SHOWROOM_QUOTE_TTL_S", pick("quote_ttl_s", "SHOWROOM_QUOTE_TTL_S", "300")),
        redis_url=pick("redis_url", "SHOWROOM_REDIS_URL", "") or None,
        price_feed=pick("price_feed", "SHOWROOM_PRICE_FEED", "sandbox"),
        reservation_ttl_s=_int("SHOWROOM_RESERVATION_TTL_S",
                               pick("reservation_ttl_s", "SHOWROOM_RESERVATION_TTL_S", "900")),
        teller_refund_limit_cny=_cny("SHOWROOM_TELLER_REFUND_LIMIT_CNY",
                                     pick("teller_refund_limit_cny", "SHOWROOM_TELLER_REFUND_LIMIT_CNY", "5000")),
        buyback_four_eyes_cny=_cny("SHOWROOM_BUYBACK_FOUR_EYES_CNY",
                                   pick("buyback_four_eyes_cny", "SHOWROOM_BUYBACK_FOUR_EYES_CNY", "50000")),
        data_dir=data_dir,
        branches_file=assets_dir / "branches.toml",
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
        access_log=_bool(pick("access_log", "SHOWROOM_ACCESS_LOG", "0")),
        commerce_url=_url("SHOWROOM_COMMERCE_URL", pick("commerce_url", "SHOWROOM_COMMERCE_URL", "")),
        view_disk_cache_mb=_int("SHOWROOM_VIEW_DISK_CACHE_MB",
                                pick("view_disk_cache_mb", "SHOWROOM_VIEW_DISK_CACHE_MB", "2048")),
        extra_view_sizes=_sizes("SHOWROOM_EXTRA_VIEW_SIZES", pick("extra_view_sizes", "SHOWROOM_EXTRA_VIEW_SIZES", "")),
        demo=_bool(pick("demo", "SHOWROOM_DEMO", "0")),
        trusted_proxies=_networks("SHOWROOM_TRUSTED_PROXIES",
                                  pick("trusted_proxies", "SHOWROOM_TRUSTED_PROXIES", "127.0.0.1,::1")),
        rate_limits=_bool(pick("rate_limits", "SHOWROOM_RATE_LIMITS", "1")),
        webhook_secret_configured=webhook_secret is not None,
        share_secret_configured=share_secret is not None,
        certificate_key_configured=bool(certificate_key_file),
        advisor_ticket_key=advisor_key.encode("utf-8") if advisor_key is not None else b"",
        advisor_ticket_key_configured=advisor_key is not None,
        advisor_max_calls=advisor_max_calls,
        advisor_max_waiting=advisor_max_waiting,
        recording_key=rec_key or b"",
        recording_key_configured=rec_key is not None,
        recording_retention_days=retention_days,
        commerce=commerce,
    )
