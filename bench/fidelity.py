"""Render-fidelity harness: real glTF sample models rendered in the reference preset (the glTF Sample Viewer's
conventions) and compared with reference images by SSIM and PSNR, against the Khronos 3D Commerce tolerance
(SSIM >= 0.7, PSNR >= 20 dB).

    .venv/bin/python bench/fidelity.py [--env FILE.hdr] [--tonemap neutral|aces|linear]
                                       [--references DIR] [--samples ../shared/gltf-samples] [--out bench/results]

Every model is rendered with `showroom render --preset reference` semantics (`cameras.reference_request`): its own
glTF camera (else the front at 45 degrees, the viewer's default), no contact shadow, the exact shader, exposure 1,
gamma 2.2 output, lit by `--env` (default: our `assets/env/studio.hdr`).

References, best first:
- `--references DIR`: `<DIR>/<Model>.png` (or .jpg), rendered by the reference viewer with the SAME camera and the
  SAME environment file: the real certification. Compared pixel for pixel after resizing to our frame (the
  environment is our background).
- otherwise the screenshot the sample ships (`screenshot/screenshot-large.*`, else `screenshot.*`): a thumbnail the
  sample's author rendered under an unknown camera, environment, tone mapping and background. It is NOT a
  certification reference; the harness puts ours (a transparent render) over the screenshot's background colour
  (the median of its border) and registers the two by the object's bounding box (ours from alpha, theirs from the
  pixels that differ from that colour) before comparing; the table says which kind each row used.

Writes `fidelity.md` (table, machine, GL renderer, what the references are) and `fidelity/<Model>.jpg` (reference |
ours | difference x4) into --out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402

os.environ.setdefault("EGL_PLATFORM", "surfaceless")

SSIM_MIN = 0.7
PSNR_MIN_DB = 20.0
MAX_HEIGHT_PX = 512
Image3 = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True)
class Row:
    model: str
    reference: str
    kind: str
    size: str
    ssim: float
    psnr_db: float
    render_s: float

    @property
    def passed(self) -> bool:
        return self.ssim >= SSIM_MIN and self.psnr_db >= PSNR_MIN_DB


def ssim(a: Image3, b: Image3) -> float:
    """Wang et al. SSIM on luma (Gaussian window, sigma 1.5), as scikit-image computes it."""
    from skimage.metrics import structural_similarity  # type: ignore[import-untyped,unused-ignore]

    def luma(x: Image3) -> np.ndarray[Any, np.dtype[np.float64]]:
        y: np.ndarray[Any, np.dtype[np.float64]] = x[..., :3].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
        return y

    value = structural_similarity(  # type: ignore[no-untyped-call,unused-ignore]
        luma(a), luma(b), data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    return float(value)


def psnr_db(a: Image3, b: Image3) -> float:
    mse = float(np.mean((a[..., :3].astype(np.float64) - b[..., :3].astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def object_box(mask: np.ndarray[Any, np.dtype[np.bool_]], margin: float = 0.04) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the True pixels, grown by `margin` of the larger side (whole picture when none)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    if len(xs) == 0:
        return 0, 0, w, h
    pad = int(margin * max(xs.max() - xs.min(), ys.max() - ys.min()))
    return (max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad), min(w, int(xs.max()) + 1 + pad),
            min(h, int(ys.max()) + 1 + pad))


def foreground(img: Image3) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Pixels that differ from the median of the picture's border (the viewer's background) by more than 24/255."""
    fg: np.ndarray[Any, np.dtype[np.bool_]] = np.abs(img[..., :3] - border_colour(img)).max(axis=-1) > 24
    return fg


def border_colour(img: Image3) -> np.ndarray[Any, np.dtype[np.float64]]:
    rgb = img[..., :3].astype(np.float64)
    out: np.ndarray[Any, np.dtype[np.float64]] = np.median(np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]), 0)
    return out


def registered(ours_rgba: Image3, ref: Image3) -> tuple[Image3, Image3]:
    """Ours (a transparent render) over the reference's background colour, both cropped to their object's box and
    brought to one size (ours' crop size): the unknown camera and background are taken out, the shading stays."""
    import cv2

    alpha = ours_rgba[..., 3:4].astype(np.float64) / 255.0
    ours = (ours_rgba[..., :3] * alpha + border_colour(ref) * (1 - alpha)).round().astype(np.uint8)
    x0, y0, x1, y1 = object_box(ours_rgba[..., 3] > 16)
    a0, b0, a1, b1 = object_box(foreground(ref))
    mine = ours[y0:y1, x0:x1]
    theirs = cv2.resize(np.ascontiguousarray(ref[b0:b1, a0:a1]), (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(mine), np.asarray(theirs, np.uint8)


def find_reference(folder: Path, references: Path | None) -> tuple[Path, str] | None:
    name = folder.name
    if references is not None:
        for ext in ("png", "jpg", "jpeg"):
            p = references / f"{name}.{ext}"
            if p.is_file():
                return p, "reference render, same camera and environment"
        return None
    shots = folder / "screenshot"
    for stem in ("screenshot-large", "screenshot_large", "screenshot"):
        for ext in ("png", "jpg"):
            p = shots / f"{stem}.{ext}"
            if p.is_file():
                return p, "upstream screenshot: unknown camera, light and tone map (registered by bounding box)"
    return None


def side_by_side(ref: Image3, ours: Image3, out: Path) -> None:
    from PIL import Image

    diff = np.minimum(np.abs(ref[..., :3].astype(np.int16) - ours[..., :3].astype(np.int16)) * 4, 255).astype(np.uint8)
    strip = np.concatenate([ref[..., :3], ours[..., :3], diff], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(out, quality=88)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", type=Path, default=ROOT / "assets" / "env" / "studio.hdr")
    ap.add_argument("--env-rotation-deg", type=float, default=0.0)
    ap.add_argument("--env-exposure", type=float, default=0.0)
    ap.add_argument("--tonemap", choices=("neutral", "aces", "linear"), default="neutral")
    ap.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "gltf-samples")
    ap.add_argument("--references", type=Path, help="reference renders <Model>.png under the same camera and light")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    from PIL import Image

    from render_node.render.cameras import reference_request
    from render_node.render.engine import PandaRenderer
    from render_node.render.gltf import read_gltf
    from render_node.render.types import Background, EnvFile

    if not args.samples.is_dir():
        print(f"no samples at {args.samples}", file=sys.stderr)
        return 2
    env = EnvFile(args.env, args.env_rotation_deg, args.env_exposure)
    started_machine = machine(gpu=True)
    rows: list[Row] = []
    skipped: list[str] = []
    renderer = PandaRenderer(ROOT / "assets" / "env", shading="exact")
    try:
        for folder in sorted(p for p in args.samples.iterdir() if p.is_dir()):
            models = sorted(folder.glob("*.glb"))
            found = find_reference(folder, args.references)
            if not models or found is None:
                skipped.append(folder.name)
                print(f"{folder.name}: skipped (no .glb or no reference picture)", file=sys.stderr)
                continue
            ref_path, kind = found
            ref = np.asarray(Image.open(ref_path).convert("RGB"))
            h = min(MAX_HEIGHT_PX, ref.shape[0])
            size = (max(16, round(h * ref.shape[1] / ref.shape[0])), h)
            cams = len(read_gltf(models[0]).camera_nodes())
            background: Background = "env" if args.references is not None else "transparent"
            request = reference_request(models[0], cams, size, env, args.tonemap, background)
            t0 = time.perf_counter()
            ours = renderer.render(request)
            render_s = time.perf_counter() - t0
            if args.references is None:
                mine, theirs = registered(ours, ref)
            else:
                import cv2

                mine = ours[..., :3]
                theirs = np.asarray(cv2.resize(ref, size, interpolation=cv2.INTER_AREA), np.uint8)
            row = Row(folder.name, f"{ref_path.parent.name}/{ref_path.name}", kind, f"{size[0]}x{size[1]}",
                      ssim(mine, theirs), psnr_db(mine, theirs), render_s)
            rows.append(row)
            side_by_side(theirs, mine, args.out / "fidelity" / f"{folder.name}.jpg")
            print(f"{row.model}: SSIM {row.ssim:.3f} PSNR {row.psnr_db:.1f} dB {'pass' if row.passed else 'FAIL'}")
        gl = renderer.gl_renderer
    finally:
        renderer.close()
    write_table(args, rows, skipped, started_machine, gl)
    return 0


def write_table(args: argparse.Namespace, rows: list[Row], skipped: list[str], machine_text: str, gl: str) -> None:
    lines = [
        "# Render fidelity (reference preset)",
        "",
        f"Machine: {machine_text}. GL: {gl}.",
        f"Environment: `{args.env.name}` (rotation {args.env_rotation_deg:g} deg, exposure {args.env_exposure:g} EV); "
        f"tone mapping: {args.tonemap}; `bench/fidelity.py` on {time.strftime('%Y-%m-%d')}.",
        f"Pass: SSIM >= {SSIM_MIN} and PSNR >= {PSNR_MIN_DB:g} dB (Khronos 3D Commerce tolerance).",
        "",
        "| model | reference | SSIM | PSNR dB | result | size | render s |",
        "| --- | --- | ---: | ---: | --- | --- | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r.model} | {r.reference} | {r.ssim:.3f} | {r.psnr_db:.1f} | "
                     f"{'pass' if r.passed else 'fail'} | {r.size} | {r.render_s:.2f} |")
    for name in skipped:
        lines.append(f"| {name} | none shipped | - | - | not compared | - | - |")
    kinds = sorted({r.kind for r in rows})
    lines += ["", "What the references are: " + "; ".join(kinds) + "."]
    if args.references is None:
        lines += [
            "",
            "These rows are NOT a certification: the shipped screenshots were rendered by the samples' authors with",
            "a camera, environment, background and tone mapping nobody recorded, most as small thumbnails. A pass or",
            "fail here says how close a picture under our studio comes to that thumbnail, not whether the renderer",
            "is within tolerance. Certify with `--references DIR` holding glTF Sample Viewer renders of the same",
            "models, cameras and `--env` file (see docs/rendering.md, \"Reference mode\" and \"Fidelity harness\").",
            "Side-by-side pictures (reference | ours | difference x4): `fidelity/<model>.jpg`.",
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fidelity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'fidelity.md'}")


if __name__ == "__main__":
    raise SystemExit(main())
