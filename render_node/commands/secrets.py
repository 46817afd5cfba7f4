"""`showroom secrets rotate webhook|share --grace-hours 24`, and the secrets `showroom serve` runs with.

No secret has a published default. A secret the operator sets (SHOWROOM_PAYMENT_WEBHOOK_SECRET,
SHOWROOM_SHARE_SECRET, at least 32 bytes) is used as given; an unset one is generated once in
`<data dir>/secrets/<name>` (0600, `showroom.adapters.secret_files`) and reused on every start. Its text (the file's
base64url line) is the HMAC key, so every process on one data folder, the embedded payment sandbox included,
signs and verifies with the same secret.

Rotation of a generated secret: `showroom secrets rotate webhook --grace-hours 24` makes a new one and keeps the
old one accepted for the grace period (notifications already signed and queued, share links already handed out);
restart the node to use it. A configured secret is rotated in the environment instead: the new value in
SHOWROOM_PAYMENT_WEBHOOK_SECRET, the old one in ..._PREVIOUS with ..._PREVIOUS_UNTIL (docs/security.md).
"""

from __future__ import annotations

import argparse
import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from render_node.config import Config, load_config
from render_node.errors import BadRequest
from showroom.settings import PreviousSecret

SecretName = Literal["webhook", "share"]
SECRET_NAMES: tuple[SecretName, ...] = ("webhook", "share")
ENV_OF: dict[SecretName, str] = {"webhook": "SHOWROOM_PAYMENT_WEBHOOK_SECRET", "share": "SHOWROOM_SHARE_SECRET"}


def _text(value: bytes) -> str:
    """The HMAC key of a stored secret: its base64url text, exactly the line in the file."""
    return base64.urlsafe_b64encode(value).decode("ascii")


def resolve_secrets(config: Config) -> Config:
    """`config` with every secret the operator left unset taken from the data folder (generated on first use),
    plus the previous one while a `rotate`'s grace period lasts (unless the environment names a previous one)."""
    from showroom.adapters.secret_files import load_ring

    commerce = config.commerce
    changes: dict[str, Any] = {}
    for name, configured, secret_field, previous_field in (
            ("webhook", config.webhook_secret_configured, "payment_webhook_secret", "payment_webhook_previous"),
            ("share", config.share_secret_configured, "share_secret", "share_previous")):
        if configured:
            continue
        ring = load_ring(config.data_dir, name)
        changes[secret_field] = _text(ring.current)
        if getattr(commerce, previous_field) is None and ring.previous is not None and ring.previous_until:
            changes[previous_field] = PreviousSecret(_text(ring.previous), ring.previous_until)
    if not config.certificate_key_configured:
        from showroom.adapters.certificate_keys import load_generated

        seed, retired = load_generated(config.data_dir)
        changes["certificate_key"] = seed
        if not commerce.certificate_retired_keys:
            changes["certificate_retired_keys"] = retired
    return replace(config, commerce=replace(commerce, **changes)) if changes else config


def register(sub: Any) -> None:
    p = sub.add_parser("secrets", help="the node's generated secrets (webhook, share links)",
                       description="Secrets generated in <data dir>/secrets/ when SHOWROOM_PAYMENT_WEBHOOK_SECRET or "
                                   "SHOWROOM_SHARE_SECRET is unset (docs/security.md).")
    ssub = p.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    r = ssub.add_parser("rotate", help="make a new secret; the old one stays accepted for a grace period")
    r.add_argument("name", choices=SECRET_NAMES, help="webhook (payment notifications) or share (share links)")
    r.add_argument("--grace-hours", dest="grace_hours", type=float, default=24.0,
                   help="how long the old secret is still accepted (default 24)")
    r.add_argument("--data-dir", dest="data_dir", help="the node's data folder (SHOWROOM_DATA_DIR)")
    r.set_defaults(func=rotate)
    c = ssub.add_parser("rotate-certificate-key",
                        help="a new generated certificate-signing key; the old one stays published as retired")
    c.add_argument("--data-dir", dest="data_dir", help="the node's data folder (SHOWROOM_DATA_DIR)")
    c.set_defaults(func=rotate_certificate_key)


def rotate_certificate_key(args: argparse.Namespace) -> int:
    from showroom.adapters.certificate_keys import rotate_generated

    config = load_config({"data_dir": args.data_dir})
    if config.certificate_key_configured:
        raise BadRequest("the certificate key is set by SHOWROOM_CERTIFICATE_KEY, so it is rotated there: point it "
                         "at the new key's PEM file and list the old public key, with when it was retired, in the "
                         "file SHOWROOM_CERTIFICATE_RETIRED_KEYS names (docs/commerce.md, \"Certificates\")")
    rotate_generated(config.data_dir)
    print(f"showroom secrets: new certificate key in {config.data_dir / 'secrets' / 'certificate'}; the old one "
          f"is published as retired (certificates it signed still verify). Restart the node to use it.")
    return 0


def rotate(args: argparse.Namespace) -> int:
    from showroom.adapters.secret_files import rotate as rotate_file

    config = load_config({"data_dir": args.data_dir})
    name: SecretName = args.name
    configured = config.webhook_secret_configured if name == "webhook" else config.share_secret_configured
    if configured:
        env = ENV_OF[name]
        raise BadRequest(f"the {name} secret is set by {env}, so it is rotated there: put the new value in {env}, "
                         f"the old one in {env}_PREVIOUS and the end of its grace in {env}_PREVIOUS_UNTIL, "
                         f"then restart (docs/security.md)")
    if not 0 <= args.grace_hours <= 24 * 30:
        raise BadRequest("--grace-hours must be between 0 and 720")
    ring = rotate_file(config.data_dir, name, timedelta(hours=args.grace_hours), datetime.now(UTC))
    until = ring.previous_until.isoformat() if ring.previous_until else "now"
    print(f"showroom secrets: new {name} secret in {config.data_dir / 'secrets' / name}; the previous one is "
          f"accepted until {until}. Restart the node to use it"
          + ("; a payment backend other than the built-in sandbox must be given the new secret." if name == "webhook"
             else "."))
    return 0
