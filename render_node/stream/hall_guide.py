"""One hall session's digital guide (docs/streams.md, "Hall mode"): where it is and what it does
(`render_node.hall.guide_walk`), the `guide` replies and the news a client was not told of yet, and where a
customer who follows it stands. The session (render_node/stream/hall.py) owns the customer, the floor and the
refusals; this keeps the guide's own state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from showroom_protocol.hall import GuideReset, GuideSay, GuideWalk

from render_node.hall import guide_walk
from render_node.hall.layout import HallPlan
from render_node.hall.scene import GuideFigure
from render_node.hall.walkable import HallFloor

FloorPoint = tuple[float, float]


class SessionGuide:
    """The guide of one session: at the entrance at first; `glb` None means the node has no guide."""

    def __init__(self, plan: HallPlan, glb: Path | None, clock: Callable[[], float]) -> None:
        self.plan = plan
        self.glb = glb
        self.clock = clock
        self.state = guide_walk.at_entrance(plan, clock())
        self.following = False
        self._walks = 0
        self._told: tuple[int, str] | None = None
        """(walk number, activity) the client was last told of."""

    def figure(self) -> GuideFigure | None:
        """The guide at its pose now, for the frame (None without a guide model)."""
        if self.glb is None:
            return None
        return GuideFigure(self.glb, guide_walk.pose_at(self.state, self.clock()))

    def block(self) -> dict[str, Any] | None:
        """The guide now, as the `guide` reply and the welcome say it; None without a guide model."""
        if self.glb is None:
            return None
        now = self.clock()
        pose = guide_walk.pose_at(self.state, now)
        walk = self.state.activity
        return {"at": [round(pose.position_m[0], 4), 0.0, round(pose.position_m[2], 4)],
                "yaw_deg": round(pose.yaw_deg, 3), "activity": pose.activity,
                "to": walk.zone if isinstance(walk, guide_walk.Walking) else None,
                "eta_s": round(guide_walk.eta_s(self.state, now), 3), "follow": self.following,
                "speaking": guide_walk.speaking(self.state, now)}

    def reply(self, rid: int | None) -> dict[str, Any]:
        block = self.block()
        assert block is not None
        reply = {"type": "guide", **block}
        if rid is not None:
            reply["id"] = rid
        walk = self.state.activity
        self._told = (self._walks, str(block["activity"])) if isinstance(walk, guide_walk.Walking) else None
        return reply

    def handle(self, msg: GuideWalk | GuideReset | GuideSay, floor: Callable[[], HallFloor],
               customer_m: FloorPoint | None) -> dict[str, Any]:
        """The `guide` reply to a guide message. `customer_m`: where the customer stands when they follow a walk
        (None: they do not). KeyError for an unknown zone, guide_walk.NoPath when the guide cannot get there."""
        now = self.clock()
        if isinstance(msg, GuideSay):
            self.state = guide_walk.say(self.state, msg.visemes, now)
            return self.reply(msg.id)
        self.following = False
        if isinstance(msg, GuideReset):
            self.state = guide_walk.reset(self.plan, self.state, now)
            return self.reply(msg.id)
        self.plan.zone(msg.to)
        self.state = guide_walk.walk_to(self.state, self.plan, floor(), msg.to, now, customer_m=customer_m)
        self._walks += 1
        self.following = customer_m is not None
        return self.reply(msg.id)

    def news(self) -> dict[str, Any] | None:
        """A `guide` message when a walk the client was told of has moved on (arrived and turned to point, back
        at rest), else None."""
        if self._told is None or self.glb is None:
            return None
        activity = guide_walk.activity_at(self.state, self.clock())
        if self._told == (self._walks, activity) or activity == "turning":
            return None
        reply = self.reply(None)
        if activity == "idle":
            self._told = None
        return reply

    def follow(self) -> tuple[FloorPoint, float] | None:
        """Where the following customer stands now and faces (a view yaw); None when no one follows. The first
        call after the walk is over gives the walk's last place, and following stops."""
        if not self.following:
            return None
        now = self.clock()
        at = guide_walk.follow_at(self.state, now)
        walk = self.state.activity
        if at is None or not isinstance(walk, guide_walk.Walking) or now >= walk.done_s:
            self.following = False
        return at
