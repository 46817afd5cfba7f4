"""A node whose renderer is a stand-in, for the parts of bench/links.py where the link, not the renderer, must be
what limits the stream: on a 2-core machine without a GPU the real renderer makes ~10 small frames a second, which
no profile's rate holds back, so a rate drop would change nothing. The stand-in draws a photograph (the
scikit-image astronaut) panned by the head's yaw, resized to the asked size: photographic content compresses
like a rendered product on its environment, and it costs a few milliseconds, so the frames come as fast as the
link takes them. Everything else (the stream, adaptive quality, encoders, the WebSocket) is the node's own.

    python -m bench.linkrig.standin --port 8090        # all addresses, edge role, 2 workers, until SIGTERM
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
from aiohttp import web

from render_node.render.types import RGBA8, PoseView, RenderRequest, StereoView

ROOT = Path(__file__).resolve().parents[2]


def _yaw_deg(q: tuple[float, float, float, float]) -> float:
    x, y, z, w = q
    return math.degrees(math.atan2(2 * (w * y + x * z), 1 - 2 * (y * y + x * x)))


class PhotoRenderer:
    """Implements the `Renderer` protocol: the photo panned by yaw, at the request's size, one image per eye."""

    def __init__(self) -> None:
        import skimage.data

        photo = skimage.data.astronaut()  # type: ignore[no-untyped-call]
        self._photo = np.concatenate([photo, photo[:, ::-1]], axis=1)  # 512 x 1024, wraps round

    def _eye(self, w: int, h: int, yaw_deg: float, shift_px: int) -> RGBA8:
        import cv2

        ph, pw = self._photo.shape[:2]
        x0 = int((yaw_deg % 360) / 360 * pw + shift_px) % pw
        crop = np.roll(self._photo, -x0, axis=1)[:, : pw // 2]
        rgb = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        out = np.empty((h, w, 4), np.uint8)
        out[..., :3] = rgb
        out[..., 3] = 255
        return out

    def render(self, request: RenderRequest) -> RGBA8:
        w, h = request.size_px
        view = request.view
        if isinstance(view, StereoView):
            yaw = _yaw_deg(view.head.orientation_xyzw)
            return np.concatenate([self._eye(w, h, yaw, 0), self._eye(w, h, yaw, 6)], axis=1)
        yaw = _yaw_deg(view.pose.orientation_xyzw) if isinstance(view, PoseView) else getattr(view, "yaw_deg", 0.0)
        return self._eye(w, h, yaw, 0)

    def close(self) -> None:
        pass


def make_photo_renderer() -> PhotoRenderer:
    return PhotoRenderer()


def main(argv: list[str] | None = None) -> int:
    from render_node.app import create_app
    from render_node.config import Config
    from render_node.pool import RenderPool
    from render_node.stream.registry import StreamLimits
    from showroom.catalog import load_catalog

    parser = argparse.ArgumentParser(prog="python -m bench.linkrig.standin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    catalog = load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="standin-node-"))
    (work / "assets" / "models").mkdir(parents=True)
    for product in catalog.products:
        (work / "assets" / "models" / product.model).write_bytes(f"stand-in model of {product.id}".encode())
    config = Config(host="0.0.0.0", port=args.port, data_dir=work / "data", role="edge", assets_dir=work / "assets",
                    workers=args.workers, demo=True, rate_limits=False)
    pool = RenderPool(make_photo_renderer, workers=args.workers)
    app = create_app(config, catalog=catalog, renderer_pool=pool,
                     stream_limits=StreamLimits(max_sessions=8, idle_timeout_s=60.0, heartbeat_s=20.0))

    async def close_pool(app: web.Application) -> None:
        await pool.close()

    app.on_cleanup.append(close_pool)
    web.run_app(app, host="0.0.0.0", port=args.port, print=None, shutdown_timeout=2.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
