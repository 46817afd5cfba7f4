"""The 15 Oculus/Meta visemes and the track that drives them from espeak-ng's timed phonemes.

A phoneme maps to one viseme, or for a diphthong to two or three that split its time evenly (`aI` is `aa` then
`ih`). A track is a list of keyframes `(t_ms, viseme, weight)`: each viseme's weight is linear between its own
keys and 0 outside them (`weights_at`). Every phoneme segment [s, e) of viseme V gives V the keys (s - fade, 0),
(s, w), (e, w), (e + fade, 0): the mouth reaches the shape at the phoneme's first sample (lips are shut when a
bilabial's sound starts) and the neighbours cross-fade over `fade` ms. The table is in docs/guide.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from render_node.guide.speech import Phoneme

VISEMES: tuple[str, ...] = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
"""Oculus/Meta (OVRLipSync, Ready Player Me, ...) viseme names, in their usual order."""
FADE_MS = 20.0
"""Cross-fade between neighbouring visemes (each side of a boundary)."""

Shape = tuple[tuple[str, float], ...]
VisemeKey = tuple[float, str, float]


def _s(*parts: str) -> Shape:
    """`"PP"` -> full weight; `"aa:0.5"` -> weight 0.5; several -> a diphthong's parts in order."""
    out = []
    for part in parts:
        name, _, weight = part.partition(":")
        out.append((name, float(weight) if weight else 1.0))
    return tuple(out)


ENGLISH: dict[str, Shape] = {
    **{p: _s("PP") for p in ("p", "b", "m")},
    **{p: _s("FF") for p in ("f", "v")},
    **{p: _s("TH") for p in ("T", "D")},
    **{p: _s("DD") for p in ("t", "d", "t#", "d#", "?")},
    **{p: _s("kk") for p in ("k", "g", "N", "x")},
    "h": _s("kk:0.4"),
    **{p: _s("CH") for p in ("tS", "dZ", "S", "Z")},
    **{p: _s("SS") for p in ("s", "z")},
    **{p: _s("nn") for p in ("n", "l", "L", "n-", "l-", "m-")},
    **{p: _s("RR") for p in ("r", "r-", "3", "3:", "R")},
    "w": _s("ou"), "j": _s("ih:0.7"), ";": _s("ih:0.7"),
    **{p: _s("aa") for p in ("a", "A", "A:", "0", "V", "a#", "aa")},
    **{p: _s("aa:0.5") for p in ("@", "@2", "@5", "@L", "a2")},
    **{p: _s("E") for p in ("E", "e", "E2", "E3")},
    **{p: _s("ih") for p in ("I", "I#", "I2", "i", "i:", "i@")},
    **{p: _s("oh") for p in ("O", "O:", "O@", "o@", "o")},
    **{p: _s("ou") for p in ("U", "u:", "U@", "u")},
    "aI": _s("aa", "ih"), "aU": _s("aa", "ou"), "eI": _s("E", "ih"), "OI": _s("oh", "ih"), "oU": _s("oh", "ou"),
    "e@": _s("E", "RR:0.5"), "A@": _s("aa", "RR:0.5"), "aI@": _s("aa", "ih", "RR:0.5"),
    "aU@": _s("aa", "ou", "RR:0.5"), "i@3": _s("ih", "RR:0.5"),
}
"""espeak-ng `en`/`en-us` phoneme mnemonics -> visemes."""

MANDARIN: dict[str, Shape] = {
    **{p: _s("PP") for p in ("p", "ph", "m")},
    "f": _s("FF"),
    **{p: _s("DD") for p in ("t", "th")},
    **{p: _s("nn") for p in ("n", "l")},
    **{p: _s("kk") for p in ("k", "kh", "N")},
    "X": _s("kk:0.4"),
    **{p: _s("CH") for p in ("tS;", "tS;h", "S;", "ts.", "ts.h", "s.")},
    "z.": _s("RR"),
    **{p: _s("SS") for p in ("ts", "tsh", "s")},
    "j": _s("ih:0.7"), "w": _s("ou"), ";": _s("ou:0.7"),
    **{p: _s("aa") for p in ("A", "a")},
    **{p: _s("E") for p in ("@", "o-", "e")},
    "o": _s("oh"), "@r": _s("RR"),
    "i": _s("ih"), "i.": _s("ih:0.5"), "i[": _s("ih:0.5"),
    **{p: _s("ou") for p in ("u", "y")},
    "ai": _s("aa", "ih"), "ei": _s("E", "ih"), "Au": _s("aa", "ou"), "ou": _s("oh", "ou"), "ong": _s("ou", "kk"),
    "iA": _s("ih", "aa"), "iE": _s("ih", "E"), "iou": _s("ih", "oh", "ou"), "ua": _s("ou", "aa"),
    "uo": _s("ou", "oh"), "uai": _s("ou", "aa", "ih"), "uei": _s("ou", "E", "ih"), "u@": _s("ou", "E"),
    "yE": _s("ou", "E"), "y&": _s("ou", "E"), "y@": _s("ou", "E"),
}
"""espeak-ng `cmn-latn-pinyin` phoneme mnemonics (tones are not phoneme events) -> visemes."""

TABLES: dict[str, dict[str, Shape]] = {"en": ENGLISH, "zh": MANDARIN}
UNKNOWN: Shape = _s("ih:0.4")
"""A phoneme no table names: a half-open neutral mouth (tests check real text never needs it)."""


def shape_of(phoneme: str, lang: str) -> Shape:
    """The visemes of one espeak-ng phoneme mnemonic; pauses (`_`, `_:`, `_|`) are `sil`."""
    if phoneme.startswith("_") or not phoneme:
        return _s("sil")
    table = TABLES[lang]
    bare = phoneme.lstrip("',%=")
    if bare in table:
        return table[bare]
    trimmed = bare.rstrip("0123456789") or bare
    return table.get(trimmed, UNKNOWN)


def is_known(phoneme: str, lang: str) -> bool:
    return shape_of(phoneme, lang) is not UNKNOWN


@dataclass(frozen=True)
class Segment:
    start_ms: float
    end_ms: float
    viseme: str
    weight: float


def segments(phonemes: Sequence[Phoneme], lang: str, duration_ms: float) -> list[Segment]:
    """Viseme segments covering [0, duration_ms): silence before the first phoneme, diphthongs split evenly,
    empty segments dropped and neighbours of the same viseme merged."""
    out: list[Segment] = []
    starts = [min(max(p.start_ms, 0.0), duration_ms) for p in phonemes]
    bounds = [*starts[1:], duration_ms]
    raw: list[Segment] = [Segment(0.0, starts[0] if starts else duration_ms, "sil", 1.0)]
    for phoneme, start, end in zip(phonemes, starts, bounds, strict=True):
        parts = shape_of(phoneme.name, lang)
        step = (end - start) / len(parts)
        raw.extend(Segment(start + i * step, start + (i + 1) * step, viseme, weight)
                   for i, (viseme, weight) in enumerate(parts))
    for seg in raw:
        if seg.end_ms <= seg.start_ms:
            continue
        if out and out[-1].viseme == seg.viseme:
            prev = out[-1]
            out[-1] = Segment(prev.start_ms, seg.end_ms, prev.viseme, max(prev.weight, seg.weight))
        else:
            out.append(seg)
    return out


def track(phonemes: Sequence[Phoneme], lang: str, duration_ms: float, fade_ms: float = FADE_MS) -> list[VisemeKey]:
    """The keyframes `(t_ms, viseme, weight)` of the speech, sorted by time, within [0, duration_ms]."""
    keys: dict[str, list[VisemeKey]] = {}
    for seg in segments(phonemes, lang, duration_ms):
        own = keys.setdefault(seg.viseme, [])
        fade_in = fade_ms
        if own:  # the same viseme shortly before: meet halfway rather than cross its fade-out
            prev_end = own[-2][0]
            fade_in = min(fade_ms, (seg.start_ms - prev_end) / 2)
            own[-1] = (min(own[-1][0], prev_end + fade_in), seg.viseme, 0.0)
        if seg.start_ms > 0:
            own.append((max(0.0, seg.start_ms - fade_in), seg.viseme, 0.0))
        own.append((seg.start_ms, seg.viseme, seg.weight))
        own.append((seg.end_ms, seg.viseme, seg.weight))
        if seg.end_ms < duration_ms:
            own.append((min(duration_ms, seg.end_ms + fade_ms), seg.viseme, 0.0))
    flat = [key for own in keys.values() for key in own]
    return sorted(flat, key=lambda key: (key[0], VISEMES.index(key[1])))


def weights_at(keys: Sequence[VisemeKey], t_ms: float) -> dict[str, float]:
    """Each viseme's weight at `t_ms` (what a client computes every frame): linear between its own keys."""
    out: dict[str, float] = {}
    by_viseme: dict[str, list[VisemeKey]] = {}
    for key in keys:
        by_viseme.setdefault(key[1], []).append(key)
    for viseme, own in by_viseme.items():
        weight = 0.0
        for (t0, _a, w0), (t1, _b, w1) in pairwise(own):
            if t0 <= t_ms <= t1:
                weight = w0 if t1 == t0 else w0 + (w1 - w0) * (t_ms - t0) / (t1 - t0)
                break
        out[viseme] = weight
    return out
