"""A stand-alone payment backend in test mode, faithful to real gateways (docs/payments.md).

The sandbox stands for another system, the bank's payment backend: it imports nothing of the showroom's commerce
code (it has its own errors and its own signer) and the showroom reaches it only over HTTP.

Its rules and state are plain Python and import no aiohttp: `settings`, `rules` (test cards, test amounts,
e-CNY wallet limits, fees, settlement days), `errors`, `signature`, `records`, `schema`, `store`, `outbox` and
`page` (the pay page's HTML). The web side is apart: `app.create_sandbox_app(SandboxSettings(...))` builds the
aiohttp app (`routes`, `pay_routes`, `_http`, `notifier`), `server.start_sandbox` serves it on a port;
`showroom payments-sandbox` runs it alone and `showroom serve` starts it on loopback when no real backend is
configured. Importing this package imports only the settings.
"""

from __future__ import annotations

from showroom.payment_sandbox.settings import SandboxSettings, WalletLimits

__all__ = ["SandboxSettings", "WalletLimits"]
