"""Landmark models: mediapipe face mesh (with irises) and hands, OpenCV Haar cascade as the face fallback.

Frames are `(h, w, 3) uint8` RGB and are only ever held in memory. The mediapipe graphs are built lazily on first
use (never at import) and are not thread-safe, so each `LandmarkModels` serialises calls with a lock; build one
per worker thread or session for parallelism.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

Handedness = Literal["left", "right"]

# Face mesh indices used by the fitting (mediapipe canonical face model).
CHIN = 152
NASION = 168
FOREHEAD = 10
JAW_RIGHT_IMG_LEFT = 172
JAW_LEFT_IMG_RIGHT = 397
CHEEK_IMG_LEFT = 234
CHEEK_IMG_RIGHT = 454
LOBE_IMG_LEFT = 132
LOBE_IMG_RIGHT = 361
NOSE_TIP = 1
IRIS_IMG_LEFT = (468, 469, 471)  # centre, then the two horizontal edge points
IRIS_IMG_RIGHT = (473, 474, 476)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# Hand landmark indices.
WRIST = 0
FINGERS: dict[str, tuple[int, int, int, int]] = {
    "thumb": (1, 2, 3, 4),
    "index": (5, 6, 7, 8),
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "little": (17, 18, 19, 20),
}


@dataclass(frozen=True)
class FaceLandmarks:
    """A face: `points_px` (478, 3) x, y in pixels and a relative depth z (pixels, smaller = nearer)."""

    points_px: F64
    source: Literal["face_mesh", "haar"]
    box_px: tuple[int, int, int, int]
    """x, y, width, height of the face."""

    @property
    def has_iris(self) -> bool:
        return self.source == "face_mesh" and len(self.points_px) >= 478


@dataclass(frozen=True)
class HandLandmarks:
    """A hand: `points_px` (21, 2) pixels, `points_m` (21, 3) metric model coordinates (camera-aligned axes,
    origin near the hand's centre), `handedness` of the real hand, `score` 0..1."""

    points_px: F64
    points_m: F64
    handedness: Handedness
    score: float


def _mediapipe() -> Any:
    """mediapipe, imported on first use; its import pulls in matplotlib/pyparsing, which warn about their own
    deprecations (nothing we can fix), so those warnings are silenced for the import only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import mediapipe as mp
    return mp


class LandmarkModels:
    """The face and hand landmark models of one worker. `static=True` for photos, False for video streams."""

    def __init__(self, static: bool = True, min_confidence: float = 0.5) -> None:
        self._static = static
        self._min_confidence = min_confidence
        self._lock = threading.Lock()
        self._face: Any = None
        self._hands: Any = None
        self._haar: Any = None

    def close(self) -> None:
        with self._lock:
            for graph in (self._face, self._hands):
                if graph is not None:
                    graph.close()
            self._face = self._hands = None

    def _face_graph(self) -> Any:
        if self._face is None:
            mp = _mediapipe()
            self._face = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=self._static, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=self._min_confidence, min_tracking_confidence=self._min_confidence)
        return self._face

    def _hand_graph(self) -> Any:
        if self._hands is None:
            mp = _mediapipe()
            self._hands = mp.solutions.hands.Hands(
                static_image_mode=self._static, max_num_hands=2, model_complexity=1,
                min_detection_confidence=self._min_confidence, min_tracking_confidence=self._min_confidence)
        return self._hands

    def face(self, rgb: U8) -> FaceLandmarks | None:
        """The largest face, or None. Falls back to the Haar cascade when the face mesh finds nothing."""
        h, w = rgb.shape[:2]
        with self._lock:
            result = self._face_graph().process(np.ascontiguousarray(rgb))
        if result.multi_face_landmarks:
            lm = result.multi_face_landmarks[0].landmark
            pts = np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)
            x0, y0 = pts[:, :2].min(axis=0)
            x1, y1 = pts[:, :2].max(axis=0)
            return FaceLandmarks(pts, "face_mesh", (int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
        return self._haar_face(rgb)

    def _haar_face(self, rgb: U8) -> FaceLandmarks | None:
        with self._lock:
            if self._haar is None:
                cascades = cv2.data.haarcascades  # type: ignore[attr-defined]
                self._haar = cv2.CascadeClassifier(cascades + "haarcascade_frontalface_default.xml")
            gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
            faces = self._haar.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=6,
                                                minSize=(max(40, rgb.shape[1] // 12),) * 2)
        if len(faces) == 0:
            return None
        x, y, fw, fh = (int(v) for v in max(faces, key=lambda f: int(f[2]) * int(f[3])))
        return FaceLandmarks(_haar_points(x, y, fw, fh), "haar", (x, y, fw, fh))

    def hands(self, rgb: U8, mirrored: bool = False) -> list[HandLandmarks]:
        """Every hand found, most confident first. `mirrored`: the frame is a selfie view (flipped)."""
        h, w = rgb.shape[:2]
        with self._lock:
            result = self._hand_graph().process(np.ascontiguousarray(rgb))
        if not result.multi_hand_landmarks:
            return []
        out = []
        for lm, world, label in zip(result.multi_hand_landmarks, result.multi_hand_world_landmarks,
                                    result.multi_handedness, strict=True):
            px = np.array([[p.x * w, p.y * h] for p in lm.landmark], dtype=np.float64)
            m = np.array([[p.x, p.y, p.z] for p in world.landmark], dtype=np.float64)
            cls = label.classification[0]
            # mediapipe labels hands as seen in a mirrored (selfie) image; a plain camera frame swaps them.
            said: Handedness = "left" if cls.label.lower() == "left" else "right"
            real: Handedness = said if mirrored else ("right" if said == "left" else "left")
            out.append(HandLandmarks(px, m, real, float(cls.score)))
        out.sort(key=lambda hl: -hl.score)
        return out


def _haar_points(x: int, y: int, w: int, h: int) -> F64:
    """A face box as a sparse stand-in for the mesh: only the points the fitting reads are meaningful."""
    pts = np.zeros((478, 3), dtype=np.float64)
    cx = x + w / 2

    def put(i: int, fx: float, fy: float) -> None:
        pts[i, :2] = (x + fx * w, y + fy * h)

    for k, i in enumerate(FACE_OVAL):
        a = 2 * np.pi * k / len(FACE_OVAL)
        pts[i, :2] = (cx + 0.5 * w * np.sin(a), y + h * 0.55 - 0.55 * h * np.cos(a))
    put(CHIN, 0.5, 1.08)
    put(NASION, 0.5, 0.38)
    put(FOREHEAD, 0.5, 0.05)
    put(NOSE_TIP, 0.5, 0.62)
    put(JAW_RIGHT_IMG_LEFT, 0.16, 0.88)
    put(JAW_LEFT_IMG_RIGHT, 0.84, 0.88)
    put(CHEEK_IMG_LEFT, 0.02, 0.45)
    put(CHEEK_IMG_RIGHT, 0.98, 0.45)
    put(LOBE_IMG_LEFT, 0.04, 0.66)
    put(LOBE_IMG_RIGHT, 0.96, 0.66)
    return pts
