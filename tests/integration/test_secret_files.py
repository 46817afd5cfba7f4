"""Secrets in the data folder: made once with 0600, reused, refused when others can read them, rotated with a
grace period for the previous one."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from showroom.adapters.secret_files import SecretFileUnsafe, load_or_create, load_ring, rotate

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_secret_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create(tmp_path, "webhook")
    second = load_or_create(tmp_path, "webhook")
    assert first == second and len(first) == 32
    assert load_or_create(tmp_path, "share") != first
    assert stat.S_IMODE((tmp_path / "secrets" / "webhook").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


def test_two_data_folders_never_share_a_secret(tmp_path: Path) -> None:
    assert load_or_create(tmp_path / "a", "webhook") != load_or_create(tmp_path / "b", "webhook")


def test_a_secret_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    load_or_create(tmp_path, "webhook")
    path = tmp_path / "secrets" / "webhook"
    os.chmod(path, 0o644)
    with pytest.raises(SecretFileUnsafe, match="chmod 600"):
        load_or_create(tmp_path, "webhook")


def test_a_symlinked_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("x")
    (tmp_path / "secrets" / "webhook").symlink_to(target)
    with pytest.raises(SecretFileUnsafe, match="not a regular file"):
        load_or_create(tmp_path, "webhook")


def test_a_configured_secret_wins_over_the_stored_one(tmp_path: Path) -> None:
    ring = load_ring(tmp_path, "webhook", configured=b"c" * 32)
    assert ring.accepted(T0) == (b"c" * 32,)


def test_rotation_keeps_the_previous_secret_for_the_grace_period_only(tmp_path: Path) -> None:
    old = load_or_create(tmp_path, "webhook")
    ring = rotate(tmp_path, "webhook", timedelta(hours=24), now=T0)
    assert ring.current != old
    assert ring.accepted(T0 + timedelta(hours=1)) == (ring.current, old)
    assert ring.accepted(T0 + timedelta(hours=25)) == (ring.current,)
    assert load_ring(tmp_path, "webhook").accepted(T0 + timedelta(hours=1)) == (ring.current, old)
