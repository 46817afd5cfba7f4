"""panda3d's headless GL pipe (p3headlessgl over EGL, no X): one per thread, made on first use, never let go."""

from __future__ import annotations

import os
import threading

import panda3d.core as p3d

from render_node.render.errors import RenderError

_PRC = """
load-display p3headlessgl
aux-display p3headlessgl
window-type none
audio-library-name null
framebuffer-srgb false
sync-video false
textures-power-2 none
gl-cube-map-seamless true
model-cache-dir
notify-level warning
notify-level-glgsg error
notify-level-display error
"""
_lock = threading.Lock()
_local = threading.local()
_every_pipe: list[p3d.GraphicsPipe] = []
"""Pipes are never let go: EGL hands every pipe of a process the same display, and a pipe's destructor
terminates it (eglTerminate), which would break every other thread's renderer."""


def headless_pipe() -> p3d.GraphicsPipe:
    """This thread's headless GL pipe (EGL display); made on first use, shared by the thread's renderers.

    One pipe per thread: a GL context made current by a renderer on one thread (an in-process pool's render
    thread) must not be what a renderer on another thread draws with (seen: blank frames after such a thread).
    """
    pipe: p3d.GraphicsPipe | None = getattr(_local, "pipe", None)
    if pipe is not None:
        return pipe
    with _lock:  # panda3d's pipe selection and prc loading are process-wide
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        p3d.load_prc_file_data("showroom-render", _PRC)
        try:
            pipe = p3d.GraphicsPipeSelection.get_global_ptr().make_module_pipe("p3headlessgl")
        except Exception as exc:  # panda3d raises plain exceptions here
            raise RenderError(f"cannot open headless GL (p3headlessgl/EGL): {exc}") from None
    if pipe is None:
        raise RenderError("cannot open headless GL: panda3d's p3headlessgl pipe is unavailable")
    with _lock:
        _every_pipe.append(pipe)
    _local.pipe = pipe
    return pipe
