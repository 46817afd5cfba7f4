"""5G-like links (issue 15), part 1: the link rig measured on its own, before anything of the product goes
through it. For each profile of bench/linkrig/profiles.py a link comes up (bench/linkrig/netns.py: a client namespace
joined to this one through the user-space shaper and tc tbf) and is measured from both ends in this process
(bench/linkrig/measure.py):

(1) round trips: --pings UDP echoes from the client namespace, one every 50 ms (p50/p99, jitter as the mean
    |difference| of consecutive round trips; spaced wider than any profile's jitter, see docs/links.md);
(2) loss: --loss-packets datagrams at 5000 a second (64 bytes, well under every rate), counted at the echo
    (phone -> node) and back (node -> phone);
(3) throughput: one TCP connection (the kernel's default congestion control) sending for --seconds each way,
    the mean after the first second; and once more downwards with the profile's loss off, to show the cap alone;
(4) the mid-session drop (profile `drop`): one TCP download for 2 x drop_after_s seconds while the shaper
    lowers the rate from 100 to 5 Mbit/s, with a UDP echo every 20 ms beside it: throughput and round trips
    per second, before and after;
(5) the rig's own floor and ceiling: no delay, no loss, a 10 Gbit/s bucket.

Part 2 (bench/linkrig/part2.py): the product through each profile, the node and nginx here, the clients in the
link's namespace: the VR stream (JPEG and H.264: stereo pairs/s, pose-to-frame p50/p99, stalls), a 360 view set
through nginx (first frame, all 108), the try-on stream (replies/s), `edge` without its loss (does TCP's
head-of-line blocking make the tail?), and the 100 -> 5 -> 100 Mbit/s drop under the VR stream (how long until
the frames fit the new rate, and until they are back to their size).

Usage: .venv/bin/python bench/links.py [--parts 1,2] [--profiles good,typical,edge] [--pings 300]
                                       [--loss-packets 50000] [--seconds 8] [--quick] [--out DIR]
Needs root. Writes bench/results/links.md (or --out DIR); prints the tables; with part 2 also links.png beside it
(bench/linkrig/plot.py: the drop over time, each profile's VR latency and pairs/s). Part 1 takes about 4 minutes
with the defaults, part 2 about 7 (--quick: 1.5 and 4). Run with --parts 2 only, the file keeps part 1 as it was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402
from bench.linkrig.measure import BulkResult, EchoResult, tcp_bulk, udp_echo  # noqa: E402
from bench.linkrig.netns import TBF_LATENCY_MS, link, missing_requirements  # noqa: E402
from bench.linkrig.profiles import PROFILES, Profile, profile  # noqa: E402

PART2_TITLE = "## Part 2: the product through each profile"

NS = "shb"
"""The benchmark's namespace and subnet, apart from a link someone brought up by hand (shc, 10.77.0.0/24)."""
SUBNET = 2
LOSS_INTERVAL_S = 0.0002
PING_INTERVAL_S = 0.05


def _ms(x: float) -> str:
    return f"{x:.1f} ms"


def _pct(x: float) -> str:
    return f"{x * 100:.3f} %"


def measure_profile(p: Profile, *, pings: int, loss_packets: int, seconds: float) -> dict[str, object]:
    with link(p, NS, subnet=SUBNET) as ln:
        echo = udp_echo(ln, pings, PING_INTERVAL_S)
        loss = udp_echo(ln, loss_packets, LOSS_INTERVAL_S)
        down = tcp_bulk(ln, seconds, direction="down")
        up = tcp_bulk(ln, seconds, direction="up")
        counters = ln.status()
        counters["bucket_drops"] = ln.bucket_drops()
    with link(p.without_loss(), NS, subnet=SUBNET) as ln:
        cap = tcp_bulk(ln, seconds, direction="down")
    return {"echo": echo, "loss": loss, "down": down, "up": up, "cap": cap, "counters": counters}


def profile_rows(p: Profile, m: dict[str, object]) -> list[str]:
    echo, loss = m["echo"], m["loss"]
    down, up, cap = m["down"], m["up"], m["cap"]
    assert isinstance(echo, EchoResult) and isinstance(loss, EchoResult)
    assert isinstance(down, BulkResult) and isinstance(up, BulkResult) and isinstance(cap, BulkResult)
    return [
        f"| {p.name} | {p.rtt_ms:g} / {p.jitter_ms:g} ms | {_ms(echo.rtt_ms(50))} | {_ms(echo.rtt_ms(99))} | "
        f"{_ms(echo.jitter_ms)} | {_pct(p.loss)} | {_pct(loss.up_loss)} / {_pct(loss.down_loss)} | "
        f"{p.down_mbit:g} | {down.mbit(1.0):.1f} / {up.mbit(1.0):.1f} | {cap.mbit(1.0):.1f} |",
    ]


def measure_drop(p: Profile) -> tuple[BulkResult, EchoResult, float]:
    """The download and the echo beside it; the drop's time in seconds after the download's start."""
    assert p.drop_after_s is not None
    seconds = 2 * p.drop_after_s
    with link(p, NS, subnet=SUBNET) as ln:
        echo_box: list[EchoResult] = []
        pinger = threading.Thread(target=lambda: echo_box.append(udp_echo(ln, int(seconds / 0.02), 0.02)))
        pinger.start()
        bulk = tcp_bulk(ln, seconds, direction="down")
        pinger.join()
        dropped = ln.status()["rate_dropped_monotonic"]
    drop_s = (dropped - bulk.start_monotonic) if dropped is not None else float("nan")
    return bulk, echo_box[0], drop_s


def drop_rows(bulk: BulkResult, echo: EchoResult, drop_s: float) -> list[str]:
    rows = ["| second | download Mbit/s | echo RTT p50 | echo RTT max | echoes lost |",
            "| ---: | ---: | ---: | ---: | ---: |"]
    per_s = round(1 / bulk.bins_s)
    series = bulk.series_mbit()
    for sec in range(int(bulk.seconds)):
        mbit = statistics.fmean(series[sec * per_s:(sec + 1) * per_s])
        rtts = [r for r, t in zip(echo.rtts_ms, echo.sent_s, strict=True) if sec <= t < sec + 1]
        expected = 50
        mark = " (drop)" if sec <= drop_s < sec + 1 else ""
        rows.append(f"| {sec}{mark} | {mbit:.1f} | {_ms(statistics.median(rtts)) if rtts else '-'} | "
                    f"{_ms(max(rtts)) if rtts else '-'} | {max(0, expected - len(rtts))} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="1,2", help="1: the rig alone; 2: the product through it")
    parser.add_argument("--profiles", default="good,typical,edge")
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--loss-packets", type=int, default=50000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--quick", action="store_true", help="fewer packets and seconds, to try the bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        print("bench/links.py: " + "; ".join(missing), file=sys.stderr)
        return 2
    parts = {x.strip() for x in args.parts.split(",")}
    part1 = part_one(args) if "1" in parts else _kept_part_one(args.out / "links.md")
    text = part1
    args.out.mkdir(parents=True, exist_ok=True)
    if "2" in parts:
        from bench.linkrig.part2 import part_two

        names = [n.strip() for n in args.profiles.split(",") if n.strip()]
        text = part1.rstrip("\n") + "\n\n" + part_two(args, names, PART2_TITLE, plot_path=args.out / "links.png")
    (args.out / "links.md").write_text(text)
    print(text)
    return 0


def _kept_part_one(path: Path) -> str:
    if not path.exists():
        raise SystemExit(f"{path} has no part 1 to keep: run with --parts 1,2")
    text = path.read_text()
    return text.split(PART2_TITLE)[0]


def part_one(args: argparse.Namespace) -> str:
    pings, loss_packets, seconds = args.pings, args.loss_packets, args.seconds
    if args.quick:
        pings, loss_packets, seconds = 100, 5000, 3.0
    args = argparse.Namespace(**{**vars(args), "pings": pings, "loss_packets": loss_packets, "seconds": seconds})
    started = time.monotonic()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_line = machine()
    load_start = os.getloadavg()
    names = [n.strip() for n in args.profiles.split(",") if n.strip()]

    floor_p = Profile("rig alone", rtt_ms=0, jitter_ms=0, loss=0, down_mbit=10000, up_mbit=10000)
    with link(floor_p, NS, subnet=SUBNET) as ln:
        floor_echo = udp_echo(ln, args.pings, PING_INTERVAL_S)
        floor_down = tcp_bulk(ln, args.seconds, direction="down")
        floor_up = tcp_bulk(ln, args.seconds, direction="up")
        floor_status = ln.status()

    results = {n: measure_profile(profile(n), pings=args.pings, loss_packets=args.loss_packets,
                                  seconds=args.seconds) for n in names}
    drop_p = PROFILES["drop"]
    if args.quick:
        drop_p = Profile(**{**drop_p.__dict__, "drop_after_s": 5.0})
    bulk, drop_echo, drop_s = measure_drop(drop_p)
    load_end = os.getloadavg()
    minutes = (time.monotonic() - started) / 60

    drop_at = int(drop_s) if drop_s == drop_s else int(drop_p.drop_after_s or 0)
    lines = [
        f"# Link rig: the shaper measured on its own ({when})",
        "",
        f"Machine: {machine_line}; load average {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f} "
        f"(1/5/15 min) at the start, {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} at the end; "
        f"{minutes:.1f} minutes in all.",
        "",
        "The link: a client namespace joined to the root namespace through two TUN devices and the user-space "
        "shaper (bench/linkrig/shaper.py: delay, jitter, loss, one Python process), the rate by tc tbf on each TUN "
        f"device (burst 4 ms of the rate, queue {TBF_LATENCY_MS} ms). Both ends measured from one Python process "
        "(bench/linkrig/measure.py), the client end's sockets made inside the namespace. TCP: one connection, "
        "the kernel's congestion control (" + _congestion_control() + "), MTU 1500 (payload 1448 bytes a "
        "packet: a link capped at R carries at most 0.965 R of TCP payload).",
        "",
        "## (1)-(3) Each profile: target and measured",
        "",
        f"Round trips: {args.pings} UDP echoes, one every {PING_INTERVAL_S * 1000:.0f} ms, idle link. Loss: {args.loss_packets} datagrams "
        f"at {1 / LOSS_INTERVAL_S:.0f}/s, counted at the echo (up) and back (down). TCP: {args.seconds:g} s each way, "
        "the mean after the first second; 'cap alone' is the download with the profile's loss off.",
        "",
        "| profile | target RTT / jitter | RTT p50 | RTT p99 | jitter | target loss (each way) | loss up / down | "
        "rate Mbit/s | TCP down / up Mbit/s | TCP down, cap alone |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in names:
        lines += profile_rows(profile(n), results[n])
    lines += [
        "",
        "The shaper's own counters (packets it dropped by the loss draw / all it received, both directions, over "
        "the whole profile run including the TCP transfers):",
        "",
    ]
    for n in names:
        c = results[n]["counters"]
        assert isinstance(c, dict)
        lost = c["down"]["lost"] + c["up"]["lost"]
        received = c["down"]["received"] + c["up"]["received"]
        overflow = c["down"]["overflow"] + c["up"]["overflow"]
        bucket_down, bucket_up = c["bucket_drops"]
        lines.append(f"- {n}: {lost} / {received} = {_pct(lost / received if received else 0)} "
                     f"(target {_pct(profile(n).loss)}); the shaper's queue overflows {overflow}; "
                     f"the token buckets dropped {bucket_down} down, {bucket_up} up (TCP filling the queue)")
    lines += [
        "",
        f"## (4) Mid-session drop: {drop_p.down_mbit:g} -> {drop_p.drop_to_mbit:g} Mbit/s "
        f"{drop_p.drop_after_s:g} s into a TCP download",
        "",
        f"Profile `drop` (otherwise `typical`). The shaper applied the drop {drop_s:.2f} s after the download "
        "started; a UDP echo every 20 ms ran beside it.",
        "",
        f"Download before the drop (1 s to the drop): {bulk.mbit(1.0, drop_at):.1f} Mbit/s; "
        f"after it (from 1 s after the drop): {bulk.mbit(drop_at + 1.0):.1f} Mbit/s.",
        "",
        *drop_rows(bulk, drop_echo, drop_s),
        "",
        "## (5) The rig alone: no delay, no loss, a 10 Gbit/s bucket",
        "",
        f"RTT p50 {_ms(floor_echo.rtt_ms(50))}, p99 {_ms(floor_echo.rtt_ms(99))} (what the rig itself adds to every "
        f"profile's round trip: the TUN devices, the shaper's wake-ups, the echo threads); TCP "
        f"{floor_down.mbit(1.0):.0f} Mbit/s down, {floor_up.mbit(1.0):.0f} Mbit/s up (the shaper's ceiling on this "
        f"CPU: one Python process moving every packet); queue overflows "
        f"{floor_status['down']['overflow'] + floor_status['up']['overflow']}.",
        "",
    ]
    return "\n".join(lines)


def _congestion_control() -> str:
    try:
        return Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text().strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
