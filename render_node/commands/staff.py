"""`showroom staff ...`: local staff accounts, from the machine's console.

```
showroom staff add NAME --role teller|manager|auditor|advisor|admin [--display-name X] [--password-stdin]
showroom staff passwd NAME [--password-stdin]
showroom staff disable NAME | enable NAME | totp-reset NAME
showroom staff list [--json]
```
A password comes from the terminal (asked twice, not echoed) or, with `--password-stdin`, from the first line of
standard input; the password policy applies (`showroom.staff.check_password_policy`). `add` and `totp-reset`
print the TOTP secret, its `otpauth://` URI and a QR code to scan, once. Every change is audited with the actor
`cli:<login name>`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import json
import sys
from typing import Any

from render_node.commands._commerce_cli import add_database_flags, commerce, config_of, operator
from render_node.errors import BadRequest
from showroom.staff import Role

ROLES = [r.value for r in Role]


def register(sub: Any) -> None:
    staff = sub.add_parser("staff", help="local staff accounts: add, passwd, disable, enable, list, totp-reset",
                           description="Local staff accounts of the back office (argon2id passwords, TOTP).")
    acts = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)

    add = acts.add_parser("add", help="add an account (prints its TOTP secret and QR code once)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=run_add)

    pw = acts.add_parser("passwd", help="set a new password (ends the account's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=run_passwd)

    for action, helptext, func in (("disable", "disable an account (ends its sessions)", "run_disable"),
                                   ("enable", "enable an account (and lift a lock-out)", "run_enable"),
                                   ("totp-reset", "new TOTP secret (prints it once; ends the sessions)", "run_totp")):
        p = acts.add_parser(action, help=helptext)
        p.add_argument("name")
        p.set_defaults(func=globals()[func])

    ls = acts.add_parser("list", help="list the accounts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    for p in acts.choices.values():
        add_database_flags(p)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise BadRequest("no password on standard input")
        return password
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise BadRequest("the two passwords differ")
    return first


def _qr(uri: str) -> str:
    import qrcode

    code = qrcode.QRCode(border=1)
    code.add_data(uri)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def _show_totp(name: str, secret: str, uri: str) -> None:
    print(f"TOTP secret of {name} (shown once; add it to the authenticator app now): {secret}")
    print(f"otpauth URI: {uri}")
    print(_qr(uri))


def run_add(args: argparse.Namespace) -> int:
    from showroom.services import staff

    password = _password(args)

    async def go() -> staff.NewAccount:
        async with commerce(config_of(args)) as (ctx, _):
            return await staff.create_account(ctx, operator(), args.name, Role(args.role), args.display_name,
                                              password)

    new = asyncio.run(go())
    print(f"added {new.account.name} ({new.account.role.value})")
    _show_totp(new.account.name, new.totp_secret, new.provisioning_uri)
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    from showroom.services import staff

    password = _password(args)

    async def go() -> None:
        async with commerce(config_of(args)) as (ctx, _):
            await staff.set_password(ctx, operator(), args.name, password)

    asyncio.run(go())
    print(f"password of {args.name} changed; its sessions ended")
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    from showroom.services import staff

    async def go() -> None:
        async with commerce(config_of(args)) as (ctx, _):
            await staff.update_account(ctx, operator(), args.name, disabled=disabled)

    asyncio.run(go())
    print(f"{args.name} {'disabled; its sessions ended' if disabled else 'enabled'}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def run_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def run_totp(args: argparse.Namespace) -> int:
    from showroom.services import staff

    async def go() -> staff.NewAccount:
        async with commerce(config_of(args)) as (ctx, _):
            return await staff.reset_totp(ctx, operator(), args.name)

    fresh = asyncio.run(go())
    _show_totp(fresh.account.name, fresh.totp_secret, fresh.provisioning_uri)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from showroom.api.staff_views import account_view
    from showroom.services import staff

    async def go() -> list[dict[str, Any]]:
        async with commerce(config_of(args)) as (ctx, _):
            return [account_view(a) for a in await staff.list_accounts(ctx)]

    accounts = asyncio.run(go())
    if args.json:
        print(json.dumps({"accounts": accounts}, indent=2, ensure_ascii=False))
        return 0
    print(f"{'name':<20} {'role':<8} {'state':<9} display name")
    for a in accounts:
        state = "disabled" if a["disabled"] else "locked" if a["locked_until"] else "active"
        print(f"{a['name']:<20} {a['role']:<8} {state:<9} {a['display_name']}")
    return 0
