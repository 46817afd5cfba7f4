"""The Python client is its own distribution: it builds alone, ships only the client and the wire protocol,
and importing it loads none of the node's heavy dependencies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("panda3d", "numpy", "open3d", "mediapipe", "cv2", "sqlalchemy", "render_node", "showroom")


def test_client_wheel_holds_only_the_client_and_protocol_and_needs_only_aiohttp(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: building writes build/ and egg-info next to the sources
    shutil.copytree(ROOT / "clients" / "python", src, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(src)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("showroom_client-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist() if not name.split("/")[0].endswith(".dist-info")}
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in zf.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    assert tops == {"showroom_client", "showroom_protocol"}
    assert requires == ["aiohttp==3.12.15"]


def test_importing_the_client_loads_no_node_or_renderer_module() -> None:
    code = ("import sys, json; import showroom_client, showroom_client.cli, showroom_protocol; "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == [], f"the client imported heavy modules: {out}"
