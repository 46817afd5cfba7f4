"""The link profiles: what a phone on a 5G network typically sees between it and an edge node, as round-trip
time, jitter, loss and rate. Typical figures, not measurements of any one network (docs/links.md says where they
come from): the radio's own one-way target (3GPP TR 38.913 / ITU-R M.2410: 4 ms user plane for eMBB) is a small
part of what a phone measures end to end, which is why the round trips here are 20-80 ms.

How the shaper reads them (bench/linkrig/shaper.py):
- `rtt_ms` is the median round trip the link adds; each direction holds a packet `rtt_ms / 2` plus a jitter sample.
- `jitter_ms` is jitter as Ookla's Speedtest and RFC 3550 report it: the mean absolute difference of consecutive
  round trips. With independent normal samples per direction that is 2 * sigma * sqrt(2 / pi) of each direction's
  sigma, so each direction draws with `sigma_ms = jitter_ms / 1.596`.
- `loss` is the chance that a packet is dropped, on its own, in each direction (a round trip loses ~2x that).
- `down_mbit` / `up_mbit` cap each direction with the kernel's token bucket (tc tbf); `drop_to_mbit` after
  `drop_after_s` is the mid-session fall of the rate (both directions), applied by the shaper process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    rtt_ms: float
    jitter_ms: float
    loss: float
    """A fraction: 0.001 is 0.1 %."""
    down_mbit: float
    up_mbit: float
    drop_to_mbit: float | None = None
    drop_after_s: float | None = None
    note: str = ""

    @property
    def one_way_ms(self) -> float:
        return self.rtt_ms / 2

    @property
    def sigma_ms(self) -> float:
        """Each direction's normal sigma that gives `jitter_ms` as the mean |difference| of consecutive RTTs."""
        return self.jitter_ms / (2 * math.sqrt(2 / math.pi))

    def without_loss(self) -> Profile:
        return replace(self, name=f"{self.name} (no loss)", loss=0.0)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("good", rtt_ms=20, jitter_ms=2, loss=0.0001, down_mbit=300, up_mbit=300,
            note="mid-band 5G near the cell, a quiet network"),
    Profile("typical", rtt_ms=40, jitter_ms=5, loss=0.001, down_mbit=100, up_mbit=100,
            note="a median 5G connection in a city"),
    Profile("edge", rtt_ms=80, jitter_ms=20, loss=0.01, down_mbit=10, up_mbit=10,
            note="cell edge or indoors deep: weak signal, retransmissions"),
    Profile("drop", rtt_ms=40, jitter_ms=5, loss=0.001, down_mbit=100, up_mbit=100, drop_to_mbit=5,
            drop_after_s=10, note="typical, then the rate falls to 5 Mbit/s 10 s in (a handover to a loaded cell)"),
)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown link profile {name!r}; known: {', '.join(PROFILES)}") from None
