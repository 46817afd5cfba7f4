"""`showroom payments-sandbox`: the payment sandbox alone (the bank's payment backend in test mode)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from render_node.commands.secrets import resolve_secrets
from render_node.commands.serve import UnsafePublicStart, public_start_problem
from render_node.config import load_config
from render_node.errors import BadRequest
from showroom.payment_sandbox import SandboxSettings
from showroom.payment_sandbox.server import run_sandbox

log = logging.getLogger("showroom.payment_sandbox")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "payments-sandbox",
        help="run the payment sandbox alone (payment backend protocol in test mode)",
        description="Runs the payment sandbox: pay pages, QR codes, signed notifications, refunds and "
        "settlement files (docs/payments.md). State is kept in <data-dir>/payment-sandbox/ (the folder "
        "`showroom serve` uses for its sandbox).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8090, help="port to listen on (default 8090)")
    p.add_argument(
        "--notify-url",
        help="notification URL for payments that name none, e.g. http://127.0.0.1:8080/api/payments/notify",
    )
    p.add_argument("--data-dir", type=Path, help="showroom data folder (default: SHOWROOM_DATA_DIR)")
    p.add_argument("--in-memory", action="store_true", help="keep no state on disk (lost on exit)")
    p.add_argument(
        "--public-url", help="base URL customers reach the pay pages at (default: the request's host)"
    )
    p.add_argument(
        "--duplicate-probability",
        type=float,
        default=0.0,
        help="fault injection: chance that a notification is delivered twice (default 0)",
    )
    p.add_argument(
        "--reorder-window-s",
        type=float,
        default=0.0,
        help="fault injection: random delay 0..window before each notification (default 0)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config({"data_dir": args.data_dir, "host": args.host, "role": "payments"})
    problem = public_start_problem(config)
    if problem is not None:
        raise UnsafePublicStart(problem)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config = resolve_secrets(config)
    if not 0.0 <= args.duplicate_probability <= 1.0:
        raise BadRequest("--duplicate-probability must be between 0 and 1")
    settings = SandboxSettings(
        data_dir=None if args.in_memory else config.data_dir / "payment-sandbox",
        webhook_secret=config.commerce.payment_webhook_secret,
        notify_retry_schedule_s=config.commerce.notify_retry_schedule_s,
        default_notify_url=args.notify_url,
        public_base_url=args.public_url,
        duplicate_probability=args.duplicate_probability,
        reorder_window_s=max(0.0, args.reorder_window_s),
    )
    where = "memory" if settings.data_dir is None else str(settings.data_dir)
    log.info("payment sandbox on http://%s:%d (state in %s)", args.host, args.port, where)
    run_sandbox(settings, args.host, args.port)
    return 0
