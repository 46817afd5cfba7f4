"""The 5G-like link rig (bench/linkrig): its shaper's delay line on its own, then a real link (a client namespace
behind the shaper and tc tbf) measured from both ends. The real link needs root, /dev/net/tun, `ip` and `tc`; it
skips with the reason where they are missing (CI here runs as root, so it runs there)."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys

import pytest

from bench.linkrig.measure import tcp_bulk, udp_echo
from bench.linkrig.netns import ROOT, leftovers, link, missing_requirements, tun_names
from bench.linkrig.profiles import profile
from bench.linkrig.shaper import DelayLine, lines_for

TEST_NS = "sht"
TEST_SUBNET = 3
"""Apart from a link brought up by hand (shc, 10.77.0.0/24) and the benchmark's (shb, 10.77.2.0/24)."""


@pytest.fixture
def link_allowed() -> None:
    missing = missing_requirements()
    if missing:
        pytest.skip("a real link needs: " + "; ".join(missing))


def test_delay_line_holds_each_packet_for_the_delay_and_keeps_their_order() -> None:
    down, _ = lines_for(profile("typical"), random.Random(7))
    for i in range(2000):
        down.admit(i.to_bytes(4, "big"), now=i * 0.001)
    released: list[tuple[float, int]] = []
    t = 0.0
    while len(down):
        released += [(t, int.from_bytes(p, "big")) for p in down.pop_due(t)]
        t += 0.0005
    order = [seq for _, seq in released]
    assert order == sorted(order)
    held_ms = [(at - seq * 0.001) * 1000 for at, seq in released]
    assert 18 <= statistics.median(held_ms) <= 23  # 20 ms one way, jitter sigma 3.1 ms, in order


def test_delay_line_drops_about_the_profiles_share_and_bounds_its_queue() -> None:
    line = DelayLine(delay_s=1.0, sigma_s=0.0, loss=0.01, rng=random.Random(3), max_held=50000)
    kept = sum(line.admit(b"x", now=0.0) for _ in range(40000))
    assert 0.008 <= line.counters.lost / 40000 <= 0.012
    assert kept == len(line)
    small = DelayLine(delay_s=1.0, sigma_s=0.0, loss=0.0, rng=random.Random(3), max_held=10)
    for _ in range(15):
        small.admit(b"x", now=0.0)
    assert (len(small), small.counters.overflow) == (10, 5)


def test_delay_line_reshaped_delays_new_packets_by_the_new_profile_and_keeps_order() -> None:
    line = DelayLine(delay_s=0.02, sigma_s=0.0, loss=0.0, rng=random.Random(1))
    line.admit(b"a", now=0.0)
    line.reshape(profile("edge"))
    assert (line.delay_s, line.loss) == (0.04, 0.01) and line.sigma_s > 0
    line.reshape(profile("good"))
    line.admit(b"b", now=0.001)
    # b: 10 ms on good, but never before a (20 ms, admitted before the change): they leave together, in order
    assert line.pop_due(0.015) == [] and line.pop_due(0.0205) == [b"a", b"b"]


def test_a_running_link_switches_profile(link_allowed: None) -> None:
    with link(profile("typical"), TEST_NS, subnet=TEST_SUBNET, seed=2) as ln:
        assert 30 <= udp_echo(ln, 60, 0.05).rtt_ms(50) <= 50
        ln.set_profile(profile("edge"))
        assert 70 <= udp_echo(ln, 60, 0.05).rtt_ms(50) <= 100  # 80 ms
        assert ln.status()["profile"] == "edge"
        ln.set_profile(profile("typical"))
        assert 30 <= udp_echo(ln, 60, 0.05).rtt_ms(50) <= 50
    assert leftovers(TEST_NS) == []


def test_typical_link_delays_drops_and_caps_like_its_profile(link_allowed: None) -> None:
    typical = profile("typical")
    with link(typical, TEST_NS, subnet=TEST_SUBNET, seed=1) as ln:
        pings = udp_echo(ln, 150, 0.02)
        assert 30 <= pings.rtt_ms(50) <= 50  # 40 ms
        assert 1 <= pings.jitter_ms <= 12  # 5 ms
        # 0.1 % each way: ~8 of 4000 round trips; zero would mean the loss draw is off, over 1 % that it is far off
        burst = udp_echo(ln, 4000, 0.001, linger_s=0.5)
        assert 0 < burst.round_trip_loss <= 0.01
        ln.set_rate(20, 20)
        bulk = tcp_bulk(ln, 3.0, direction="down")
        assert 12 <= bulk.mbit(1.0) <= 20.5
        assert ln.status()["down"]["lost"] > 0
    assert leftovers(TEST_NS) == []


def test_link_brought_up_from_the_command_line_leaves_nothing_after_down(link_allowed: None) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench.linkrig.netns", *args, "--ns", TEST_NS,
                               "--subnet", str(TEST_SUBNET)], cwd=ROOT, capture_output=True, text=True, timeout=30)

    try:
        started = cli("up", "--profile", "edge")
        assert started.returncode == 0, started.stderr
        present = leftovers(TEST_NS)
        assert f"namespace {TEST_NS}" in present and any(p.startswith("shaper process") for p in present)
    finally:
        stopped = cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert leftovers(TEST_NS) == []
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=5).stdout
    assert not any(name in links for name in tun_names(TEST_NS))
