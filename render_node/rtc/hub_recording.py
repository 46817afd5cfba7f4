"""The call hub's dual recording (render_node/rtc/hub.py): the advisor asks, the customer consents on screen, both
legs are recorded while it runs, and when it stops (or the call ends) the files are sealed and the console gets the
signed receipt (docs/advisor.md, "Dual recording")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from render_node.rtc.parties import LiveCall, Recorder, Recording
from render_node.rtc.recording import LegWriter, iso, new_recording_id
from render_node.rtc.relay import SIDES, CallMedia, MediaFailed
from showroom.advisory import sign_receipt

log = logging.getLogger("render_node.rtc.hub")


def error(code: str, message: str) -> dict[str, str]:
    return {"type": "error", "code": code, "message": message}


class DualRecording:
    """The recording half of `CallHub` (a mixin: the hub holds the state)."""

    recorder: Recorder | None
    dual_recording: Callable[[str], bool]
    _sealing: set[asyncio.Task[None]]

    def _task_done(self, task: asyncio.Task[None]) -> None:
        raise NotImplementedError

    def _now(self) -> datetime:
        return self.recorder.now() if self.recorder is not None else datetime.now(UTC)

    def _record_request(self, call: LiveCall, on: bool, product: str | None) -> None:
        """The advisor's `record {on, product?}`: ask the customer, or stop the recording."""
        console, customer, call_id = call.console, call.customer, call.req.id
        if call.consent is None or call.media is None:
            console.outbox.send(error("not_ready", "record: the customer has not answered yet"))
        elif not on:
            if call.record == "asked":
                call.record = "off"
                customer.outbox.send({"type": "record", "call": call_id, "on": False})
                console.outbox.send({"type": "record", "call": call_id, "on": False})
            elif call.record == "on" and call.recording is not None:
                recording, call.recording = call.recording, None
                call.record = "off"
                self._seal_later(call, call.media, recording, self._now())
                customer.outbox.send({"type": "record", "call": call_id, "on": False})
                console.outbox.send({"type": "record", "call": call_id, "on": False})
        elif self.recorder is None or not self.recorder.store.available:
            console.outbox.send(error("recording_unavailable",
                                       "record: this node records nothing (SHOWROOM_RECORDING_KEY is not set)"))
        elif call.record == "refused":
            console.outbox.send(error("recording_refused", "record: the customer refused the recording in this call"))
        elif call.record == "asked":
            console.outbox.send(error("record_pending", "record: the customer has not answered yet"))
        elif call.record == "on":
            console.outbox.send({"type": "record", "call": call_id, "on": True})
        else:
            call.record, call.record_product = "asked", product
            log.info("[%s] advisor asks to record (product %s)", call_id, product)
            customer.outbox.send({"type": "record_consent", "call": call_id, "product": product})

    def _record_answer(self, call: LiveCall, accepted: bool) -> None:
        console, customer, call_id = call.console, call.customer, call.req.id
        console.outbox.send({"type": "record_consent", "call": call_id, "accepted": accepted})
        if not accepted:
            call.record = "refused"
            log.info("[%s] the customer refused the recording", call_id)
            return
        if call.media is None or self.recorder is None:
            call.record = "off"
            return
        recording_id = new_recording_id()
        try:
            work = self.recorder.store.start(recording_id)
            writers = {side: LegWriter(work / f"{side}.webm", {"audio", "video"}) for side in SIDES}
            call.media.start_recording(writers)
        except (OSError, MediaFailed) as exc:
            log.error("[%s] the recording cannot start: %s", call_id, exc)
            call.record = "off"
            console.outbox.send(error("recording_failed", f"record: the recording cannot start: {exc}"))
            return
        call.record = "on"
        call.recording = Recording(recording_id, call.record_product, self._now(), writers)
        log.info("[%s] recording %s started", call_id, recording_id)
        customer.outbox.send({"type": "record", "call": call_id, "on": True})
        console.outbox.send({"type": "record", "call": call_id, "on": True})

    def _seal_later(self, call: LiveCall, media: CallMedia, recording: Recording, ended_at: datetime) -> None:
        task = asyncio.get_running_loop().create_task(self._seal(call, media, recording, ended_at))
        self._sealing.add(task)
        task.add_done_callback(self._sealing.discard)
        task.add_done_callback(self._task_done)

    async def _seal(self, call: LiveCall, media: CallMedia, recording: Recording, ended_at: datetime) -> None:
        """Stops the taps, ends the files, seals them (the plaintext deleted), and hands the console the receipt."""
        assert self.recorder is not None
        await media.stop_recording()
        writers = recording.writers
        await asyncio.gather(*(asyncio.to_thread(w.close) for w in writers.values()))
        meta = {"call": call.req.id, "product": recording.product, "advisor": call.console.advisor.name,
                "advisor_display_name": call.console.advisor.display_name, "topic": call.req.topic.value,
                "channel": call.req.channel, "place": call.req.place,
                "started_at": iso(recording.started_at), "ended_at": iso(ended_at),
                "frames": {side: {"video": w.video_frames, "audio": w.audio_frames} for side, w in writers.items()}}
        doc = await asyncio.to_thread(self.recorder.store.finish, recording.id, meta,
                                      {str(side): w for side, w in writers.items()})
        receipt: dict[str, Any] = {
            "id": recording.id, "call": call.req.id, "product": recording.product,
            "advisor": call.console.advisor.name,
            "sha256": {leg: v["sha256"] for leg, v in doc["legs"].items()},
            "bytes": {leg: v["bytes"] for leg, v in doc["legs"].items()},
            "started_at": meta["started_at"], "ended_at": meta["ended_at"]}
        log.info("[%s] recording %s sealed: %s", call.req.id, recording.id,
                 ", ".join(f"{leg} {n} bytes" for leg, n in receipt["bytes"].items()) or "no media")
        call.console.outbox.send({"type": "recording", "call": call.req.id, "recording": receipt,
                                  "sig": sign_receipt(self.recorder.receipt_key, receipt)})
