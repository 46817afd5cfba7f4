"""The media of one advisor call: the node terminates two WebRTC peer connections (aiortc), one per side, and
forwards each side's audio and video to the other.

Each side's leg is answered from that side's complete offer (no trickle ICE; `iceServers: []`, host candidates).
What the node sends on a leg are two `ForwardingTrack`s (audio, video) made when the call's media starts; each
waits until the other side's track of its kind arrives and then passes on that track's frames, so a leg answered
before the other side has sent anything still works. Incoming tracks are fanned out with aiortc's `MediaRelay`:
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
    `recv` waits; the sender sends nothing)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._ready = asyncio.Event()

    @property
    def has_source(self) -> bool:
        return self._source is not None

    def attach(self, source: MediaStreamTrack) -> None:
        if self._source is None and self.readyState == "live":
            self._source = source
            self._ready.set()
        else:
            source.stop()

    async def recv(self) -> Frame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        await self._ready.wait()
        if self._source is None or self.readyState != "live":
            raise MediaStreamError
        return await self._source.recv()

    def stop(self) -> None:
        super().stop()
        self._ready.set()
        if self._source is not None:
            self._source.stop()


class _Incoming(MediaStreamTrack):
    """A received track as the relay reads it: its frames until `stop()`, which ends a pending `recv` at once
    (aiortc's own track would wait forever when its leg closed before its media started)."""

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
        self._out: dict[Side, dict[str, ForwardingTrack]] = {
            side: {kind: ForwardingTrack(kind) for kind in KINDS} for side in SIDES}
        self._incoming: list[_Incoming] = []
        self._sources: dict[Side, list[_Incoming]] = {side: [] for side in SIDES}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: dict[Side, LegWriter] | None = None
        self._taps: set[asyncio.Task[None]] = set()
        self._record_t0 = 0.0
        self.closed = False

    def answered(self, side: Side) -> bool:
        return side in self._pcs

    def state(self, side: Side) -> str:
        pc = self._pcs.get(side)
        return "new" if pc is None else pc.connectionState

    @property
    def peer_connections(self) -> int:
        return len(self._pcs)

    async def answer(self, side: Side, offer_sdp: str) -> str:
        """Answers `side`'s complete offer with the forwarding tracks (one audio, one video, where the offer has
        such a section) and returns the complete answer SDP. MediaFailed when the offer cannot be answered."""
        if self.closed:
            raise MediaFailed("the call is over")
        if side in self._pcs:
            raise MediaFailed("this side's offer was answered already (renegotiation is not supported)")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs[side] = pc
        to_other = self._out[other(side)]

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            target = to_other.get(track.kind)
            if target is None or target.has_source:
                return  # a second track of one kind is received but not relayed
            source = _Incoming(track)
            self._incoming.append(source)
            self._sources[side].append(source)
            target.attach(self._relay.subscribe(source, buffered=track.kind == "audio"))
            self._spawn(_drain(self._relay.subscribe(source, buffered=False)))
            if self._writers is not None:
                self._tap(side, source)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if not self.closed:
                self._on_state(side, pc.connectionState)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            kinds = {t.kind for t in pc.getTransceivers()}
            if "audio" not in kinds:
                raise ValueError("it has no audio section")
            for kind in KINDS:
                if kind in kinds:
                    pc.addTrack(self._out[side][kind])
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises ValueError, InvalidAccessError, OperationError … on a bad offer
            if self._pcs.get(side) is pc:
                del self._pcs[side]
            await pc.close()
            if self.closed:
                raise MediaFailed("the call is over") from None
            raise MediaFailed(f"the offer cannot be answered: {exc}"[:300]) from None
        if self.closed:
            raise MediaFailed("the call is over")
        return pc.localDescription.sdp

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
            for source in self._sources[side]:
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
        for source in self._incoming:
            source.stop()
        self._incoming.clear()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
