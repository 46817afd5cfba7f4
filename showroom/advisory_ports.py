"""The advisory rows of the unit of work (`uow.advisory`): call-backs and call records, in the same transaction
as the audit entry that records them (`showroom/services/advisory.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from showroom.advisory import Callback, CallbackStatus, CallRecord


class AdvisoryRepository(Protocol):
    async def add_callback(self, callback: Callback) -> None: ...

    async def get_callback(self, callback_id: str) -> Callback:
        """The call-back; `NotFound`."""
        ...

    async def mark_callback_done(self, callback_id: str, by: str, at: datetime) -> bool:
        """Marks an open call-back done (one writer wins: False when it was not open)."""
        ...

    async def callbacks(self, status: CallbackStatus, limit: int) -> list[Callback]:
        """Call-backs in `status`, soonest preferred time first."""
        ...

    async def add_call(self, record: CallRecord) -> bool:
        """Stores a call record; False when that call (`call_id`) has a record already."""
        ...

    async def calls(self, limit: int) -> list[CallRecord]:
        """The most recently recorded calls first."""
        ...
