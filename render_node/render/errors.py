"""Errors of the renderer and of the glTF reader. They say what happened; the node maps them to HTTP.

`RenderError` is the base: the renderer could not make a frame (no GL, a closed renderer, a failed read-back).
`ModelInvalid`: a model file is broken, unsupported or reaches outside its folder; the message names the file
and the field (e.g. `chair.gltf: buffers[0].uri: '../x.bin' leaves the model's folder`).
`EnvironmentInvalid` (a `RequestInvalid`): an environment light file is not a usable lat-long image; the message
names the file and what is wrong.
"""

from __future__ import annotations


class RenderError(Exception):
    """The renderer could not make a frame."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelInvalid(RenderError):
    """A glTF/GLB file is broken or unsupported; the message says what and where."""


class RequestInvalid(RenderError):
    """A render request the renderer cannot honour: a size, field of view, view or environment out of range."""


class EnvironmentInvalid(RequestInvalid):
    """An environment file (--env FILE) is not a usable equirectangular image; the message names file and fault."""
