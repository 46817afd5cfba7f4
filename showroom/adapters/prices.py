"""Price feeds implementing the `PriceFeed` port.

- `SandboxPriceFeed`: a seeded, mean-reverting random walk (Ornstein-Uhlenbeck in log price) that ticks every
  `tick_s` seconds, anchored to Shanghai Gold Exchange levels of late 2025: Au 930, Ag 11.5, Pt 350 CNY per
  gram of pure metal. Daily volatility about 1.2 % (Au), 2 % (Ag), 1.8 % (Pt); it stays near its anchor, so demos
  and tests see a moving but plausible price. The same seed and time give the same price.
  It also publishes the bank's buy-back (bid) price: spot minus the bank's spread per gram (`bid_spread`, default
  `BID_SPREAD_CNY_PER_G`: Au 4.00, Ag 0.20, Pt 5.00).
- `JsonFilePriceFeed`: reads `{"as_of": ISO-8601, "source": str, "cny_per_g": {"Au": "930.12", ...},
  "bid_cny_per_g"?: {"Au": "926.12", ...}}` from a file (re-read when it changes) - what a bank's market-data job
  drops on disk. Without `bid_cny_per_g` the snapshot has no buy-back price (buy-backs are not quoted).
- `HttpPriceFeed`: GETs the same JSON from a URL (cached for `cache_s`).
Both real feeds refuse snapshots older than `max_age_s` (`PriceUnavailable`): no quote on a stale price.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiohttp

from showroom.catalog import Metal
from showroom.ports import Clock
from showroom.pricing import PriceSnapshot, PriceUnavailable

ANCHORS_CNY_PER_G: dict[Metal, Decimal] = {Metal.GOLD: Decimal("930.00"), Metal.SILVER: Decimal("11.50"),
                                           Metal.PLATINUM: Decimal("350.00")}
DAILY_VOL: dict[Metal, float] = {Metal.GOLD: 0.012, Metal.SILVER: 0.020, Metal.PLATINUM: 0.018}
BID_SPREAD_CNY_PER_G: dict[Metal, Decimal] = {Metal.GOLD: Decimal("4.00"), Metal.SILVER: Decimal("0.20"),
                                              Metal.PLATINUM: Decimal("5.00")}
"""The sandbox's buy-back spread: the bid is the spot price minus this, per gram of pure metal."""
MEAN_REVERSION_PER_DAY = 0.5
_DAY_S = 86400.0


class SandboxPriceFeed:
    def __init__(self, clock: Clock, *, seed: int = 2026, tick_s: float = 10.0,
                 anchors: dict[Metal, Decimal] | None = None,
                 bid_spread: dict[Metal, Decimal] | None = None) -> None:
        self._clock = clock
        self._bid_spread = dict(BID_SPREAD_CNY_PER_G if bid_spread is None else bid_spread)
        self._seed = seed
        self._tick_s = tick_s
        self._anchors = dict(anchors or ANCHORS_CNY_PER_G)
        self._tick: int | None = None
        self._log_dev: dict[Metal, float] = {}
        self._rng = random.Random(seed)

    def _advance_to(self, tick: int) -> None:
        if self._tick is None or tick < self._tick or tick - self._tick > 20_000:
            # (Re)start the walk a day before `tick` from a seed tied to that day, so restarts agree.
            start = tick - int(_DAY_S / self._tick_s)
            self._rng = random.Random(f"{self._seed}:{start // int(_DAY_S / self._tick_s)}")
            self._log_dev = {m: 0.0 for m in self._anchors}
            self._tick = start
        dt_days = self._tick_s / _DAY_S
        while self._tick < tick:
            self._tick += 1
            for metal in self._anchors:
                sigma = DAILY_VOL.get(metal, 0.015) * math.sqrt(dt_days)
                x = self._log_dev[metal]
                self._log_dev[metal] = x - MEAN_REVERSION_PER_DAY * x * dt_days + sigma * self._rng.gauss(0.0, 1.0)

    async def snapshot(self) -> PriceSnapshot:
        now = self._clock.now()
        tick = int(now.timestamp() // self._tick_s)
        self._advance_to(tick)
        prices = {m: (a * Decimal(repr(math.exp(self._log_dev[m])))).quantize(Decimal("0.01"), ROUND_HALF_UP)
                  for m, a in self._anchors.items()}
        as_of = datetime.fromtimestamp(tick * self._tick_s, tz=UTC)
        bids = {m: p - self._bid_spread[m] for m, p in prices.items()
                if m in self._bid_spread and p - self._bid_spread[m] > 0}
        return PriceSnapshot(f"sbx-{self._seed}-{tick}", "sandbox", as_of, prices, bids)


def parse_price_document(doc: Any, source: str) -> PriceSnapshot:
    try:
        as_of = datetime.fromisoformat(str(doc["as_of"]).replace("Z", "+00:00"))
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        prices = {Metal(k): Decimal(str(v)) for k, v in doc["cny_per_g"].items()}
        bids = {Metal(k): Decimal(str(v)) for k, v in (doc.get("bid_cny_per_g") or {}).items()}
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError):
        raise PriceUnavailable(f"the price feed {source} sent a malformed document") from None
    if any(not p.is_finite() or p <= 0 for p in (*prices.values(), *bids.values())):
        raise PriceUnavailable(f"the price feed {source} sent a non-positive price")
    if any(m not in prices or b > prices[m] for m, b in bids.items()):
        raise PriceUnavailable(f"the price feed {source} sent a buy-back price above its spot price")
    return PriceSnapshot(f"{doc.get('source', source)}@{as_of.isoformat()}", str(doc.get("source", source)),
                         as_of.astimezone(UTC), prices, bids)


def _fresh(snapshot: PriceSnapshot, clock: Clock, max_age_s: float) -> PriceSnapshot:
    if clock.now() - snapshot.as_of > timedelta(seconds=max_age_s):
        raise PriceUnavailable(f"the latest price ({snapshot.as_of.isoformat()}) is older than {max_age_s:.0f} s")
    return snapshot


class JsonFilePriceFeed:
    def __init__(self, path: Path, clock: Clock, *, max_age_s: float = 120.0) -> None:
        self._path = path
        self._clock = clock
        self._max_age_s = max_age_s
        self._mtime: float | None = None
        self._cached: PriceSnapshot | None = None

    async def snapshot(self) -> PriceSnapshot:
        try:
            mtime = self._path.stat().st_mtime
            if self._cached is None or mtime != self._mtime:
                text = await asyncio.to_thread(self._path.read_text, "utf-8")
                self._cached = parse_price_document(json.loads(text), str(self._path.name))
                self._mtime = mtime
        except (OSError, ValueError):
            raise PriceUnavailable(f"the price file {self._path.name} cannot be read") from None
        return _fresh(self._cached, self._clock, self._max_age_s)


class HttpPriceFeed:
    def __init__(self, url: str, session: aiohttp.ClientSession, clock: Clock, *, max_age_s: float = 120.0,
                 cache_s: float = 2.0) -> None:
        self._url = url
        self._session = session
        self._clock = clock
        self._max_age_s = max_age_s
        self._cache_s = cache_s
        self._cached: PriceSnapshot | None = None
        self._fetched_at: datetime | None = None

    async def snapshot(self) -> PriceSnapshot:
        now = self._clock.now()
        if self._cached is None or self._fetched_at is None or (now - self._fetched_at).total_seconds() > self._cache_s:
            try:
                async with self._session.get(self._url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    if resp.status != 200:
                        raise PriceUnavailable(f"the price feed answered HTTP {resp.status}")
                    doc = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                raise PriceUnavailable("the price feed cannot be reached") from None
            self._cached = parse_price_document(doc, "http")
            self._fetched_at = now
        return _fresh(self._cached, self._clock, self._max_age_s)
