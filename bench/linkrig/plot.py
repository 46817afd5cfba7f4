"""bench/links.py part 2 as a picture (<out>/links.png, beside links.md): the 100 -> 5 -> 100 Mbit/s drop under
the VR stream over time (each frame's size against the 5 Mbit/s budget, pairs/s and pose-to-frame each second),
and each profile's VR rows of the table (pose-to-frame p50/p99, pairs/s). Drawn from the same numbers as the
tables (bench/linkrig/part2.py); matplotlib with the Agg backend, as bench/cluster.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Row = tuple[str, str, dict[str, float]]
"""(profile, "node, codec", vr_summary) as in part 2's first table."""

CODEC_COLOURS = {"product, jpeg": "#1f77b4", "product, h264": "#17becf", "stand-in, jpeg": "#d62728",
                 "stand-in, h264": "#ff7f0e"}


def plot_part_two(rows: list[Row], drop: dict[str, Any], target_fps: float, drop_to_mbit: float, heading: str,
                  path: Path) -> bool:
    """Writes the plot to `path`; False when matplotlib is missing. `drop` is part2.measure_drop's result: its
    "frames" are (seconds from the drop, bytes, pose-to-frame s), "series" the per-second rows of the table."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig = plt.figure(figsize=(13, 14))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.6], hspace=0.16)
    top = outer[0].subgridspec(3, 1, height_ratios=[1.6, 0.8, 0.9], hspace=0.08)
    size_ax = fig.add_subplot(top[0])
    rate_ax = fig.add_subplot(top[1], sharex=size_ax)
    lat_ax = fig.add_subplot(top[2], sharex=size_ax)
    _drop_timeline(size_ax, rate_ax, lat_ax, drop, target_fps, drop_to_mbit)
    bottom = outer[1].subgridspec(1, 2, wspace=0.05)
    p_ax = fig.add_subplot(bottom[0])
    fps_ax = fig.add_subplot(bottom[1], sharey=p_ax)
    _profile_bars(p_ax, fps_ax, rows, target_fps)
    fig.suptitle(heading, fontsize=11)
    fig.subplots_adjust(left=0.17, right=0.97, top=0.95, bottom=0.05)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _drop_timeline(size_ax: Any, rate_ax: Any, lat_ax: Any, drop: dict[str, Any], target_fps: float,
                   drop_to_mbit: float) -> None:
    d = drop["drop"]
    restored_s = float(drop["restored_s"])
    frames = drop["frames"]
    series = drop["series"]
    secs = [s[0] + 0.5 for s in series]
    budget_kb = d["budget_b"] / 1000
    for ax in (size_ax, rate_ax, lat_ax):
        ax.axvspan(0, restored_s, color="#fde0dd", zorder=0)
        ax.axvline(0, color="red", lw=1.2)
        ax.axvline(restored_s, color="green", lw=1.2)
        ax.grid(alpha=0.3)

    size_ax.scatter([f[0] for f in frames], [f[1] / 1000 for f in frames], s=5, color="#1f77b4", alpha=0.45,
                    label="each frame (stereo pair)")
    size_ax.step(secs, [s[2] / 1000 for s in series], where="mid", color="#08306b", lw=1.6,
                 label="median of each second")
    size_ax.axhline(budget_kb, color="red", ls="--", lw=1.2,
                    label=f"{drop_to_mbit:g} Mbit/s budget: {budget_kb:.1f} KB a frame at {target_fps:g}/s")
    if d["fit_s"] == d["fit_s"]:
        size_ax.axvline(d["fit_s"], color="red", ls=":", lw=1.2, label=f"fits the budget: {d['fit_s']:.1f} s")
    if d["climb_full_s"] == d["climb_full_s"]:
        size_ax.axvline(restored_s + d["climb_full_s"], color="green", ls=":", lw=1.2,
                        label=f"back to 90 % of the size before: {d['climb_full_s']:.1f} s after the rate")
    size_ax.set_yscale("log")
    low_kb = min(budget_kb / 2, *(f[1] / 1000 for f in frames)) * 0.8
    high_kb = max(budget_kb, *(f[1] / 1000 for f in frames)) * 4
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if low_kb <= t <= high_kb]
    size_ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    size_ax.set_ylim(low_kb, high_kb)
    size_ax.set_ylabel("frame size, KB (log)")
    size_ax.tick_params(axis="x", labelbottom=False)
    size_ax.set_title(f"The drop (stand-in node, JPEG, profile `typical`): rate 100 -> {drop_to_mbit:g} Mbit/s at "
                      f"0 s (red), back to 100 at {restored_s:.0f} s (green)", fontsize=10)
    size_ax.legend(fontsize=8, loc="upper center", framealpha=0.9, ncol=3)

    rate_ax.bar([s[0] for s in series], [s[1] for s in series], width=0.9, align="edge", color="#6baed6",
                label="stereo pairs in the second")
    rate_ax.axhline(target_fps, color="black", ls="--", lw=1, label=f"target {target_fps:g}/s")
    rate_ax.set_ylabel("pairs/s")
    rate_ax.tick_params(axis="x", labelbottom=False)
    rate_ax.set_ylim(0, target_fps * 1.6)
    rate_ax.legend(fontsize=8, loc="upper left", framealpha=0.9, ncol=2)

    lat_ax.scatter([f[0] for f in frames], [f[2] * 1000 for f in frames], s=5, color="#9467bd", alpha=0.45,
                   label="each frame")
    lat_ax.step(secs, [s[3] for s in series], where="mid", color="#3f007d", lw=1.6, label="p50 of each second")
    lat_ax.set_ylabel("pose-to-frame, ms")
    lat_ax.set_xlabel("seconds from the drop (the first and last seconds of the run are partial)")
    lat_ax.legend(fontsize=8, loc="upper right", framealpha=0.9)


def _profile_bars(p_ax: Any, fps_ax: Any, rows: list[Row], target_fps: float) -> None:
    labels = [f"{name} - {codec}" for name, codec, _ in rows]
    ys = list(range(len(rows)))
    colours = [CODEC_COLOURS.get(codec, "grey") for _, codec, _ in rows]
    p99 = [v["p99_ms"] for _, _, v in rows]
    p50 = [v["p50_ms"] for _, _, v in rows]
    p_ax.barh(ys, p99, height=0.75, color=colours, alpha=0.35, label="p99 (light)")
    p_ax.barh(ys, p50, height=0.75, color=colours, label="p50 (dark)")
    for y, a, b in zip(ys, p50, p99, strict=True):
        p_ax.text(b, y, f" {a:.0f} / {b:.0f}", va="center", fontsize=7)
    p_ax.set_yticks(ys, labels, fontsize=8)
    p_ax.invert_yaxis()
    p_ax.set_xlim(0, max(p99, default=1) * 1.3)
    p_ax.set_xlabel("pose-to-frame, ms (p50 dark / p99 light)")
    p_ax.set_title("VR stream per profile: pose-to-frame p50 / p99", fontsize=10)
    p_ax.grid(axis="x", alpha=0.3)

    pairs = [v["pairs_per_s"] for _, _, v in rows]
    fps_ax.barh(ys, pairs, height=0.75, color=colours)
    for y, v in zip(ys, pairs, strict=True):
        fps_ax.text(v, y, f"{v:.1f} ", va="center", ha="right", fontsize=7, color="white")
    fps_ax.axvline(target_fps, color="black", ls="--", lw=1, label=f"target {target_fps:g}/s")
    fps_ax.set_xlim(0, target_fps * 1.15)
    fps_ax.set_xlabel("stereo pairs/s")
    fps_ax.set_title("pairs/s (colour: node and codec)", fontsize=10)
    fps_ax.tick_params(axis="y", labelleft=False)
    fps_ax.grid(axis="x", alpha=0.3)
    fps_ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 1.0), framealpha=0.9)
