"""`showroom serve` (the node, the commerce API and the payment sandbox on one machine, or one role of them)
and `showroom views warm` (pre-render the catalog's 360 view sets with a progress bar)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from render_node.commands.secrets import resolve_secrets
from render_node.config import ROLES, Config, load_config
from render_node.errors import NodeError

if TYPE_CHECKING:
    from showroom.payment_sandbox.server import SandboxServer

log = logging.getLogger("render_node.serve")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", dest="data_dir", help="SQLite database, view cache, payment sandbox state "
                                                       "(SHOWROOM_DATA_DIR)")
    p.add_argument("--assets-dir", dest="assets_dir", help="catalog.toml, models/ and env/ (SHOWROOM_ASSETS_DIR)")
    p.add_argument("--workers", type=int, help="render worker processes (SHOWROOM_WORKERS; default: one per core)")


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the showroom (edge node, commerce API, payment sandbox)",
                       description="Runs the edge render node with the commerce API and, unless "
                                   "SHOWROOM_PAYMENT_BACKEND_URL is set, the payment sandbox on a loopback port.")
    p.add_argument("--host", help="interface to listen on (SHOWROOM_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (SHOWROOM_PORT, default 8080)")
    p.add_argument("--role", choices=ROLES, help="which parts this process runs (SHOWROOM_ROLE, default all)")
    p.add_argument("--commerce-url", dest="commerce_url",
                   help="commerce service an edge-only node asks for prices (SHOWROOM_COMMERCE_URL)")
    p.add_argument("--demo", action="store_const", const="1", default=None,
                   help="allow a public start (not loopback) with the test-mode payment sandbox or generated "
                        "secrets: a demo in the open, never production (SHOWROOM_DEMO=1)")
    _add_common(p)
    p.set_defaults(func=serve)

    views = sub.add_parser("views", help="360 view sets")
    vsub = views.add_subparsers(dest="views_command", metavar="ACTION", required=True)
    w = vsub.add_parser("warm", help="pre-render the catalog's view sets into the data dir")
    _add_common(w)
    w.add_argument("--size", default=None, help="frame size WxH (default 640x480)")
    w.add_argument("--format", default="jpeg", choices=("jpeg", "webp", "png"))
    w.add_argument("--product", action="append", help="only this product (repeatable)")
    w.add_argument("--all-variants", action="store_true", help="every variant, not only the first of each product")
    w.set_defaults(func=warm)


def _flags(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {n: getattr(args, n, None) for n in names}


def _configure_logging(level: str) -> None:
    logging.getLogger().setLevel(getattr(logging, level, logging.INFO))


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


class UnsafePublicStart(NodeError):
    """A node would listen beyond loopback with test-mode payments or secrets nobody set."""

    code = "unsafe_public_start"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; anything else (0.0.0.0, ::, a LAN address, a name) is public."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def public_start_problem(config: Config) -> str | None:
    """Why `config` must not listen where others reach it, naming every setting to set; None when it may.

    A loopback start always may (the README's demo needs no configuration), and so may `--demo`. Otherwise roles
    that take payments need the bank's payment backend and secrets the operator chose: a generated secret is
    safe but lives only in this node's data folder, so another commerce replica or the real backend cannot share
    it. The advisor ticket key is named for `commerce` alone: in a split deployment the edges must verify what
    commerce signs, which a key generated in one data folder cannot do (`all` signs and verifies in one process).
    `edge` (and `all`) need the recording key (SHOWROOM_RECORDING_KEY): the bank keeps the key of dual recordings
    apart from the recordings, never in the same data folder; an edge without the advisor ticket key refuses
    every advisor (`_warn_advisor_key`);
    `payments` is the sandbox itself, a demo by definition.
    """
    if is_loopback(config.host) or config.demo:
        return None
    missing: list[str] = []
    if config.role in ("all", "commerce", "payments") and not config.webhook_secret_configured:
        missing.append("SHOWROOM_PAYMENT_WEBHOOK_SECRET (>= 32 bytes)")
    if config.role in ("all", "commerce") and not config.share_secret_configured:
        missing.append("SHOWROOM_SHARE_SECRET (>= 32 bytes)")
    if config.role in ("all", "commerce") and not config.certificate_key_configured:
        missing.append("SHOWROOM_CERTIFICATE_KEY (the bank's Ed25519 certificate key, a PEM file)")
    if config.role == "commerce" and not config.advisor_ticket_key_configured:
        missing.append("SHOWROOM_ADVISOR_TICKET_KEY (>= 32 bytes, the same on the edges that verify advisors' "
                       "tickets)")
    if config.role in ("all", "edge") and not config.recording_key_configured:
        missing.append("SHOWROOM_RECORDING_KEY (32 bytes as 64 hex digits: the key of dual recordings at rest, kept "
                       "by the bank apart from the recordings)")
    if config.role in ("all", "commerce") and not config.commerce.payment_backend_url:
        missing.append("SHOWROOM_PAYMENT_BACKEND_URL (the bank's payment backend; unset, the test-mode sandbox "
                       "would take the payments)")
    if config.role in ("all", "commerce") and not config.commerce.sms_url:
        missing.append("SHOWROOM_SMS_URL and SHOWROOM_SMS_API_KEY (the bank's SMS service; unset, one-time codes "
                       "would go to the sandbox's outbox)")
    if config.role == "payments":
        return (f"refusing to listen on {config.host or 'every interface'}: role payments is the payment sandbox "
                f"(test mode); pass --demo / SHOWROOM_DEMO=1 to run it in the open"
                + (f" and set {missing[0]}" if missing else ""))
    if not missing:
        return None
    return (f"refusing to listen on {config.host or 'every interface'}: set {', '.join(missing)}, "
            f"or pass --demo / SHOWROOM_DEMO=1 to run the demo in the open (never in production)")


ADVISOR_TICKET_SECRET = "advisor_ticket"
"""`<data dir>/secrets/advisor_ticket`: the generated key of advisors' console tickets."""


def resolve_advisor_ticket_key(config: Config) -> Config:
    """`config` with the advisor ticket key from the data folder (generated once, 0600) unless the operator set
    SHOWROOM_ADVISOR_TICKET_KEY. Commerce and the edges on one data folder then sign and verify with one key."""
    if config.advisor_ticket_key_configured:
        return config
    from showroom.adapters.secret_files import load_or_create

    return replace(config, advisor_ticket_key=load_or_create(config.data_dir, ADVISOR_TICKET_SECRET))


RECORDING_SECRET = "recording"
"""`<data dir>/secrets/recording`: the generated key of dual recordings at rest (its first 32 bytes)."""


def resolve_recording_key(config: Config) -> Config:
    """`config` with the recording key from the data folder (generated once, 0600) unless SHOWROOM_RECORDING_KEY
    is set; only roles that relay calls (edge, all) record."""
    if config.recording_key_configured or config.role not in ("all", "edge"):
        return config
    from showroom.adapters.secret_files import load_or_create

    return replace(config, recording_key=load_or_create(config.data_dir, RECORDING_SECRET)[:32])


def _warn_advisor_key(config: Config) -> None:
    if config.role == "edge" and not config.advisor_ticket_key_configured and not is_loopback(config.host):
        log.warning("SHOWROOM_ADVISOR_TICKET_KEY is unset: this edge verifies advisors' tickets with a key generated "
                    "in its own data folder, so advisors signed in at another commerce node are refused; set it to "
                    "the commerce nodes' key (docs/security.md)")


def _warn_demo(config: Config) -> None:
    if is_loopback(config.host) or not config.demo:
        return
    banner = (f"DEMO MODE ON A PUBLIC ADDRESS ({config.host}): the test-mode payment sandbox and/or generated "
              f"secrets are reachable from the network. Never use this for real customers or money; see "
              f"docs/security.md for the settings to set before going live.")
    log.warning("!" * 20 + " %s " + "!" * 20, banner)
    print(f"showroom: WARNING: {banner}", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    config = load_config(_flags(args, "host", "port", "data_dir", "role", "workers", "assets_dir", "commerce_url",
                                "demo"))
    _configure_logging(config.log_level)
    problem = public_start_problem(config)
    if problem is not None:
        raise UnsafePublicStart(problem)
    _warn_demo(config)
    _warn_advisor_key(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config = resolve_recording_key(resolve_advisor_ticket_key(resolve_secrets(config)))
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(config))
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (it is pinned; less CPU per request), asyncio's own otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(config: Config) -> None:
    """Runs until SIGINT/SIGTERM; the handlers are in place from the start, so a signal during start-up
    (render workers still starting) also ends in an orderly shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _serve_until(config, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _start_sandbox(config: Config, host: str, port: int) -> SandboxServer:
    """The payment sandbox (imported here: only roles payments, all and commerce load it)."""
    from showroom.payment_sandbox.server import start_sandbox
    from showroom.payment_sandbox.settings import SandboxSettings

    settings = SandboxSettings(
        data_dir=config.data_dir / "payment-sandbox",
        webhook_secret=config.commerce.payment_webhook_secret,
        notify_retry_schedule_s=config.commerce.notify_retry_schedule_s,
        default_notify_url=f"http://{_loopback(config.host)}:{config.port}/api/payments/notify",
    )
    (config.data_dir / "payment-sandbox").mkdir(parents=True, exist_ok=True)
    server = await start_sandbox(settings, host, port)
    log.info("payment sandbox on %s (notifications to %s)", server.base_url, settings.default_notify_url)
    return server


async def _serve_until(config: Config, stop: asyncio.Event) -> None:
    from aiohttp import web

    from render_node.app import create_app

    config.data_dir.mkdir(parents=True, exist_ok=True)
    if config.port == 0:
        config = replace(config, port=_free_port(config.host))
    if config.role == "payments":
        server = await _start_sandbox(config, config.host, config.port)
        print(f"showroom: payment sandbox on {server.base_url}", flush=True)
        try:
            await stop.wait()
        finally:
            await server.close()
        return

    sandbox: SandboxServer | None = None
    if config.role in ("all", "commerce") and not config.commerce.payment_backend_url:
        sandbox = await _start_sandbox(config, "127.0.0.1", 0)  # the node's own webhook secret (resolve_secrets)
        config = replace(config, payment_sandbox=True,
                         commerce=replace(config.commerce, payment_backend_url=sandbox.base_url))
    try:
        app = create_app(config)
        logged = config.access_log or config.log_level == "DEBUG"
        access_log = logging.getLogger("aiohttp.access") if logged else None
        runner = web.AppRunner(app, shutdown_timeout=5.0, access_log=access_log)
        await runner.setup()  # starts the render workers (cleanup contexts)
        try:
            site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
            await site.start()
            workers = f", {config.workers} render workers" if config.role in ("all", "edge") else ""
            print(f"showroom: {config.role} node on http://{config.host}:{config.port}{workers}; "
                  f"payment backend {config.commerce.payment_backend_url or '-'}", flush=True)
            preload = _preload_hall(app) if config.role in ("all", "edge") else None
            await stop.wait()
            if preload is not None:
                preload.cancel()
            print("showroom: shutting down", flush=True)
        finally:
            await runner.cleanup()  # streams get GOING_AWAY, workers stop
    finally:
        if sandbox is not None:
            await sandbox.close()


def _preload_hall(app: Any) -> asyncio.Task[None] | None:
    """Loads the hall on every render worker in the background, so the first customer who walks in does not
    wait for it (seconds to tens of seconds on a busy CPU); None when the hall is not built."""
    from render_node.keys import RENDER_POOL
    from render_node.stream.hall import HallNotBuilt
    from render_node.stream.handler import HALL

    hall = app[HALL]
    try:
        request = hall.preload_request()
    except HallNotBuilt as exc:
        log.warning("no hall to preload: %s", exc.message)
        return None

    async def preload() -> None:
        try:
            await hall.warm(app[RENDER_POOL], request)
        except Exception as exc:  # a hall that cannot be loaded is reported; hall sessions say why when asked
            log.warning("the hall could not be preloaded: %r", exc)

    return asyncio.get_running_loop().create_task(preload())


def warm(args: argparse.Namespace) -> int:
    config = load_config(_flags(args, "data_dir", "workers", "assets_dir"))
    _configure_logging(config.log_level)
    return asyncio.run(_warm(config, args))


async def _warm(config: Config, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from render_node.app import load_node_catalog, renderer_version
    from render_node.metrics import NodeMetrics
    from render_node.pool import PandaRendererFactory, RenderPool
    from render_node.view_sizes import PUBLISHED_SIZES, parse_size, published_sizes_text
    from render_node.views import ViewStore

    catalog = load_node_catalog(config)
    products = [catalog.get(pid) for pid in args.product] if args.product else list(catalog.products)
    metrics = NodeMetrics()
    pool = RenderPool(PandaRendererFactory(config.assets_dir / "env"), config.workers, metrics=metrics)
    await pool.start()
    try:
        size_px = parse_size(args.size)
        if size_px not in PUBLISHED_SIZES and size_px not in config.extra_view_sizes:
            log.warning("%s is not a published view-set size (nor in SHOWROOM_EXTRA_VIEW_SIZES): clients cannot "
                        "ask for it; published: %s", args.size, published_sizes_text())
        store = ViewStore(config.data_dir / "views", pool, catalog, config.assets_dir,
                          renderer_version=renderer_version(), metrics=metrics,
                          disk_bytes=config.view_disk_cache_mb * 1024 * 1024,
                          extra_sizes=(*config.extra_view_sizes, size_px))
        specs = [store.spec(p.id, v.id, args.size, args.format)
                 for p in products for v in (p.variants if args.all_variants else p.variants[:1])]
        total = sum(len(s.angles) for s in specs)
        with tqdm(total=total, unit="frame", desc="view sets", file=sys.stderr) as bar:
            for spec in specs:
                bar.set_postfix_str(f"{spec.product.id}/{spec.variant.id}")
                _, task, manifest = store.start(spec, on_frame=lambda: bar.update(1))
                if manifest is not None:
                    bar.update(len(spec.angles))
                    continue
                assert task is not None
                await task
    finally:
        await pool.close()
    print(f"showroom views warm: {len(specs)} view sets ({total} frames) in {config.data_dir / 'views'}")
    return 0
