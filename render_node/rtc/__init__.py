"""Calling an advisor, the node's side: the call hub, the two JSON WebSockets and the media relay.

A customer's page opens `/ws/advisor/customer` and waits in the queue of its topic; an advisor's console opens
`/ws/advisor/console` with a ticket that commerce signed (`showroom.advisory.verify_ticket`; the edge imports no
commerce code), goes on duty and takes a call. After the customer's consent both browsers send a complete WebRTC
offer; the node answers each (aiortc), terminating both peer connections, and relays each side's audio and video
to the other. Co-view messages (view, show, pointer, hotspot, offer) pass through the hub, checked field by field.

Modules:

- `messages`: checking and copying every message (pure; `BadMessage`).
- `hub`: `CallHub`, the state (queue, consoles, live calls), `AdvisorLimits`, and the per-socket `Outbox`.
- `relay`: `CallMedia`, the two peer connections of a call and the forwarding tracks between them.
- `routes`: the two WebSocket handlers, their OpenAPI operations, and `setup(app)`.

docs/advisor.md, "The node: signalling and relay", is the protocol.
"""
