"""The printed ChArUco marker board on the branch counter: its layout, its printable sheet, and its detection.

The board is 7 x 5 chessboard squares of 35 mm with 26 mm ArUco markers (dictionary 5x5_100): 245 x 175 mm,
printed at 100 % on A4 landscape. `python -m render_node.ar.board board.pdf` writes the sheet (PDF or PNG).
Detection needs at least 6 ChArUco corners; the pose is solved with OpenCV's iterative PnP refined by
Levenberg-Marquardt on the sub-pixel corners.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.errors import MarkerNotFound
from render_node.render.types import Intrinsics

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

A4_LANDSCAPE_MM = (297.0, 210.0)
MIN_CORNERS = 6


@dataclass(frozen=True)
class BoardSpec:
    """Layout of a ChArUco board, in metres."""

    squares_x: int = 7
    squares_y: int = 5
    square_m: float = 0.035
    marker_m: float = 0.026
    dictionary: int = cv2.aruco.DICT_5X5_100

    @property
    def width_m(self) -> float:
        return self.squares_x * self.square_m

    @property
    def height_m(self) -> float:
        return self.squares_y * self.square_m

    @cached_property
    def board(self) -> cv2.aruco.CharucoBoard:
        d = cv2.aruco.getPredefinedDictionary(self.dictionary)
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_m, self.marker_m, d)

    @cached_property
    def detector(self) -> cv2.aruco.CharucoDetector:
        params = cv2.aruco.CharucoParameters()
        params.tryRefineMarkers = True
        det_params = cv2.aruco.DetectorParameters()
        det_params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        return cv2.aruco.CharucoDetector(self.board, params, det_params)

    def image(self, px_per_mm: float) -> U8:
        """The board alone, `(h, w) uint8` grey, `px_per_mm` pixels per printed millimetre."""
        w = round(self.width_m * 1000 * px_per_mm)
        h = round(self.height_m * 1000 * px_per_mm)
        img = self.board.generateImage((w, h), marginSize=0, borderBits=1)
        return np.asarray(img, dtype=np.uint8)


DEFAULT_BOARD = BoardSpec()


@dataclass(frozen=True)
class BoardPose:
    """Where the board is in the camera: `X_cam = R @ X_board + t` (OpenCV camera and board frames).

    The board frame has its origin at the top-left corner of the printed squares, +x right, +y down the sheet,
    +z into the table. `reprojection_px` is the RMS error of the corners after the fit.
    """

    rotation: F64
    """(3, 3) rotation matrix, board -> OpenCV camera."""
    translation_m: F64
    """(3,) board origin in the OpenCV camera frame, metres."""
    corners: int
    reprojection_px: float


def _camera_matrix(k: Intrinsics) -> F64:
    return np.array([[k.fx, 0.0, k.cx], [0.0, k.fy, k.cy], [0.0, 0.0, 1.0]])


def detect_board(gray: U8, intrinsics: Intrinsics, spec: BoardSpec = DEFAULT_BOARD) -> BoardPose:
    """Finds the board in a grey `(h, w) uint8` frame and solves its pose; raises MarkerNotFound."""
    corners, ids, _marker_corners, _marker_ids = spec.detector.detectBoard(gray)
    n = 0 if ids is None else len(ids)
    if n < MIN_CORNERS:
        raise MarkerNotFound(
            f"no marker board in view ({n} of {(spec.squares_x - 1) * (spec.squares_y - 1)} board corners found, "
            f"{MIN_CORNERS} needed); show the printed board or send the camera pose"
        )
    obj, img = spec.board.matchImagePoints(corners, ids)  # type: ignore[call-overload]
    obj = obj.reshape(-1, 3).astype(np.float64)
    img = img.reshape(-1, 2).astype(np.float64)
    k = _camera_matrix(intrinsics)
    dist = np.zeros(5)
    ok, rvec, tvec = cv2.solvePnP(obj, img, k, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        raise MarkerNotFound("the marker board was seen but its pose could not be solved")
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, k, dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, k, dist)
    err = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
    rot, _ = cv2.Rodrigues(rvec)
    return BoardPose(rotation=rot.astype(np.float64), translation_m=tvec.reshape(3).astype(np.float64),
                     corners=n, reprojection_px=err)


def printable_sheet(spec: BoardSpec = DEFAULT_BOARD, dpi: int = 300) -> U8:
    """An A4-landscape sheet `(h, w) uint8` with the board centred at true size, a caption and a 100 mm scale bar.

    Printed at 100 % (no "fit to page"), the squares measure `spec.square_m`; check the scale bar with a ruler.
    """
    px_per_mm = dpi / 25.4
    sw, sh = (round(v * px_per_mm) for v in A4_LANDSCAPE_MM)
    sheet = np.full((sh, sw), 255, np.uint8)
    board = spec.image(px_per_mm)
    bh, bw = board.shape
    y0, x0 = (sh - bh) // 2 - round(4 * px_per_mm), (sw - bw) // 2
    sheet[y0:y0 + bh, x0:x0 + bw] = board
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, px_per_mm * 0.105, max(1, round(px_per_mm * 0.22))
    caption = (f"Showroom AR board  {spec.squares_x}x{spec.squares_y} squares of {spec.square_m * 1000:.0f} mm, "
               f"markers {spec.marker_m * 1000:.0f} mm, ArUco 5x5_100.  Print at 100% - this edge faces the customer.")
    ty = y0 + bh + round(8 * px_per_mm)
    cv2.putText(sheet, caption, (x0, ty), font, scale, (0,), thick, cv2.LINE_AA)
    bar_y = ty + round(6 * px_per_mm)
    bar_len = round(100 * px_per_mm)
    cv2.rectangle(sheet, (x0, bar_y), (x0 + bar_len, bar_y + round(1.5 * px_per_mm)), (0,), -1)
    for mm in range(0, 101, 10):
        x = x0 + round(mm * px_per_mm)
        cv2.line(sheet, (x, bar_y), (x, bar_y - round(2 * px_per_mm)), (0,), thick)
    cv2.putText(sheet, "100 mm", (x0 + bar_len + round(3 * px_per_mm), bar_y + round(1.5 * px_per_mm)),
                font, scale, (0,), thick, cv2.LINE_AA)
    return sheet


def write_sheet(path: Path, spec: BoardSpec = DEFAULT_BOARD, dpi: int = 300) -> Path:
    """Writes the printable sheet as PDF (A4 at true size) or PNG (with its DPI recorded)."""
    from PIL import Image

    img = Image.fromarray(printable_sheet(spec, dpi))
    if path.suffix.lower() == ".pdf":
        img.save(path, "PDF", resolution=float(dpi))
    else:
        img.save(path, "PNG", dpi=(dpi, dpi))
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1 or Path(argv[0]).suffix.lower() not in {".pdf", ".png"}:
        print("usage: python -m render_node.ar.board OUT.pdf|OUT.png", file=sys.stderr)
        return 2
    print(write_sheet(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
