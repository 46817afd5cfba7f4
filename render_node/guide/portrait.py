"""The guide's portrait frames, worked out without GL or HTTP: what to render, the bust camera, the mouth and eye
boxes from pixel differences, the sheet layout and the manifest (docs/guide.md, "Portrait frames").

The kiosk shows the guide as a bust and the phone as a small figure; both composite, in a canvas, a base frame of
a clip (idle, talk, welcome, point) with a mouth patch (one per viseme) and an eye patch (half or closed), driven
by the speech reply's viseme track. Everything is rendered once per character file, size and code version:

- `character_of(asset)`: where the Head joint is in the talk pose at t=0, how high the hair reaches, which clips
  and face targets the file has;
- `bust_view(character, size_px)`: a camera facing the character (+Z side) that frames the top of the hair to
  mid-chest; `shots(character)`: every frame to render (neutral, 15 visemes, 2 blinks, the clips' frames);
- `change_box(neutral, variants)`: the box of every pixel a viseme (or a blink) changes, plus a margin;
- `sheet(frames, cols)`, `manifest(...)`: frames left to right, top to bottom, `cols` a row.

Frames are `(h, w, 4) uint8` straight-alpha RGBA on a transparent background.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage

from render_node.errors import NodeError
from render_node.gltf import GltfAsset
from render_node.guide.character.build import guide_paths
from render_node.guide.visemes import VISEMES
from render_node.render.types import CameraPose, Intrinsics, ModelPose, PoseView

RGBA8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
Box = tuple[int, int, int, int]
"""x, y, width, height in pixels of a frame."""
SizeName = Literal["kiosk", "phone"]

PORTRAIT_VERSION = 1
"""The code's version of the frames: part of every key, so a change to what is rendered gives new URLs."""
SIZES: Mapping[str, tuple[int, int]] = {"kiosk": (360, 480), "phone": (180, 240)}
"""Frame sizes (width, height) by name. The largest is rendered; the others are downsampled from it."""
SHEET_COLS = 8
EYE_FRAMES: tuple[tuple[str, float], ...] = (("half", 0.5), ("closed", 1.0))
VISEME_TARGETS: tuple[str, ...] = tuple(f"viseme_{v}" for v in VISEMES)
BLINK_TARGETS: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight")
HEAD_JOINT = "Head"
PATCH_POSE = "talk"
"""Patches are rendered on this clip at t=0; talk, welcome and point keep the head where it is there."""
DIFF_THRESHOLD = 6
"""A pixel changed when one of its RGBA channels differs from the neutral frame by more than this (0..255)."""
FAR_SPECK = 0.0005
"""Changed regions away from the mouth count from this fraction of the frame (86 px on the kiosk's frame)."""
BOX_MARGIN = 0.02
"""Margin around the changed pixels, a fraction of the frame height (10 px on the kiosk's 480)."""
FOV_DEG = 18.0
"""The bust camera's vertical field of view: a portrait lens, so the face is not distorted."""
HAIR_MARGIN = 0.04
"""Space above the hair, a fraction of the frame height."""
CHEST_HEIGHT = 0.72
"""Where the frame ends: mid-chest, this fraction of the standing height above the feet (anthropometric chest
height; it does not depend on where a rig puts its joints)."""


class GuideNotBuilt(NodeError):
    code = "guide_not_built"
    http_status = 404


class PortraitUnavailable(NodeError):
    """The portrait could not be rendered (a render failed, or the character cannot be framed); retry later."""

    code = "portrait_unavailable"
    http_status = 503


@dataclass(frozen=True)
class Clip:
    name: str
    fps: int
    loop: bool


CLIPS: tuple[Clip, ...] = (Clip("idle", 8, True), Clip("talk", 8, True), Clip("welcome", 12, False),
                           Clip("point", 12, False))


def guide_glb(assets_dir: Path) -> Path:
    """Where the guide character is (`showroom assets build` writes it)."""
    return guide_paths(assets_dir).glb


def clip_times(duration_s: float, clip: Clip) -> tuple[float, ...]:
    """The times of a clip's frames: a loop's frames cover [0, duration) (the next loop starts at 0 again), a
    one-shot's run from 0 to its last pose inclusive."""
    if duration_s <= 0:
        return (0.0,)
    if clip.loop:
        n = max(1, round(duration_s * clip.fps))
        return tuple(i * duration_s / n for i in range(n))
    n = math.ceil(duration_s * clip.fps - 1e-6) + 1
    return tuple(min(i / clip.fps, duration_s) for i in range(n))


@dataclass(frozen=True)
class Character:
    """What the portrait needs to know of the guide file."""

    head_m: tuple[float, float, float]
    """The Head joint's world position in the talk pose at t=0."""
    top_m: float
    """The highest point of the talk pose at t=0 (the top of the hair)."""
    feet_m: float
    """The lowest point of the talk pose at t=0 (the soles: 0 for a character standing on the floor)."""
    clips: tuple[tuple[str, float], ...]
    """The portrait's clips the file has, with their durations in seconds."""
    targets: frozenset[str]
    """Every morph target name of the file's meshes."""


def character_of(asset: GltfAsset) -> Character:
    """Reads the Head joint, the top of the hair, the clips and the face targets; PortraitUnavailable (naming
    what is missing) for a file without a Head joint, a talk clip or viseme targets."""
    name = asset.path.name
    rig = asset.rig
    if rig is None:
        raise PortraitUnavailable(f"{name}: the character has no skin, morph targets or animations")
    heads = [i for i, node in enumerate(asset.nodes) if node.name == HEAD_JOINT]
    if not heads:
        raise PortraitUnavailable(f"{name}: no node called {HEAD_JOINT!r}")
    try:
        talk = rig.animation_index(PATCH_POSE)
    except KeyError:
        raise PortraitUnavailable(f"{name}: no {PATCH_POSE!r} animation") from None
    targets = frozenset(t for names in rig.target_names for t in names)
    missing = [t for t in VISEME_TARGETS if t not in targets]
    if missing:
        raise PortraitUnavailable(f"{name}: the face has no morph targets {', '.join(missing)}")
    assert talk is not None
    world = rig.world_matrices(rig.animations[talk].pose_at(0.0))
    head = world[heads[0]][:3, 3]
    top, feet = -math.inf, math.inf
    deformed = {(d.mesh, d.primitive): d.positions for d in rig.deform(talk, 0.0)}
    for node, matrix in world.items():
        mesh = asset.nodes[node].mesh
        if mesh is None:
            continue
        for pi, prim in enumerate(asset.meshes[mesh]):
            pts = deformed.get((mesh, pi), prim.positions).astype(np.float64)
            y = (pts @ matrix[:3, :3].T + matrix[:3, 3])[:, 1]
            top, feet = max(top, float(y.max())), min(feet, float(y.min()))
    if not top > float(head[1]):
        raise PortraitUnavailable(f"{name}: nothing of the character is above its Head joint")
    durations = {a.name: a.duration_s for a in rig.animations}
    clips = tuple((c.name, float(durations[c.name])) for c in CLIPS if c.name in durations)
    return Character((float(head[0]), float(head[1]), float(head[2])), top, feet, clips, targets)


def bust_view(character: Character, size_px: tuple[int, int]) -> PoseView:
    """A camera on the character's +Z side looking straight at it (-Z), framing the top of the hair (plus a
    margin) to mid-chest over the frame's height; centred on the head."""
    w, h = size_px
    hx, _, hz = character.head_m
    bottom = character.feet_m + CHEST_HEIGHT * (character.top_m - character.feet_m)
    span = (character.top_m - bottom) / (1.0 - HAIR_MARGIN)
    centre_y = bottom + span / 2
    distance = (span / 2) / math.tan(math.radians(FOV_DEG) / 2)
    pose = CameraPose((hx, centre_y, hz + distance))
    return PoseView(pose, Intrinsics.from_fov(FOV_DEG, w, h), near_m=0.05, far_m=distance + 5.0)


@dataclass(frozen=True)
class Shot:
    """One frame to render: `sheet` is a clip's name, or "neutral", "mouth", "eyes"; `index` its place there."""

    sheet: str
    index: int
    pose: ModelPose


def _weights(**on: float) -> tuple[tuple[str, float], ...]:
    return tuple((t, on.get(t, 0.0)) for t in (*VISEME_TARGETS, *BLINK_TARGETS))


def face_shots() -> list[Shot]:
    """The neutral face, one per viseme at weight 1, and both eyes half and fully closed: all in the talk pose
    at t=0, every face target set (the others at 0)."""
    out = [Shot("neutral", 0, ModelPose(PATCH_POSE, 0.0, _weights()))]
    out += [Shot("mouth", i, ModelPose(PATCH_POSE, 0.0, _weights(**{t: 1.0})))
            for i, t in enumerate(VISEME_TARGETS)]
    out += [Shot("eyes", i, ModelPose(PATCH_POSE, 0.0, _weights(**{t: w for t in BLINK_TARGETS})))
            for i, (_, w) in enumerate(EYE_FRAMES)]
    return out


def clip_shots(character: Character) -> list[Shot]:
    """Every frame of every clip the character has. The mouth is shut (visemes at 0: the client draws it);
    blinks are the clip's own."""
    by_name = {c.name: c for c in CLIPS}
    shut = tuple((t, 0.0) for t in VISEME_TARGETS)
    return [Shot(name, i, ModelPose(name, t, shut))
            for name, duration in character.clips for i, t in enumerate(clip_times(duration, by_name[name]))]


def change_box(neutral: RGBA8, variants: Iterable[RGBA8], *, threshold: int = DIFF_THRESHOLD,
               margin_px: int = 0) -> Box | None:
    """The box of the pixels where one of `variants` differs from `neutral` by more than `threshold` in any
    channel, grown by `margin_px` and clamped to the frame; None when no pixel changes.

    Changed pixels are taken as 8-connected regions: the largest (the mouth), every region that reaches into the
    box grown so far (the jaw's contour, the shading under the chin: thin, broken lines next to it), and every
    region of at least `FAR_SPECK` of the frame wherever it is. Smaller regions far from it (a stray vertex of
    hair or collar a morph brushes, one or two pixels) do not stretch the box; what they change is left as is."""
    h, w = neutral.shape[:2]
    changed = np.zeros((h, w), bool)
    base = neutral.astype(np.int16)
    for frame in variants:
        if frame.shape != neutral.shape:
            raise ValueError(f"frame {frame.shape} differs from the neutral {neutral.shape}")
        changed |= (np.abs(frame.astype(np.int16) - base) > threshold).any(axis=2)
    labels, count = ndimage.label(changed, structure=np.ones((3, 3), bool))
    if count == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    regions = [(int(sl[1].start), int(sl[0].start), int(sl[1].stop), int(sl[0].stop))
               for sl in ndimage.find_objects(labels)]
    far = max(4, round(FAR_SPECK * h * w))
    first = int(np.argmax(sizes))
    x0, y0, x1, y1 = regions[first]
    taken = {first}
    grown = True
    while grown:
        grown = False
        gx0, gy0, gx1, gy1 = x0 - margin_px, y0 - margin_px, x1 + margin_px, y1 + margin_px
        for i, (rx0, ry0, rx1, ry1) in enumerate(regions):
            if i in taken:
                continue
            if sizes[i] >= far or (rx0 < gx1 and rx1 > gx0 and ry0 < gy1 and ry1 > gy0):
                taken.add(i)
                x0, y0, x1, y1 = min(x0, rx0), min(y0, ry0), max(x1, rx1), max(y1, ry1)
                grown = True
    x0, y0 = max(0, x0 - margin_px), max(0, y0 - margin_px)
    x1, y1 = min(w, x1 + margin_px), min(h, y1 + margin_px)
    return x0, y0, x1 - x0, y1 - y0


def margin_px(size_px: tuple[int, int]) -> int:
    return max(2, round(BOX_MARGIN * size_px[1]))


def crop(frame: RGBA8, box: Box) -> RGBA8:
    x, y, w, h = box
    return np.ascontiguousarray(frame[y:y + h, x:x + w])


def paste(frame: RGBA8, patch: RGBA8, box: Box) -> RGBA8:
    """`frame` with `patch` drawn at the box (what the client does: source-over on an opaque face; the patch
    replaces the box)."""
    x, y, w, h = box
    out = frame.copy()
    out[y:y + h, x:x + w] = patch
    return out


def resize(frame: RGBA8, size_px: tuple[int, int]) -> RGBA8:
    """`frame` at `size_px` (width, height): Lanczos on premultiplied alpha, so edges do not darken."""
    if (frame.shape[1], frame.shape[0]) == tuple(size_px):
        return frame
    image = Image.fromarray(frame).convert("RGBa").resize(size_px, Image.Resampling.LANCZOS)
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)


def sheet_grid(count: int, cols: int = SHEET_COLS) -> tuple[int, int]:
    """(columns, rows) of a sheet of `count` frames, at most `cols` a row."""
    c = max(1, min(cols, count))
    return c, max(1, math.ceil(count / c))


def sheet(frames: Sequence[RGBA8], cols: int = SHEET_COLS) -> RGBA8:
    """The frames left to right, top to bottom, `cols` a row; the rest of the last row is transparent."""
    if not frames:
        raise ValueError("a sheet needs at least one frame")
    h, w = frames[0].shape[:2]
    c, r = sheet_grid(len(frames), cols)
    out = np.zeros((r * h, c * w, 4), np.uint8)
    for i, frame in enumerate(frames):
        if frame.shape[:2] != (h, w):
            raise ValueError(f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, the sheet's are {w}x{h}")
        row, col = divmod(i, c)
        out[row * h:(row + 1) * h, col * w:(col + 1) * w] = frame
    return out


def sheet_frame(sheet_px: RGBA8, index: int, frame_px: tuple[int, int], cols: int = SHEET_COLS) -> RGBA8:
    """Frame `index` of a sheet of `frame_px` (width, height) frames (what a client reads back)."""
    w, h = frame_px
    c = max(1, min(cols, sheet_px.shape[1] // w))
    row, col = divmod(index, c)
    return np.ascontiguousarray(sheet_px[row * h:(row + 1) * h, col * w:(col + 1) * w])


def portrait_key(glb_sha256: str, size: str, size_px: tuple[int, int], renderer_version: str) -> str:
    """The content address of one size's frames: the character file's bytes, the size, the clips, the framing
    and this code's and the renderer's versions."""
    parts = {"glb_sha256": glb_sha256, "size": size, "size_px": list(size_px), "version": PORTRAIT_VERSION,
             "clips": [[c.name, c.fps, c.loop] for c in CLIPS], "renderer": renderer_version,
             "framing": [FOV_DEG, HAIR_MARGIN, CHEST_HEIGHT, BOX_MARGIN, DIFF_THRESHOLD, FAR_SPECK, SHEET_COLS]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def sheet_url(key: str, name: str) -> str:
    return f"/guide/portrait/{key}/{name}.webp"


SHEET_NAMES: tuple[str, ...] = (*(c.name for c in CLIPS), "mouth", "eyes")


def manifest(key: str, size: str, frame_px: tuple[int, int], clip_frames: Mapping[str, int],
             mouth_box: Box, eyes_box: Box) -> dict[str, Any]:
    """The JSON a client loads: where each sheet is and how it is laid out (docs/guide.md)."""
    by_name = {c.name: c for c in CLIPS}
    clips = {name: {"sheet": sheet_url(key, name), "fps": by_name[name].fps, "frames": n,
                    "cols": sheet_grid(n)[0], "loop": by_name[name].loop}
             for name, n in clip_frames.items()}
    return {
        "version": PORTRAIT_VERSION, "key": key, "size": size, "frame": list(frame_px), "clips": clips,
        "mouth": {"box": list(mouth_box), "sheet": sheet_url(key, "mouth"), "cols": sheet_grid(len(VISEMES))[0],
                  "visemes": list(VISEMES)},
        "eyes": {"box": list(eyes_box), "sheet": sheet_url(key, "eyes"), "cols": len(EYE_FRAMES),
                 "frames": [name for name, _ in EYE_FRAMES]},
    }
