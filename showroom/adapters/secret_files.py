"""Secrets kept in the data folder: generated on first start, stored with 0600 permissions, reused after.

No secret has a default. When the operator sets a secret (environment or flag) that value is used; otherwise the
node generates 32 random bytes once and keeps them in `<data_dir>/secrets/<name>`. A file that others can read,
or that is not a regular file, is refused rather than used. Rotation: `rotate` moves the current secret to
`<name>.previous` with the time it stops being accepted, so notifications signed with it during the grace period
still verify.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from showroom.audit import ChainHead
from showroom.errors import ShowroomError

log = logging.getLogger("showroom.audit")

SECRET_BYTES = 32
MIN_SECRET_BYTES = 32


class SecretFileUnsafe(ShowroomError):
    code = "secret_file_unsafe"
    http_status = 500


@dataclass(frozen=True)
class SecretRing:
    """The current secret and, during a rotation's grace period, the previous one."""

    current: bytes
    previous: bytes | None = None
    previous_until: datetime | None = None

    def accepted(self, now: datetime) -> tuple[bytes, ...]:
        """Secrets a signature may be made with at `now`: the current one first."""
        if self.previous is not None and self.previous_until is not None and now < self.previous_until:
            return (self.current, self.previous)
        return (self.current,)


def _folder(data_dir: Path) -> Path:
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def _read(path: Path) -> bytes:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise SecretFileUnsafe(f"{path} is not a regular file; remove it and start again")
    if info.st_mode & 0o077:
        raise SecretFileUnsafe(f"{path} can be read by others (mode {stat.S_IMODE(info.st_mode):o}); "
                               f"run `chmod 600 {path}`")
    raw = path.read_text(encoding="ascii").strip()
    value = base64.urlsafe_b64decode(raw.encode())
    if len(value) < MIN_SECRET_BYTES:
        raise SecretFileUnsafe(f"{path} holds a secret of {len(value)} bytes; at least {MIN_SECRET_BYTES} are needed")
    return value


def _write_new(path: Path, value: bytes) -> None:
    """Creates `path` with mode 0600, failing if it exists (two processes starting together: one wins)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.urlsafe_b64encode(value).decode() + "\n")


def load_or_create(data_dir: Path, name: str) -> bytes:
    """The secret `name` from the data folder, generated (32 random bytes) when there is none yet."""
    path = _folder(data_dir) / name
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write_new(path, secrets.token_bytes(SECRET_BYTES))
    return _read(path)


def load_ring(data_dir: Path, name: str, configured: bytes | None = None) -> SecretRing:
    """The ring for `name`: `configured` (set by the operator) or the stored secret, plus the previous one while
    its grace period lasts."""
    current = configured if configured is not None else load_or_create(data_dir, name)
    meta = _folder(data_dir) / f"{name}.previous.json"
    if not meta.exists():
        return SecretRing(current)
    doc = json.loads(meta.read_text(encoding="utf-8"))
    previous = _read(_folder(data_dir) / f"{name}.previous")
    return SecretRing(current, previous, datetime.fromisoformat(doc["until"]))


def rotate(data_dir: Path, name: str, grace: timedelta, now: datetime | None = None) -> SecretRing:
    """Makes a new current secret; the old one stays accepted for `grace`."""
    folder = _folder(data_dir)
    now = now or datetime.now(UTC)
    old = load_or_create(data_dir, name)
    prev_path = folder / f"{name}.previous"
    prev_path.unlink(missing_ok=True)
    _write_new(prev_path, old)
    (folder / f"{name}.previous.json").write_text(json.dumps({"until": (now + grace).isoformat()}),
                                                   encoding="utf-8")
    new_path = folder / f"{name}.new"
    new_path.unlink(missing_ok=True)
    _write_new(new_path, secrets.token_bytes(SECRET_BYTES))
    os.replace(new_path, folder / name)
    return load_ring(data_dir, name)


# -- the audit chain's kept head ------------------------------------------------------------------------------------

AUDIT_KEY_NAME = "audit"


def _head_path(data_dir: Path, database_url: str) -> Path:
    """One head per database (a data folder may serve a test database and a real one); the URL's password does
    not change the name."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(password=None).render_as_string(hide_password=False)
    return _folder(data_dir) / f"audit-head-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"


def load_audit_head(data_dir: Path, database_url: str) -> ChainHead | None:
    """The audit chain's head as last kept (None: nothing appended yet from this data folder)."""
    return _read_head(_head_path(data_dir, database_url))


def save_audit_head(data_dir: Path, database_url: str, head: ChainHead) -> None:
    """Keeps `head` unless a later one is kept already (several processes share a data folder: the CLI and the
    node). Written whole (a temporary file renamed over the old one), mode 0600, under an exclusive lock.

    Several replicas each keep the head of their own appends in their own data folder: each head still detects
    a truncation below it, but only the newest head (of whichever replica appended last) guards the very end of
    the log. A bank running several commerce replicas ships the heads to a store the database's writers cannot
    change (WORM storage, its SIEM) and verifies against the newest."""
    _save_head(_head_path(data_dir, database_url), head)


def _read_head(path: Path) -> ChainHead | None:
    if not path.exists():
        return None
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise SecretFileUnsafe(f"{path} is not a regular file")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return ChainHead(int(doc["seq"]), str(doc["digest"]))


def _save_head(path: Path, head: ChainHead) -> None:
    lock = path.with_suffix(".lock")
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        kept = _read_head(path)
        if kept is not None and kept.seq >= head.seq:
            return
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        tmp_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(tmp_fd, "w", encoding="utf-8") as f:
            f.write(json.dumps({"seq": head.seq, "digest": head.digest}) + "\n")
        os.replace(tmp, path)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


HEAD_WRITE_INTERVAL_S = 0.25
"""Under load the kept head is written at most this often (each write is a locked file replace); `kept()` answers
the pending head meanwhile and `flush()` writes it at shutdown."""


class AuditHeadKeeper:
    """Keeps the audit chain's newest head in the data folder without blocking the event loop: one write at a
    time in a worker thread, and the newest head that arrived meanwhile written next, at most every
    `HEAD_WRITE_INTERVAL_S` (the heads in between are superseded by it: each head covers every entry below it).
    `kept()` answers the newest head known, written or still pending; `flush()` (at shutdown) waits until it is on
    disk. Outside an event loop it writes at once."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.path = _head_path(data_dir, database_url)
        self._pending: ChainHead | None = None
        self._writer: asyncio.Task[None] | None = None

    def keep(self, head: ChainHead) -> None:
        if self._pending is None or head.seq > self._pending.seq:
            self._pending = head
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_pending()
            return
        if self._writer is None:
            self._writer = loop.create_task(self._drain())

    def kept(self) -> ChainHead | None:
        on_disk = _read_head(self.path)
        pending = self._pending
        if pending is not None and (on_disk is None or pending.seq > on_disk.seq):
            return pending
        return on_disk

    async def flush(self) -> None:
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def _write_pending(self) -> None:
        head, self._pending = self._pending, None
        if head is not None:
            try:
                _save_head(self.path, head)
            except OSError:
                log.exception("could not keep the audit head %s in %s", head.seq, self.path)

    async def _drain(self) -> None:
        try:
            while self._pending is not None:
                head, self._pending = self._pending, None
                try:
                    await asyncio.to_thread(_save_head, self.path, head)
                except OSError:
                    log.exception("could not keep the audit head %s in %s", head.seq, self.path)
                if self._pending is not None:  # busy: the heads of the next moment go in one write
                    await asyncio.sleep(HEAD_WRITE_INTERVAL_S)
        finally:
            self._writer = None


def has_secret(data_dir: Path, name: str) -> bool:
    """Whether the secret `name` was generated (or placed) in the data folder, without creating it."""
    return (data_dir / "secrets" / name).exists()
