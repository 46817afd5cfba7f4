"""Where the hall's built files are (`<assets>/hall/`): light enough for the node to import at start-up (the
build itself, `build.py`, brings trimesh and the baker)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from render_node.hall.layout import hall_plan

HALL_DIR = "hall"
GLB_NAME = "hall.glb"
MANIFEST_NAME = "hall.json"


@dataclass(frozen=True)
class HallFiles:
    """Where the hall's files are: the GLB and each probe's Radiance file by probe id."""

    glb: Path
    probes: dict[str, Path] = field(hash=False)


def probe_file_name(probe_id: str) -> str:
    """`probe-gold` -> `probe-gold.hdr` (probe ids name themselves)."""
    return f"{probe_id}.hdr"


def hall_paths(assets_dir: Path) -> HallFiles:
    """The hall's files under `assets_dir` (from hall.json when it is there, else the names a build writes)."""
    d = Path(assets_dir) / HALL_DIR
    names = {p.id: probe_file_name(p.id) for p in hall_plan().probes}
    try:
        manifest = json.loads((d / MANIFEST_NAME).read_text())
        listed = manifest.get("probes") if isinstance(manifest, dict) else None
        if isinstance(listed, dict) and listed:
            names = {str(k): Path(str(v)).name for k, v in listed.items()}
    except (OSError, ValueError):
        pass
    return HallFiles(glb=d / GLB_NAME, probes={k: d / v for k, v in names.items()})
