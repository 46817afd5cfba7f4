"""Fixtures shared by every test layer, and the one rule for tests that need a service (PostgreSQL, Redis)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from render_node.render.types import EnvFile

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Headless GL: Mesa's EGL must not try X11 first.
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

REDIS_URL = "redis://127.0.0.1:6379"


def service_unreachable(service: str, detail: str) -> NoReturn:
    """A test needs `service` (PostgreSQL, Redis) and cannot reach it. On a developer's machine it skips with the
    reason; in CI (`CI=true`), where the services are part of the job, it fails: a silent skip there would hide
    that the test never ran."""
    reason = f"{service} is not reachable: {detail}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the CI job must provide {service})", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the checkout (real glTF samples, VR traces); tests that need it skip without it."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent beside the checkout ({SHARED}); it holds the glTF samples and VR traces")
    return SHARED


@pytest.fixture(scope="session")
def gltf_samples(shared_dir: Path) -> Path:
    d = shared_dir / "gltf-samples"
    if not d.is_dir():
        pytest.skip("../shared/gltf-samples is absent")
    return d


@pytest.fixture(scope="session")
def vr_traces(shared_dir: Path) -> Path:
    d = shared_dir / "vr-traces"
    if not d.is_dir():
        pytest.skip("../shared/vr-traces is absent")
    return d


@pytest.fixture(scope="session")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in studios' environment maps, built once and small, for the render tests."""
    from render_node.render.environment import build_environments

    d = tmp_path_factory.mktemp("env")
    build_environments(d, face_size_px=64)
    return d


@pytest.fixture(scope="session")
def black_env(tmp_path_factory: pytest.TempPathFactory) -> EnvFile:
    """An environment that gives no light: what is lit, the model's own lights lit."""
    from tests.render_models import uniform_env

    return uniform_env(tmp_path_factory.mktemp("black") / "black.png", 0)


@pytest_asyncio.fixture
async def redis_url() -> AsyncIterator[str]:
    """The URL of a Redis that answers (see `service_unreachable` when none does)."""
    await require_redis(2)
    yield REDIS_URL


async def require_redis(timeout_s: float) -> None:
    """Returns when the Redis at `REDIS_URL` answers a ping within `timeout_s`; `service_unreachable` otherwise."""
    import redis.asyncio as redis_async
    from redis.exceptions import RedisError

    probe = redis_async.from_url(REDIS_URL)  # type: ignore[no-untyped-call]
    try:
        await asyncio.wait_for(probe.ping(), timeout_s)
    except (OSError, TimeoutError, RedisError) as exc:
        service_unreachable("Redis", f"{REDIS_URL}: {exc}")
    finally:
        await probe.aclose()
