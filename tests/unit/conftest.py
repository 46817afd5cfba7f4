"""The renderer of the unit layer's render tests (material features checked against known answers): one per
module, drawing with the exact shader, over the built-in studios' environment maps (`env_dir`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def renderer(env_dir: Path) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(env_dir, shading="exact")
    yield r
    r.close()
