"""Render workers: one process per core, each owning one renderer; frames come back through shared memory.

The parent keeps an idle list of workers. `await pool.render(request)` takes an idle worker (live streams ask
with a higher priority than view sets), sends the pickled `RenderRequest` (small) down a pipe, and waits for the
worker to write the pixels into its own `multiprocessing.shared_memory` segment; the parent copies them out
(one memcpy, no pickling of pixels). A worker that crashes (EOF on its pipe) or overruns the job timeout is
killed and replaced in the background; its job fails with `Overloaded` (HTTP 503 + Retry-After), never a hang.

`workers=0` renders in-process on one dedicated thread (tests and tools that want no child processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import multiprocessing as mp
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np

from render_node import errors
from render_node.errors import BadRequest, NodeError, Overloaded, status_and_code
from render_node.metrics import NodeMetrics
from render_node.render import errors as render_errors
from render_node.render.errors import RenderError
from render_node.render.types import RGBA8, Renderer, RenderRequest, StereoView

log = logging.getLogger("render_node.pool")

DEFAULT_MAX_FRAME_BYTES = 2 * 2064 * 2208 * 4
"""Largest frame a worker hands back: a 2 x (2064 x 2208) RGBA stereo pair."""
PRIORITY_LIVE = 0
PRIORITY_VIEW = 10

RendererFactory = Callable[[], Renderer]


@dataclass(frozen=True)
class PandaRendererFactory:
    """Picklable factory of the panda3d renderer, called inside each worker process."""

    env_dir: Path

    def __call__(self) -> Renderer:
        from render_node.render.engine import PandaRenderer

        renderer: Renderer = PandaRenderer(self.env_dir)
        return renderer


def frame_bytes(request: RenderRequest) -> int:
    w, h = request.size_px
    eyes = 2 if isinstance(request.view, StereoView) else 1
    return int(w) * int(h) * 4 * eyes


def _worker_main(factory: RendererFactory, conn: Connection, shm_name: str) -> None:
    """Body of one worker process: build the renderer, then serve jobs until told to stop (None) or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    shm = SharedMemory(name=shm_name)
    try:
        try:
            renderer = factory()
        except Exception as exc:
            conn.send(("failed", 0, f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("ready", 0, None))
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                break
            if msg is None:
                break
            job_id, request = msg
            try:
                frame = np.ascontiguousarray(renderer.render(request), dtype=np.uint8)
                if frame.nbytes > shm.size:
                    raise BadRequest(f"frame of {frame.nbytes} bytes exceeds the worker buffer of {shm.size}")
                out: np.ndarray[Any, np.dtype[np.uint8]] = np.ndarray(frame.shape, np.uint8, buffer=shm.buf)
                out[...] = frame
                del out
                conn.send(("ok", job_id, tuple(frame.shape)))
            except Exception as exc:
                code = type(exc).__name__ if isinstance(exc, NodeError | RenderError) else "RenderError"
                conn.send(("error", job_id, (code, str(exc) or type(exc).__name__)))
        with contextlib.suppress(Exception):
            renderer.close()
    finally:
        shm.close()


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    conn: Connection
    shm: SharedMemory
    jobs: int = 0
    started_at: float = field(default_factory=time.monotonic)


class RenderPool:
    """Render worker processes behind one async call, `render(request, timeout_s)`."""

    def __init__(self, renderer_factory: RendererFactory, workers: int = 1, *,
                 metrics: NodeMetrics | None = None, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 job_timeout_s: float = 30.0, start_timeout_s: float = 120.0) -> None:
        if workers < 0:
            raise BadRequest("workers must be >= 0")
        self._factory = renderer_factory
        self.size = workers
        self.max_frame_bytes = max_frame_bytes
        self.job_timeout_s = job_timeout_s
        self.start_timeout_s = start_timeout_s
        self._metrics = metrics
        self._ctx = mp.get_context("spawn")
        self._workers: dict[int, _Worker] = {}
        self._idle: list[_Worker] = []
        self._waiters: list[tuple[int, int, asyncio.Future[_Worker]]] = []
        self._seq = itertools.count()
        self._jobs = itertools.count(1)
        self._restarts = 0
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        self._thread: ThreadPoolExecutor | None = None
        self._thread_renderer: Renderer | None = None
        self._thread_lock = asyncio.Lock()
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Starts every worker and waits until each has built its renderer."""
        if self.size == 0:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
            self.started = True
            return
        results = await asyncio.gather(*(self._spawn(i) for i in range(self.size)), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                await self.close()
                raise RenderError(f"a render worker failed to start: {r!r}")
        self.started = True
        watchdog = asyncio.get_running_loop().create_task(self._watch())
        self._background.add(watchdog)
        watchdog.add_done_callback(self._background.discard)

    async def _watch(self, period_s: float = 0.5) -> None:
        """Replaces idle workers that died (killed from outside, out of memory) before a job finds them."""
        while not self._closed:
            await asyncio.sleep(period_s)
            for worker in list(self._idle):
                if not worker.process.is_alive():
                    self._replace(worker, "died_idle", "died while idle")

    async def close(self) -> None:
        self._closed = True
        for _, _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(Overloaded("the node is shutting down"))
        self._waiters.clear()
        for task in list(self._background):
            task.cancel()
        for w in list(self._workers.values()):
            with contextlib.suppress(Exception):
                w.conn.send(None)
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 3.0  # workers finish their current job, then go; past this they are killed
        for w in list(self._workers.values()):
            await loop.run_in_executor(None, w.process.join, max(0.0, deadline - time.monotonic()))
            self._discard(w)
        self._workers.clear()
        self._idle.clear()
        if self._thread is not None:
            renderer = self._thread_renderer
            if renderer is not None:
                await loop.run_in_executor(self._thread, renderer.close)
            self._thread.shutdown(wait=True)
            self._thread = None

    def use_metrics(self, metrics: NodeMetrics) -> None:
        """Reports to `metrics` from now on (an app adopting a pool made elsewhere)."""
        self._metrics = metrics

    def worker_pids(self) -> list[int]:
        """Process ids of the workers alive now."""
        return [w.process.pid for w in self._workers.values()
                if w.process.pid is not None and w.process.is_alive()]

    @property
    def restarts(self) -> int:
        return self._restarts

    @property
    def busy(self) -> int:
        return len(self._workers) - len(self._idle)

    @property
    def queued(self) -> int:
        """Render calls waiting for a free worker now."""
        return sum(1 for _, _, fut in self._waiters if not fut.done())

    async def _spawn(self, index: int) -> _Worker:
        shm = SharedMemory(create=True, size=self.max_frame_bytes)
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(self._factory, child, shm.name),
                                 name=f"render-worker-{index}", daemon=True)
        proc.start()
        child.close()
        worker = _Worker(index, proc, parent, shm)
        try:
            kind, _, detail = await self._receive(worker, self.start_timeout_s)
        except BaseException:
            self._discard(worker)
            raise
        if kind != "ready":
            self._discard(worker)
            raise RenderError(f"render worker {index} could not build its renderer: {detail}")
        self._workers[index] = worker
        self._release(worker)
        log.info("render worker %d ready (pid %s)", index, proc.pid)
        return worker

    def _discard(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(1.0)
        with contextlib.suppress(Exception):
            worker.conn.close()
        with contextlib.suppress(Exception):
            worker.shm.close()
        with contextlib.suppress(Exception):
            worker.shm.unlink()

    def _replace(self, worker: _Worker, kind: str, reason: str) -> None:
        """Kills `worker` and starts another in its slot, in the background. `kind` (snake case, a few values)
        labels the restart metric; `reason` is the log's words."""
        self._workers.pop(worker.index, None)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        self._discard(worker)
        self._restarts += 1
        if self._metrics is not None:
            self._metrics.worker_restarts.labels(kind).inc()
        log.warning("render worker %d (pid %s) %s; restarting it", worker.index, worker.process.pid, reason)
        if self._closed:
            return

        async def respawn() -> None:
            delay_s = 0.5
            while not self._closed:
                try:
                    await self._spawn(worker.index)
                    return
                except Exception as exc:
                    log.error("render worker %d did not restart: %s", worker.index, exc)
                    await asyncio.sleep(delay_s)
                    delay_s = min(delay_s * 2, 30.0)

        task = asyncio.get_running_loop().create_task(respawn())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- scheduling ------------------------------------------------------------------------------------------
    def _release(self, worker: _Worker) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(worker)
                return
        self._idle.append(worker)
        self._update_busy()

    def _update_busy(self) -> None:
        if self._metrics is not None:
            self._metrics.workers_busy.set(self.busy)

    async def _acquire(self, priority: int, timeout_s: float) -> _Worker:
        while self._waiters and self._waiters[0][2].done():  # callers that gave up
            heapq.heappop(self._waiters)
        while self._idle and not self._waiters:
            worker = self._idle.pop(0)
            if not worker.process.is_alive():
                self._replace(worker, "died_idle", "died while idle")
                continue
            self._update_busy()
            return worker
        fut: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), fut))
        try:
            worker = await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())
            fut.cancel()
            raise Overloaded(f"no render worker free within {timeout_s:.1f} s") from None
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())
            fut.cancel()
            raise
        self._update_busy()
        return worker

    async def _receive(self, worker: _Worker, timeout_s: float) -> tuple[str, int, Any]:
        """The worker's next message, waiting on its pipe without blocking the loop."""
        loop = asyncio.get_running_loop()
        if not worker.conn.poll(0):
            ready: asyncio.Future[None] = loop.create_future()
            fd = worker.conn.fileno()

            def on_readable() -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(fd, on_readable)
            try:
                await asyncio.wait_for(ready, timeout_s)
            finally:
                loop.remove_reader(fd)
        msg: tuple[str, int, Any] = worker.conn.recv()
        return msg

    # -- the one call ----------------------------------------------------------------------------------------
    async def render(self, request: RenderRequest, timeout_s: float | None = None,
                     priority: int = PRIORITY_VIEW) -> RGBA8:
        """Renders `request` on a free worker: `(h, w, 4) uint8` RGBA (stereo: `(h, 2w, 4)`).

        `timeout_s` bounds the wait for a worker plus the render; past it the job fails with `Overloaded`
        (a stuck worker is replaced). Renderer errors come back as the same `NodeError` subclass.
        """
        if self._closed or not self.started:
            raise Overloaded("the render pool is not running")
        if frame_bytes(request) > self.max_frame_bytes:
            raise BadRequest(f"{request.size_px[0]}x{request.size_px[1]} is larger than this node renders")
        limit_s = self.job_timeout_s if timeout_s is None else timeout_s
        t0 = time.perf_counter()
        try:
            if self.size == 0:
                frame = await self._render_in_thread(request, limit_s)
            else:
                frame = await self._render_in_worker(request, limit_s, priority)
        except (NodeError, RenderError) as exc:
            if self._metrics is not None:
                self._metrics.renders.labels(status_and_code(exc)[1]).inc()
            raise
        if self._metrics is not None:
            self._metrics.renders.labels("ok").inc()
            self._metrics.render_seconds.observe(time.perf_counter() - t0)
        return frame

    async def _render_in_worker(self, request: RenderRequest, limit_s: float, priority: int) -> RGBA8:
        deadline = time.monotonic() + limit_s
        worker = await self._acquire(priority, limit_s)
        job_id = next(self._jobs)
        try:
            worker.conn.send((job_id, request))
            kind, got_id, detail = await self._receive(worker, max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            self._replace(worker, "timeout", f"overran the {limit_s:.1f} s job timeout")
            raise Overloaded("the render took too long; the worker was restarted") from None
        except (EOFError, OSError, BrokenPipeError):
            self._replace(worker, "died", "died")
            raise Overloaded("the render worker died; it is being restarted") from None
        except asyncio.CancelledError:
            # The caller gave up; the worker is still busy with this job, so drain it in the background.
            self._drain_later(worker, deadline)
            raise
        if got_id != job_id:
            self._replace(worker, "out_of_turn", "answered out of turn")
            raise Overloaded("the render worker lost track; it is being restarted")
        worker.jobs += 1
        if kind == "ok":
            shape = tuple(int(x) for x in detail)
            view: np.ndarray[Any, np.dtype[np.uint8]] = np.ndarray(shape, np.uint8, buffer=worker.shm.buf)
            frame = view.copy()
            del view
            self._release(worker)
            return frame
        self._release(worker)
        code, message = detail
        cls = getattr(render_errors, str(code), None) or getattr(errors, str(code), None)
        if isinstance(cls, type) and issubclass(cls, NodeError | RenderError):
            raise cls(message)
        raise RenderError(message)

    def _drain_later(self, worker: _Worker, deadline: float) -> None:
        async def drain() -> None:
            try:
                await self._receive(worker, max(0.05, deadline - time.monotonic()))
            except (TimeoutError, EOFError, OSError):
                self._replace(worker, "abandoned_job", "overran its job after the caller left")
                return
            self._release(worker)

        task = asyncio.get_running_loop().create_task(drain())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _render_in_thread(self, request: RenderRequest, limit_s: float) -> RGBA8:
        assert self._thread is not None
        loop = asyncio.get_running_loop()

        def run() -> RGBA8:
            if self._thread_renderer is None:
                self._thread_renderer = self._factory()
            return np.ascontiguousarray(self._thread_renderer.render(request), dtype=np.uint8)

        try:
            async with asyncio.timeout(limit_s):
                async with self._thread_lock:
                    return await loop.run_in_executor(self._thread, run)
        except TimeoutError:
            raise Overloaded(f"the render took longer than {limit_s:.1f} s") from None
        except (NodeError, RenderError):
            raise
        except Exception as exc:
            raise RenderError(str(exc) or type(exc).__name__) from exc
