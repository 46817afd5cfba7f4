"""`showroom cluster up|status|down`: the scale-out topology on one machine (docs/deploy.md).

Two edge nodes (role edge, each with its own port, data folder and render workers), one commerce service (role
commerce) on PostgreSQL, the payment sandbox (role payments), Redis carrying commerce's order events, and
Debian's nginx in front (deploy/nginx/cluster.conf.in: view caching, commerce routes, sticky streams, passive
health checks), all on loopback. Every process is a real `showroom serve` (or nginx) started in the background;
the state folder keeps their pids, ports and logs, and this run's fresh secrets (0600), which `down` deletes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render_node.commands._cluster_parts import (
    Database,
    RunSecrets,
    check_nginx_conf,
    check_redis,
    ensure_database,
    find_nginx,
    fresh_secrets,
    nginx_argv,
    nginx_conf,
)
from render_node.commands._cluster_run import (
    ClusterError,
    ClusterState,
    Kind,
    Member,
    alive,
    group_alive,
    log_tail,
    port_problem,
    read_state,
    remove_state,
    spawn,
    stop,
    write_state,
)
from render_node.commands._cluster_services import remove_scratch, service_health, start_private
from render_node.config import child_environ, load_config

DEFAULT_DATABASE_URL = "postgresql+asyncpg://127.0.0.1:5432/showroom_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
HEALTH_POLL_S = 0.25
HEALTH_REQUEST_TIMEOUT_S = 2.0
PRIVATE_KINDS = ("postgres", "redis")


def register(sub: Any) -> None:
    p = sub.add_parser("cluster", help="the scale-out topology on this machine: 2 edges, commerce, payments, nginx",
                       description="Runs the split roles on loopback behind nginx, with PostgreSQL and Redis "
                                   "(docs/deploy.md).")
    csub = p.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    up_p = csub.add_parser("up", help="start the cluster in the background and wait until every part answers")
    _state_dir_arg(up_p)
    up_p.add_argument("--port", type=int, default=8080, help="nginx, the cluster's front door (default 8080)")
    up_p.add_argument("--edges", type=int, default=2, help="edge nodes (default 2)")
    up_p.add_argument("--edge-ports", dest="edge_ports", help="comma list, one per edge (default PORT+1, PORT+2, ...)")
    up_p.add_argument("--commerce-port", dest="commerce_port", type=int, help="default PORT+10")
    up_p.add_argument("--payments-port", dest="payments_port", type=int, help="default PORT+11")
    up_p.add_argument("--workers", type=int, help="render workers per edge (default: the cores shared out)")
    up_p.add_argument("--assets-dir", dest="assets_dir", help="catalog.toml, models/, env/ (SHOWROOM_ASSETS_DIR)")
    up_p.add_argument("--database-url", dest="database_url", default=DEFAULT_DATABASE_URL,
                      help=f"commerce's PostgreSQL database, created when missing (default {DEFAULT_DATABASE_URL})")
    up_p.add_argument("--redis-url", dest="redis_url", default=DEFAULT_REDIS_URL,
                      help=f"Redis for events between processes (default {DEFAULT_REDIS_URL})")
    up_p.add_argument("--private-services", dest="private_services", action="store_true",
                      help="start the cluster's own PostgreSQL and Redis (from the machine's binaries, on their own "
                           "ports, stopped by `down`) instead of using --database-url/--redis-url: they can then "
                           "be restarted without touching the machine's services")
    up_p.add_argument("--postgres-port", dest="postgres_port", type=int,
                      help="the private PostgreSQL (default PORT+12)")
    up_p.add_argument("--redis-port", dest="redis_port", type=int, help="the private Redis (default PORT+13)")
    up_p.add_argument("--nginx", help="the nginx binary (default: on PATH, else /usr/sbin/nginx)")
    up_p.add_argument("--timeout-s", dest="timeout_s", type=float, default=180.0,
                      help="how long to wait for every part to answer /healthz (default 180)")
    up_p.set_defaults(func=up)
    status_p = csub.add_parser("status", help="each process: pid, port, alive, /healthz")
    _state_dir_arg(status_p)
    status_p.add_argument("--json", action="store_true", help="print JSON")
    status_p.set_defaults(func=status)
    down_p = csub.add_parser("down", help="stop every process of the cluster (safe to repeat)")
    _state_dir_arg(down_p)
    down_p.add_argument("--timeout-s", dest="timeout_s", type=float, default=20.0,
                        help="how long processes get to stop before they are killed (default 20)")
    down_p.set_defaults(func=down)


def _state_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", dest="state_dir",
                   help="pids, logs, data folders and this run's secrets (default <data dir>/cluster)")


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir:
        return Path(args.state_dir).expanduser().resolve()
    return (load_config({}).data_dir / "cluster").resolve()


@dataclass(frozen=True)
class Plan:
    """Who listens where, decided (and checked) before anything starts."""

    port: int
    edge_ports: tuple[int, ...]
    commerce_port: int
    payments_port: int
    workers: int
    private_ports: tuple[int, int] | None = None
    """The own PostgreSQL's and Redis's ports (`--private-services`), else None."""

    def named_ports(self) -> list[tuple[str, int]]:
        private = [] if self.private_ports is None else [("postgres", self.private_ports[0]),
                                                         ("redis", self.private_ports[1])]
        return [("nginx", self.port), *((f"edge-{i + 1}", p) for i, p in enumerate(self.edge_ports)),
                ("commerce", self.commerce_port), ("payments", self.payments_port), *private]


def _plan(args: argparse.Namespace) -> Plan:
    if not 1 <= args.edges <= 16:
        raise ClusterError("--edges must be between 1 and 16")
    if args.edge_ports:
        try:
            edge_ports = tuple(int(p) for p in args.edge_ports.split(",") if p.strip())
        except ValueError:
            raise ClusterError(f"--edge-ports must be a comma list of ports, got {args.edge_ports!r}") from None
        if len(edge_ports) != args.edges:
            raise ClusterError(f"--edge-ports names {len(edge_ports)} ports for {args.edges} edges")
    else:
        edge_ports = tuple(args.port + 1 + i for i in range(args.edges))
    workers = args.workers or max(1, (os.cpu_count() or 1) // args.edges)
    private = ((args.postgres_port or args.port + 12, args.redis_port or args.port + 13)
               if getattr(args, "private_services", False) else None)
    plan = Plan(args.port, edge_ports, args.commerce_port or args.port + 10, args.payments_port or args.port + 11,
                workers, private)
    ports = [p for _, p in plan.named_ports()]
    if len(set(ports)) != len(ports):
        raise ClusterError(f"two parts of the cluster would share a port: {plan.named_ports()}")
    for name, port in plan.named_ports():
        if not 1 <= port <= 65535:
            raise ClusterError(f"{name}: port {port} is not a port")
        problem = port_problem(port)
        if problem is not None:
            raise ClusterError(f"port {port} ({name}) is not free on 127.0.0.1 ({problem}): stop what listens there "
                               f"or choose other ports (--port, --edge-ports, --commerce-port, --payments-port, "
                               f"--postgres-port, --redis-port)")
    if plan.workers < 1:
        raise ClusterError("--workers must be at least 1")
    return plan


def _serve_argv(kind: Kind, port: int) -> list[str]:
    return [sys.executable, "-m", "render_node", "serve", "--role", kind, "--host", "127.0.0.1", "--port", str(port)]


def _environments(plan: Plan, args: argparse.Namespace, state_dir: Path, database_url: str, redis_url: str,
                  keys: RunSecrets) -> dict[str, dict[str, str]]:
    """The SHOWROOM_* settings of each process: only the secrets its role uses."""
    common = {"SHOWROOM_HOST": "127.0.0.1", "SHOWROOM_PUBLIC_URL": f"http://127.0.0.1:{plan.port}",
              "SHOWROOM_REDIS_URL": redis_url}
    if args.assets_dir:
        common["SHOWROOM_ASSETS_DIR"] = str(Path(args.assets_dir).expanduser().resolve())

    def data(name: str) -> str:
        return str(state_dir / "data" / name)

    envs = {
        "payments": {**common, "SHOWROOM_DATA_DIR": data("payments"), "SHOWROOM_PAYMENT_WEBHOOK_SECRET": keys.webhook},
        "commerce": {**common, "SHOWROOM_DATA_DIR": data("commerce"), "SHOWROOM_DATABASE_URL": database_url,
                     "SHOWROOM_PAYMENT_BACKEND_URL": f"http://127.0.0.1:{plan.payments_port}",
                     "SHOWROOM_PAYMENT_WEBHOOK_SECRET": keys.webhook, "SHOWROOM_SHARE_SECRET": keys.share,
                     "SHOWROOM_CERTIFICATE_KEY": str(keys.certificate_pem),
                     "SHOWROOM_ADVISOR_TICKET_KEY": keys.advisor_ticket},
    }
    for i in range(len(plan.edge_ports)):
        name = f"edge-{i + 1}"
        envs[name] = {**common, "SHOWROOM_DATA_DIR": data(name), "SHOWROOM_WORKERS": str(plan.workers),
                      "SHOWROOM_COMMERCE_URL": f"http://127.0.0.1:{plan.commerce_port}",
                      "SHOWROOM_ADVISOR_TICKET_KEY": keys.advisor_ticket, "SHOWROOM_RECORDING_KEY": keys.recording_hex}
    return envs


def up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    previous = read_state(state_dir)
    if previous is not None:
        running = [m for m in previous.members if group_alive(m)]
        if running:
            raise ClusterError(f"a cluster is already running from {state_dir} ("
                               f"{', '.join(f'{m.name} pid {m.pid}' for m in running)}): `showroom cluster down` "
                               f"first")
        remove_state(state_dir)
    nginx = find_nginx(args.nginx)  # what to install comes before which ports are taken
    plan = _plan(args)
    for folder in ("logs", "data"):
        (state_dir / folder).mkdir(parents=True, exist_ok=True)
    state = ClusterState(plan.port, args.database_url, args.redis_url, ())
    try:
        if plan.private_ports is not None:
            state = _start_private(state_dir, state, plan.private_ports, args.timeout_s)
        database = asyncio.run(_check_services(state.database_url, state.redis_url))
        state = dataclasses.replace(state, database_url=database.url)
        write_state(state_dir, state)
        conf = nginx_conf(state_dir, port=plan.port, edge_ports=plan.edge_ports, commerce_port=plan.commerce_port)
        check_nginx_conf(nginx, state_dir, conf)
        keys = fresh_secrets(state_dir)
        envs = _environments(plan, args, state_dir, database.url, state.redis_url, keys)
        parts: list[tuple[str, Kind, int]] = [("payments", "payments", plan.payments_port),
                                              ("commerce", "commerce", plan.commerce_port)]
        parts += [(f"edge-{i + 1}", "edge", p) for i, p in enumerate(plan.edge_ports)]
        for name, kind, port in parts:
            member = spawn(name, kind, port, _serve_argv(kind, port), child_environ(envs[name]), state_dir)
            state = dataclasses.replace(state, members=(*state.members, member))
            write_state(state_dir, state)
        asyncio.run(_wait_healthy(_http_members(state.members), state_dir, args.timeout_s))
        front = spawn("nginx", "nginx", plan.port, nginx_argv(nginx, state_dir, conf), child_environ({}), state_dir)
        state = dataclasses.replace(state, members=(*state.members, front))
        write_state(state_dir, state)
        asyncio.run(_wait_healthy((front,), state_dir, args.timeout_s))
    except BaseException:
        print("showroom cluster: start-up failed; stopping what started", file=sys.stderr, flush=True)
        stop(_stop_order(state.members), 10.0)
        remove_scratch(state)
        remove_state(state_dir)
        shutil.rmtree(state_dir / "secrets", ignore_errors=True)
        raise
    created = " (created)" if database.created else ""
    own = " (the cluster's own PostgreSQL and Redis)" if plan.private_ports is not None else ""
    print(f"showroom cluster: up on http://127.0.0.1:{plan.port} ({len(plan.edge_ports)} edges, commerce on "
          f"{database.url}{created}, Redis {state.redis_url}{own}); state, logs and this run's secrets in {state_dir}")
    _print_table(asyncio.run(_report(state)))
    return 0


def _start_private(state_dir: Path, state: ClusterState, ports: tuple[int, int], timeout_s: float) -> ClusterState:
    """The cluster's own PostgreSQL and Redis, each recorded in the state file as soon as it runs."""
    holder = [state]

    def record(member: Member, scratch: tuple[str, ...]) -> None:
        holder[0] = dataclasses.replace(holder[0], members=(*holder[0].members, member),
                                        scratch=(*holder[0].scratch, *scratch))
        write_state(state_dir, holder[0])

    try:
        private = start_private(state_dir, ports[0], ports[1], timeout_s, on_member=record)
    except BaseException:
        state = holder[0]
        stop(_stop_order(state.members), 10.0)
        remove_scratch(state)
        raise
    return dataclasses.replace(holder[0], database_url=private.database_url, redis_url=private.redis_url)


def _http_members(members: tuple[Member, ...]) -> tuple[Member, ...]:
    return tuple(m for m in members if m.kind not in PRIVATE_KINDS)


async def _check_services(database_url: str, redis_url: str) -> Database:
    database = await ensure_database(database_url)
    await check_redis(redis_url)
    return database


async def _wait_healthy(members: tuple[Member, ...], state_dir: Path, timeout_s: float) -> None:
    """Waits until every member answers 200 on its health path; fails at once when one exits, with its log."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    timeout = aiohttp.ClientTimeout(total=HEALTH_REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async def one(m: Member) -> None:
            while True:
                if not alive(m):
                    raise ClusterError(f"{m.name} exited while starting; the end of {m.log}:\n"
                                       f"{log_tail(state_dir, m.log)}")
                try:
                    async with http.get(m.url + m.health_path) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise ClusterError(f"{m.name} did not answer {m.health_path} on port {m.port} within "
                                       f"{timeout_s:g} s (--timeout-s); the end of {m.log}:\n"
                                       f"{log_tail(state_dir, m.log)}")
                await asyncio.sleep(HEALTH_POLL_S)

        await asyncio.gather(*(one(m) for m in members))


def _stop_order(members: tuple[Member, ...]) -> list[Member]:
    """nginx first (no new requests), then the edges, commerce, and the payment sandbox last."""
    rank = {"nginx": 0, "edge": 1, "commerce": 2, "payments": 3, "redis": 4, "postgres": 5}
    return sorted(members, key=lambda m: rank[m.kind])


async def _report(state: ClusterState) -> list[dict[str, Any]]:
    import aiohttp

    async def health(http: aiohttp.ClientSession, m: Member) -> str:
        if m.kind in PRIVATE_KINDS:
            return await service_health(m, HEALTH_REQUEST_TIMEOUT_S)
        try:
            async with http.get(m.url + m.health_path) as r:
                if r.status != 200:
                    return f"HTTP {r.status}"
                if m.kind == "nginx":
                    return "ok"
                body = await r.json()
                if m.kind == "payments":  # the sandbox is its own system: it names itself, not a role
                    return "ok" if body.get("service") == "payment-sandbox" else "answers as another service"
                return "ok" if body.get("role") == m.kind else f"answers as role {body.get('role')!r}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return type(exc).__name__

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HEALTH_REQUEST_TIMEOUT_S)) as http:
        answers = await asyncio.gather(*(health(http, m) for m in state.members))
    return [{"name": m.name, "kind": m.kind, "pid": m.pid, "port": m.port, "url": m.url, "alive": alive(m),
             "health": answer, "log": m.log} for m, answer in zip(state.members, answers, strict=True)]


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'process':<10} {'pid':>8} {'port':>6}  {'alive':<5}  health")
    for r in rows:
        print(f"{r['name']:<10} {r['pid']:>8} {r['port']:>6}  {'yes' if r['alive'] else 'NO':<5}  {r['health']}")


def status(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    state = read_state(state_dir)
    if state is None:
        if args.json:
            print(json.dumps({"running": False, "processes": []}))
        else:
            print(f"showroom cluster: not running (no state in {state_dir})")
        return 1
    rows = asyncio.run(_report(state))
    healthy = all(r["alive"] and r["health"] == "ok" for r in rows)
    if args.json:
        print(json.dumps({"running": True, "healthy": healthy, "front": f"http://127.0.0.1:{state.front_port}",
                          "database_url": state.database_url, "redis_url": state.redis_url, "processes": rows},
                         indent=2))
    else:
        print(f"showroom cluster: front http://127.0.0.1:{state.front_port}; "
              f"{'all healthy' if healthy else 'NOT all healthy'}")
        _print_table(rows)
    return 0 if healthy else 1


def down(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    state = read_state(state_dir)
    if state is None:
        print(f"showroom cluster: nothing to stop (no state in {state_dir})")
        return 0
    for line in stop(_stop_order(state.members), args.timeout_s):
        print(f"showroom cluster: {line}")
    left = [m for m in state.members if group_alive(m)]
    if left:
        raise ClusterError(f"still running after SIGKILL: {', '.join(f'{m.name} pid {m.pid}' for m in left)}")
    remove_scratch(state)
    remove_state(state_dir)
    shutil.rmtree(state_dir / "secrets", ignore_errors=True)
    print(f"showroom cluster: down (logs and data folders kept in {state_dir})")
    return 0
