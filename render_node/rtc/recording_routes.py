"""An auditor's playback of dual recordings, on the edge that stores them: `GET /api/advisor/recordings` (the list)
and `GET /api/advisor/recordings/{id}/{leg}.webm` (one leg, decrypted in memory). Both need a ticket of scope
`recordings` that commerce signed for a staff member with `view_recordings` (`POST /api/staff/recordings/ticket`),
as `Authorization: Bearer <ticket>` or `?ticket=` (a <video> element cannot send a header). Every playback is
logged with who played it. The retention sweep runs at start and daily (`sweep_daily`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from render_node.config import Config
from render_node.keys import CONFIG
from render_node.rtc.recording import LEGS, RecordingError, RecordingStore, RecordingTampered
from showroom.advisory import Advisor, TicketInvalid, verify_ticket
from showroom.http_schema import Header, Operation, Reply, operation

log = logging.getLogger(__name__)

RECORDINGS: web.AppKey[RecordingStore] = web.AppKey("recordings")
SWEEP_EVERY_S = 24 * 3600.0
RECORDINGS_TICKET = Header("Authorization", "`Bearer <ticket>`: a ticket of scope `recordings` from `POST "
                           "/api/staff/recordings/ticket` (or `?ticket=`); else 403 `bad_ticket`",
                           {"type": "string", "maxLength": 2100}, required=False)


class TicketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str | None = Field(None, max_length=640, description="the recordings ticket, for a <video> src (a few "
                               "hundred characters; longer ones are refused like any bad ticket)")


class LegReply(BaseModel):
    sha256: str
    plain_sha256: str
    bytes: int


class RecordingReply(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    call: str
    product: str | None
    advisor: str
    started_at: str
    ended_at: str
    legs: dict[str, LegReply]


class RecordingList(BaseModel):
    recordings: list[RecordingReply]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _viewer(request: web.Request) -> Advisor | web.Response:
    """The staff member a valid recordings ticket names, or the 403 to answer."""
    auth = request.headers.get("Authorization", "")
    ticket = auth[7:].strip() if auth.lower().startswith("bearer ") else request.query.get("ticket", "")
    key = request.app[CONFIG].advisor_ticket_key
    if not ticket:
        return _error(403, "bad_ticket", "recordings need a ticket of scope recordings (Authorization: Bearer or "
                                         "?ticket=) from POST /api/staff/recordings/ticket")
    try:
        if not key:
            raise TicketInvalid("bad_signature", "this node has no advisor ticket key")
        return verify_ticket(key, ticket, time.time(), scope="recordings")
    except TicketInvalid as exc:
        return _error(403, "bad_ticket", str(exc))


@operation(Operation(
    "Dual recordings stored on this edge node, latest first (auditors)", ("advisor",),
    description="Needs a ticket of scope `recordings` (`POST /api/staff/recordings/ticket`, permission "
                "`view_recordings`). Each recording: call, product, advisor, times and the sha256 of each leg's "
                "sealed and plaintext file.",
    query=TicketQuery, headers=(RECORDINGS_TICKET,),
    replies={200: Reply("the recordings", RecordingList)},
    errors={403: "no valid recordings ticket (bad_ticket)", 422: "an unknown query parameter (invalid_input)"}))
async def list_recordings(request: web.Request) -> web.StreamResponse:
    viewer = _viewer(request)
    if isinstance(viewer, web.Response):
        return viewer
    unknown = set(request.query) - {"ticket"}
    if unknown:
        return _error(422, "invalid_input", f"{sorted(unknown)[0]}: unknown query parameter")
    store = request.app[RECORDINGS]
    found = await asyncio.to_thread(store.recordings)
    log.info("recordings listed by %s (%d)", viewer.name, len(found))
    return web.json_response({"recordings": found})


@operation(Operation(
    "One leg of a dual recording as WebM (VP8 + Opus), decrypted in memory (auditors)", ("advisor",),
    description="Needs a ticket of scope `recordings`; every playback is logged with the viewer. A sealed file "
                "that does not verify (changed, moved, another key) is refused with 409 `recording_tampered`.",
    query=TicketQuery, headers=(RECORDINGS_TICKET,),
    replies={200: Reply("the leg's WebM", media=("video/webm",))},
    errors={403: "no valid recordings ticket (bad_ticket)", 404: "no such recording or leg (unknown_recording)",
            409: "the sealed file does not verify (recording_tampered)"}))
async def get_recording_leg(request: web.Request) -> web.StreamResponse:
    viewer = _viewer(request)
    if isinstance(viewer, web.Response):
        return viewer
    recording_id, leg = request.match_info["recording_id"], request.match_info["leg"]
    if leg not in LEGS:
        return _error(404, "unknown_recording", f"leg must be one of {', '.join(LEGS)}")
    store = request.app[RECORDINGS]
    try:
        data = await asyncio.to_thread(store.read, recording_id, leg)
    except RecordingTampered as exc:
        log.error("recording %s/%s refused to %s: %s", recording_id, leg, viewer.name, exc)
        return _error(409, "recording_tampered", str(exc))
    except RecordingError as exc:
        return _error(404, "unknown_recording", str(exc))
    log.info("recording %s/%s played by %s (%s)", recording_id, leg, viewer.name, viewer.display_name)
    return web.Response(body=data, content_type="video/webm",
                        headers={"Cache-Control": "no-store", "Content-Disposition":
                                 f'inline; filename="{recording_id}-{leg}.webm"'})


async def sweep_daily(store: RecordingStore) -> None:
    """The retention sweep, now and every day."""
    while True:
        try:
            await asyncio.to_thread(store.sweep, datetime.now(UTC))
        except OSError as exc:
            log.error("the recordings' retention sweep failed: %s", exc)
        await asyncio.sleep(SWEEP_EVERY_S)


def store_from(config: Config) -> RecordingStore:
    return RecordingStore(config.data_dir / "recordings", config.recording_key, config.recording_retention_days)


def setup(app: web.Application) -> RecordingStore:
    """Mounts the playback routes; at start, plaintext left by an interrupted recording is deleted and the
    retention sweep starts (daily)."""
    store = app[RECORDINGS] = store_from(app[CONFIG])
    app.router.add_get("/api/advisor/recordings", list_recordings, name="advisor_recordings")
    app.router.add_get(r"/api/advisor/recordings/{recording_id}/{leg}.webm", get_recording_leg,
                       name="advisor_recording_leg")

    async def housekeeping(app: web.Application) -> AsyncIterator[None]:
        dropped = await asyncio.to_thread(store.discard_work)
        if dropped:
            log.warning("%d recording(s) interrupted by a stop were never sealed; their plaintext is deleted",
                        dropped)
        task = asyncio.get_running_loop().create_task(sweep_daily(store))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(housekeeping)
    return store
