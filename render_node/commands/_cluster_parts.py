"""What `showroom cluster up` needs before it starts a process: nginx and its configuration, PostgreSQL (the
database created when missing), Redis, and the run's fresh secrets."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from render_node.commands._cluster_run import ClusterError
from render_node.config import PROJECT_ROOT

NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "cluster.conf.in"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
NGINX_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
CONNECT_TIMEOUT_S = 3.0


def find_nginx(given: str | None) -> str:
    """The nginx binary: `--nginx`, else on PATH, else where Debian puts it (/usr/sbin, often not on a user's
    PATH)."""
    if given:
        if not Path(given).is_file():
            raise ClusterError(f"--nginx {given}: no such file")
        return given
    found = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if Path(p).is_file()), None)
    if found is None:
        raise ClusterError("nginx is not installed: `apt-get install nginx-light` (Debian/Ubuntu; any nginx >= 1.18 "
                           "with the proxy and map modules does), or pass --nginx PATH")
    return found


def nginx_conf(state_dir: Path, *, port: int, edge_ports: Sequence[int], commerce_port: int,
               cache_mb: int = 1024, workers: int = 1) -> Path:
    """Fills deploy/nginx/cluster.conf.in into `<state>/nginx/nginx.conf` (with its cache and temp folders)."""
    if not NGINX_TEMPLATE.is_file():
        raise ClusterError(f"no {NGINX_TEMPLATE.relative_to(PROJECT_ROOT)}: `showroom cluster` runs from a checkout "
                           f"of the project")
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in edge_ports)
    advisor = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s{' backup' if i else ''};"
                        for i, p in enumerate(edge_ports))
    values = {"STATE_DIR": str(state_dir), "PORT": str(port), "COMMERCE_PORT": str(commerce_port),
              "EDGE_SERVERS": servers, "ADVISOR_SERVERS": advisor, "CACHE_MB": str(cache_mb),
              "NGINX_WORKERS": str(workers), "WORKER_USER": _worker_user()}
    text = NGINX_TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = sorted(set(re.findall(r"@@([A-Z_]+)@@", text)))
    if left:
        raise ClusterError(f"{NGINX_TEMPLATE.name} has placeholders nobody fills: {', '.join(left)}")
    root = state_dir / "nginx"
    for kind in NGINX_TEMP_KINDS:
        (root / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    (root / "cache").mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def _worker_user() -> str:
    """nginx started by root hands its workers to `nobody`, who cannot reach a state folder under a private home
    or temp folder: they stay the invoking user (as for any other user, where nginx ignores `user`)."""
    if os.geteuid() != 0:
        return "# workers run as the user who started nginx"
    import pwd

    return f"user {pwd.getpwuid(0).pw_name};  # started by root: keep the workers on the state folder's owner"


def nginx_argv(nginx: str, state_dir: Path, conf: Path) -> list[str]:
    """nginx as a user process: its own prefix (the state folder) and error log from the first line on."""
    return [nginx, "-p", str(state_dir / "nginx"), "-c", str(conf), "-e", str(state_dir / "logs" / "nginx-error.log")]


def check_nginx_conf(nginx: str, state_dir: Path, conf: Path) -> None:
    """`nginx -t` on the filled configuration: a mistake is reported before anything starts."""
    result = subprocess.run([*nginx_argv(nginx, state_dir, conf), "-t", "-q"], capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        raise ClusterError(f"nginx refuses {conf}:\n{result.stderr.strip()}")


@dataclass(frozen=True)
class Database:
    url: str
    """The SQLAlchemy URL commerce gets (postgresql+asyncpg://...)."""
    created: bool


def _asyncpg_url(url: str) -> str:
    return re.sub(r"^postgresql(\+asyncpg)?://", "postgresql://", url)


async def ensure_database(url: str) -> Database:
    """Connects to the PostgreSQL database of `url`, creating it (from the server's `postgres` database) when it
    does not exist yet; commerce migrates it on start."""
    import asyncpg

    if not re.match(r"^postgresql(\+asyncpg)?://", url):
        raise ClusterError(f"--database-url must be a PostgreSQL URL (postgresql://HOST:PORT/NAME), got {url!r}")
    plain = _asyncpg_url(url)
    parts = urlsplit(plain)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ClusterError(f"the database name {name!r} must be a plain identifier (letters, digits, _)")
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    created = False
    try:
        try:
            conn = await asyncpg.connect(plain, timeout=CONNECT_TIMEOUT_S)
        except asyncpg.InvalidCatalogNameError:
            admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=CONNECT_TIMEOUT_S)
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            created = True
            conn = await asyncpg.connect(plain, timeout=CONNECT_TIMEOUT_S)
        await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise ClusterError(f"PostgreSQL at {where} is not reachable or refuses database {name!r} ({exc}): start it "
                           f"(Debian: `apt-get install postgresql`, then `service postgresql start`) or pass "
                           f"--database-url") from None
    return Database(urlunsplit(parts._replace(scheme="postgresql+asyncpg")), created)


async def check_redis(url: str) -> None:
    import redis.asyncio as redis_async
    from redis.exceptions import RedisError

    client = redis_async.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    try:
        await client.ping()
    except (OSError, TimeoutError, RedisError) as exc:
        raise ClusterError(f"Redis at {url} is not reachable ({exc}): start it (Debian: `apt-get install "
                           f"redis-server`, then `service redis-server start`) or pass --redis-url") from None
    finally:
        await client.aclose()


@dataclass(frozen=True)
class RunSecrets:
    """Fresh keys for one run of the cluster (no secret has a default): each process gets only its own."""

    webhook: str
    share: str
    advisor_ticket: str
    recording_hex: str
    certificate_pem: Path


def fresh_secrets(state_dir: Path) -> RunSecrets:
    """New random keys in `<state>/secrets/` (folder 0700, files 0600): the values travel to the processes as
    environment variables, the certificate key as the PEM file SHOWROOM_CERTIFICATE_KEY names."""
    from showroom.adapters.certificate_keys import write_pem

    folder = state_dir / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    run = RunSecrets(webhook=secrets.token_urlsafe(32), share=secrets.token_urlsafe(32),
                     advisor_ticket=secrets.token_urlsafe(32), recording_hex=secrets.token_hex(32),
                     certificate_pem=folder / "certificate.pem")
    for name, value in (("webhook", run.webhook), ("share", run.share), ("advisor_ticket", run.advisor_ticket),
                        ("recording", run.recording_hex)):
        _write_private(folder / name, value + "\n")
    run.certificate_pem.unlink(missing_ok=True)
    write_pem(run.certificate_pem, secrets.token_bytes(32))
    return run


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
