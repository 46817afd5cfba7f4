"""The bank's own guide character in place of the default one: `showroom assets guide --from FILE.glb`.

A replacement must have what the node uses (docs/guide.md, "The character"): a skin with a joint called `Head`,
the 15 Oculus visemes (`viseme_sil` ... `viseme_ou`) and the ARKit blinks (`eyeBlinkLeft`, `eyeBlinkRight`) as
morph targets, and the clips idle, talk, welcome, point and walk; +Y up, metres, facing +Z, feet at y=0 (as
glTF says). `check_character` reads the file with the renderer's own reader and says everything that is
missing at once; `import_guide` then copies the file (unchanged) to `<assets>/guide/guide.glb` and writes
guide.json `{"version", "imported": {"source", "sha256"}}`, so asset builds keep it (render_node/guide/
character/build.py). The portrait cache is keyed by the file's hash: the kiosk and the phone show the new
character on their next load; the hall's sessions pick it up when they start.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from render_node.guide import portrait as pt
from render_node.guide.character.build import FORMAT_VERSION, guide_paths
from render_node.render.errors import RenderError
from render_node.render.gltf import read_gltf

CLIPS_NEEDED: tuple[str, ...] = ("idle", "talk", "welcome", "point", "walk")
MAX_BYTES = 64 * 1024 * 1024
"""A guide is drawn in every hall frame and skinned on the CPU: a larger file is refused."""
MAX_TRIANGLES = 150_000


class GuideInvalid(ValueError):
    """The file cannot be the guide; the message lists every reason."""


@dataclass(frozen=True)
class Imported:
    glb: Path
    source: str
    sha256: str
    triangles: int
    clips: tuple[str, ...]


def check_character(path: Path) -> tuple[int, tuple[str, ...]]:
    """The file's triangle count and clip names when it can be the guide; GuideInvalid saying what is wrong."""
    if path.suffix.lower() != ".glb":
        raise GuideInvalid(f"{path.name}: the guide must be one .glb file (pack a .gltf with its buffers first)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GuideInvalid(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if size > MAX_BYTES:
        raise GuideInvalid(f"{path.name}: {size / 1e6:.0f} MB, more than the {MAX_BYTES // 2**20} MiB a guide may be")
    try:
        asset = read_gltf(path)
    except RenderError as exc:
        raise GuideInvalid(f"{path.name}: not a glTF model the renderer reads: {exc}") from None
    problems: list[str] = []
    rig = asset.rig
    if rig is None:
        raise GuideInvalid(f"{path.name}: no skin, morph targets or animations: the guide must be a rigged character")
    if not any(node.name == pt.HEAD_JOINT for node in asset.nodes):
        problems.append(f"no joint called {pt.HEAD_JOINT!r} (the portrait frames the head by it)")
    targets = {t for names in rig.target_names for t in names}
    missing = [t for t in (*pt.VISEME_TARGETS, *pt.BLINK_TARGETS) if t not in targets]
    if missing:
        problems.append(f"no morph targets {', '.join(missing)}")
    clips = tuple(a.name for a in rig.animations)
    absent = [c for c in CLIPS_NEEDED if c not in clips]
    if absent:
        problems.append(f"no animations called {', '.join(absent)}")
    triangles = sum(len(p.indices) // 3 for mesh in asset.meshes for p in mesh)
    if triangles > MAX_TRIANGLES:
        problems.append(f"{triangles:,} triangles, more than {MAX_TRIANGLES:,} (decimate it)")
    if problems:
        raise GuideInvalid(f"{path.name} cannot be the guide: " + "; ".join(problems))
    try:
        pt.character_of(asset)
    except pt.PortraitUnavailable as exc:
        raise GuideInvalid(str(exc)) from None
    return triangles, clips


def import_guide(assets_dir: Path, source: Path) -> Imported:
    """Checks `source` and puts it in place of the guide (atomically: the old one stays until the new is whole)."""
    from render_node.assets.build import write_atomic

    triangles, clips = check_character(source)
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    files = guide_paths(assets_dir)
    write_atomic(files.glb, data)
    manifest = {"version": FORMAT_VERSION, "imported": {"source": source.name, "sha256": sha}}
    write_atomic(files.manifest, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return Imported(files.glb, source.name, sha, triangles, clips)
