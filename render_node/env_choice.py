"""Which light a render uses: the catalog's environment of a product (its own, else its hall's), or the one a
request asks for, turned into the renderer's `EnvName | EnvFile`.

Only ever a built-in studio or a file directly inside the node's environment folder (`<assets>/env/`, where a bank
drops its calibrated studio HDR): a request names the file, never a path. The name must have the catalog's form
(`showroom.catalog.is_environment_file_name`: no folder, no leading dot, an image suffix), and the file, once
symlinks are resolved, must be a regular file whose folder is the environment folder itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from render_node.errors import BadRequest
from render_node.render.types import EnvFile, EnvName
from showroom.catalog import (
    BUILTIN_ENVIRONMENTS,
    MAX_ENV_EXPOSURE_EV,
    Environment,
    Product,
    is_environment_file_name,
)


def environment_files(env_dir: Path) -> frozenset[str]:
    """The environment file names a catalog and a request may name: files of the right form in `env_dir`."""
    try:
        entries = list(Path(env_dir).iterdir())
    except OSError:
        return frozenset()
    return frozenset(p.name for p in entries if is_environment_file_name(p.name) and _inside(p, Path(env_dir)))


def _inside(path: Path, env_dir: Path) -> bool:
    try:
        real = path.resolve(strict=True)
        return real.is_file() and real.parent == env_dir.resolve(strict=True)
    except OSError:
        return False


def env_file_path(name: str, env_dir: Path) -> Path:
    """The path of the environment file called `name` in `env_dir`; `BadRequest` for any other name."""
    if not is_environment_file_name(name):
        raise BadRequest(f"env: must be one of {', '.join(BUILTIN_ENVIRONMENTS)} or the name of an environment file "
                         f"of the node (letters, digits, '.', '_', '-', ending in .hdr, .exr, .png or .jpg); "
                         f"got {name[:80]!r}")
    path = Path(env_dir) / name
    if not _inside(path, Path(env_dir)):
        raise BadRequest(f"env: the node has no environment file {name!r}")
    return path


def resolve(choice: Environment, env_dir: Path) -> EnvName | EnvFile:
    """A built-in name as it is, a file name as an `EnvFile` in `env_dir` with its turn and exposure."""
    if not (math.isfinite(choice.rotation_deg) and math.isfinite(choice.exposure_ev)):
        raise BadRequest("env_rotation_deg and env_exposure_ev must be finite numbers")
    if abs(choice.exposure_ev) > MAX_ENV_EXPOSURE_EV:
        raise BadRequest(f"env_exposure_ev: must be within +-{MAX_ENV_EXPOSURE_EV:g} EV")
    if choice.name in BUILTIN_ENVIRONMENTS:
        if choice.rotation_deg or choice.exposure_ev:
            raise BadRequest("env_rotation_deg and env_exposure_ev apply to an environment file, not to a built-in "
                             f"studio ({choice.name})")
        return cast(EnvName, choice.name)
    return EnvFile(env_file_path(choice.name, env_dir), choice.rotation_deg, choice.exposure_ev)


def env_for(product: Product, env_dir: Path, choice: Environment | None = None) -> EnvName | EnvFile:
    """The light of a render of `product`: `choice` (a request's), else the catalog's (the product's own, else its
    hall's), else the node's default (car studio for cars, studio for the rest)."""
    chosen = choice or product.environment
    if chosen is not None:
        return resolve(chosen, env_dir)
    return "car" if product.hall == "cars" else "studio"


def env_cache_key(env: EnvName | EnvFile, file_digest: Callable[[Path], str]) -> Any:
    """What of an environment decides the pixels, for a cache key: a built-in's name, or a file's content digest
    with its turn and exposure (so a changed file, under the same name, makes new views)."""
    if isinstance(env, EnvFile):
        return {"sha256": file_digest(env.path), "rotation_deg": env.rotation_deg, "exposure_ev": env.exposure_ev}
    return env
