"""Prometheus metrics of the node, in a registry of its own (one per app, so tests can run many apps).

Stages of a live frame: queue (pose received -> render start), render, encode, send. View sets: cache hits and
misses per layer (memory, disk), sets rendered and their duration. Workers: restarts and busy workers. Prices:
fetches from the commerce service (edge role) by outcome.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_STAGE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25,
                    0.5, 1.0, 2.5, 5.0)


class NodeMetrics:
    """Every metric the node exports; `exposition()` renders the text format for GET /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sessions_active = Gauge("showroom_stream_sessions", "Live stream sessions open now", ["client"], registry=r)
        self.sessions_total = Counter("showroom_stream_sessions_opened", "Live stream sessions accepted", ["client"],
                                      registry=r)
        self.sessions_refused = Counter("showroom_stream_sessions_refused", "Stream sessions refused", ["reason"],
                                        registry=r)
        self.frames_sent = Counter("showroom_stream_frames", "Live frames sent", ["codec"], registry=r)
        self.frame_bytes = Counter("showroom_stream_bytes", "Bytes of live frames sent", ["codec"], registry=r)
        self.poses_received = Counter("showroom_stream_poses", "Poses received", registry=r)
        self.poses_dropped = Counter("showroom_stream_poses_superseded",
                                     "Poses never rendered because a newer pose arrived first", registry=r)
        self.stage_seconds = Histogram("showroom_stream_stage_seconds", "Time per stage of a live frame",
                                       ["stage"], buckets=_STAGE_BUCKETS_S, registry=r)
        self.pose_to_send_seconds = Histogram("showroom_stream_pose_to_send_seconds",
                                              "Pose received -> frame sent", buckets=_STAGE_BUCKETS_S, registry=r)
        self.view_cache = Counter("showroom_view_cache_requests", "View frame and set lookups", ["layer", "result"],
                                  registry=r)
        self.view_sets_rendered = Counter("showroom_view_sets_rendered", "360 view sets rendered", registry=r)
        self.view_set_seconds = Histogram("showroom_view_set_seconds", "Time to render and encode a view set",
                                          buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=r)
        self.renders = Counter("showroom_renders", "Frames rendered by the pool", ["outcome"], registry=r)
        self.render_seconds = Histogram("showroom_render_seconds", "Pool render time per job (queue + render)",
                                        buckets=_STAGE_BUCKETS_S, registry=r)
        self.worker_restarts = Counter("showroom_worker_restarts", "Render workers restarted", ["reason"],
                                       registry=r)
        self.workers_busy = Gauge("showroom_workers_busy", "Render workers busy now", registry=r)
        self.http_requests = Counter("showroom_http_requests", "HTTP requests", ["route", "status"], registry=r)
        self.catalog_prices = Counter("showroom_catalog_price_fetches",
                                      "Edge fetches of the commerce service's catalog prices", ["outcome"],
                                      registry=r)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
