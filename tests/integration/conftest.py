"""Fixtures the render tests share: the built-in studios' environment maps (built once, small) and a renderer
over them (one per module, as the node's workers hold one per process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from render_node.render.environment import build_environments

    d = tmp_path_factory.mktemp("env")
    build_environments(d, face_size_px=64)
    return d


@pytest.fixture(scope="module")
def renderer(env_dir: Path) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(env_dir)
    yield r
    r.close()
