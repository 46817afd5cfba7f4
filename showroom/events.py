"""Names of the event channels and the shape of order events (published after each committed change)."""

from __future__ import annotations

from typing import Any

ORDERS_CHANNEL = "orders"


def order_channel(order_id: str) -> str:
    return f"order:{order_id}"


def order_event(order_id: str, status: str, **data: Any) -> dict[str, Any]:
    """`{"type": "order", "id", "status", ...}`: what `GET /ws/orders/{id}` pushes to the kiosk."""
    return {"type": "order", "id": order_id, "status": status, **data}
