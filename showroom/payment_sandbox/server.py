"""Running the sandbox on a real socket inside another process's event loop (`showroom serve`, tests, bench)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from showroom.payment_sandbox.app import create_sandbox_app
from showroom.payment_sandbox.settings import SandboxSettings


@dataclass
class SandboxServer:
    base_url: str
    """`http://host:port` where the sandbox answers."""
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_sandbox(settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Starts the sandbox on `host:port` (port 0: a free one) and returns where it listens; `close()` stops it."""
    runner = web.AppRunner(create_sandbox_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = int(runner.addresses[0][1])
    return SandboxServer(base_url=f"http://{host}:{bound_port}", runner=runner)


def run_sandbox(settings: SandboxSettings, host: str, port: int) -> None:
    """Serves the sandbox on `host:port` until interrupted (`showroom payments-sandbox`)."""
    web.run_app(create_sandbox_app(settings), host=host, port=port, print=None)
