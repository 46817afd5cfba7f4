"""Settings of the payment sandbox, as plain values (built by the CLI or by tests; nothing here reads the
environment)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

Method = Literal["card", "mobile_banking", "ecny_wallet", "qr"]
METHODS: tuple[Method, ...] = ("card", "mobile_banking", "ecny_wallet", "qr")

WalletTier = Literal[1, 2, 3, 4]


@dataclass(frozen=True)
class WalletLimits:
    """Limits of one digital-RMB (e-CNY) wallet tier, in fen. `None` means no limit."""

    single_fen: int | None
    daily_fen: int | None
    balance_fen: int | None


# Public pilot figures of the digital RMB wallet tiers (tier 1 = strongest identity check, tier 4 = phone only).
DEFAULT_WALLET_LIMITS: Mapping[int, WalletLimits] = MappingProxyType(
    {
        1: WalletLimits(single_fen=None, daily_fen=None, balance_fen=None),
        2: WalletLimits(single_fen=5_000_000, daily_fen=10_000_000, balance_fen=50_000_000),
        3: WalletLimits(single_fen=500_000, daily_fen=1_000_000, balance_fen=2_000_000),
        4: WalletLimits(single_fen=200_000, daily_fen=500_000, balance_fen=1_000_000),
    }
)

# The sandbox's e-CNY wallets, by the mainland mobile number they are registered to: (wallet id, tier). A wallet
# payment created with another number gets that number's anonymous tier-4 wallet (phone number only).
DEFAULT_WALLETS: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        "13500000000": ("0031000000000001", 1),
        "13900000000": ("0031000000000002", 1),
        "13800000000": ("0031000000000003", 2),
        "13800138000": ("0031000000000004", 2),
        "13700000000": ("0031000000000005", 3),
        "13600000000": ("0031000000000006", 4),
    }
)
ANONYMOUS_WALLET_TIER = 4

# Largest single payment per method, in fen (what the acquirer accepts at creation).
DEFAULT_METHOD_LIMITS_FEN: Mapping[str, int] = MappingProxyType(
    {
        "card": 50_000_000,  # 500,000.00 CNY
        "mobile_banking": 100_000_000,  # 1,000,000.00 CNY
        "ecny_wallet": 50_000_000,  # the wallet tier limits apply on top
        "qr": 5_000_000,  # 50,000.00 CNY
    }
)

# Merchant discount rate per method in basis points (1 bp = 0.01 %), shown in the settlement file.
DEFAULT_FEE_BPS: Mapping[str, int] = MappingProxyType(
    {"card": 60, "mobile_banking": 30, "ecny_wallet": 0, "qr": 38}
)


@dataclass(frozen=True)
class SandboxSettings:
    data_dir: Path | None = None
    """Folder of the SQLite state file `payment_sandbox.sqlite3`; None keeps everything in memory (tests)."""
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """HMAC-SHA256 key that signs notifications (`signature.py`). No published default: `showroom serve` hands
    the sandbox the node's webhook secret; built without one, a random secret of this process is used."""
    notify_retry_schedule_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    """Delays before the 2nd, 3rd, ... delivery attempt after a non-2xx answer or a network error."""
    notify_timeout_s: float = 10.0
    default_notify_url: str | None = None
    """Used when a create-payment request names no `notify_url`."""
    public_base_url: str | None = None
    """Base of `pay_url` and `qr_png_url`; None derives it from the request's Host."""
    merchant_name_zh: str = "示例银行贵金属与汽车金融展厅"
    merchant_name_en: str = "Example Bank Showroom"
    bank_name_zh: str = "示例银行"
    bank_name_en: str = "Example Bank"
    method_limits_fen: Mapping[str, int] = field(default_factory=lambda: DEFAULT_METHOD_LIMITS_FEN)
    wallet_limits: Mapping[int, WalletLimits] = field(default_factory=lambda: DEFAULT_WALLET_LIMITS)
    default_wallet_tier: int = 2
    """The tier the pay page preselects for a wallet payment created without the payer's number."""
    wallets: Mapping[str, tuple[str, int]] = field(default_factory=lambda: DEFAULT_WALLETS)
    """Seeded e-CNY wallets: mobile number -> (wallet id, tier) (`DEFAULT_WALLETS`)."""
    fee_bps: Mapping[str, int] = field(default_factory=lambda: DEFAULT_FEE_BPS)
    amount_rules: bool = True
    """Amounts whose fen part is .51-.54 fail when the customer approves (see docs/payments.md)."""
    default_expires_in_s: int = 900
    max_expires_in_s: int = 86_400
    expiry_sweep_s: float = 1.0
    """How often pending payments past their expiry are expired (and notified)."""
    refund_processing_s: float | None = 0.5
    """Refunds stay `pending` this long, then succeed; None leaves them pending until the test control."""
    settlement_utc_offset_h: int = 8
    """Settlement days are calendar days in this UTC offset (China Standard Time)."""
    duplicate_probability: float = 0.0
    """Fault injection: chance that a delivered notification is delivered once more."""
    reorder_window_s: float = 0.0
    """Fault injection: each notification's first attempt waits a random 0..window seconds."""
    fault_seed: int | None = None
    max_body_bytes: int = 64 * 1024
    clock: Callable[[], float] = time.time
    """Unix seconds; tests pass a fake clock."""
