"""The machine a benchmark ran on, named the same way in every table: CPU model, cores, the load when it started,
the GPU where one is asked for, Python."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from pathlib import Path


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name() -> str:
    """The NVIDIA GPU's name, or how this machine renders without one."""
    gpu = "no GPU: Mesa llvmpipe (software GL)"
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(Exception):
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10).stdout.strip() or gpu
    return gpu


def machine(*, gpu: bool = False) -> str:
    load = f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    shown = f", {gpu_name()}" if gpu else ""
    return (f"{cpu_model()}, {os.cpu_count()} cores{load}{shown}, Python {platform.python_version()}, "
            f"{platform.system()}")
