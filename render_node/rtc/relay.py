"""The media of one advisor call: the node terminates two WebRTC peer connections (aiortc), one per side, and
forwards each side's audio and video to the other.

Each side's leg is answered from that side's complete offer (no trickle ICE; `iceServers: []`, host candidates).
What the node sends on a leg are two `ForwardingTrack`s (audio, video) made when the call's media starts; each
waits until the other side's track of its kind arrives and then passes on that track's frames, so a leg answered
before the other side has sent anything still works.

A network change (a phone moving from Wi-Fi to 5G) breaks a leg's ICE; aiortc does not renegotiate or restart ICE
on a live connection, so the page makes a fresh peer connection and offers again with `restart` (`answer(...,
restart=True)`): the node answers it on a new leg, the other side's forwarding tracks switch to the new leg's
tracks (timestamps continue where the old ones stopped, so the other side's decoder sees one stream), and the old
leg is closed. The other side's own peer connection is never touched. Incoming tracks are fanned out with aiortc's `MediaRelay`:
one subscription feeds the other side's forwarding track (video: unbuffered, the latest frame wins; audio:
buffered, in order), and one drain subscription keeps reading from the moment the track arrives, so frames never
pile up in the receiver while the other leg is still connecting. Nothing is stored, except while a dual recording
runs (`start_recording`): then one more subscription per incoming track hands its frames to that leg's `LegWriter`
(`recording.py`), which encodes them to a WebM in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av.frame import Frame
from av.packet import Packet

from render_node.rtc.recording import LegWriter

log = logging.getLogger(__name__)

Side = Literal["customer", "advisor"]
SIDES: tuple[Side, Side] = ("customer", "advisor")
KINDS = ("audio", "video")


def other(side: Side) -> Side:
    return "advisor" if side == "customer" else "customer"


class MediaFailed(Exception):
    """An offer the node could not answer (bad SDP, no common codec, a leg answered already)."""


class ForwardingTrack(MediaStreamTrack):
    """A track the node sends on one leg: the other side's frames, once its track has arrived (until then
    `recv` waits; the sender sends nothing). `attach` again switches to a new source (the other side's replaced
    leg): the first frame of the new source continues the old one's timestamps."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._ready = asyncio.Event()
        self._shift = 0
        """Added to the source's pts: 0 for the first source, so that a later one continues the timeline."""
        self._next_pts: int | None = None
        self._rebase = False

    def attach(self, source: MediaStreamTrack) -> None:
        """Forwards `source` from now on (the one before, if any, is stopped)."""
        if self.readyState != "live":
            source.stop()
            return
        old, self._source = self._source, _Incoming(source)
        self._rebase = old is not None or self._next_pts is not None
        self._ready.set()
        if old is not None:
            old.stop()

    async def recv(self) -> Frame | Packet[Any]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._ready.wait()
            source = self._source
            if source is None or self.readyState != "live":
                raise MediaStreamError
            try:
                frame = await source.recv()
            except MediaStreamError:
                if self.readyState != "live":
                    raise
                if source is self._source:  # the source ended and none replaced it yet: wait for one
                    self._source = None
                    self._ready.clear()
                continue
            if source is self._source:
                return self._continued(frame)

    def _continued(self, frame: Frame | Packet[Any]) -> Frame | Packet[Any]:
        if frame.pts is None or frame.time_base is None:
            return frame
        if self._rebase:
            self._rebase = False
            if self._next_pts is not None:
                self._shift = self._next_pts - frame.pts
        if self._shift:
            frame.pts += self._shift
        samples = getattr(frame, "samples", 0)
        self._next_pts = frame.pts + (samples or max(1, round(1 / (30 * frame.time_base))))
        return frame

    def stop(self) -> None:
        super().stop()
        self._ready.set()
        if self._source is not None:
            self._source.stop()


class _Incoming(MediaStreamTrack):
    """A track read until `stop()`, which ends a pending `recv` at once and stops the track: a received track as
    the relay reads it (aiortc's own would wait forever when its leg closed before its media started), and a
    forwarding track's source (a relay subscription stopped while its reader waits would never wake)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = track.kind
        self._track = track
        self._stopped = asyncio.Event()

    async def recv(self) -> Frame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        frame = asyncio.ensure_future(self._track.recv())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({frame, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not frame.done():
                frame.cancel()
        if frame.cancelled() or self._stopped.is_set():
            raise MediaStreamError
        return frame.result()

    def stop(self) -> None:
        super().stop()
        self._stopped.set()
        self._track.stop()


async def _drain(track: MediaStreamTrack) -> None:
    """Reads a relay subscription until its source ends, so the relay reads the source from the start."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


StateChange = Callable[[Side, str], None]
"""Called with a leg's side and its new `connectionState` ("connecting", "connected", "failed", "closed")."""


class CallMedia:
    """The two legs of one call and the tracks between them. `close()` ends everything it started."""

    def __init__(self, call_id: str, on_state: StateChange) -> None:
        self.call_id = call_id
        self._on_state = on_state
        self._relay = MediaRelay()
        self._pcs: dict[Side, RTCPeerConnection] = {}
        self._answering: set[Side] = set()
        self._out: dict[Side, dict[str, ForwardingTrack]] = {
            side: {kind: ForwardingTrack(kind) for kind in KINDS} for side in SIDES}
        self._sources: dict[Side, dict[str, _Incoming]] = {side: {} for side in SIDES}
        """Each side's tracks being relayed now (those of its current leg), by kind."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: dict[Side, LegWriter] | None = None
        self._taps: set[asyncio.Task[None]] = set()
        self._record_t0 = 0.0
        self.restarts: dict[Side, int] = {side: 0 for side in SIDES}
        self.closed = False

    def answered(self, side: Side) -> bool:
        return side in self._pcs

    def state(self, side: Side) -> str:
        pc = self._pcs.get(side)
        return "new" if pc is None else pc.connectionState

    @property
    def peer_connections(self) -> int:
        return len(self._pcs)

    async def answer(self, side: Side, offer_sdp: str, *, restart: bool = False) -> str:
        """Answers `side`'s complete offer with the forwarding tracks (one audio, one video, where the offer has
        such a section) and returns the complete answer SDP. With `restart`, an offer on a fresh peer connection
        after that side's network changed, the side's leg answered before (if any) is replaced once the new one
        is answered. MediaFailed when the offer cannot be answered (the leg before, if any, stays)."""
        if self.closed:
            raise MediaFailed("the call is over")
        before = self._pcs.get(side)
        if before is not None and not restart:
            raise MediaFailed("this side's offer was answered already (a fresh connection offers with restart)")
        if side in self._answering:
            raise MediaFailed("this side's previous offer is still being answered")
        self._answering.add(side)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if before is None:
            self._pcs[side] = pc
            out = self._out[side]
        else:  # new tracks to send on the new leg, fed by what the other side sends now
            out = {kind: ForwardingTrack(kind) for kind in KINDS}
            for kind, source in self._sources[other(side)].items():
                out[kind].attach(self._relay.subscribe(source, buffered=kind == "audio"))
        received: dict[str, _Incoming] = {}

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind in KINDS and track.kind not in received:  # a second track of a kind is not relayed
                received[track.kind] = _Incoming(track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if not self.closed and self._pcs.get(side) is pc:
                self._on_state(side, pc.connectionState)

        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                kinds = {t.kind for t in pc.getTransceivers()}
                if "audio" not in kinds:
                    raise ValueError("it has no audio section")
                for kind in KINDS:
                    if kind in kinds:
                        pc.addTrack(out[kind])
                await pc.setLocalDescription(await pc.createAnswer())
                if self.closed:
                    raise MediaFailed("the call is over")
            except Exception as exc:  # aiortc raises ValueError, InvalidAccessError, OperationError … on a bad offer
                if self._pcs.get(side) is pc:
                    del self._pcs[side]
                if before is not None:
                    for track in out.values():
                        track.stop()
                for source in received.values():
                    source.stop()
                await pc.close()
                if self.closed or isinstance(exc, MediaFailed):
                    raise MediaFailed("the call is over") from None
                raise MediaFailed(f"the offer cannot be answered: {exc}"[:300]) from None
        finally:
            self._answering.discard(side)
        if before is not None:
            self._pcs[side], replaced = pc, self._out[side]
            self._out[side] = out
            self.restarts[side] += 1
            for track in replaced.values():
                track.stop()
        for kind in KINDS:
            self._relay_source(side, kind, received.get(kind))
        if before is not None:
            self._spawn(before.close())
        return pc.localDescription.sdp

    def _relay_source(self, side: Side, kind: str, source: _Incoming | None) -> None:
        """`source` (None: nothing) becomes what `side` sends of `kind`: the other side's forwarding track, the
        drain and a running recording read it; the one before is stopped."""
        before = self._sources[side].pop(kind, None)
        if source is not None:
            self._sources[side][kind] = source
            self._out[other(side)][kind].attach(self._relay.subscribe(source, buffered=kind == "audio"))
            self._spawn(_drain(self._relay.subscribe(source, buffered=False)))
            if self._writers is not None:
                self._tap(side, source)
        if before is not None:
            before.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- dual recording ----------------------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._writers is not None

    def start_recording(self, writers: dict[Side, LegWriter]) -> None:
        """From now on every incoming track's frames (those arrived and those to come) go to its leg's writer."""
        if self._writers is not None or self.closed:
            raise MediaFailed("a recording runs already" if self._writers is not None else "the call is over")
        self._writers = writers
        self._record_t0 = asyncio.get_running_loop().time()
        for side in SIDES:
            for source in self._sources[side].values():
                self._tap(side, source)

    def _tap(self, side: Side, source: _Incoming) -> None:
        writers = self._writers
        if writers is None or side not in writers:
            return
        writer, sub = writers[side], self._relay.subscribe(source, buffered=source.kind == "audio")
        loop = asyncio.get_running_loop()

        async def tap() -> None:
            try:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        frame = await sub.recv()
                        if isinstance(frame, Frame):
                            writer.put(source.kind, frame, loop.time() - self._record_t0)
            finally:
                sub.stop()

        task = loop.create_task(tap())
        self._taps.add(task)
        task.add_done_callback(self._taps.discard)

    async def stop_recording(self) -> dict[Side, LegWriter]:
        """Stops handing frames to the writers and returns them (still open: the caller closes them)."""
        writers, self._writers = self._writers or {}, None
        taps = list(self._taps)
        for task in taps:
            task.cancel()
        await asyncio.gather(*taps, return_exceptions=True)
        return writers

    async def close(self) -> None:
        """Stops the forwarding tracks, closes both peer connections (their incoming tracks end, the relay's
        readers with them) and waits for the drains."""
        self.closed = True
        if self._writers is not None:
            await self.stop_recording()
        for tracks in self._out.values():
            for track in tracks.values():
                track.stop()
        pcs = list(self._pcs.values())
        self._pcs.clear()
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        for sources in self._sources.values():
            for source in sources.values():
                source.stop()
            sources.clear()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
