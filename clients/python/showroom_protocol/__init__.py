"""The live stream's wire protocol (`/ws/stream`): JSON control messages and binary frames.

Shared by the node and the clients, so it uses the standard library alone and ships in the client's own
distribution (`clients/python`), which the node installs too. The layout is documented in docs/streams.md.

Client -> node (JSON text messages):
  hello  {"type": "hello", "client": "vr"|"phone"|"kiosk", "mode"?: "vr"|"spin"|"ar"|"tryon", "product",
          "variant"?, "viewport": {"width", "height"} (per eye), "eyes": 1|2, "fov_deg" (vertical, per eye),
          "ipd_m", "codec": "jpeg"|"webp"|"h264", "max_kbps", "target_fps", "adaptive"?: true,
          camera modes only: "consent": true (try-on), "intrinsics"?: {"fx","fy","cx","cy","width","height"},
          "output"?: "composite"|"overlay", "anchor"?, "finger"?, "mirrored"?}
  pose   {"type": "pose", "seq", "t", "position": [x, y, z] (metres), "orientation": [x, y, z, w]}   (vr, spin)
  camera frame (ar, tryon): a binary message, `CAMERA_HEADER` + the JPEG/PNG bytes of one camera frame
  anchor_pose {"type": "anchor_pose", "position", "orientation"} or {"type": "anchor_pose", "camera": {...},
          "anchor": {...}} (ar; WebXR hit-test pose), {"type": "anchor_pose", "clear": true}: back to the marker
  select {"type": "select", "product", "variant"?}          switch product without a new session
  hall mode (hello "mode": "hall", no product; "overscan_deg"?: 0..30, "start"?: zone id), besides poses:
  teleport {"type": "teleport", "id", "to": zone} | {"type": "teleport", "id", "point": [x, y, z], "yaw_deg"?}
  pick   {"type": "pick", "id", "origin": [x, y, z], "direction": [x, y, z]}
  focus  {"type": "focus", "id", "product", "variant"?}   turn {"type": "turn", "yaw_deg"}
  unfocus {"type": "unfocus", "id"?}   sit {"type": "sit", "id", "product"}   stand_up {"type": "stand_up", "id"}
  ping   {"type": "ping", "t"?}  -> {"type": "pong", "t", "server_t"}
  bye    {"type": "bye"}
Node -> client: {"type": "welcome", "session_id", ...}, {"type": "error", "code", "message"}, pong,
{"type": "status", "seq", "status", "message"} (camera modes: what the last frame showed), the hall's replies
(teleported, refused, picked, focused, unfocused, corrected: docs/streams.md "Hall mode"), and binary
frames: a fixed little-endian header (`FRAME_HEADER`) followed by the payload (one JPEG/WebP image or one H.264
access unit in Annex B; camera modes: a JPEG/WebP composite or an RGBA PNG/WebP overlay). Stereo frames hold both
eyes side by side in one image, left eye first.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

ClientKind = Literal["vr", "phone", "kiosk"]
Codec = Literal["jpeg", "webp", "h264", "png"]
Mode = Literal["vr", "spin", "ar", "tryon", "hall"]
Output = Literal["composite", "overlay"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("vr", "phone", "kiosk")
CODECS: tuple[Codec, ...] = ("jpeg", "webp", "h264")
"""Codecs a hello may ask for; "png" is what overlays of the camera modes go out as."""
MODES: tuple[Mode, ...] = ("vr", "spin", "ar", "tryon", "hall")
CAMERA_MODES: tuple[Mode, ...] = ("ar", "tryon")
OUTPUTS: tuple[Output, ...] = ("composite", "overlay")
FINGERS = ("thumb", "index", "middle", "ring", "little")
CODEC_IDS: dict[str, int] = {"jpeg": 1, "h264": 2, "webp": 3, "png": 4}
CODEC_NAMES: dict[int, Codec] = {1: "jpeg", 2: "h264", 3: "webp", 4: "png"}

MAGIC = b"SRF1"
VERSION = 1
FLAG_KEYFRAME = 0x01
FLAG_STEREO = 0x02

FRAME_HEADER = struct.Struct("<4sBBBBHBBHHII6dI")
"""magic, version, codec, flags, eyes, header_size, quality, reserved, width, height, seq, frame_no,
client_t, t_receive, t_render_start, t_render_end, t_encode_end, t_send, payload_size (76 bytes)."""
HEADER_SIZE = FRAME_HEADER.size

CAMERA_MAGIC = b"SRC1"
CAMERA_VERSION = 1
CAMERA_HEADER = struct.Struct("<4sBBHId")
"""Client -> node camera frame: magic `SRC1`, version, flags (0), header_size, seq, client_t (20 bytes); the
JPEG/PNG bytes of the frame follow the header."""
CAMERA_HEADER_SIZE = CAMERA_HEADER.size
MAX_CAMERA_FRAME_BYTES = 8 * 1024 * 1024
"""As `render_node.ar.frames.MAX_FRAME_BYTES` (the HTTP route's cap); pixels are capped when decoding."""

# WebSocket close codes the node uses (1000-1015 standard; 4000-4999 application).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_BAD_HELLO = 4400
CLOSE_CONSENT_REQUIRED = 4403
CLOSE_UNKNOWN_PRODUCT = 4404
CLOSE_IDLE = 4408

MAX_VIEWPORT_PX = 2208
MAX_POSE_HZ = 120

MAX_ID_CHARS = 128
"""Product, variant and zone ids on the wire are at most this long."""

HALL_VERSION = 1
"""The version of the hall mode's messages (teleport, pick, focus, turn, sit, ...); the welcome's `hall.version`."""
MAX_OVERSCAN_DEG = 30.0
DEFAULT_OVERSCAN_DEG = 10.0
MAX_RENDER_FOV_DEG = 170.0
"""A hall session renders `fov_deg + 2 * overscan_deg`; past this a pinhole image is mostly stretched edges."""


class ProtocolError(ValueError):
    """A client broke the protocol; the node closes the socket with `close_code` and the message as reason
    (over HTTP the node answers 400 with `code` and `message`)."""

    code = "protocol_error"
    http_status = 400

    def __init__(self, message: str, close_code: int = CLOSE_POLICY) -> None:
        super().__init__(message)
        self.message = message
        self.close_code = close_code


@dataclass(frozen=True)
class Hello:
    client: ClientKind
    product: str
    variant: str | None
    width_px: int
    """Per eye."""
    height_px: int
    eyes: int
    fov_deg: float
    ipd_m: float
    codec: Codec
    max_kbps: int
    target_fps: float
    adaptive: bool = True
    """False pins quality and resolution (benchmarks, fixed-bitrate links)."""
    mode: Mode = "vr"
    """vr/spin: the node renders the client's poses; ar/tryon: the client sends camera frames."""
    consent: bool = False
    """Try-on only: the customer agreed to have the face/hand analysed (PIPL)."""
    intrinsics: dict[str, float] | None = None
    """Camera modes: {fx, fy, cx, cy, width, height} in pixels of the frames as sent; else `fov_deg` is used."""
    output: Output = "composite"
    anchor: str | None = None
    """Try-on: neck, ear, finger or wrist (default: the product's own)."""
    finger: str = "ring"
    mirrored: bool = False
    """Try-on: the frames come from a front camera shown mirrored (selfie view)."""
    overscan_deg: float = DEFAULT_OVERSCAN_DEG
    """Hall: degrees rendered beyond the displayed field of view on each side (the client turns within them)."""
    start: str = "entrance"
    """Hall: the zone the customer enters at."""

    @property
    def camera(self) -> bool:
        return self.mode in CAMERA_MODES

    @property
    def hall(self) -> bool:
        return self.mode == "hall"

    @property
    def render_fov_deg(self) -> float:
        """The vertical field of view the node renders: the displayed one plus the overscan (hall mode)."""
        return self.fov_deg + 2 * self.overscan_deg if self.hall else self.fov_deg

    def to_json(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "hello", "client": self.client, "mode": self.mode, "product": self.product,
            "variant": self.variant, "viewport": {"width": self.width_px, "height": self.height_px},
            "eyes": self.eyes, "fov_deg": self.fov_deg, "ipd_m": self.ipd_m, "codec": self.codec,
            "max_kbps": self.max_kbps, "target_fps": self.target_fps, "adaptive": self.adaptive,
        }
        if self.hall:
            msg.update(overscan_deg=self.overscan_deg, start=self.start)
            if not self.product:
                del msg["product"], msg["variant"]
        if self.camera:
            msg.update(consent=self.consent, output=self.output, mirrored=self.mirrored, finger=self.finger)
            if self.intrinsics is not None:
                msg["intrinsics"] = dict(self.intrinsics)
            if self.anchor is not None:
                msg["anchor"] = self.anchor
        return msg


@dataclass(frozen=True)
class Pose:
    seq: int
    t: float
    """Client timestamp (seconds, the client's clock); echoed in the frame header."""
    position_m: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float]

    def to_json(self) -> dict[str, Any]:
        return {"type": "pose", "seq": self.seq, "t": self.t, "position": list(self.position_m),
                "orientation": list(self.orientation_xyzw)}


@dataclass(frozen=True)
class FrameHeader:
    codec: Codec
    keyframe: bool
    eyes: int
    quality: int
    width_px: int
    """Of the whole image (both eyes side by side when stereo)."""
    height_px: int
    seq: int
    frame_no: int
    client_t: float
    t_receive: float
    t_render_start: float
    t_render_end: float
    t_encode_end: float
    t_send: float
    payload_size: int

    @property
    def stereo(self) -> bool:
        return self.eyes == 2

    def pack(self) -> bytes:
        flags = (FLAG_KEYFRAME if self.keyframe else 0) | (FLAG_STEREO if self.eyes == 2 else 0)
        return FRAME_HEADER.pack(MAGIC, VERSION, CODEC_IDS[self.codec], flags, self.eyes, HEADER_SIZE,
                                 max(0, min(255, self.quality)), 0, self.width_px, self.height_px,
                                 self.seq & 0xFFFFFFFF, self.frame_no & 0xFFFFFFFF, self.client_t,
                                 self.t_receive, self.t_render_start, self.t_render_end, self.t_encode_end,
                                 self.t_send, self.payload_size)


def parse_frame(data: bytes) -> tuple[FrameHeader, bytes]:
    """A binary frame -> (header, payload). Raises ProtocolError on a bad magic, version or size."""
    if len(data) < HEADER_SIZE:
        raise ProtocolError(f"frame of {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
    (magic, version, codec_id, flags, eyes, header_size, quality, _, width, height, seq, frame_no, client_t,
     t_rx, t_rs, t_re, t_ee, t_tx, payload_size) = FRAME_HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame magic {magic!r}")
    if version != VERSION:
        raise ProtocolError(f"frame version {version} is not supported (want {VERSION})")
    if codec_id not in CODEC_NAMES:
        raise ProtocolError(f"unknown codec id {codec_id}")
    payload = data[header_size:header_size + payload_size]
    if len(payload) != payload_size:
        raise ProtocolError("frame payload is truncated")
    header = FrameHeader(CODEC_NAMES[codec_id], bool(flags & FLAG_KEYFRAME), eyes, quality, width, height, seq,
                         frame_no, client_t, t_rx, t_rs, t_re, t_ee, t_tx, payload_size)
    return header, payload


def _num(msg: dict[str, Any], key: str, default: float | None, lo: float, hi: float) -> float:
    value = msg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"hello.{key} must be a number", CLOSE_BAD_HELLO)
    if not lo <= value <= hi:
        raise ProtocolError(f"hello.{key} must be between {lo} and {hi}, got {value}", CLOSE_BAD_HELLO)
    return float(value)


def _is_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and value.isprintable()


def parse_hello(msg: dict[str, Any]) -> Hello:
    if msg.get("type") != "hello":
        raise ProtocolError("the first message must be a hello", CLOSE_BAD_HELLO)
    client = msg.get("client", "vr")
    if client not in CLIENT_KINDS:
        raise ProtocolError(f"hello.client must be one of {', '.join(CLIENT_KINDS)}", CLOSE_BAD_HELLO)
    mode = msg.get("mode", "vr" if client == "vr" else "spin")
    if mode not in MODES:
        raise ProtocolError(f"hello.mode must be one of {', '.join(MODES)}", CLOSE_BAD_HELLO)
    product = msg.get("product", "" if mode == "hall" else None)
    if not isinstance(product, str) or (not product and mode != "hall"):
        raise ProtocolError("hello.product is required", CLOSE_BAD_HELLO)
    if len(product) > MAX_ID_CHARS:
        raise ProtocolError(f"hello.product is longer than {MAX_ID_CHARS} characters", CLOSE_BAD_HELLO)
    variant = msg.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise ProtocolError("hello.variant must be a string", CLOSE_BAD_HELLO)
    viewport = msg.get("viewport", {"width": 1280, "height": 720})
    if not isinstance(viewport, dict):
        raise ProtocolError("hello.viewport must be {width, height}", CLOSE_BAD_HELLO)
    width = int(_num(viewport, "width", None, 16, MAX_VIEWPORT_PX))
    height = int(_num(viewport, "height", None, 16, MAX_VIEWPORT_PX))
    eyes = int(_num(msg, "eyes", 1, 1, 2))
    codec = msg.get("codec", "jpeg")
    if codec not in CODECS:
        raise ProtocolError(f"hello.codec must be one of {', '.join(CODECS)}", CLOSE_BAD_HELLO)
    camera = mode in CAMERA_MODES
    consent = msg.get("consent", False)
    if not isinstance(consent, bool):
        raise ProtocolError("hello.consent must be true or false", CLOSE_BAD_HELLO)
    if mode == "tryon" and not consent:
        raise ProtocolError("consent required: try-on analyses your face or hand (sensitive personal information, "
                            "PIPL); send consent: true in the hello", CLOSE_CONSENT_REQUIRED)
    if camera and eyes != 1:
        raise ProtocolError("ar and tryon sessions are mono (eyes: 1)", CLOSE_BAD_HELLO)
    if camera and codec == "h264":
        raise ProtocolError("ar and tryon frames go out as jpeg or webp (composite) or png/webp (overlay), "
                            "not h264", CLOSE_BAD_HELLO)
    output = msg.get("output", "composite")
    if output not in OUTPUTS:
        raise ProtocolError(f"hello.output must be one of {', '.join(OUTPUTS)}", CLOSE_BAD_HELLO)
    anchor = msg.get("anchor")
    if anchor is not None and anchor not in ("neck", "ear", "finger", "wrist"):
        raise ProtocolError("hello.anchor must be neck, ear, finger or wrist", CLOSE_BAD_HELLO)
    finger = msg.get("finger", "ring")
    if finger not in FINGERS:
        raise ProtocolError(f"hello.finger must be one of {', '.join(FINGERS)}", CLOSE_BAD_HELLO)
    mirrored = msg.get("mirrored", False)
    if not isinstance(mirrored, bool):
        raise ProtocolError("hello.mirrored must be true or false", CLOSE_BAD_HELLO)
    fov_deg = _num(msg, "fov_deg", 90.0 if eyes == 2 else 60.0, 10, 150)
    overscan_deg, start = DEFAULT_OVERSCAN_DEG, "entrance"
    if mode == "hall":
        overscan_deg = _num(msg, "overscan_deg", DEFAULT_OVERSCAN_DEG, 0.0, MAX_OVERSCAN_DEG)
        if fov_deg + 2 * overscan_deg > MAX_RENDER_FOV_DEG:
            raise ProtocolError(f"hello.fov_deg + 2 * overscan_deg must be at most {MAX_RENDER_FOV_DEG:g}, got "
                                f"{fov_deg + 2 * overscan_deg:g}", CLOSE_BAD_HELLO)
        start = msg.get("start", "entrance")
        if not _is_id(start):
            raise ProtocolError("hello.start must be a zone id", CLOSE_BAD_HELLO)
    return Hello(
        client=client, product=product, variant=variant, width_px=width, height_px=height, eyes=eyes,
        fov_deg=fov_deg,
        ipd_m=_num(msg, "ipd_m", 0.064, 0.0, 0.1), codec=codec,
        max_kbps=int(_num(msg, "max_kbps", 50_000, 100, 1_000_000)),
        target_fps=_num(msg, "target_fps", 60 if client == "vr" else 30, 1, 120),
        adaptive=bool(msg.get("adaptive", True)), mode=mode, consent=consent,
        intrinsics=_intrinsics(msg.get("intrinsics")) if camera else None, output=output, anchor=anchor,
        finger=finger, mirrored=mirrored, overscan_deg=overscan_deg, start=start,
    )


def _intrinsics(obj: Any) -> dict[str, float] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ProtocolError("hello.intrinsics must be {fx, fy, cx, cy, width, height}", CLOSE_BAD_HELLO)
    out = {k: _num(obj, k, None, 0.0, 100_000.0) for k in ("fx", "fy", "cx", "cy")}
    for k in ("width", "height"):
        if k in obj:
            out[k] = _num(obj, k, None, 16, 16_384)
    if out["fx"] <= 0 or out["fy"] <= 0:
        raise ProtocolError("hello.intrinsics: fx and fy must be positive", CLOSE_BAD_HELLO)
    return out


@dataclass(frozen=True)
class CameraFrame:
    seq: int
    t: float
    """Client timestamp (seconds, the client's clock); echoed in the reply's frame header."""
    image: bytes
    """The JPEG/PNG bytes (kept in memory only; never written to disk or logs)."""


def pack_camera_frame(seq: int, t: float, image: bytes) -> bytes:
    """A camera-frame message for the ar/tryon modes: the 20-byte header and the JPEG/PNG bytes."""
    return CAMERA_HEADER.pack(CAMERA_MAGIC, CAMERA_VERSION, 0, CAMERA_HEADER_SIZE, seq & 0xFFFFFFFF, t) + image


def parse_camera_frame(data: bytes, max_bytes: int = MAX_CAMERA_FRAME_BYTES) -> CameraFrame:
    """A binary camera-frame message -> CameraFrame; raises ProtocolError on a bad header or size."""
    if len(data) < CAMERA_HEADER_SIZE:
        raise ProtocolError(f"camera frame of {len(data)} bytes is shorter than its {CAMERA_HEADER_SIZE}-byte header",
                            CLOSE_INVALID_DATA)
    magic, version, _flags, header_size, seq, t = CAMERA_HEADER.unpack_from(data)
    if magic != CAMERA_MAGIC:
        raise ProtocolError(f"bad camera frame magic {magic!r} (want {CAMERA_MAGIC!r})", CLOSE_INVALID_DATA)
    if version != CAMERA_VERSION:
        raise ProtocolError(f"camera frame version {version} is not supported (want {CAMERA_VERSION})",
                            CLOSE_INVALID_DATA)
    if header_size < CAMERA_HEADER_SIZE or header_size > len(data):
        raise ProtocolError(f"bad camera frame header_size {header_size}", CLOSE_INVALID_DATA)
    if not math.isfinite(t):
        raise ProtocolError("camera frame t must be finite", CLOSE_INVALID_DATA)
    image = data[header_size:]
    if len(image) > max_bytes:
        raise ProtocolError(f"camera frame too big: {len(image)} bytes, the limit is {max_bytes}", CLOSE_TOO_BIG)
    if not image:
        raise ProtocolError("camera frame holds no image", CLOSE_INVALID_DATA)
    return CameraFrame(seq, t, image)


def _vec(msg: dict[str, Any], key: str, n: int) -> tuple[float, ...]:
    v = msg.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise ProtocolError(f"pose.{key} must be a list of {n} numbers", CLOSE_INVALID_DATA)
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ProtocolError(f"pose.{key} must hold finite numbers", CLOSE_INVALID_DATA)
        out.append(float(x))
    return tuple(out)


def parse_pose(msg: dict[str, Any]) -> Pose:
    seq = msg.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ProtocolError("pose.seq must be a non-negative integer", CLOSE_INVALID_DATA)
    t = msg.get("t", 0.0)
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ProtocolError("pose.t must be a number (seconds)", CLOSE_INVALID_DATA)
    position = _vec(msg, "position", 3)
    q = _vec(msg, "orientation", 4)
    norm = math.sqrt(sum(c * c for c in q))
    if not 0.5 < norm < 1.5:
        raise ProtocolError("pose.orientation must be a unit quaternion [x, y, z, w]", CLOSE_INVALID_DATA)
    qn = (q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm)
    return Pose(seq, float(t), (position[0], position[1], position[2]), qn)

