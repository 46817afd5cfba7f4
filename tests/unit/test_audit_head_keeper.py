"""The audit chain's kept head leaves the event loop: written in a worker thread, newest first, flushed on close."""

from __future__ import annotations

import asyncio
from pathlib import Path

from showroom.adapters.secret_files import AuditHeadKeeper, load_audit_head
from showroom.audit import ChainHead

URL = "sqlite+aiosqlite:///showroom.db"


def test_outside_an_event_loop_the_head_is_written_at_once(tmp_path: Path) -> None:
    keeper = AuditHeadKeeper(tmp_path, URL)
    keeper.keep(ChainHead(3, "c" * 64))
    assert load_audit_head(tmp_path, URL) == ChainHead(3, "c" * 64)


def test_heads_kept_in_a_burst_end_with_the_newest_on_disk_and_it_is_known_before_it_is_written(
        tmp_path: Path) -> None:
    keeper = AuditHeadKeeper(tmp_path, URL)

    async def go() -> None:
        for seq in range(1, 51):
            keeper.keep(ChainHead(seq, f"{seq:064x}"))
        assert keeper.kept() == ChainHead(50, f"{50:064x}")  # pending or written: the newest either way
        keeper.keep(ChainHead(7, "7" * 64))  # an older head arriving late never goes back
        await keeper.flush()

    asyncio.run(go())
    assert load_audit_head(tmp_path, URL) == ChainHead(50, f"{50:064x}")
    assert keeper.kept() == ChainHead(50, f"{50:064x}")
