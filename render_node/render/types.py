"""Value types of a render request: what to draw, from where, on what background.

These are the contract between the renderer and everything that asks it for pixels (the HTTP routes, the
worker pool, the stream sessions, AR and try-on). See the package docstring for the coordinate conventions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Background = Literal["white", "transparent", "env"]
EnvName = Literal["studio", "counter", "car"]
ToneMap = Literal["neutral", "aces", "linear"]
"""neutral: Khronos PBR Neutral (the default); aces: ACES as the glTF Sample Viewer implements it (Hill's fit);
linear: exposure only, clipped."""
RGBA8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera intrinsics in pixels (OpenCV convention, origin at the top-left corner)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width_px: int
    height_px: int

    @classmethod
    def from_fov(cls, fov_deg: float, width_px: int, height_px: int) -> Intrinsics:
        """Square pixels, principal point at the centre, `fov_deg` the vertical field of view."""
        f = (height_px / 2) / math.tan(math.radians(fov_deg) / 2)
        return cls(f, f, width_px / 2, height_px / 2, width_px, height_px)

    @property
    def vertical_fov_deg(self) -> float:
        return math.degrees(2 * math.atan((self.height_px / 2) / self.fy))

    def scaled_to(self, width_px: int, height_px: int) -> Intrinsics:
        sx, sy = width_px / self.width_px, height_px / self.height_px
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width_px, height_px)


@dataclass(frozen=True)
class CameraPose:
    """A camera's position (metres) and orientation (unit quaternion x, y, z, w) in the world.

    WebXR convention: the camera looks along its local -Z, +Y is up, +X is right.
    """

    position_m: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class TurntableView:
    """A camera on a sphere around the product, looking at the centre of its bounds.

    yaw 0 looks at the product's front (+Z side), positive yaw walks the camera towards +X; pitch is the
    elevation above the horizon. The distance frames the product's bounds in the field of view, times
    `distance_scale` (1.0 fills the frame with a comfortable margin).
    """

    yaw_deg: float = 0.0
    pitch_deg: float = 15.0
    distance_scale: float = 1.0
    fov_deg: float = 30.0


@dataclass(frozen=True)
class PoseView:
    """An explicit camera: pose in the world plus intrinsics (AR, try-on, a tracked phone)."""

    pose: CameraPose
    intrinsics: Intrinsics
    near_m: float = 0.01
    far_m: float = 100.0


@dataclass(frozen=True)
class GltfCameraView:
    """The model file's own N-th camera (its aspect ratio and field of view)."""

    index: int = 0


@dataclass(frozen=True)
class StereoView:
    """A head pose and an inter-pupillary distance: two eyes rendered side by side, left eye first.

    `intrinsics` are per eye. The eyes sit at -ipd/2 and +ipd/2 along the head's local X axis.
    """

    head: CameraPose
    intrinsics: Intrinsics
    ipd_m: float = 0.064
    near_m: float = 0.01
    far_m: float = 100.0


View = TurntableView | PoseView | GltfCameraView | StereoView


@dataclass(frozen=True)
class MaterialOverride:
    """Replace factors of the glTF material called `material` ("*" = every material): a variant's metal, paint or
    stone."""

    material: str
    base_color_rgba: tuple[float, float, float, float] | None = None
    metallic: float | None = None
    roughness: float | None = None
    anisotropy: float | None = None
    """KHR_materials_anisotropy strength (a brushed or satin finish); only on a material whose file has the
    extension (its direction and the shader's anisotropy come from the file)."""
    ior: float | None = None
    """KHR_materials_ior `ior` (a variant's stone: a ruby set in a model built with a diamond). Like the three
    below, it acts only on a material the file makes a cut stone (`extras.gem`) or a refracting volume
    (transmission): the gem path's red, green and blue indices, the volume's refraction and Fresnel."""
    dispersion: float | None = None
    """KHR_materials_dispersion `dispersion` (20 / the Abbe number); only where the file's material has some
    (0 there traces the three colours alike; it cannot turn the fire on for a material whose file has none)."""
    attenuation_rgb: tuple[float, float, float] | None = None
    """KHR_materials_volume `attenuationColor` (linear): the body colour left after `attenuation_distance_m`
    inside the stone (a ruby's red, a sapphire's blue)."""
    attenuation_distance_m: float | None = None
    """KHR_materials_volume `attenuationDistance` in metres; math.inf: a colourless body."""


@dataclass(frozen=True)
class EnvFile:
    """An environment light from a file: an equirectangular (2:1 lat-long) Radiance .hdr, OpenEXR or 8-bit
    PNG/JPEG (sRGB, linearised), turned about +Y by `rotation_deg` (+Z towards +X) and scaled by 2^`exposure_ev`.
    See `render_node/render/env_files.py` for the layout, the checks and the cache."""

    path: Path
    rotation_deg: float = 0.0
    exposure_ev: float = 0.0


@dataclass(frozen=True)
class Placement:
    """Another model drawn in the same frame as `RenderRequest.model_path` (the hall): a product in its slot."""

    model_path: Path
    matrix: tuple[float, ...]
    """16 floats, ROW-MAJOR 4x4 model -> world (translation in [3], [7], [11])."""
    overrides: tuple[MaterialOverride, ...] = ()
    env: EnvName | EnvFile = "studio"
    """Its light: a zone's reflection probe file in the hall."""
    pose: ModelPose | None = None
    """An animated model's pose (the hall's guide); None: its rest pose. A posed placement draws its own copy of
    the model's vertices, so other placements of the same file (and the main model) keep theirs."""


PanelKind = Literal["price_tag", "gold_chart", "loan", "notices", "button", "text"]


@dataclass(frozen=True)
class PanelContent:
    """What a live panel shows; render_node/hall/panels.py draws it (PIL, Noto CJK) and the renderer caches the
    texture by this value (frozen and hashable: the same content is drawn once)."""

    kind: PanelKind
    title_zh: str = ""
    title_en: str = ""
    lines: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    """gold_chart: the price series, oldest first."""
    highlight: bool = False
    """E.g. the focused item's tag."""


@dataclass(frozen=True)
class PanelQuad:
    """A live panel in the world: a flat rectangle at `center_m` read from the side its `normal` points to."""

    center_m: tuple[float, float, float]
    normal: tuple[float, float, float]
    """The side the text is read from."""
    size_m: tuple[float, float]
    """Width, height."""
    content: PanelContent
    px_per_m: int = 500


@dataclass(frozen=True)
class ModelPose:
    """How an animated model stands (skins, morph targets): its `animation` (name or index in the file; None: the
    rest pose) at `time_s` seconds, clamped to its keys, then morph target weights by target name (the mesh's
    `extras.targetNames`, e.g. a face's visemes). See docs/rendering.md, "Skins, morph targets and animation"."""

    animation: str | int | None = None
    time_s: float = 0.0
    morph: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class RenderRequest:
    """One frame: a model file, how its materials are varied, a view, a size and the surroundings."""

    model_path: Path
    view: View = field(default_factory=TurntableView)
    size_px: tuple[int, int] = (1280, 720)
    """(width, height) of the output; for a StereoView, of ONE eye."""
    background: Background = "white"
    env: EnvName | EnvFile = "studio"
    shadow: bool = True
    """A soft contact shadow on the ground plane under the product."""
    overrides: tuple[MaterialOverride, ...] = ()
    placements: tuple[Placement, ...] = ()
    """More models in the same frame (the hall's products), each at its matrix and lit by its own environment."""
    panels: tuple[PanelQuad, ...] = ()
    """Live panels (price tags, the gold chart): unlit textured quads."""
    pose: ModelPose | None = None
    """The main model's pose when it is animated (None: its rest pose); models that do not move ignore it."""
    tonemap: ToneMap = "neutral"
    reference: bool = False
    """The glTF Sample Viewer's conventions (certification, comparison): the exact shader on every pixel (never the
    baked path), exposure 1 for every environment, pow(1/2.2) output encoding. The caller picks the camera (the
    file's own) and leaves out the shadow: see `render_node.render.cameras.reference_request`."""


class Renderer(Protocol):
    """Anything that turns a request into pixels: the in-process panda3d renderer or the worker pool."""

    def render(self, request: RenderRequest) -> RGBA8:
        """Returns `(h, w, 4) uint8` RGBA (stereo: `(h, 2w, 4)`)."""
        ...

    def close(self) -> None: ...
