"""The cluster's own PostgreSQL and Redis (`showroom cluster up --private-services`, bench/cluster.py, the restart
tests): started from the machine's binaries as members of the cluster, on loopback ports of their own, so they
can be stopped and started again without touching the machine's shared services.

PostgreSQL: `initdb` (trust authentication, superuser `showroom`) into a fresh folder in the system's temporary
directory, then `postgres` in the foreground, listening on 127.0.0.1 only (no Unix socket); `fsync` is off (a
scratch database: a clean stop still checkpoints everything). PostgreSQL refuses to run as root, so under root
both run as the `postgres` user (else `nobody`) and the folder is theirs. Redis: `redis-server` in the foreground,
127.0.0.1 only, no persistence (it carries only events, which are hints: docs/deploy.md). `cluster down` stops
them after everything else and deletes the PostgreSQL folder.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from render_node.commands._cluster_run import (
    ClusterError,
    ClusterState,
    Member,
    alive,
    group_alive,
    log_tail,
    read_state,
    spawn,
    stop_signal,
    write_state,
)
from render_node.config import child_environ

PG_USER = "showroom"
PG_DATABASE = "showroom_cluster"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
"""Where Debian puts initdb/postgres (not on PATH); elsewhere they are usually on PATH (/usr/local/bin)."""
INSTALL_HINT = "Debian: `apt-get install postgresql redis-server` (the binaries are used, not the system services)"
READY_POLL_S = 0.1
STOP_WAIT_S = 20.0


@dataclass(frozen=True)
class Binaries:
    initdb: str
    postgres: str
    redis_server: str


def find_binaries() -> Binaries:
    """initdb and postgres (on PATH, else the newest /usr/lib/postgresql/*/bin) and redis-server (on PATH)."""
    pg_dirs = [str(Path(p).parent) for p in (shutil.which("postgres"),) if p]
    pg_dirs += sorted(glob.glob(PG_BIN_GLOB), key=_version_key, reverse=True)
    pg = next((d for d in pg_dirs if Path(d, "initdb").is_file() and Path(d, "postgres").is_file()), None)
    redis_server = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if Path(p).is_file()), None)
    missing = ([] if pg else ["initdb/postgres"]) + ([] if redis_server else ["redis-server"])
    if missing or pg is None or redis_server is None:
        raise ClusterError(f"private services need {' and '.join(missing)}: {INSTALL_HINT}")
    return Binaries(str(Path(pg, "initdb")), str(Path(pg, "postgres")), redis_server)


def _version_key(path: str) -> tuple[int, ...]:
    digits = Path(path).parent.name
    return tuple(int(x) for x in digits.split(".") if x.isdigit()) or (0,)


def _service_user() -> tuple[int, int] | None:
    """The (uid, gid) PostgreSQL runs as when we are root (it refuses root); None: as ourselves."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise ClusterError("running as root, PostgreSQL needs an unprivileged user: none named postgres or nobody")


@dataclass(frozen=True)
class Private:
    members: tuple[Member, ...]
    database_url: str
    """postgresql+asyncpg://showroom@127.0.0.1:PORT/showroom_cluster (created)."""
    redis_url: str
    scratch: tuple[str, ...]
    """Folders `down` deletes (the PostgreSQL data folder)."""


def postgres_argv(binaries: Binaries, data: Path, port: int) -> list[str]:
    return [binaries.postgres, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=60",
            "-c", "logging_collector=off"]


def redis_argv(binaries: Binaries, port: int, state_dir: Path) -> list[str]:
    return [binaries.redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(state_dir / "data"), "--daemonize", "no", "--logfile", ""]


def start_private(state_dir: Path, postgres_port: int, redis_port: int, timeout_s: float,
                  on_member: object = None) -> Private:
    """Initialises and starts the cluster's own PostgreSQL and Redis and waits until both answer. Each member
    is handed to `on_member(member, scratch)` (if given) as soon as it runs, so a caller can record it for
    cleanup before the next step can fail."""
    binaries = find_binaries()
    owner = _service_user()
    data = Path(tempfile.mkdtemp(prefix="showroom-cluster-pg-"))
    record = on_member if callable(on_member) else (lambda _m, _s: None)
    try:
        if owner is not None:
            os.chown(data, *owner)
        init = subprocess.run([binaries.initdb, "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                               "--locale=C", "--no-sync"], capture_output=True, text=True, timeout=120,
                              check=False, cwd=data, env=child_environ({}),
                              user=None if owner is None else owner[0], group=None if owner is None else owner[1],
                              extra_groups=None if owner is None else [])
        if init.returncode != 0:
            raise ClusterError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
    except BaseException:
        shutil.rmtree(data, ignore_errors=True)
        raise
    scratch = (str(data),)
    pg = spawn("postgres", "postgres", postgres_port, postgres_argv(binaries, data, postgres_port),
               child_environ({}), state_dir, user=owner)
    record(pg, scratch)
    rd = spawn("redis", "redis", redis_port, redis_argv(binaries, redis_port, state_dir), child_environ({}),
               state_dir)
    record(rd, ())
    database_url = f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{postgres_port}/{PG_DATABASE}"
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    asyncio.run(_wait_ready((pg, rd), state_dir, timeout_s))
    asyncio.run(_create_database(postgres_port))
    return Private((pg, rd), database_url, redis_url, scratch)


async def _create_database(port: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=port, user=PG_USER, database="postgres", timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await conn.close()


async def service_health(member: Member, timeout_s: float = 2.0) -> str:
    """"ok" when the PostgreSQL or Redis member answers a query or PING, else why not."""
    try:
        if member.kind == "postgres":
            import asyncpg

            conn = await asyncpg.connect(host="127.0.0.1", port=member.port, user=PG_USER, database="postgres",
                                         timeout=timeout_s)
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
            return "ok"
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", member.port), timeout_s)
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout_s)
        finally:
            writer.close()
        return "ok" if line.startswith(b"+PONG") else f"answers {line[:40]!r}"
    except Exception as exc:  # a health probe reports, it does not raise
        return type(exc).__name__


async def _wait_ready(members: tuple[Member, ...], state_dir: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s

    async def one(m: Member) -> None:
        while True:
            if not alive(m):
                raise ClusterError(f"{m.name} exited while starting; the end of {m.log}:\n"
                                   f"{log_tail(state_dir, m.log)}")
            if await service_health(m) == "ok":
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"{m.name} did not answer on port {m.port} within {timeout_s:g} s; the end of "
                                   f"{m.log}:\n{log_tail(state_dir, m.log)}")
            await asyncio.sleep(READY_POLL_S)

    await asyncio.gather(*(one(m) for m in members))


def stop_member(member: Member, timeout_s: float = STOP_WAIT_S) -> None:
    """Stops one member and waits until its whole process group is gone (SIGKILL after `timeout_s`)."""
    if alive(member):
        os.kill(member.pid, stop_signal(member))
    deadline = time.monotonic() + timeout_s
    while group_alive(member) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(member):
        os.killpg(member.pid, signal.SIGKILL)
        while group_alive(member):
            time.sleep(0.05)


def start_again(state_dir: Path, name: str, argv: list[str], owner: tuple[int, int] | None,
                env: dict[str, str] | None = None) -> Member:
    """Starts member `name` again with `argv` (as its user; `env`: its whole environment, default a clean one)
    and records the new pid in the state file, so `cluster down` stops it."""
    import dataclasses

    state = read_state(state_dir)
    if state is None:
        raise ClusterError(f"no cluster state in {state_dir}")
    old = state.member(name)
    new = spawn(name, old.kind, old.port, argv, child_environ({}) if env is None else env, state_dir, user=owner)
    write_state(state_dir, dataclasses.replace(
        state, members=tuple(new if m.name == name else m for m in state.members)))
    return new


def _private_member(state_dir: Path, name: str) -> tuple[ClusterState, Member]:
    state = read_state(state_dir)
    if state is None:
        raise ClusterError(f"no cluster state in {state_dir}")
    member = state.member(name)
    if member.kind not in ("postgres", "redis"):
        raise ClusterError(f"{name} is not a private service of the cluster")
    return state, member


def stop_service(state_dir: Path, name: str) -> None:
    """Stops the private service `name` ("postgres": a fast shutdown; "redis") and waits until it is gone."""
    stop_member(_private_member(state_dir, name)[1])


def start_service(state_dir: Path, name: str, timeout_s: float = 60.0) -> Member:
    """Starts the stopped private service `name` again the same way (same port, same data folder), records it in
    the state file and waits until it answers."""
    state, member = _private_member(state_dir, name)
    if alive(member):
        raise ClusterError(f"{name} is running")
    binaries = find_binaries()
    if member.kind == "postgres":
        argv, owner = postgres_argv(binaries, Path(state.scratch[0]), member.port), _service_user()
    else:
        argv, owner = redis_argv(binaries, member.port, state_dir), None
    new = start_again(state_dir, name, argv, owner)
    asyncio.run(_wait_ready((new,), state_dir, timeout_s))
    return new


def restart(state_dir: Path, name: str, down_s: float, timeout_s: float = 60.0) -> tuple[Member, float]:
    """Stops the private service `name`, leaves it down `down_s` seconds (counted from the stop signal), starts
    it again and waits until it answers. Returns the new member and the seconds from the stop signal to its
    first answer. Blocking (asyncio.run inside): call it from a thread when a loop runs."""
    t0 = time.monotonic()
    stop_service(state_dir, name)
    time.sleep(max(0.0, down_s - (time.monotonic() - t0)))
    new = start_service(state_dir, name, timeout_s)
    return new, time.monotonic() - t0


def remove_scratch(state: ClusterState) -> None:
    for folder in state.scratch:
        shutil.rmtree(folder, ignore_errors=True)
