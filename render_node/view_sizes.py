"""The published view-set sizes per client kind and the parsing of a `WxH` size.

A view set is rendered only at these sizes (plus an operator's SHOWROOM_EXTRA_VIEW_SIZES), so nobody can make
the node render and store sets at sizes no client shows. Published in the OpenAPI document (`ViewSizes`) and
docs/streams.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from types import MappingProxyType

from render_node.errors import BadRequest

DEFAULT_SIZE_PX = (640, 480)
MAX_VIEW_SIZE_PX = 1920

VIEW_SIZES: Mapping[str, tuple[tuple[int, int], ...]] = MappingProxyType({
    "kiosk": ((960, 720), (1280, 720), (1920, 1080)),
    "phone": ((640, 480), (720, 720), (1080, 1080)),
    "vr": ((1024, 1024), (1440, 1440)),
    "share": ((640, 480), (1200, 630)),
})
"""The published view-set sizes per client kind (WxH): the only sizes a view set is rendered at, besides an
operator's SHOWROOM_EXTRA_VIEW_SIZES. The web clients ask for kiosk 960x720, phone and share 640x480 (the
default). Published in the OpenAPI document (`ViewSizes`) and docs/streams.md."""
PUBLISHED_SIZES: frozenset[tuple[int, int]] = frozenset(s for sizes in VIEW_SIZES.values() for s in sizes)


def parse_size(text: str | None, default: tuple[int, int] = DEFAULT_SIZE_PX,
               max_px: int = MAX_VIEW_SIZE_PX) -> tuple[int, int]:
    """"640x480" -> (640, 480); capped at `max_px` per side and at least 16."""
    if not text:
        return default
    m = re.fullmatch(r"(\d{1,5})[xX](\d{1,5})", text.strip())
    if not m:
        raise BadRequest(f"size must look like 640x480, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= max_px and 16 <= h <= max_px):
        raise BadRequest(f"size must be between 16 and {max_px} pixels per side, got {w}x{h}")
    return w, h


def size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def published_sizes_text(extra: Collection[tuple[int, int]] = ()) -> str:
    """"kiosk 960x720, 1280x720, ...; phone ...": the allowed sizes, for error messages."""
    parts = [f"{kind} {', '.join(size_text(s) for s in sizes)}" for kind, sizes in VIEW_SIZES.items()]
    if extra:
        parts.append(f"this node also {', '.join(size_text(s) for s in sorted(extra))}")
    return "; ".join(parts)
