"""What the cluster tests share (tests/e2e/test_cluster.py, tests/e2e/test_service_restarts.py,
tests/browser/test_cluster_kiosk.py): free ports, the services they need, a one-product assets folder, and the
`showroom cluster` CLI of one started cluster."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from render_node.commands._cluster_parts import find_nginx
from render_node.commands._cluster_run import ClusterError
from tests.conftest import REDIS_URL, require_redis, service_unreachable

PG_URL = os.environ.get("SHOWROOM_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
PRODUCT, VARIANT = "bar-au9999-10g", "au9999-10g"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def need_services() -> None:
    """Skips (fails in CI) without PostgreSQL or Redis; skips without nginx."""
    import asyncpg

    try:
        find_nginx(None)
    except ClusterError as exc:
        pytest.skip(exc.message)

    async def probe() -> None:
        try:
            conn = await asyncpg.connect(PG_URL, timeout=3)
            await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            service_unreachable("PostgreSQL", f"{PG_URL}: {exc}")
        await require_redis(3)

    asyncio.run(probe())


def drop_database(name: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def build_assets(project_root: Path, root: Path) -> Path:
    """An assets folder with the real catalog and one built product model (a second, no GL needed)."""
    assets = root / "assets"
    assets.mkdir(parents=True)
    for name in ("catalog.toml", "branches.toml"):
        shutil.copy(project_root / "assets" / name, assets / name)
    env = project_root / "assets" / "env"
    if env.is_dir() and any(env.glob("*.npz")):
        (assets / "env").symlink_to(env)  # built maps; the renderer builds missing ones in its own folder
    build = subprocess.run([sys.executable, "-m", "render_node", "assets", "build", "--only", PRODUCT, "--assets-dir",
                            str(assets), "--no-thumbnails", "--no-env", "--no-hall", "--no-guide", "--no-lods"],
                           capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stderr[-2000:]
    return assets


@dataclass
class Cluster:
    front: str
    state_dir: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "render_node", "cluster", *args, "--state-dir",
                               str(self.state_dir)], capture_output=True, text=True, timeout=timeout_s,
                              env=self.env, check=False)

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        return dict(json.loads(result.stdout))

    def process(self, name: str) -> dict[str, Any]:
        return next(p for p in self.status()["processes"] if p["name"] == name)


@contextlib.contextmanager
def running_cluster(root: Path, project_root: Path, name: str, view_sizes: str) -> Iterator[Cluster]:
    """`showroom cluster up` in `root` on free ports (two edges with one render worker each, the machine's
    PostgreSQL in a fresh database `showroom_<name>_<hex>`, its Redis), with `view_sizes` as extra view-set sizes;
    down and the database dropped afterwards."""
    need_services()
    assets = build_assets(project_root, root)
    database = f"showroom_{name}_" + secrets.token_hex(4)
    port, e1, e2, commerce, payments = free_ports(5)
    env = {**os.environ, "SHOWROOM_EXTRA_VIEW_SIZES": view_sizes, "EGL_PLATFORM": "surfaceless"}
    c = Cluster(f"http://127.0.0.1:{port}", root / "state", env)
    base_pg = PG_URL.rsplit("/", 1)[0]
    started = c.cli("up", "--port", str(port), "--edge-ports", f"{e1},{e2}", "--commerce-port", str(commerce),
                    "--payments-port", str(payments), "--workers", "1", "--assets-dir", str(assets),
                    "--database-url", f"{base_pg}/{database}", "--redis-url", REDIS_URL)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield c
    finally:
        c.cli("down", timeout_s=60)
        drop_database(database)
