"""The node's call hub: who waits for which topic (`showroom.advisory.CallQueue`), which advisors are signed in
and on duty, and the live calls between them.

The hub's state changes in plain (synchronous) methods, one event-loop step each, so no two handlers ever see it
half-changed; what it has to say goes into each socket's `Outbox`, which one writer task per socket sends in
order. Only the media (`relay.CallMedia`: answering an offer, closing the peer connections) is awaited, in tasks
the hub keeps and waits for on shutdown. When a call ends nothing of it stays: the call, the customer and the
media are dropped and the peer connections closed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

import showroom_protocol as protocol

from render_node.rtc.hub_recording import DualRecording, error
from render_node.rtc.messages import (
    BadMessage,
    CustomerHello,
    advisor_action,
    customer_note,
    parse_consent,
    parse_duty,
    parse_offer_sdp,
    parse_record,
    parse_record_consent,
    parse_take,
)
from render_node.rtc.parties import (
    AdvisorLimits,
    Busy,
    Console,
    Customer,
    LiveCall,
    Outbox,
    Recorder,
    Recording,
)
from render_node.rtc.relay import CallMedia, MediaFailed, Side
from showroom.advisory import CallQueue, CallRequest, Topic

log = logging.getLogger(__name__)

class CallHub(DualRecording):
    def __init__(self, limits: AdvisorLimits, *, queue: CallQueue | None = None,
                 clock: Callable[[], float] = time.monotonic, recorder: Recorder | None = None,
                 dual_recording: Callable[[str], bool] = lambda product: False) -> None:
        self.limits = limits
        self.recorder = recorder
        """None (or a store without a key): nothing is recorded and dual-recording products cannot be offered."""
        self.dual_recording = dual_recording
        """Whether a product (id) is sold only with dual recording (`Product.dual_recording`)."""
        self._sealing: set[asyncio.Task[None]] = set()
        self.queue = queue or CallQueue()
        self._clock = clock
        self.customers: dict[str, Customer] = {}
        """Every customer with a call id, waiting or in a call."""
        self.consoles: set[Console] = set()
        self.calls: dict[str, LiveCall] = {}
        self.closing = False
        self._customer_sockets = 0
        self._console_sockets = 0
        self._media: set[CallMedia] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what tests and metrics look at ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, int]:
        """Counts of everything the hub holds (all zero on an idle node)."""
        return {"waiting": len(self.queue.waiting()), "customers": len(self.customers), "calls": len(self.calls),
                "consoles": len(self.consoles),
                "sockets": self._customer_sockets + self._console_sockets, "media": len(self._media),
                "peer_connections": sum(m.peer_connections for m in self._media), "tasks": len(self._tasks)}

    @property
    def on_duty(self) -> int:
        return sum(1 for c in self.consoles if c.on_duty)

    # -- connection slots ------------------------------------------------------------------------------------

    def reserve_customer(self) -> bool:
        """A slot for a new customer socket, taken as soon as it opens (before its hello, before any await) and
        given back when it closes; False when `max_waiting + max_calls` customer sockets are open."""
        if self._customer_sockets >= self.limits.max_waiting + self.limits.max_calls:
            return False
        self._customer_sockets += 1
        return True

    def release_customer(self) -> None:
        self._customer_sockets = max(0, self._customer_sockets - 1)

    def reserve_console(self) -> bool:
        """The same for advisor console sockets (`max_consoles`)."""
        if self._console_sockets >= self.limits.max_consoles:
            return False
        self._console_sockets += 1
        return True

    def release_console(self) -> None:
        self._console_sockets = max(0, self._console_sockets - 1)

    # -- customers -------------------------------------------------------------------------------------------

    def join(self, customer: Customer, hello: CustomerHello) -> CallRequest:
        """Into the queue of the hello's topic; Busy when `max_waiting` customers wait already."""
        if len(self.queue.waiting()) >= self.limits.max_waiting:
            raise Busy(f"{self.limits.max_waiting} customers are waiting already")
        req = CallRequest(id="call_" + secrets.token_hex(8), topic=hello.topic, lang=hello.lang,
                          channel=hello.channel, place=hello.place, joined_s=self._clock())
        customer.req, customer.view = req, hello.view
        self.customers[req.id] = customer
        self.queue.join(req)
        log.info("[%s] %s waits: %s %s %s", customer.label, req.id, req.topic.value, req.lang, req.channel)
        self._changed()
        return req

    def customer_message(self, customer: Customer, kind: str, msg: dict[str, Any]) -> None:
        """One message of a joined customer; BadMessage when it is not acceptable."""
        call = customer.call
        if kind == "ping":
            customer.outbox.send({"type": "pong", "t": msg.get("t")})
        elif kind == "cancel":
            self._customer_leaves(customer, by_cancel=True)
        elif kind == "view":
            note = customer_note(kind, msg)
            if customer.coview:
                customer.view = note["view"]
                if call is not None:
                    call.console.outbox.send({**note, "call": call.req.id})
        elif kind == "coview":
            note = customer_note(kind, msg)
            customer.coview = note["on"]
            if not customer.coview:
                customer.view = None
            if call is not None:
                call.console.outbox.send({**note, "call": call.req.id})
        elif kind in ("video", "offer_reply", "order"):
            note = customer_note(kind, msg)
            if call is None:
                raise BadMessage(f"{kind}: there is no call")
            call.console.outbox.send({**note, "call": call.req.id})
        elif kind == "consent":
            self._consent(customer, parse_consent(msg))
        elif kind == "record_consent":
            accepted = parse_record_consent(msg)
            if call is None or call.record != "asked":
                raise BadMessage("record_consent: nobody asked to record this call")
            self._record_answer(call, accepted)
        elif kind == "sdp":
            sdp, restart = parse_offer_sdp(msg)
            if call is None:
                raise BadMessage("sdp: there is no call")
            self._offer(call, "customer", sdp, restart)
        else:
            raise BadMessage(f"unknown message type {kind!r}")

    def customer_gone(self, customer: Customer) -> None:
        """The customer's socket closed (or its handler ended): a waiting customer leaves the queue; a call waits
        `resume_grace_s` for the customer to come back on a new socket (`resume`) before it ends."""
        call = customer.call
        if call is not None and self.calls.get(call.req.id) is call and not self.closing:
            self._customer_away(call, "socket")
            return
        self._customer_leaves(customer, by_cancel=False)

    def resume(self, customer: Customer, call_id: str, token: str) -> None:
        """A new socket takes over the customer's side of a live call (the phone changed networks): it shows the
        call's resume token, gets `resumed` with a new one, and offers its media again with `restart`. The old
        socket, if the node still had it, is closed. BadMessage when there is no such call or the token is not
        its token."""
        call = self.calls.get(call_id)
        if call is None or not hmac.compare_digest(call.resume_token, token):
            raise BadMessage("resume: there is no such call (it ended, or the token is not its token)")
        old = call.customer
        if old is not customer:
            old.call, old.req = None, None
            old.outbox.close(protocol.CLOSE_NORMAL, "the call went on on another connection")
        customer.req, customer.view, customer.coview, customer.call = call.req, old.view, old.coview, call
        call.customer = customer
        self.customers[call.req.id] = customer
        call.resume_token = secrets.token_urlsafe(24)
        log.info("[%s] %s is back (socket %s)", customer.label, call.req.id, customer.label)
        customer.outbox.send({"type": "resumed", "call": call.req.id, "resume": call.resume_token,
                              "advisor": {"display_name": call.console.advisor.display_name},
                              "consent": call.consent is not None, "record": call.record})
        if call.away is not None and (call.media is None or call.media.state("customer") == "connected"):
            self._customer_back(call)

    def _customer_away(self, call: LiveCall, why: str) -> None:
        """The customer is unreachable (`why`: socket closed, media failed): the advisor is told, and the call ends
        unless the customer is back within the grace."""
        if call.away is not None:
            return
        grace = self.limits.resume_grace_s
        call.away = asyncio.get_running_loop().call_later(grace, self._away_expired, call)
        log.info("[%s] the customer is unreachable (%s); waiting %.0f s", call.req.id, why, grace)
        call.console.outbox.send({"type": "customer_away", "call": call.req.id, "why": why, "grace_s": grace})

    def _customer_back(self, call: LiveCall) -> None:
        if call.away is not None:
            call.away.cancel()
            call.away = None
            log.info("[%s] the customer is back", call.req.id)
            call.console.outbox.send({"type": "customer_back", "call": call.req.id})

    def _away_expired(self, call: LiveCall) -> None:
        call.away = None
        self._end(call, "customer_left", "the customer's connection was lost and did not come back")

    def _customer_leaves(self, customer: Customer, *, by_cancel: bool) -> None:
        req = customer.req
        if req is None or self.customers.get(req.id) is not customer:
            return
        if customer.call is not None:
            self._end(customer.call, "customer_left", "the customer left the call")
            return
        self.queue.leave(req.id)
        del self.customers[req.id]
        log.info("[%s] %s left the queue%s", customer.label, req.id, " (cancelled)" if by_cancel else "")
        if by_cancel:
            customer.outbox.send({"type": "ended", "call": req.id, "reason": "customer_left",
                                  "message": "cancelled"})
            customer.outbox.close(protocol.CLOSE_NORMAL, "cancelled")
        self._changed()

    def _consent(self, customer: Customer, consent: tuple[bool, bool]) -> None:
        call = customer.call
        if call is None:
            raise BadMessage("consent: no advisor has taken the call yet")
        if call.consent is not None:
            raise BadMessage("consent was given already")
        if consent == (False, False):
            self._end(call, "declined", "the customer declined the camera and microphone")
            return
        call.consent = consent
        call.media = CallMedia(call.req.id, lambda side, state: self._media_state(call, side, state))
        self._media.add(call.media)
        call.console.outbox.send({"type": "consent", "call": call.req.id, "audio": consent[0],
                                  "video": consent[1]})

    # -- advisors --------------------------------------------------------------------------------------------

    def console_joined(self, console: Console) -> None:
        self.consoles.add(console)
        log.info("[%s] advisor %s signed in", console.label, console.advisor.name)
        console.outbox.send({"type": "welcome",
                             "advisor": {"name": console.advisor.name,
                                         "display_name": console.advisor.display_name},
                             "on_duty": console.on_duty, "queues": self._queues_json(),
                             "advisors_on_duty": self.on_duty, "max_calls": self.limits.max_calls})

    def console_message(self, console: Console, kind: str, msg: dict[str, Any]) -> None:
        call = console.call
        if kind == "ping":
            console.outbox.send({"type": "pong", "t": msg.get("t")})
        elif kind == "duty":
            on = parse_duty(msg)
            if on != console.on_duty:
                console.on_duty = on
                log.info("[%s] advisor %s %s duty", console.label, console.advisor.name, "on" if on else "off")
                self._changed()
        elif kind == "take":
            self._take(console, *parse_take(msg))
        elif kind in ("show", "pointer", "hotspot", "offer"):
            action = advisor_action(kind, msg)
            if call is None:
                raise BadMessage(f"{kind}: there is no call")
            if call.consent is None:
                console.outbox.send(error("not_ready", f"{kind}: the customer has not answered yet"))
            elif kind == "offer" and self.dual_recording(action["quote"]["product"]) and call.record != "on":
                console.outbox.send(error("recording_required", (
                    f"offer: {action['quote']['product']} is sold only with dual recording, and "
                    + ("the customer refused the recording in this call" if call.record == "refused"
                       else "this call is not being recorded: start the recording first"))))
            elif kind != "offer" and not call.customer.coview:
                console.outbox.send(error("coview_off", f"{kind}: the customer turned co-view off"))
            else:
                call.customer.outbox.send(action)
        elif kind == "sdp":
            sdp, restart = parse_offer_sdp(msg)
            if call is None:
                raise BadMessage("sdp: there is no call")
            self._offer(call, "advisor", sdp, restart)
        elif kind == "record":
            on, product = parse_record(msg)
            if call is None:
                raise BadMessage("record: there is no call")
            self._record_request(call, on, product)
        elif kind == "end":
            if call is None:
                raise BadMessage("end: there is no call")
            self._end(call, "advisor_ended", "the advisor ended the call")
        else:
            raise BadMessage(f"unknown message type {kind!r}")

    def console_gone(self, console: Console) -> None:
        """The advisor's socket closed: a live call's customer goes back to the head of the queue."""
        if console not in self.consoles:
            return
        self.consoles.discard(console)
        log.info("[%s] advisor %s left", console.label, console.advisor.name)
        if console.call is not None:
            self._end(console.call, "error", "the advisor's console dropped", requeue=True)
        else:
            self._changed()

    def _take(self, console: Console, topic: Topic | None, call_id: str | None) -> None:
        if console.call is not None:
            console.outbox.send(error("in_call", "end the current call first: one call per advisor"))
            return
        if len(self.calls) >= self.limits.max_calls:
            console.outbox.send(error("busy", f"the node relays {self.limits.max_calls} calls already"))
            return
        req = self.queue.take_id(call_id) if call_id is not None else self.queue.take(topic)
        if req is None:
            console.outbox.send(error("nothing_waiting", "nobody is waiting" + (
                f" for {topic.value}" if topic is not None else "")))
            return
        customer = self.customers[req.id]
        call = LiveCall(req=req, customer=customer, console=console, taken_s=self._clock())
        self.calls[req.id] = call
        customer.call = console.call = call
        customer.last_queued = None
        log.info("[%s] advisor %s takes %s", console.label, console.advisor.name, req.id)
        console.outbox.send({"type": "call", "call": req.id, "topic": req.topic.value, "lang": req.lang,
                             "channel": req.channel, "place": req.place, "view": customer.view,
                             "coview": customer.coview, "waited_s": round(self._clock() - req.joined_s, 1)})
        customer.outbox.send({"type": "advisor", "call": req.id, "resume": call.resume_token,
                              "advisor": {"display_name": console.advisor.display_name}})
        self._changed()

    # -- media -----------------------------------------------------------------------------------------------

    def _offer(self, call: LiveCall, side: Side, sdp: str, restart: bool) -> None:
        if call.consent is None or call.media is None:
            raise BadMessage("sdp: the customer has not consented yet")
        if call.media.answered(side) and not restart:
            raise BadMessage("sdp: this side's offer was answered already (a fresh connection sends restart: true)")
        outbox = call.customer.outbox if side == "customer" else call.console.outbox
        self._spawn(self._answer(call, call.media, side, sdp, outbox, restart))

    async def _answer(self, call: LiveCall, media: CallMedia, side: Side, sdp: str, outbox: Outbox,
                      restart: bool) -> None:
        if restart and media.answered(side):
            log.info("[%s] %s offers a fresh connection", call.req.id, side)
        try:
            answer = await media.answer(side, sdp, restart=restart)
        except MediaFailed as exc:
            if self.calls.get(call.req.id) is call:
                outbox.send(BadMessage(str(exc)).to_json())
            return
        if self.calls.get(call.req.id) is call:
            outbox.send({"type": "sdp", "kind": "answer", "sdp": answer})

    def _media_state(self, call: LiveCall, side: Side, state: str) -> None:
        if self.calls.get(call.req.id) is not call or call.media is None:
            return
        log.info("[%s] %s leg %s", call.req.id, side, state)
        if state == "failed" and side == "customer":  # a network change: the page offers a fresh connection
            self._customer_away(call, "media")
        elif state == "failed":
            self._end(call, "error", f"the {side}'s media connection failed")
        elif (state == "connected" and call.media.state("customer") == "connected"
              and call.media.state("advisor") == "connected"):
            again = call.connected
            call.connected = True
            if side == "customer" and call.customer.call is call:
                self._customer_back(call)
            note = {"type": "connected", "call": call.req.id, **({"again": True} if again else {})}
            call.customer.outbox.send(note)
            call.console.outbox.send(note)

    # -- ending ----------------------------------------------------------------------------------------------

    def _end(self, call: LiveCall, reason: str, message: str, *, requeue: bool = False) -> None:
        """Ends `call`: both sides told, the media closed, the state dropped (or, `requeue`, the customer back at
        the head of the queue)."""
        if self.calls.get(call.req.id) is not call:
            return
        del self.calls[call.req.id]
        away, call.away = call.away, None
        if away is not None:  # the customer's socket (or media) is gone: nobody to put back in the queue
            away.cancel()
            requeue = False
        customer, console, req = call.customer, call.console, call.req
        customer.call = None
        console.call = None
        if call.media is not None:
            media = call.media
            call.media = None
            recording, call.recording = call.recording, None
            self._spawn(self._close_media(media, recording, call))
        talk_s = self._clock() - call.taken_s
        if call.consent is not None and reason in ("customer_left", "advisor_ended"):
            self.queue.finished(talk_s)
        log.info("[%s] call ended after %.0f s: %s", req.id, talk_s, reason)
        console.outbox.send({"type": "ended", "call": req.id, "reason": reason, "message": message})
        if requeue and not self.closing:
            self.queue.requeue_front(req)
            customer.last_queued = None
            self._send_queued(customer, requeued=True)
        else:
            self.customers.pop(req.id, None)
            customer.outbox.send({"type": "ended", "call": req.id, "reason": reason, "message": message})
            customer.outbox.close(protocol.CLOSE_GOING_AWAY if reason == "node_shutdown" else protocol.CLOSE_NORMAL,
                                  reason)
        self._changed()

    async def _close_media(self, media: CallMedia, recording: Recording | None = None,
                           call: LiveCall | None = None) -> None:
        try:
            if recording is not None and call is not None:
                self._seal_later(call, media, recording, self._now())
            await media.close()
        finally:
            self._media.discard(media)

    async def shutdown(self) -> None:
        """Node shutdown: every call ends with `node_shutdown`, waiting customers are told, every socket closes
        with 1001, and the media is closed before this returns."""
        self.closing = True
        for call in list(self.calls.values()):
            self._end(call, "node_shutdown", "the node is shutting down")
        for customer in list(self.customers.values()):
            assert customer.req is not None
            self.queue.leave(customer.req.id)
            customer.outbox.send({"type": "ended", "call": customer.req.id, "reason": "node_shutdown",
                                  "message": "the node is shutting down"})
            customer.outbox.close(protocol.CLOSE_GOING_AWAY, "node shutting down")
        self.customers.clear()
        for console in list(self.consoles):
            console.outbox.close(protocol.CLOSE_GOING_AWAY, "node shutting down")
        self.consoles.clear()
        await self.settle()
        if self._sealing:
            await asyncio.wait(list(self._sealing), timeout=120.0)

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Waits for the media tasks under way (answers, closes)."""
        while self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout_s)
            if pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("advisor call task failed: %r", task.exception())

    # -- telling everyone ------------------------------------------------------------------------------------

    def _changed(self) -> None:
        """After any change of the queue or the duty roster: waiting customers whose position, estimate or
        on-duty count changed get `queued`; every console gets `queues`."""
        if self.closing:
            return
        for customer in self.customers.values():
            if customer.call is None:
                self._send_queued(customer)
        queues = {"type": "queues", "queues": self._queues_json(), "advisors_on_duty": self.on_duty,
                  "calls": len(self.calls)}
        for console in self.consoles:
            console.outbox.send(queues)

    def _send_queued(self, customer: Customer, *, requeued: bool = False) -> None:
        req = customer.req
        assert req is not None
        on_duty = self.on_duty
        position = self.queue.position(req.id)
        wait_s = self.queue.wait_estimate_s(req.id, on_duty)
        state = (position, None if wait_s is None else round(wait_s, 1), on_duty)
        if state == customer.last_queued:
            return
        customer.last_queued = state
        msg: dict[str, Any] = {"type": "queued", "call": req.id, "position": position, "wait_s": state[1],
                               "advisors_on_duty": on_duty}
        if requeued:
            msg["requeued"] = True
        customer.outbox.send(msg)

    def _queues_json(self) -> dict[str, list[dict[str, Any]]]:
        now = self._clock()
        return {topic.value: [{"call": req.id, "lang": req.lang, "channel": req.channel, "place": req.place,
                               "waited_s": round(now - req.joined_s, 1),
                               "view": self.customers[req.id].view if req.id in self.customers else None}
                              for req in self.queue.waiting(topic)]
                for topic in Topic}
