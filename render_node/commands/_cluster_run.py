"""The processes of `showroom cluster` and the state file that remembers them between `up`, `status` and `down`.

Each process starts in its own session (`start_new_session`), so it outlives the `cluster up` that started it
and leads a process group that also holds its children (an edge's render workers). `down` asks each leader to
stop (SIGTERM: streams get GOING_AWAY, workers stop), waits, then kills what is left of each group, which also
catches the workers of an edge that was killed with SIGKILL. A pid is only trusted together with the start time
the kernel gives it (`/proc/PID/stat`), so a pid reused by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from render_node.errors import NodeError

Kind = Literal["payments", "commerce", "edge", "nginx", "postgres", "redis"]
STATE_FILE = "cluster.json"
LOG_TAIL_LINES = 25


class ClusterError(NodeError):
    """The cluster cannot start, or a part of it did not come up: the message says what to do."""

    code = "cluster_error"


@dataclass(frozen=True)
class Member:
    """One process of the cluster as the state file records it."""

    name: str
    kind: Kind
    port: int
    pid: int
    start_ticks: int
    """The process's start time in clock ticks since boot (`/proc/PID/stat` field 22): with the pid, its identity."""
    log: str
    """Its log file, relative to the state folder."""

    @property
    def health_path(self) -> str:
        return "/nginx-healthz" if self.kind == "nginx" else "/healthz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class ClusterState:
    front_port: int
    database_url: str
    redis_url: str
    members: tuple[Member, ...]
    scratch: tuple[str, ...] = ()
    """Folders `down` deletes once everything is stopped (a private PostgreSQL's data: `--private-services`)."""

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise ClusterError(f"the cluster has no process named {name!r}")


def read_state(state_dir: Path) -> ClusterState | None:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return ClusterState(front_port=int(raw["front_port"]), database_url=str(raw["database_url"]),
                        redis_url=str(raw["redis_url"]), members=tuple(Member(**m) for m in raw["members"]),
                        scratch=tuple(str(f) for f in raw.get("scratch", ())))


def write_state(state_dir: Path, state: ClusterState) -> None:
    """Written after every process start, so a failed `up` leaves a state that `down` can clean up."""
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    body = {"front_port": state.front_port, "database_url": state.database_url, "redis_url": state.redis_url,
            "members": [asdict(m) for m in state.members], "scratch": list(state.scratch)}
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def remove_state(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the parenthesised name (which may hold spaces); None: no such process
    or a zombie (it has exited; only its parent's wait is missing)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None: not running."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def alive(member: Member) -> bool:
    """The very process `member` recorded is running (not merely a process with its pid)."""
    return start_ticks(member.pid) == member.start_ticks


def group_pids(member: Member) -> list[int]:
    """The running processes of the member's process group (the leader, or children it left behind); none when
    the leader's pid now belongs to an unrelated process (then the group is not ours)."""
    ticks = start_ticks(member.pid)
    if ticks is not None and ticks != member.start_ticks:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[2]) == member.pid:
                pids.append(int(entry.name))
    return pids


def group_alive(member: Member) -> bool:
    return bool(group_pids(member))


def spawn(name: str, kind: Kind, port: int, argv: Sequence[str], env: Mapping[str, str], state_dir: Path,
          user: tuple[int, int] | None = None) -> Member:
    """Starts `argv` detached (own session), its output appended to `<state>/logs/<name>.log`; `user`: the
    (uid, gid) to run as (root starting PostgreSQL, which refuses root)."""
    log = Path("logs") / f"{name}.log"
    with (state_dir / log).open("ab") as out:
        process = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True, cwd=state_dir,
                                   user=None if user is None else user[0], group=None if user is None else user[1],
                                   extra_groups=None if user is None else [])
    # Reaped when it exits, if this process is still there (a bench or test restarting a member): no zombie, and
    # no "still running" warning when the Popen object goes.
    threading.Thread(target=process.wait, name=f"reap-{name}", daemon=True).start()
    ticks = start_ticks(process.pid)
    if ticks is None:
        raise ClusterError(f"{name} exited at once:\n{log_tail(state_dir, log)}")
    return Member(name, kind, port, process.pid, ticks, str(log))


def log_tail(state_dir: Path, log: str | Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = (state_dir / log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def port_problem(port: int) -> str | None:
    """Why 127.0.0.1:`port` cannot be listened on (in use, reserved), or None when it can."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def stop_signal(member: Member) -> signal.Signals:
    """PostgreSQL's fast shutdown (SIGINT: sessions are ended, then a checkpoint); SIGTERM for the rest (for
    PostgreSQL that would wait for every client to leave)."""
    return signal.SIGINT if member.kind == "postgres" else signal.SIGTERM


def stop(members: Sequence[Member], timeout_s: float) -> list[str]:
    """Stops `members` (in the order given): SIGTERM (PostgreSQL: SIGINT) to each live leader, a wait of up to `timeout_s` for all,
    then SIGKILL to every group with anything left. Returns a line per member saying what happened."""
    said: dict[str, str] = {}
    for m in members:
        if alive(m):
            with contextlib.suppress(ProcessLookupError):
                os.kill(m.pid, stop_signal(m))
            said[m.name] = "stopped"
        else:
            said[m.name] = "was not running"
    deadline = time.monotonic() + timeout_s
    while any(group_alive(m) for m in members) and time.monotonic() < deadline:
        time.sleep(0.1)
    for m in members:
        if group_alive(m):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(m.pid, signal.SIGKILL)
            said[m.name] = "killed (did not stop in time)" if said[m.name] == "stopped" else "leftovers killed"
    deadline = time.monotonic() + 5.0
    while any(group_alive(m) for m in members) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [f"{m.name} (pid {m.pid}): {said[m.name]}" for m in members]
