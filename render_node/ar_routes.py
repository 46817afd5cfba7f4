"""Routes of AR overlays and try-on (`POST /api/ar/overlay`, `POST /api/tryon`); filled in by the AR issue."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Adds the AR and try-on routes to the node's app."""
    del app
