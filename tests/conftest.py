"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Headless GL: Mesa's EGL must not try X11 first.
os.environ.setdefault("EGL_PLATFORM", "surfaceless")


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
