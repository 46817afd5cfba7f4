"""A client network namespace joined to this machine's own (the root namespace) through the shaper: the phone's
end of a 5G-like link, for benchmarks and tests of the node.

    root namespace                                           namespace `shc`
    10.77.N.1 on shc-r  <-- tbf (down rate) -- shaper -->    shc-c 10.77.N.2
                        -- shaper (delay, jitter, loss) <-- tbf (up rate) on shc-c

Two TUN devices, owned by the shaper process (bench/linkrig/shaper.py): `<ns>-r` stays in the root namespace,
`<ns>-c` is moved into the client namespace. Point-to-point addresses in 10.77.N.0/24 (N = `subnet`, default 0) and
the namespace's loopback are all there is: no default route, no IPv6, nothing else reachable from the namespace.
The rate limit is the kernel's token bucket (tc tbf) on each TUN device's egress; delay, jitter and loss are the
shaper's. A server in the root namespace bound to 10.77.N.1 (or 0.0.0.0) is what the client reaches.

    python -m bench.linkrig.netns up --profile typical     # or good, edge, drop; prints the addresses
    ip netns exec shc curl http://10.77.0.1:8080/        # anything run in the namespace goes through the link
    python -m bench.linkrig.netns rate --down 5 --up 5     # change the rate now
    python -m bench.linkrig.netns profile --profile edge   # switch the running link to another profile
    python -m bench.linkrig.netns status                   # the shaper's counters
    python -m bench.linkrig.netns down                     # the shaper, both devices and the namespace go

In code: `with link(profile("typical")) as ln:` then `ln.socket(...)` makes a socket inside the namespace. `up`
first clears what an earlier run left; `down` ends the shaper (SIGTERM, then SIGKILL after 2 s) and deletes the
namespace and devices, never raises for what is already gone, and every command it runs has a timeout. One link
per namespace name and subnet at a time. Needs root, /dev/net/tun, `ip` and `tc`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.linkrig.profiles import PROFILES, Profile, profile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NS = "shc"
COMMAND_TIMEOUT_S = 5.0
READY_TIMEOUT_S = 10.0
TBF_LATENCY_MS = 100
"""How long a packet may wait in the token bucket before it is dropped: the queue holds 100 ms at the rate."""
CLONE_NEWNET = 0x40000000


class LinkError(RuntimeError):
    """The link could not be set up (missing tools or rights, a command failed)."""


def missing_requirements() -> list[str]:
    """Why a link cannot be made on this machine: empty when it can."""
    missing = []
    if os.geteuid() != 0:
        missing.append("not root (network namespaces and TUN devices need CAP_NET_ADMIN)")
    if not os.path.exists("/dev/net/tun"):
        missing.append("no /dev/net/tun")
    missing += [f"no `{tool}` on PATH" for tool in ("ip", "tc") if shutil.which(tool) is None]
    return missing


def addresses(subnet: int) -> tuple[str, str]:
    """(root side, client side) of link `subnet`."""
    if not 0 <= subnet <= 255:
        raise ValueError(f"subnet must be 0..255, not {subnet}")
    return f"10.77.{subnet}.1", f"10.77.{subnet}.2"


def tun_names(ns: str) -> tuple[str, str]:
    if len(ns) > 12:
        raise ValueError(f"namespace name {ns!r} too long: its devices are {ns}-r and {ns}-c (15 characters at most)")
    return f"{ns}-r", f"{ns}-c"


def state_dir(ns: str) -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    return base / "showroom-links" / ns


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise LinkError(f"`{' '.join(argv)}` took more than {COMMAND_TIMEOUT_S:.0f} s") from exc
    if check and done.returncode != 0:
        raise LinkError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")
    return done


def tbf_args(mbit: float) -> list[str]:
    """tc's token-bucket arguments for `mbit` Mbit/s: a burst of 4 ms at the rate (at least 32 KiB, so the
    kernel's timer granularity does not cap the rate), a queue of TBF_LATENCY_MS."""
    rate_bit = int(mbit * 1e6)
    burst_b = max(32 * 1024, rate_bit // 8 * 4 // 1000)
    return ["tbf", "rate", f"{rate_bit}bit", "burst", str(burst_b), "latency", f"{TBF_LATENCY_MS}ms"]


def apply_rate(ns: str, root_tun: str, client_tun: str, down_mbit: float, up_mbit: float) -> None:
    """Sets (or changes) the rate of both directions at once: down on the root side's egress, up on the client's."""
    _run("tc", "qdisc", "replace", "dev", root_tun, "root", *tbf_args(down_mbit))
    _run("tc", "-n", ns, "qdisc", "replace", "dev", client_tun, "root", *tbf_args(up_mbit))


def namespaces() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def device_exists(name: str, ns: str | None = None) -> bool:
    argv = ["ip", *(["-n", ns] if ns else []), "link", "show", "dev", name]
    return _run(*argv, check=False).returncode == 0


def leftovers(ns: str = DEFAULT_NS) -> list[str]:
    """What of link `ns` is still there: the namespace, its root-side device, shaper processes."""
    root_tun, _ = tun_names(ns)
    found = [f"namespace {ns}"] if ns in namespaces() else []
    found += [f"device {root_tun}"] if device_exists(root_tun) else []
    found += [f"shaper process {pid}" for pid in _shaper_pids(ns)]
    return found


def _shaper_pids(ns: str) -> list[int]:
    """Shaper processes of link `ns`: their command line names the module and this namespace."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bench.linkrig.shaper" in argv and b"--ns" in argv:
            i = argv.index(b"--ns")
            if i + 1 < len(argv) and argv[i + 1] == ns.encode():
                pids.append(int(entry.name))
    return pids


def _end_process(pid: int, grace_s: float = 2.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def down(ns: str = DEFAULT_NS) -> list[str]:
    """Removes link `ns` (shaper, devices, namespace, state); returns what it removed. Never raises for what is
    already gone."""
    removed = []
    root_tun, _ = tun_names(ns)
    for pid in _shaper_pids(ns):
        _end_process(pid)
        removed.append(f"shaper process {pid}")
    if ns in namespaces():
        _run("ip", "netns", "del", ns, check=False)
        removed.append(f"namespace {ns}")
    if device_exists(root_tun):
        _run("ip", "link", "del", root_tun, check=False)
        removed.append(f"device {root_tun}")
    shutil.rmtree(state_dir(ns), ignore_errors=True)
    return removed


@dataclass
class Link:
    ns: str
    profile: Profile
    root_addr: str
    client_addr: str
    root_tun: str
    client_tun: str
    shaper: subprocess.Popen[bytes] | None
    """The shaper process when this process started it (None for a link found by `status`)."""

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket inside the client namespace."""
        return socket_in(self.ns, family, kind)

    def set_rate(self, down_mbit: float, up_mbit: float) -> None:
        apply_rate(self.ns, self.root_tun, self.client_tun, down_mbit, up_mbit)

    def set_profile(self, prof: Profile) -> None:
        """Switches the running link to `prof` (e.g. typical -> edge mid-session): the shaper takes its delay,
        jitter and loss for the packets that arrive from now on (SIGUSR1 + profile.json), tbf its rate.
        A `drop` in `prof` is not scheduled again."""
        set_profile(self.ns, prof)
        self.profile = prof

    def bucket_drops(self) -> tuple[int, int]:
        """Packets the token buckets dropped so far (queue full), (down, up): not the profile's loss."""
        found = []
        for argv in (["tc", "-s", "qdisc", "show", "dev", self.root_tun],
                     ["tc", "-n", self.ns, "-s", "qdisc", "show", "dev", self.client_tun]):
            words = _run(*argv).stdout.replace(",", " ").split()
            found.append(int(words[words.index("dropped") + 1]) if "dropped" in words else 0)
        return found[0], found[1]

    def status(self) -> dict[str, Any]:
        """The shaper's status.json: counters per direction, when the rate drop was applied."""
        data: dict[str, Any] = json.loads((state_dir(self.ns) / "status.json").read_text())
        return data

    def down(self) -> list[str]:
        removed = down(self.ns)
        if self.shaper is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.shaper.wait(timeout=1)
        return removed


def socket_in(ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket made inside namespace `ns` (a socket keeps the namespace it was made in): a short thread enters
    the namespace (setns applies to the calling thread only), makes it, and ends."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/run/netns/{ns}") as f:
                if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {ns} failed")
            made.append(socket.socket(family, kind))
        except BaseException as exc:  # handed to the caller's thread
            made.append(exc)

    thread = threading.Thread(target=make, name=f"setns-{ns}")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def set_profile(ns: str, prof: Profile) -> None:
    """Switches running link `ns` to `prof` (see `Link.set_profile`)."""
    pids = _shaper_pids(ns)
    if not pids:
        raise LinkError(f"no shaper of link {ns} is running")
    path = state_dir(ns) / "profile.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(prof)))
    tmp.replace(path)
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    root_tun, client_tun = tun_names(ns)
    apply_rate(ns, root_tun, client_tun, prof.down_mbit, prof.up_mbit)


def _ipv6_off(device: str, ns: str | None) -> None:
    path = f"/proc/sys/net/ipv6/conf/{device}/disable_ipv6"
    if ns is None:
        with contextlib.suppress(OSError):
            Path(path).write_text("1")
    else:
        _run("ip", "netns", "exec", ns, "sh", "-c", f"[ ! -e {path} ] || echo 1 > {path}", check=False)


def up(prof: Profile, ns: str = DEFAULT_NS, *, subnet: int = 0, seed: int | None = None,
       die_with_parent: bool = False) -> Link:
    """Makes link `ns` with `prof` (after removing what an earlier run left); on any failure removes it again."""
    missing = missing_requirements()
    if missing:
        raise LinkError("cannot make a link here: " + "; ".join(missing))
    root_tun, client_tun = tun_names(ns)
    root_addr, client_addr = addresses(subnet)
    down(ns)
    state = state_dir(ns)
    state.mkdir(parents=True, exist_ok=True)
    shaper: subprocess.Popen[bytes] | None = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        argv = [sys.executable, "-m", "bench.linkrig.shaper", "--ns", ns, "--root-tun", root_tun,
                "--client-tun", client_tun, "--profile-json", json.dumps(dataclasses.asdict(prof)),
                "--state-dir", str(state)]
        argv += ["--seed", str(seed)] if seed is not None else []
        argv += ["--die-with-parent"] if die_with_parent else []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(state / "shaper.log", "ab") as log:
            shaper = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                                      stdin=subprocess.DEVNULL, start_new_session=not die_with_parent)
        _wait_ready(shaper, state)
        _run("ip", "link", "set", client_tun, "netns", ns)
        _ipv6_off(root_tun, None)
        _ipv6_off(client_tun, ns)
        _run("ip", "addr", "add", root_addr, "peer", client_addr, "dev", root_tun)
        _run("ip", "-n", ns, "addr", "add", client_addr, "peer", root_addr, "dev", client_tun)
        _run("ip", "link", "set", root_tun, "up")
        _run("ip", "-n", ns, "link", "set", client_tun, "up")
        apply_rate(ns, root_tun, client_tun, prof.down_mbit, prof.up_mbit)
    except BaseException:
        down(ns)
        raise
    return Link(ns, prof, root_addr, client_addr, root_tun, client_tun, shaper)


def _wait_ready(shaper: subprocess.Popen[bytes], state: Path) -> None:
    assert shaper.stdout is not None
    ready, _, _ = select.select([shaper.stdout], [], [], READY_TIMEOUT_S)
    line = shaper.stdout.readline() if ready else b""
    shaper.stdout.close()
    if line.strip() != b"ready":
        log = (state / "shaper.log").read_text(errors="replace")[-2000:]
        raise LinkError(f"the shaper did not start within {READY_TIMEOUT_S:.0f} s: {log or 'no output'}")


@contextlib.contextmanager
def link(prof: Profile, ns: str = DEFAULT_NS, *, subnet: int = 0, seed: int | None = None) -> Iterator[Link]:
    """`up` for the block, `down` after it (also on error). The shaper ends with this process if it dies."""
    ln = up(prof, ns, subnet=subnet, seed=seed, die_with_parent=True)
    try:
        yield ln
    finally:
        ln.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linkrig.netns",
                                     description="A 5G-like link between this machine and a client namespace.")
    parser.add_argument("command", choices=["up", "down", "rate", "profile", "status"])
    parser.add_argument("--ns", default=DEFAULT_NS, help=f"the client namespace (default {DEFAULT_NS})")
    parser.add_argument("--profile", default="typical", choices=sorted(PROFILES))
    parser.add_argument("--subnet", type=int, default=0, help="N of 10.77.N.0/24 (default 0)")
    parser.add_argument("--seed", type=int, default=None, help="the shaper's random seed")
    parser.add_argument("--down", type=float, help="rate: node -> phone, Mbit/s")
    parser.add_argument("--up", type=float, help="rate: phone -> node, Mbit/s")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            ln = up(profile(args.profile), args.ns, subnet=args.subnet, seed=args.seed)
            p = ln.profile
            print(f"link {ln.ns} up ({p.name}: RTT {p.rtt_ms:g} ms, jitter {p.jitter_ms:g} ms, loss {p.loss:.2%}, "
                  f"{p.down_mbit:g}/{p.up_mbit:g} Mbit/s down/up"
                  + (f", {p.drop_to_mbit:g} Mbit/s after {p.drop_after_s:g} s" if p.drop_to_mbit else "") + ")")
            print(f"root side {ln.root_addr} on {ln.root_tun}; client side {ln.client_addr} on {ln.client_tun} "
                  f"in namespace {ln.ns} (ip netns exec {ln.ns} ...)")
        elif args.command == "down":
            removed = down(args.ns)
            print("removed: " + (", ".join(removed) if removed else "nothing (no link)"))
        elif args.command == "profile":
            set_profile(args.ns, profile(args.profile))
            print(f"link {args.ns} now shapes as {args.profile}")
        elif args.command == "rate":
            if args.down is None or args.up is None:
                parser.error("rate needs --down and --up")
            apply_rate(args.ns, *tun_names(args.ns), args.down, args.up)
            print(f"rate of {args.ns}: {args.down:g} Mbit/s down, {args.up:g} Mbit/s up")
        else:
            path = state_dir(args.ns) / "status.json"
            print(path.read_text() if path.exists() else f"no link {args.ns}")
    except LinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
