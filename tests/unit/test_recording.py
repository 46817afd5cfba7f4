"""Dual recording at rest: AES-256-GCM sealing (round trip, tampering refused, a file moved to another recording
refused), the retention sweep with a fake clock, the receipt's signature and the recordings ticket's scope."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from render_node.config import load_config
from render_node.errors import BadRequest
from render_node.rtc.recording import MAGIC, RecordingStore, RecordingTampered, open_sealed, seal
from showroom.advisory import (
    Advisor,
    TicketInvalid,
    sign_receipt,
    sign_ticket,
    verify_receipt,
    verify_ticket,
)

KEY = bytes(range(32))
TICKET_KEY = b"advisor-ticket-key-for-tests-only-0123456789"
WEBM = b"\x1a\x45\xdf\xa3" + os.urandom(5000)


def test_a_sealed_recording_opens_with_its_key_and_hides_the_webm(tmp_path: Path) -> None:
    plain = tmp_path / "customer.webm"
    plain.write_bytes(WEBM)
    plain_sha, sealed_sha, size = seal(KEY, plain, tmp_path / "customer.webm.enc", "rec_0123456789abcdef", "customer")
    data = (tmp_path / "customer.webm.enc").read_bytes()
    assert size == len(data) and data.startswith(MAGIC) and b"\x1a\x45\xdf\xa3" not in data
    import hashlib
    assert hashlib.sha256(data).hexdigest() == sealed_sha and hashlib.sha256(WEBM).hexdigest() == plain_sha
    assert open_sealed(KEY, tmp_path / "customer.webm.enc", "rec_0123456789abcdef", "customer") == WEBM


def test_a_changed_moved_or_foreign_key_recording_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "p.webm"
    plain.write_bytes(WEBM)
    sealed = tmp_path / "advisor.webm.enc"
    seal(KEY, plain, sealed, "rec_0123456789abcdef", "advisor")
    with pytest.raises(RecordingTampered):
        open_sealed(KEY, sealed, "rec_0123456789abcdef", "customer")  # moved to the other leg
    with pytest.raises(RecordingTampered):
        open_sealed(KEY, sealed, "rec_fedcba9876543210", "advisor")  # moved to another recording
    with pytest.raises(RecordingTampered):
        open_sealed(bytes(32), sealed, "rec_0123456789abcdef", "advisor")
    data = bytearray(sealed.read_bytes())
    data[len(MAGIC) + 12 + 100] ^= 1
    sealed.write_bytes(bytes(data))
    with pytest.raises(RecordingTampered):
        open_sealed(KEY, sealed, "rec_0123456789abcdef", "advisor")
    sealed.write_bytes(bytes(data[:40]))
    with pytest.raises(RecordingTampered):
        open_sealed(KEY, sealed, "rec_0123456789abcdef", "advisor")


def _stored(store: RecordingStore, recording_id: str, ended_at: str) -> None:
    folder = store.root / recording_id
    folder.mkdir(parents=True)
    (folder / "recording.json").write_text(json.dumps({"id": recording_id, "started_at": ended_at,
                                                       "ended_at": ended_at, "legs": {}}), encoding="utf-8")


def test_the_retention_sweep_deletes_only_recordings_past_their_days(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "recordings", KEY, retention_days=1825)
    now = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    _stored(store, "rec_00000000000000aa", (now - timedelta(days=1826)).isoformat())
    _stored(store, "rec_00000000000000bb", (now - timedelta(days=1824)).isoformat().replace("+00:00", "Z"))
    (store.root / "not-a-recording").mkdir()
    assert store.sweep(now) == ["rec_00000000000000aa"]
    assert sorted(p.name for p in store.root.iterdir()) == ["not-a-recording", "rec_00000000000000bb"]
    assert store.sweep(now + timedelta(days=2)) == ["rec_00000000000000bb"]


def test_plaintext_goes_to_a_private_folder_and_an_interrupted_one_is_deleted(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "recordings", KEY, retention_days=30)
    work = store.start("rec_0123456789abcdef")
    assert stat.S_IMODE(work.stat().st_mode) == 0o700 and stat.S_IMODE(store.root.stat().st_mode) == 0o700
    (work / "customer.webm").write_bytes(WEBM)
    assert store.discard_work() == 1 and not work.exists()
    assert not RecordingStore(tmp_path / "none", b"", 30).available


def test_the_receipt_verifies_only_unchanged_and_with_the_key() -> None:
    receipt = {"id": "rec_0123456789abcdef", "call": "call_0123456789abcdef", "product": "bar-au9999-1kg",
               "sha256": {"customer": "a" * 64}, "bytes": {"customer": 10}, "started_at": "2030-01-01T00:00:00Z",
               "ended_at": "2030-01-01T00:05:00Z"}
    sig = sign_receipt(TICKET_KEY, receipt)
    assert verify_receipt(TICKET_KEY, dict(reversed(list(receipt.items()))), sig)  # key order does not matter
    assert not verify_receipt(TICKET_KEY, {**receipt, "sha256": {"customer": "b" * 64}}, sig)
    assert not verify_receipt(b"another-key-another-key-another-key!", receipt, sig)


def test_a_recordings_ticket_opens_no_console_and_a_console_ticket_no_recordings() -> None:
    auditor = Advisor("aud-li", "Mr Li")
    rec = sign_ticket(TICKET_KEY, auditor, 1000.0, 600, scope="recordings")
    assert verify_ticket(TICKET_KEY, rec, 1001.0, scope="recordings") == auditor
    with pytest.raises(TicketInvalid):
        verify_ticket(TICKET_KEY, rec, 1001.0)
    console = sign_ticket(TICKET_KEY, auditor, 1000.0)
    with pytest.raises(TicketInvalid):
        verify_ticket(TICKET_KEY, console, 1001.0, scope="recordings")


def test_the_recording_key_is_32_bytes_in_hex_or_base64_and_has_no_default() -> None:
    assert load_config(environ={}).recording_key == b""
    assert load_config(environ={"SHOWROOM_RECORDING_KEY": "ab" * 32}).recording_key == b"\xab" * 32
    import base64
    assert load_config(environ={"SHOWROOM_RECORDING_KEY": base64.b64encode(KEY).decode()}).recording_key == KEY
    with pytest.raises(BadRequest, match="SHOWROOM_RECORDING_KEY must be 32 bytes"):
        load_config(environ={"SHOWROOM_RECORDING_KEY": "too-short"})
    with pytest.raises(BadRequest, match="SHOWROOM_RECORDING_RETENTION_DAYS"):
        load_config(environ={"SHOWROOM_RECORDING_RETENTION_DAYS": "0"})


def test_the_catalog_marks_the_1kg_investment_bar_for_dual_recording_and_refuses_a_non_boolean() -> None:
    from showroom.catalog import load_catalog
    from showroom.errors import CatalogInvalid

    text = (Path(__file__).resolve().parents[2] / "assets" / "catalog.toml").read_text(encoding="utf-8")
    catalog = load_catalog(text)
    assert catalog.get("bar-au9999-1kg").dual_recording and not catalog.get("bar-au9999-50g").dual_recording
    with pytest.raises(CatalogInvalid, match="dual_recording: must be true or false"):
        load_catalog(text.replace("dual_recording = true", 'dual_recording = "yes"'))
