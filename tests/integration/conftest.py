"""The renderer the integration tests share: one per module (as the node's workers hold one per process) over the
built-in studios' environment maps (`env_dir`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def renderer(env_dir: Path) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(env_dir)
    yield r
    r.close()
