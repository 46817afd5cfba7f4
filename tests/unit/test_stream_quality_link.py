"""Adaptive quality that follows the link: `LinkBudget` from the socket's counters (fake clock, known answers),
the controller under a 100 -> 5 Mbit/s drop, and the socket probe on a real TCP connection."""

from __future__ import annotations

import asyncio
import itertools
import socket

import pytest

from render_node.stream._link import LinkProbe
from render_node.stream.quality import FrameBudget, LinkBudget, QualityController


class FakeLink:
    """A link of `mbit` that drains a sender's backlog; the sender writes `frame_bytes` every 1/fps seconds."""

    def __init__(self, mbit: float) -> None:
        self.mbit = mbit
        self.written = 0
        self.delivered = 0.0

    def advance(self, dt_s: float) -> None:
        self.delivered = min(float(self.written), self.delivered + self.mbit * 1e6 / 8 * dt_s)

    @property
    def backlog(self) -> int:
        return self.written - int(self.delivered)


def run(link: FakeLink, budget: LinkBudget, controller: QualityController | None, *, start_s: float,
        seconds: float, fps: float = 30.0, frame_bytes: int = 40_000) -> list[tuple[float, float, int]]:
    """Sends frames for `seconds`; a frame's size follows the controller (bytes ~ quality x scale^2) when given.
    Returns (time, budget kbps, frame bytes) per frame."""
    out = []
    t = start_s
    while t < start_s + seconds:
        link.advance(1 / fps)
        t += 1 / fps
        size = frame_bytes
        if controller is not None:
            q = controller.current
            size = int(frame_bytes * (q.jpeg_quality / 80) * q.scale ** 2)
        if link.backlog > 2 * size:
            continue  # the sender's send is still waiting (TCP_NOTSENT_LOWAT): no frame this tick
        budget.observe(t, int(link.delivered), link.backlog)
        link.written += size
        if controller is not None:
            controller.observe(size, busy_s=0.005, link_kbps=budget.kbps)
        out.append((t, budget.kbps, size))
    return out


def test_a_link_with_room_keeps_the_ceiling() -> None:
    budget = LinkBudget(ceiling_kbps=50_000)
    run(FakeLink(100), budget, None, start_s=0, seconds=5, frame_bytes=40_000)  # 9.6 Mbit/s on 100
    assert budget.kbps == 50_000 and not budget.limited


def test_a_backlogged_link_sets_the_budget_to_what_it_drains() -> None:
    budget = LinkBudget(ceiling_kbps=50_000)
    link = FakeLink(5)
    rows = run(link, budget, None, start_s=0, seconds=3, frame_bytes=40_000)  # 9.6 Mbit/s wanted on 5
    assert budget.limited
    assert budget.measured_kbps == pytest.approx(5000, rel=0.05)
    assert budget.kbps == pytest.approx(5000 * LinkBudget.HEADROOM, rel=0.05)
    first_low = next(t for t, kbps, _ in rows if kbps < 50_000)
    assert first_low <= 1.1, "one window of backlog is enough"


def test_the_budget_climbs_back_when_the_backlog_clears() -> None:
    budget = LinkBudget(ceiling_kbps=50_000)
    link = FakeLink(5)
    run(link, budget, None, start_s=0, seconds=3, frame_bytes=40_000)
    low = budget.kbps
    link.mbit = 100
    rows = run(link, budget, None, start_s=3, seconds=12, frame_bytes=40_000)
    assert budget.kbps == 50_000 and not budget.limited
    kbps_by_second = [kbps for t, kbps, _ in rows if abs(t - round(t)) < 1 / 60]
    assert all(b >= a for a, b in itertools.pairwise(kbps_by_second)), "no fall on a clear link"
    # x1.5 a window from ~4250: 50 000 is 7 steps away, one window each after 2 s clear
    reached = next(t for t, kbps, _ in rows if kbps == 50_000)
    assert 3 + 7 <= reached <= 3 + 11 and low < 5000


def test_on_a_drop_the_frames_fit_the_new_budget_within_seconds_and_climb_back() -> None:
    budget = LinkBudget(ceiling_kbps=50_000)
    controller = QualityController(FrameBudget(target_fps=30, max_kbps=50_000))
    link = FakeLink(100)
    before = run(link, budget, controller, start_s=0, seconds=5, frame_bytes=120_000)  # 28.8 Mbit/s at q80
    assert before[-1][2] >= 120_000, "100 Mbit/s carries the full quality"
    link.mbit = 5
    after = run(link, budget, controller, start_s=5, seconds=10, frame_bytes=120_000)
    fits = [t for t, _, size in after if size * 8 * 30 / 1000 <= 5000]
    assert fits and fits[0] - 5 < 4, f"frames fit 5 Mbit/s only {fits[0] - 5 if fits else None} s after the drop"
    later = [size * 8 * 30 / 1000 for t, _, size in after if t > fits[0] + 1]
    over = sum(kbps > 5000 for kbps in later)
    assert over <= 0.25 * len(later), f"{over} of {len(later)} frames over 5 Mbit/s: probes only, not the rule"
    assert sorted(later)[len(later) // 2] <= 5000
    link.mbit = 100
    back = run(link, budget, controller, start_s=15, seconds=60, frame_bytes=120_000)
    assert back[-1][2] >= 100_000, "room again: quality and resolution climb back"


def test_without_the_link_budget_the_hello_ceiling_alone_keeps_frames_over_a_dropped_link() -> None:
    controller = QualityController(FrameBudget(target_fps=30, max_kbps=50_000))
    for _ in range(300):
        controller.observe(120_000, busy_s=0.005)
    assert controller.current.jpeg_quality >= 80 and controller.current.scale == 1.0


@pytest.mark.asyncio
async def test_the_probe_reads_a_real_sockets_backlog() -> None:
    """A peer that does not read: the sender's backlog grows, nothing more is delivered past the buffers."""
    accepted: list[asyncio.StreamWriter] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # never reads

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    probe = LinkProbe.of(writer.transport)
    assert probe is not None
    sock = writer.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT) == 128 * 1024
    written = 0
    for _ in range(200):
        writer.write(b"x" * 65536)
        written += 65536
        await asyncio.sleep(0)
    delivered, backlog = probe.counters(written)
    assert backlog > 1_000_000 and delivered < written - 1_000_000
    writer.transport.abort()
    for peer in accepted:
        peer.transport.abort()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)


def test_far_under_the_budget_quality_climbs_in_bigger_steps() -> None:
    from render_node.stream.quality import Quality

    far = QualityController(FrameBudget(target_fps=30, max_kbps=50_000), start=Quality(35, 0.4))
    near = QualityController(FrameBudget(target_fps=30, max_kbps=50_000), start=Quality(35, 0.4))
    for _ in range(QualityController.RAISE_AFTER + 2):
        far.observe(10_000, busy_s=0.001)  # 2.4 Mbit/s of 50: under a quarter
        near.observe(100_000, busy_s=0.001)  # 24 Mbit/s: under 0.6 but not a quarter
    assert far.current == Quality(35, 0.5) and near.current == Quality(35, 0.44)
