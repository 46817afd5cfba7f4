"""Headless physically based rendering of products (panda3d offscreen, EGL). No asyncio, no HTTP.

Conventions shared by every part of the node (see docs/rendering.md):
- world: right-handed, +Y up, metres (glTF's convention). A product model is normalised so that its bounds are
  centred on the origin in X and Z, it rests on the ground plane Y = 0, and its front faces +Z;
- camera poses follow WebXR/OpenGL: the camera looks along its local -Z with +Y up and +X right; orientation is a
  unit quaternion (x, y, z, w);
- intrinsics are OpenCV-style pixels (fx, fy, cx, cy) with the origin at the top-left pixel corner;
- frames are `(h, w, 4) uint8` RGBA, straight (not premultiplied) alpha, sRGB; stereo frames are side by side,
  left eye in the left half: `(h, 2 * w_eye, 4)`.
"""

from render_node.render.types import (
    Background,
    CameraPose,
    EnvName,
    GltfCameraView,
    Intrinsics,
    MaterialOverride,
    PanelContent,
    PanelQuad,
    Placement,
    PoseView,
    Renderer,
    RenderRequest,
    StereoView,
    TurntableView,
    View,
)

__all__ = [
    "Background",
    "CameraPose",
    "EnvName",
    "GltfCameraView",
    "Intrinsics",
    "MaterialOverride",
    "PanelContent",
    "PanelQuad",
    "Placement",
    "PoseView",
    "RenderRequest",
    "Renderer",
    "StereoView",
    "TurntableView",
    "View",
]
