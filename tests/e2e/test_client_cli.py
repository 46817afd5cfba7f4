"""`showroom-client vr` and `showroom-client spin` against a running node."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from showroom_client.cli import main

from tests.e2e.conftest import Node

pytestmark = pytest.mark.asyncio


async def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.get_running_loop().run_in_executor(None, main, argv)
    return code, capsys.readouterr().out


async def test_vr_plays_a_real_trace_and_prints_json(node: Node, vr_traces: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _run(["vr", "--url", node.base, "--trace", str(vr_traces / "head_user2_quaternion.txt"),
                            "--seconds", "1.5", "--hz", "72", "--width", "64", "--height", "64", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["poses_sent"] == 108 and report["frames"] > 5
    assert report["latency_ms"]["p50"] > 0 and report["bandwidth_kbps"] > 0
    assert report["poses_rendered"] + report["poses_dropped"] == 108


async def test_vr_synthetic_prints_a_latency_table(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _run(["vr", "--url", node.base, "--synthetic", "--seconds", "1", "--width", "64",
                            "--height", "64", "--codec", "h264"], capsys)
    assert code == 0
    assert "pose-to-frame p50 / p95 / p99" in out and "h264 / 2 / 64x64" in out


async def test_spin_walks_the_view_set_and_revalidates_with_304(node: Node, first_product: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _run(["spin", first_product, "--url", node.base, "--size", "64x48", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["frames"] == 108 and report["not_modified"] == 108 and report["formats"] == ["jpeg"]


async def test_an_unreachable_node_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.get_running_loop().run_in_executor(
        None, main, ["spin", "x", "--url", "http://127.0.0.1:9"])
    assert code == 2 and "showroom-client spin" in capsys.readouterr().err
