"""Builds the default guide character: `<assets>/guide/guide.glb` and `guide.json` ({"version", "fingerprint"},
written last, so a build cut short leaves the guide stale, never half-new).

`ensure_guide(assets_dir)` does nothing when guide.json's fingerprint matches the builder's code (a hash of this
package's modules and the format version) and the GLB is there; `force=True` rebuilds. `guide_paths` tells the
node where the file is; any glTF character with the same viseme names can replace it (`showroom assets guide
--from FILE`, render_node/guide/guide_import.py: guide.json then says `imported`, and builds keep it unless told
`replace_imported`; docs/guide.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

GUIDE_DIR = "guide"
GLB_NAME = "guide.glb"
MANIFEST_NAME = "guide.json"
FORMAT_VERSION = 1
_SOURCES = ("build.py", "body.py", "head.py", "face.py", "rig.py", "clips.py", "glb.py", "sdf.py", "materials.py")

log = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GuideFiles:
    glb: Path
    manifest: Path


@dataclass(frozen=True)
class GuideReport:
    glb: Path
    skipped: bool
    triangles: int = 0
    vertices: int = 0
    glb_bytes: int = 0
    build_s: float = 0.0
    imported: str | None = None  # kept: the bank's own character (its source file's name)


def guide_paths(assets_dir: Path) -> GuideFiles:
    d = Path(assets_dir) / GUIDE_DIR
    return GuideFiles(glb=d / GLB_NAME, manifest=d / MANIFEST_NAME)


def guide_fingerprint() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(f"v{FORMAT_VERSION}\n".encode())
    for name in _SOURCES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()[:32]


def _manifest(assets_dir: Path) -> dict[str, object] | None:
    try:
        manifest = json.loads(guide_paths(assets_dir).manifest.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def imported_from(assets_dir: Path) -> str | None:
    """The source file's name when the guide in place is the bank's own (imported) character, else None."""
    manifest = _manifest(assets_dir)
    imported = manifest.get("imported") if manifest else None
    if not isinstance(imported, dict) or not guide_paths(assets_dir).glb.is_file():
        return None
    return str(imported.get("source") or "guide.glb")


def is_stale(assets_dir: Path) -> bool:
    if imported_from(assets_dir) is not None:
        return False
    manifest = _manifest(assets_dir)
    if manifest is None or manifest.get("fingerprint") != guide_fingerprint():
        return True
    return not guide_paths(assets_dir).glb.is_file()


def ensure_guide(assets_dir: Path, *, force: bool = False, replace_imported: bool = False) -> GuideReport:
    """Builds (or, when up to date and not `force`, keeps) the guide; the report says which and its figures. An
    imported character is kept, `force` or not, unless `replace_imported`."""
    from render_node.assets.build import write_atomic

    files = guide_paths(assets_dir)
    source = imported_from(assets_dir)
    if source is not None and not replace_imported:
        return GuideReport(files.glb, skipped=True, imported=source)
    if not force and not is_stale(assets_dir):
        return GuideReport(files.glb, skipped=True)
    t0 = time.monotonic()
    fingerprint = guide_fingerprint()
    data, triangles, vertices = guide_glb()
    write_atomic(files.glb, data)
    manifest = {"version": FORMAT_VERSION, "fingerprint": fingerprint}
    write_atomic(files.manifest, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    report = GuideReport(files.glb, False, triangles, vertices, len(data), time.monotonic() - t0)
    log.info("guide: %d triangles, %.1f MB in %.1f s", triangles, len(data) / 1e6, report.build_s)
    return report


def _vertex_normals(pos: F64, faces: npt.NDArray[np.int64]) -> F64:
    tri = pos[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(pos)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return np.asarray(vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12))


def _targets(pos: F64, faces: npt.NDArray[np.int64], deltas: list[F64 | None]) -> tuple[tuple[F64 | None, F64 | None], ...]:
    """(position, normal) deltas per target; normal deltas from the mesh's own normals, morphed minus rest."""
    base = _vertex_normals(pos, faces)
    out: list[tuple[F64 | None, F64 | None]] = []
    for d in deltas:
        if d is None or not np.any(np.abs(d) > 1e-7):
            out.append((None, None))
            continue
        dn = _vertex_normals(pos + d, faces) - base
        dn[np.linalg.norm(d, axis=1) < 1e-7] = 0.0
        out.append((d, dn))
    return tuple(out)


def guide_glb() -> tuple[bytes, int, int]:
    """The GLB's bytes, its triangle and vertex counts."""
    from render_node.guide.character import body, clips, face, glb, head, rig
    from render_node.guide.character.sdf import mesh_field

    def sculpt(part: body.Part) -> tuple[F64, F64, npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.float32], F64 | None]:
        s = mesh_field(part.field, part.lo, part.hi, part.voxel_m, part.triangles)
        colors = part.colors(s.positions) if part.colors is not None else None
        pos = head.to_world(s.positions) if part.head_space else s.positions
        j, w = rig.top4(rig.blended_weights(part.pieces, pos))
        return pos, s.normals, s.faces, j, w, colors

    body_prims = []
    for part in body.parts():
        pos, nrm, faces, j, w, col = sculpt(part)
        body_prims.append(glb.PrimitiveOut(part.material, pos, nrm, faces, j, w, col))

    head_fixed = rig.fixed("Head")
    face_prims = []
    names = face.TARGET_NAMES
    for part in head.sdf_parts():
        pos, nrm, faces, j, w, col = sculpt(part)
        world = pos
        pos = head.to_design(world)  # the moves are made in the head's design space, and scaled with it
        deltas: list[F64 | None] = []
        for tname in names:
            if not tname.startswith("viseme_"):
                deltas.append(None)
                continue
            mix = face.MIXES[tname.removeprefix("viseme_")]
            if part.name == "head":
                deltas.append(face.skin_delta(pos, mix))
            elif part.name == "teeth":
                deltas.append(face.rigid_jaw_delta(pos, mix, (pos[:, 1] < head.MOUTH_Y).astype(np.float64)))
            elif part.name == "tongue":
                deltas.append(face.rigid_jaw_delta(pos, mix, np.ones(len(pos)), tongue=True))
            else:
                deltas.append(None)
        scaled = [None if d is None else d * head.HEAD_SCALE for d in deltas]
        face_prims.append(glb.PrimitiveOut(part.material, world, nrm, faces, j, w, col,
                                           _targets(world, faces, scaled)))
    for shell in head.eyes():
        s = shell.surface
        pos = head.to_world(s.positions)
        j, w = rig.top4(head_fixed(pos))
        face_prims.append(glb.PrimitiveOut(shell.material, pos, s.normals, s.faces, j, w, None,
                                           ((None, None),) * len(names)))
    lids = head.lids()
    s = lids.surface
    pos = head.to_world(s.positions)
    j, w = rig.top4(head_fixed(pos))
    lid_deltas: list[F64 | None] = [None] * len(names)
    lid_deltas[names.index("eyeBlinkLeft")] = face.lid_delta(lids, "Left") * head.HEAD_SCALE
    lid_deltas[names.index("eyeBlinkRight")] = face.lid_delta(lids, "Right") * head.HEAD_SCALE
    face_prims.append(glb.PrimitiveOut("skin", pos, s.normals, s.faces, j, w, lids.colors,
                                       _targets(pos, s.faces, lid_deltas)))

    animations = []
    for clip in clips.CLIPS:
        tracks = tuple(clips.sample(clip))
        keys = clips.blink_keys(clip)
        weights = None
        if keys is not None:
            times, blink = keys
            wts = np.zeros((len(times), len(names)))
            wts[:, names.index("eyeBlinkLeft")] = blink
            wts[:, names.index("eyeBlinkRight")] = blink
            weights = (times, wts)
        animations.append(glb.AnimationOut(clip.name, tracks, weights, {"loop": clip.name in ("idle", "talk", "walk")}))
    meshes = [glb.MeshOut("Body", tuple(body_prims)), glb.MeshOut("Face", tuple(face_prims), names)]
    extras = {"guide": {"version": FORMAT_VERSION, "heightM": 1.66, "faces": "+Z", "licence": "the project's own"}}
    data = glb.glb_bytes(meshes, animations, extras)
    prims = body_prims + face_prims
    return data, sum(len(p.faces) for p in prims), sum(len(p.positions) for p in prims)
