"""A view set whose edge is lost (docs/deploy.md "A lost edge's view sets"): nginx holds the set's manifest but
none of its frames, the one edge that rendered it is killed with SIGKILL, and a customer spinning the product
still gets every frame: the first frame no live edge holds makes the client fetch the manifest once more with
`fresh=1`, which nginx answers from a live edge (skipping its cached copy, then keeping the answer), and that
edge renders the set. Also: `fresh=1` replaces the copy every client gets, and nginx rate-limits it.

Its own cluster (the fixture of tests/e2e/test_cluster.py, started once for this module), the real renderer at
the smallest sizes; the tests run in file order (the first kills an edge).
"""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import pytest
from showroom_client.spin import spin

from tests.cluster_support import PRODUCT, Cluster
from tests.e2e.test_cluster import SECOND_VIEW_SIZE, VIEW_SIZE, cluster  # noqa: F401 (the module's cluster)
from tests.waiting import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis, pytest.mark.gl]

FRAMES = 108
"""36 yaws x 3 pitches: every frame of a set."""
SPIN_BOUND_S = 180
"""A spin that has not finished by then hangs (the refresh renders 108 frames of 32x24 on one llvmpipe worker)."""
RENDER = aiohttp.ClientTimeout(total=120)


async def _holders(http: aiohttp.ClientSession, edges: dict[str, str], frame_url: str) -> list[str]:
    """The edges holding a frame, asked directly (not through nginx)."""
    return [name for name, url in edges.items() if (await http.get(url + frame_url)).status == 200]


async def test_a_spin_gets_every_frame_after_the_edge_that_rendered_the_set_is_killed(cluster: Cluster) -> None:  # noqa: F811
    procs = {p["name"]: p for p in cluster.status()["processes"]}
    edges = {name: procs[name]["url"] for name in ("edge-1", "edge-2")}
    front = cluster.front
    views = f"{front}/api/products/{PRODUCT}/views?size={VIEW_SIZE}"
    async with aiohttp.ClientSession() as http:
        first = await http.get(views, timeout=RENDER)
        manifest = await first.json()
        assert first.status == 200 and first.headers["X-Cache-Status"] == "MISS", manifest
        assert len(manifest["frames"]) == FRAMES
        renderer = await _holders(http, edges, manifest["frames"][0]["url"])
        assert len(renderer) == 1, f"one edge rendered the set: {renderer}"
        home = renderer[0]
        cached = await http.get(views)
        assert cached.headers["X-Cache-Status"] == "HIT", "nginx holds the manifest (and no frame of it)"

        os.kill(procs[home]["pid"], signal.SIGKILL)

        async def dead() -> bool:
            return not cluster.process(home)["alive"]

        await wait_until(dead, what=f"{home} to be gone")
        still = await http.get(views)
        assert still.headers["X-Cache-Status"] == "HIT" and await still.json() == manifest, "the stale manifest"
        lost = await http.get(front + manifest["frames"][0]["url"])
        assert lost.status in (404, 502, 503), f"a frame only the lost edge had: HTTP {lost.status}"

    report = await asyncio.wait_for(spin(front, PRODUCT, size=VIEW_SIZE), SPIN_BOUND_S)
    assert report.frames == FRAMES and report.refreshed == 1, report
    assert report.not_modified == FRAMES, "every frame revalidates on the second lap (nginx holds them now)"
    assert report.formats == ["jpeg"]

    async with aiohttp.ClientSession() as http:  # the refreshed manifest is the one every client gets now
        after = await http.get(views)
        shared = await after.json()
        assert after.status == 200 and after.headers["X-Cache-Status"] == "HIT", shared
        other = next(name for name in edges if name != home)
        for frame in shared["frames"][::9]:
            assert await _holders(http, {other: edges[other]}, frame["url"]) == [other]
            r = await http.get(front + frame["url"])
            assert r.status == 200 and r.headers["X-Cache-Status"] == "HIT"


async def test_fresh_skips_the_cached_manifest_keeps_the_answer_for_everyone_and_is_rate_limited(
        cluster: Cluster) -> None:  # noqa: F811
    views = f"{cluster.front}/api/products/{PRODUCT}/views?size={SECOND_VIEW_SIZE}"
    async with aiohttp.ClientSession() as http:
        fresh = await http.get(views + "&fresh=1", timeout=RENDER)
        body = await fresh.json()
        assert fresh.status == 200 and fresh.headers["X-Cache-Status"] == "BYPASS", body
        plain = await http.get(views)
        assert plain.headers["X-Cache-Status"] == "HIT", "the fresh answer is kept under the plain request's key"
        assert await plain.json() == body
        statuses = [(await http.get(views + "&fresh=1")).status for _ in range(30)]
        assert 429 in statuses, f"30 fresh manifests at once: {statuses}"
        assert statuses[0] == 200
        plain = await http.get(views)
        assert plain.status == 200 and plain.headers["X-Cache-Status"] == "HIT", "plain requests are not limited"
