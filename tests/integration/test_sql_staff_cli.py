"""`showroom staff ...` on a real SQLite database: add with a password on stdin (the TOTP secret, URI and QR code
printed once), list, disable; clear errors, never a traceback, for a weak password, an unknown name, a bad role."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _showroom(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def test_staff_accounts_from_the_console(tmp_path: Path) -> None:
    flags = ("--data-dir", str(tmp_path / "data"))
    added = _showroom("staff", "add", "alice", "--role", "manager", "--display-name", "Alice Wu", "--password-stdin",
                      *flags, stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert "otpauth://totp/" in added.stdout and "TOTP secret of alice" in added.stdout
    assert "█" in added.stdout or "▀" in added.stdout or "#" in added.stdout  # the QR code

    weak = _showroom("staff", "add", "bob", "--role", "teller", "--password-stdin", *flags, stdin="short\n")
    assert weak.returncode == 2 and "at least 12 characters" in weak.stderr and "Traceback" not in weak.stderr
    role = _showroom("staff", "add", "bob", "--role", "boss", *flags)
    assert role.returncode == 2 and "invalid choice: 'boss'" in role.stderr and "Traceback" not in role.stderr
    unknown = _showroom("staff", "disable", "nobody", *flags)
    assert unknown.returncode == 2 and "no staff account named 'nobody'" in unknown.stderr
    again = _showroom("staff", "add", "alice", "--role", "teller", "--password-stdin", *flags,
                      stdin="another long secret\n")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr

    assert _showroom("staff", "disable", "alice", *flags).returncode == 0
    listed = _showroom("staff", "list", "--json", *flags)
    accounts = json.loads(listed.stdout)["accounts"]
    assert [(a["name"], a["role"], a["disabled"]) for a in accounts] == [("alice", "manager", True)]
    log = _showroom("audit", "list", "--json", "--subject", "staff:alice", *flags)
    actions = [e["action"] for e in json.loads(log.stdout)["entries"]]
    assert actions == ["staff_disabled", "staff_created"]
    verified = _showroom("audit", "verify", *flags)
    assert verified.returncode == 0 and "audit ok: 2 entries" in verified.stdout
