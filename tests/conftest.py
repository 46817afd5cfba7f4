"""Fixtures shared by every test layer, and the one rule for tests that need a service (PostgreSQL, Redis)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import pytest
import pytest_asyncio

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


@pytest_asyncio.fixture
async def redis_url() -> AsyncIterator[str]:
    """The URL of a Redis that answers (see `service_unreachable` when none does)."""
    import redis.asyncio as redis_async
    from redis.exceptions import RedisError

    probe = redis_async.from_url(REDIS_URL)  # type: ignore[no-untyped-call]
    try:
        await asyncio.wait_for(probe.ping(), 2)
    except (OSError, TimeoutError, RedisError) as exc:
        service_unreachable("Redis", f"{REDIS_URL}: {exc}")
    finally:
        await probe.aclose()
    yield REDIS_URL
