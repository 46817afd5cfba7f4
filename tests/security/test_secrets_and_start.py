"""Secrets and the start-up gate (docs/security.md "Secrets", "Refusing an unsafe public start").

No published secret works anywhere; unset secrets are generated per data folder (0600) and reused; short ones are
refused; a rotation keeps the previous secret for its grace period only (by `showroom secrets rotate` and by the
environment); a node on a public address with the sandbox or generated secrets refuses to start, naming what to
set, unless it is a declared demo.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from render_node.cli import main
from render_node.commands.secrets import resolve_secrets
from render_node.commands.serve import is_loopback, public_start_problem
from render_node.config import load_config
from render_node.errors import BadRequest
from showroom.payment_sandbox.settings import SandboxSettings
from showroom.settings import CommerceSettings, PreviousSecret
from showroom.sharing import Share, ShareInvalid, make_token, read_token
from showroom.signing import PaymentSignatureInvalid, sign, verify

PUBLISHED = ("sandbox-webhook-secret", "sandbox-share-secret")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET_A = "a" * 40
SECRET_B = "b" * 40


def _share() -> Share:
    return Share("sh_1", "bar", "10g", "web", NOW, NOW + timedelta(days=3), 100, NOW)


def test_no_published_secret_is_a_default_anywhere(project_root: Path) -> None:
    roots = [project_root / d for d in ("showroom", "render_node", "deploy", "docs", "clients", "scripts")]
    offenders = []
    for path in [project_root / "README.md", *(p for r in roots for p in r.rglob("*") if p.is_file())]:
        if path.suffix in (".png", ".jpg", ".glb", ".pdf", ".pyc", ".hdr", ".ktx2", ".bin", ".exr", ".webp"):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        if any(literal in text for literal in PUBLISHED) and path.name != "security.md":
            offenders.append(str(path.relative_to(project_root)))
    assert offenders == []
    a, b = CommerceSettings(database_url="x"), CommerceSettings(database_url="x")
    assert a.payment_webhook_secret != b.payment_webhook_secret and a.share_secret != b.share_secret
    assert SandboxSettings().webhook_secret != SandboxSettings().webhook_secret
    assert a.payment_webhook_secret not in repr(a) and a.share_secret not in repr(a), "secrets stay out of logs"


def test_unset_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = resolve_secrets(load_config({"data_dir": str(tmp_path)}, environ={}))
    again = resolve_secrets(load_config({"data_dir": str(tmp_path)}, environ={}))
    assert first.commerce.payment_webhook_secret == again.commerce.payment_webhook_secret
    assert first.commerce.share_secret == again.commerce.share_secret
    assert first.commerce.payment_webhook_secret != first.commerce.share_secret
    assert len(first.commerce.payment_webhook_secret.encode()) >= 32
    for name in ("webhook", "share"):
        assert stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode) == 0o600
    other = resolve_secrets(load_config({"data_dir": str(tmp_path / "elsewhere")}, environ={}))
    assert other.commerce.payment_webhook_secret != first.commerce.payment_webhook_secret
    configured = resolve_secrets(load_config({"data_dir": str(tmp_path)},
                                             environ={"SHOWROOM_PAYMENT_WEBHOOK_SECRET": SECRET_A}))
    assert configured.commerce.payment_webhook_secret == SECRET_A and configured.webhook_secret_configured


@pytest.mark.parametrize("var", ["SHOWROOM_PAYMENT_WEBHOOK_SECRET", "SHOWROOM_SHARE_SECRET"])
@pytest.mark.parametrize("value", [*PUBLISHED, "x" * 31, "短" * 10])
def test_a_configured_secret_shorter_than_32_bytes_is_refused(var: str, value: str) -> None:
    with pytest.raises(BadRequest, match=f"{var} is .* bytes; a secret needs at least 32"):
        load_config(environ={var: value})


def test_a_notification_signed_with_the_old_published_secret_is_refused() -> None:
    settings = CommerceSettings(database_url="x")
    body = b'{"id": "evt_1", "type": "payment.succeeded", "data": {"payment_id": "p", "amount_fen": 1}}'
    t = int(NOW.timestamp())
    with pytest.raises(PaymentSignatureInvalid):
        verify(settings.webhook_secrets(NOW), sign("sandbox-webhook-secret", t, body), body, t)
    assert verify(settings.webhook_secrets(NOW), sign(settings.payment_webhook_secret, t, body), body, t) == t


def test_the_previous_webhook_secret_verifies_during_its_grace_only_from_the_environment() -> None:
    until = NOW + timedelta(hours=24)
    env = {"SHOWROOM_PAYMENT_WEBHOOK_SECRET": SECRET_B, "SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS": SECRET_A,
           "SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS_UNTIL": until.isoformat().replace("+00:00", "Z")}
    settings = load_config(environ=env).commerce
    body = b'{"id": "evt_2"}'
    for at, old_ok in ((NOW, True), (until - timedelta(seconds=1), True), (until, False)):
        t = int(at.timestamp())
        assert verify(settings.webhook_secrets(at), sign(SECRET_B, t, body), body, t) == t
        if old_ok:
            assert verify(settings.webhook_secrets(at), sign(SECRET_A, t, body), body, t) == t
        else:
            with pytest.raises(PaymentSignatureInvalid):
                verify(settings.webhook_secrets(at), sign(SECRET_A, t, body), body, t)
    with pytest.raises(BadRequest, match="PREVIOUS_UNTIL"):
        load_config(environ={"SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS": SECRET_A})
    with pytest.raises(BadRequest, match="ISO 8601"):
        load_config(environ={"SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS": SECRET_A,
                             "SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS_UNTIL": "tomorrow"})
    with pytest.raises(BadRequest, match="at least 32"):
        load_config(environ={"SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS": "sandbox-webhook-secret",
                             "SHOWROOM_PAYMENT_WEBHOOK_SECRET_PREVIOUS_UNTIL": until.isoformat()})


def test_rotating_a_generated_secret_keeps_the_old_one_for_the_grace(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = resolve_secrets(load_config({"data_dir": str(tmp_path)}, environ={})).commerce
    assert main(["secrets", "rotate", "webhook", "--grace-hours", "24", "--data-dir", str(tmp_path)]) == 0
    assert "accepted until" in capsys.readouterr().out
    after = resolve_secrets(load_config({"data_dir": str(tmp_path)}, environ={})).commerce
    assert after.payment_webhook_secret != before.payment_webhook_secret
    assert after.share_secret == before.share_secret, "only the named secret rotates"
    previous = after.payment_webhook_previous
    assert previous is not None and previous.value == before.payment_webhook_secret
    now = datetime.now(UTC)
    assert after.webhook_secrets(now) == (after.payment_webhook_secret, before.payment_webhook_secret)
    assert after.webhook_secrets(now + timedelta(hours=24, seconds=1)) == (after.payment_webhook_secret,)


def test_rotating_a_secret_set_in_the_environment_says_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SHOWROOM_SHARE_SECRET", SECRET_A)
    assert main(["secrets", "rotate", "share", "--data-dir", str(tmp_path)]) == 2
    assert "SHOWROOM_SHARE_SECRET_PREVIOUS_UNTIL" in capsys.readouterr().err


def test_share_links_signed_with_the_previous_share_secret_open_during_the_grace_only() -> None:
    until = NOW + timedelta(hours=12)
    settings = CommerceSettings(database_url="x", share_secret=SECRET_B, share_previous=PreviousSecret(SECRET_A, until))
    old_link = make_token(SECRET_A, _share())
    assert read_token(settings.share_secrets(NOW), old_link, NOW).share_id == "sh_1"
    assert read_token(settings.share_secrets(NOW), make_token(SECRET_B, _share()), NOW).share_id == "sh_1"
    with pytest.raises(ShareInvalid):
        read_token(settings.share_secrets(until), old_link, until)
    forged = make_token("sandbox-share-secret", _share())
    with pytest.raises(ShareInvalid):
        read_token(settings.share_secrets(NOW), forged, NOW)


def test_signatures_compare_every_secret_and_refuse_an_empty_one() -> None:
    body, t = b"{}", int(NOW.timestamp())
    header = f"t={t},v1={hmac.new(b'k' * 32, f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"
    assert verify(("z" * 32, "k" * 32), header, body, t) == t
    with pytest.raises(PaymentSignatureInvalid, match="no webhook secret"):
        verify("", header, body, t)
    with pytest.raises(PaymentSignatureInvalid, match="no webhook secret"):
        verify((), header, body, t)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "showroom.example", ""])
def test_a_public_start_with_the_sandbox_or_generated_secrets_names_every_setting(host: str) -> None:
    assert not is_loopback(host)
    problem = public_start_problem(load_config({"host": host}, environ={}))
    assert problem is not None and problem.startswith("refusing to listen on")
    for name in ("SHOWROOM_PAYMENT_WEBHOOK_SECRET (>= 32 bytes)", "SHOWROOM_SHARE_SECRET (>= 32 bytes)",
                 "SHOWROOM_PAYMENT_BACKEND_URL", "SHOWROOM_CERTIFICATE_KEY", "SHOWROOM_SMS_URL",
                 "--demo / SHOWROOM_DEMO=1"):
        assert name in problem
    only_backend = load_config({"host": host}, environ={"SHOWROOM_PAYMENT_WEBHOOK_SECRET": SECRET_A,
                                                        "SHOWROOM_SHARE_SECRET": SECRET_B})
    problem = public_start_problem(only_backend)
    assert problem is not None and "SHOWROOM_PAYMENT_BACKEND_URL" in problem and "SHARE_SECRET" not in problem


def test_loopback_demo_and_fully_configured_starts_are_allowed(tmp_path: Path) -> None:
    from showroom.adapters.certificate_keys import write_pem

    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert public_start_problem(load_config({"host": host}, environ={})) is None
    assert public_start_problem(load_config({"host": "0.0.0.0"}, environ={"SHOWROOM_DEMO": "1"})) is None
    assert public_start_problem(load_config({"host": "0.0.0.0", "demo": "1"}, environ={})) is None
    write_pem(tmp_path / "certificate-key.pem", bytes(range(32)))
    live = {"SHOWROOM_PAYMENT_WEBHOOK_SECRET": SECRET_A, "SHOWROOM_SHARE_SECRET": SECRET_B,
            "SHOWROOM_PAYMENT_BACKEND_URL": "https://payments.bank.internal/v1",
            "SHOWROOM_CERTIFICATE_KEY": str(tmp_path / "certificate-key.pem"),
            "SHOWROOM_SMS_URL": "https://sms.bank.internal/v1", "SHOWROOM_SMS_API_KEY": SECRET_A,
            "SHOWROOM_RECORDING_KEY": "ab" * 32}
    assert public_start_problem(load_config({"host": "0.0.0.0"}, environ=live)) is None
    bare_edge = public_start_problem(load_config({"host": "0.0.0.0", "role": "edge"}, environ={}))
    assert bare_edge is not None and "SHOWROOM_RECORDING_KEY" in bare_edge and "WEBHOOK" not in bare_edge
    assert public_start_problem(load_config({"host": "0.0.0.0", "role": "edge"},
                                            environ={"SHOWROOM_RECORDING_KEY": "ab" * 32})) is None
    sandbox_role = public_start_problem(load_config({"host": "0.0.0.0", "role": "payments"}, environ=live))
    assert sandbox_role is not None and "--demo" in sandbox_role


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOWROOM_")}
    env["XDG_DATA_HOME"] = str(data_dir / "xdg")
    return env


def test_serve_on_0_0_0_0_without_secrets_refuses_to_start_and_says_what_to_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    showroom = Path(sys.executable).with_name("showroom")
    done = subprocess.run([str(showroom), "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data)],
                          env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    message = done.stderr
    assert "refusing to listen on 0.0.0.0" in message
    for name in ("SHOWROOM_PAYMENT_WEBHOOK_SECRET", "SHOWROOM_SHARE_SECRET", "SHOWROOM_PAYMENT_BACKEND_URL",
                 "--demo"):
        assert name in message
    assert "Traceback" not in message
    assert not (data / "secrets").exists(), "a refused start generates nothing"


def test_serve_with_a_short_secret_refuses_to_start_even_on_loopback(tmp_path: Path) -> None:
    env = _clean_env(tmp_path) | {"SHOWROOM_PAYMENT_WEBHOOK_SECRET": "sandbox-webhook-secret"}
    showroom = Path(sys.executable).with_name("showroom")
    done = subprocess.run([str(showroom), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "SHOWROOM_PAYMENT_WEBHOOK_SECRET is 22 bytes" in done.stderr
