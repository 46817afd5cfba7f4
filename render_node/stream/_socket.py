"""What a stream session needs of its WebSocket, and the two things every session does with it.

`Socket` is the part of `aiohttp.web.WebSocketResponse` the sessions use, so the session modules need not
import aiohttp (the handler hands them the real socket).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Protocol

import showroom_protocol as protocol
from showroom_protocol import FrameHeader

from render_node.metrics import NodeMetrics


class Socket(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send_json(self, data: Any) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


def close_reason(text: str) -> bytes:
    """A close reason as sent: UTF-8, cut to fit the 123 bytes a close frame allows."""
    return text.encode()[:120]


async def close(ws: Socket, code: int, reason: str) -> None:
    """Closes `ws` with `code` and `reason`; a socket already gone is fine."""
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=close_reason(reason))


async def send_frame(ws: Socket, metrics: NodeMetrics, header: FrameHeader, payload: bytes) -> bool:
    """Sends one binary frame and records its bytes and stage times; False when the client is gone."""
    if ws.closed:
        return False
    try:
        await ws.send_bytes(header.pack() + payload)
    except (ConnectionError, RuntimeError):
        return False
    t_sent = time.time()
    metrics.frames_sent.labels(header.codec).inc()
    metrics.frame_bytes.labels(header.codec).inc(len(payload) + protocol.HEADER_SIZE)
    stages = metrics.stage_seconds
    stages.labels("queue").observe(max(0.0, header.t_render_start - header.t_receive))
    stages.labels("render").observe(header.t_render_end - header.t_render_start)
    stages.labels("encode").observe(max(0.0, header.t_encode_end - header.t_render_end))
    stages.labels("send").observe(max(0.0, t_sent - header.t_encode_end))
    metrics.pose_to_send_seconds.observe(max(0.0, t_sent - header.t_receive))
    return True
