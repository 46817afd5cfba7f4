"""A stand-alone payment backend in test mode, faithful to real gateways (docs/payments.md).

`create_sandbox_app(SandboxSettings(...))` builds its aiohttp app; `showroom payments-sandbox` runs it alone and
`showroom serve` starts it on loopback when no real backend is configured.
"""

from __future__ import annotations

from showroom.payment_sandbox.app import create_sandbox_app
from showroom.payment_sandbox.settings import SandboxSettings, WalletLimits

__all__ = ["SandboxSettings", "WalletLimits", "create_sandbox_app"]
