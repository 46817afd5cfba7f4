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


def postgres_cpu_s() -> float | None:
    """User + system CPU seconds of this machine's PostgreSQL server so far: every `postgres` process, plus what
    the ones that have exited left in their parent's account (Linux /proc); None when none runs here."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name, rest = text[text.find("(") + 1:text.rfind(")")], text[text.rfind(")") + 1:].split()
        if name == "postgres":
            found = True
            total += sum(int(f) for f in rest[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK") if found else None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields)
    return (total - idle) / os.sysconf("SC_CLK_TCK"), total / os.sysconf("SC_CLK_TCK")
