"""Live stream sessions on `/ws/stream`: hello -> welcome, poses in, rendered frames out (latest pose wins).

One session = one WebSocket, one receive loop and one frame loop. The receive loop only parses and stores the
newest pose (older unrendered poses are superseded, never queued); the frame loop renders that pose on the
worker pool, encodes it (JPEG/WebP in an executor, H.264 through one encoder per session), and sends it with
a header of stage timestamps, then waits for the next pose. A slow client slows its own frame loop (the send is
awaited), so it gets fewer frames rather than a queue. Adaptive quality lowers JPEG quality, then resolution,
when frames exceed the bitrate budget (the smaller of `max_kbps` and what the link drains, measured from the
socket's own counters) or the target frame time, and raises them back when there is room.

The camera modes (hello `"mode": "ar"|"tryon"`) are a `CameraSession`: the client sends camera frames (binary,
`protocol.CAMERA_HEADER` + JPEG) and the node answers each processed frame with an overlay or a composite, the
newest frame only, one at a time (detection, smoothing and fitting by `render_node.tryon.stream.
CameraFrameProcessor`, the product rendered on the worker pool). Camera frames live in memory only: they are
never written to disk and never logged (PIPL).

The hall mode (hello `"mode": "hall"`) is a `HallSession`: a `PoseSession` whose frames are the bank hall
(`render_node.hall.scene`) rendered with the client's field of view plus an overscan margin, with the customer's
own state (the rig's point and facing, the focused product, the car sat in) and the hall's requests (teleport,
pick, focus, turn, unfocus, sit, stand_up) answered from the plan's rules (`render_node.hall.walkable`,
`render_node.hall.picking`).

Modules:

- `registry`: `StreamLimits` and `SessionRegistry` (the session cap, taken atomically; shutdown closes all).
- `handler`: the `/ws/stream` WebSocket handler, its receive loops, and `setup(app)`.
- `pose`: `PoseSession`, the vr/spin stream (the client's poses rendered and sent back).
- `hall`: `HallSession`, the hall stream, and `HallService`, the node's one hall (scene, live prices, warm-up).
- `quality`: `QualityController`, the adaptive JPEG quality and resolution of a pose stream, and `LinkBudget`,
  the bitrate the link drains.
- `_link`: `LinkProbe`, a stream socket's send counters (acknowledged and waiting bytes; TCP_NOTSENT_LOWAT).
- `camera`: `CameraSession`, the ar/tryon stream (camera frames in, overlays or composites out).
- `_rate`: the per-second message-rate window; `_socket`: what the sessions need of a WebSocket.

Only `handler` and `registry` import aiohttp; the sessions talk to a `_socket.Socket`.
"""
