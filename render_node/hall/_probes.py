"""Reflection probes: the baked hall rendered from a point into the six faces of a cube map with the node's
own renderer, turned back into linear light, and written as the equirectangular Radiance file that
`render_node/render/env_files.py` reads (the lat-long layout of `environment._latlong`).

The frame is 8-bit sRGB after the renderer's tone mapping (Khronos PBR Neutral); `linear_from_frame` inverts
both. The ceiling lights are far brighter than 8 bits hold, so each face is rendered twice: as is, and with the
glowing materials 1/64 as bright; where the first frame is saturated the second, times 64, gives the radiance.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from render_node.ar.pose import quat_from_matrix
from render_node.render.environment import _latlong, face_directions, write_rgbe

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

FACE_PX = 256
LATLONG_WIDTH_PX = 512
BRACKET = 64.0
GLOWING = ("light", "led", "outside")
"""The materials dimmed in the second frame of the bracket."""
_START, _D = 0.8 - 0.04, 0.2 + 0.04
_MAX_PEAK = 64.0


def face_axes() -> list[tuple[F64, F64]]:
    """Per OpenGL cube face (+X, -X, +Y, -Y, +Z, -Z): the view direction through its centre and the world
    direction up its rows, read off `environment.face_directions` (the texels are then sampled by direction, so
    only the coverage of each face depends on these)."""
    d = face_directions(3).astype(np.float64)  # (6, 3, 3, 3): [face, t, s]
    out = []
    for f in range(6):
        forward = d[f, 1, 1]
        up = d[f, 0, 1] - d[f, 2, 1]
        out.append((forward / np.linalg.norm(forward), up / np.linalg.norm(up)))
    return out


def camera_orientation(forward: F64, up: F64) -> tuple[float, float, float, float]:
    """The quaternion of a camera looking along `forward` with `up` (it looks along its local -Z)."""
    back = -forward
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    return quat_from_matrix(np.stack([right, true_up, back], axis=1))


def linear_from_frame(rgb8: U8, exposure: float = 1.0) -> F64:
    """Inverts the renderer's output transform (sRGB, PBR Neutral, exposure) on `(..., 3) uint8` pixels.
    Saturated highlights come back as at most `_MAX_PEAK`; desaturation of highlights is not undone."""
    x = rgb8.astype(np.float64) / 255.0
    c = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    peak = c.max(axis=-1, keepdims=True)
    compressed = peak > _START
    p = np.minimum(peak, 1 - _D * _D / (_MAX_PEAK + _D - _START))
    original = _D * _D / np.maximum(1 - p, 1e-9) - _D + _START
    c = np.where(compressed, c * original / np.maximum(peak, 1e-9), c)
    low = c.min(axis=-1, keepdims=True)
    x0 = np.where(low < 0.04, np.sqrt(np.maximum(low, 0) / 6.25), low + 0.04)
    out: F64 = (c + (x0 - low)) / exposure
    return out


def _sample(img: F64, u: F64, v: F64) -> F64:
    """Bilinear lookup of `img (h, w, c)` at pixel coordinates (u right, v down; centres at +0.5)."""
    h, w = img.shape[:2]
    x = np.clip(u - 0.5, 0, w - 1)
    y = np.clip(v - 0.5, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    out: F64 = top * (1 - fy) + bottom * fy
    return out


def render_cube(renderer: object, glb: Path, position_m: tuple[float, float, float], face_px: int = FACE_PX) -> F32:
    """The hall seen from `position_m` as a linear cube map `(6, n, n, 3)` in OpenGL face order."""
    from render_node.render.engine import EXPOSURE, PandaRenderer
    from render_node.render.types import (
        CameraPose,
        EnvName,
        Intrinsics,
        MaterialOverride,
        PoseView,
        RenderRequest,
    )

    assert isinstance(renderer, PandaRenderer)
    env: EnvName = "counter"
    exposure = EXPOSURE.get(env, 1.0)
    dim = tuple(MaterialOverride(m, base_color_rgba=(1 / BRACKET, 1 / BRACKET, 1 / BRACKET, 1.0)) for m in GLOWING)
    intr = Intrinsics.from_fov(90.0, face_px, face_px)
    dirs = face_directions(face_px).astype(np.float64)
    cube = np.zeros((6, face_px, face_px, 3), np.float32)
    for f, (forward, up) in enumerate(face_axes()):
        pose = CameraPose(position_m, camera_orientation(forward, up))
        view = PoseView(pose, intr, near_m=0.02, far_m=200.0)
        frames = []
        for overrides in ((), dim):
            req = RenderRequest(model_path=glb, view=view, size_px=(face_px, face_px), background="white",
                                env=env, shadow=False, overrides=overrides)
            frames.append(renderer.render(req)[..., :3])
        plain = linear_from_frame(frames[0], exposure)
        dimmed = linear_from_frame(frames[1], exposure) * BRACKET
        # A glowing texel: saturated as is, and much darker in the dimmed frame (a bright wall is not dimmed).
        glowing = ((frames[0].max(axis=-1) >= 250) & (frames[1].max(axis=-1) < 200))[..., None]
        linear = np.where(glowing, dimmed, plain)
        # Where the renderer's camera puts each texel's direction (it looks along `forward`, right = fwd x up).
        right = np.cross(forward, up)
        d = dirs[f]
        z = d @ forward
        u = intr.cx + intr.fx * (d @ right) / z
        v = intr.cy - intr.fy * (d @ up) / z
        cube[f] = _sample(linear, u, v).astype(np.float32)
    return cube


def write_probe(path: Path, cube: F32, width_px: int = LATLONG_WIDTH_PX) -> None:
    """Writes the cube map as an equirectangular Radiance file (atomically)."""
    latlong = _latlong(cube, width_px)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write_rgbe(Path(tmp), latlong)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
