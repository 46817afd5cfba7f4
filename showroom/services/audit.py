"""The audit trail for staff: read it (by subject, newest first) and verify the chain against the kept head.

The key and the kept head come from where the node keeps them (`showroom.bootstrap` reads the data folder); the
use cases take them as arguments so that the same verification runs in `showroom audit verify`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from showroom.audit import AuditEntry, ChainHead, Verification, Verifier
from showroom.services._uow import Commerce

VERIFY_BATCH = 1000


@dataclass(frozen=True)
class AuditKeeping:
    """The chain's key and the head kept apart from the database (None: none kept yet)."""

    key: bytes
    kept_head: Callable[[], ChainHead | None]


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    total: int


async def list_entries(ctx: Commerce, *, subject: str | None = None, limit: int = 50, offset: int = 0) -> AuditPage:
    async with ctx.uow() as uow:
        entries = await uow.audit_entries(subject=subject, limit=limit, offset=offset)
        total = await uow.audit_count(subject=subject)
    return AuditPage(tuple(entries), total)


async def verify_chain(ctx: Commerce, keeping: AuditKeeping) -> Verification:
    """Reads the whole log in sequence order, batch by batch, and checks every link and the kept head."""
    verifier = Verifier(keeping.key, keeping.kept_head())
    after = 0
    while True:
        async with ctx.uow() as uow:
            batch = await uow.audit_scan(after, VERIFY_BATCH)
        for entry in batch:
            failed = verifier.feed(entry)
            if failed is not None:
                return failed
        if len(batch) < VERIFY_BATCH:
            return verifier.finish()
        after = batch[-1].seq
