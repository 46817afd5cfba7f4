"""The guide's understanding: which intent a question has (a small retrieval model over the question bank) and
which catalog product it names (resolved from the catalog itself).

**Intents.** `assets/guide/questions.toml` holds phrasings of every intent in Chinese and English. A question and
every phrasing become TF-IDF vectors over character n-grams (1-3 characters of Chinese, 2-4 of everything else,
plus whole Latin words), so Chinese needs no word segmenter; digits are folded to `9` ("100克" and "50克" look the
same: the product is the entity resolver's business, not the intent's). The intent's score is the best cosine
similarity between the question and one of its phrasings; the confidence is the best intent's score. Below
`THRESHOLD` the guide says it did not understand and offers an advisor (bench/guide_intents.py measures the
held-out accuracy and how often the threshold sends a bank question to an advisor).

**Products.** `resolve_products` scores every (product, variant) of the catalog against the question: the kind's
words (金条/bar, 戒指/ring, ...), a weight ("100克", "100 g", "1kg", "1盎司"), a ring size ("12号", "size 12"),
the metal (金/gold, 银/silver, 铂/platinum) and the words of the product's and variant's names (Chinese by
character pairs, English words counting double). Nothing here names a product: a new catalog entry is found by
its own name.

Standard library and numpy only; nothing here does I/O except `load_bank`.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from showroom.catalog import Catalog, Metal, Product, ProductKind, Variant

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_BANK = Path(__file__).resolve().parents[2] / "assets" / "guide" / "questions.toml"
THRESHOLD = 0.45
"""Below this confidence the guide does not answer the intent: it says so and offers an advisor
(bench/results/guide_intents.md shows the held-out accuracy and false-advisor rate at this value)."""
CUE_BONUS = 0.3
"""What each cue word of an intent found in the question adds to its score (at most two count)."""

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z]+")


# -- the question bank ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    name: str
    phrasings: dict[Lang, tuple[str, ...]]
    templates: dict[str, dict[Lang, str]]
    """Template name ("answer", "car", "unavailable", ...) -> language -> text with {slots}."""
    advisor: bool = False
    cues: tuple[str, ...] = ()
    """Key words of the intent (the rule layer): each one in a question adds `CUE_BONUS` to its score."""
    overrides: bool = False
    """A rule, not a score: a question with one of this intent's cue words IS this intent, whatever scores higher
    (the bank's no-advice answer: "will gold go up?" must never be answered with a price)."""


@dataclass(frozen=True)
class QuestionBank:
    intents: dict[str, Intent]
    messages: dict[str, dict[Lang, str]]

    def examples(self) -> list[tuple[str, Lang, str]]:
        """Every phrasing as (intent, lang, text), in the bank's order."""
        return [(i.name, lang, text) for i in self.intents.values() for lang in LANGS for text in i.phrasings[lang]]

    def template(self, intent: str, key: str, lang: Lang) -> str:
        return self.intents[intent].templates[key][lang]

    def message(self, key: str, lang: Lang) -> str:
        return self.messages[key][lang]


class BankInvalid(ValueError):
    """The question bank file is malformed (names the bad entry)."""


def _texts(raw: object, where: str) -> dict[Lang, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(lang), str) for lang in LANGS):
        raise BankInvalid(f"{where} needs zh and en texts")
    return {lang: str(raw[lang]) for lang in LANGS}


def parse_bank(text: str) -> QuestionBank:
    """The question bank of a questions.toml text, checked."""
    doc = tomllib.loads(text)
    intents: dict[str, Intent] = {}
    for name, raw in doc.get("intents", {}).items():
        phrasings: dict[Lang, tuple[str, ...]] = {}
        for lang in LANGS:
            items = raw.get(lang)
            if not isinstance(items, list) or len(items) < 4 or not all(isinstance(s, str) and s for s in items):
                raise BankInvalid(f"intents.{name}.{lang} needs at least 4 phrasings")
            phrasings[lang] = tuple(items)
        templates = {key: _texts(value, f"intents.{name}.{key}") for key, value in raw.items()
                     if key not in (*LANGS, "advisor", "cues", "overrides")}
        if "answer" not in templates:
            raise BankInvalid(f"intents.{name} has no answer")
        cues = raw.get("cues", [])
        if not isinstance(cues, list) or not all(isinstance(c, str) and normalize(c) for c in cues):
            raise BankInvalid(f"intents.{name}.cues must be a list of words")
        intents[name] = Intent(name, phrasings, templates, bool(raw.get("advisor", False)), tuple(cues),
                               bool(raw.get("overrides", False)))
    messages = {key: _texts(value, f"messages.{key}") for key, value in doc.get("messages", {}).items()}
    if not intents:
        raise BankInvalid("the bank has no intents")
    return QuestionBank(intents, messages)


def load_bank(path: Path = DEFAULT_BANK) -> QuestionBank:
    return parse_bank(path.read_text(encoding="utf-8"))


# -- the retrieval model ----------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC, lower case, digits folded to 9, punctuation to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\d+(?:\.\d+)?", "9", text)
    text = "".join(ch if ch.isalnum() or ch == " " else " " for ch in text)
    return " ".join(text.split())


def _masked(text: str) -> str:
    """The normalized text with product mentions (weights, ring sizes, kind words) masked: they say which product, not what
    is asked about it."""
    norm = _SIZE.sub(" ", _WEIGHT.sub(" ", unicodedata.normalize("NFKC", text).lower()))
    norm = normalize(norm)
    for word in _KIND_MASK:
        norm = word.sub(" ", norm)
    return " ".join(norm.split())


def features(text: str) -> Counter[str]:
    """Character n-grams of the masked, normalized text (1-3 for Chinese, 2-4 otherwise) and its Latin words."""
    norm = _masked(text)
    out: Counter[str] = Counter(f"w:{w}" for w in _WORD.findall(norm))
    padded = f" {norm} "
    for n in (1, 2, 3, 4):
        for i in range(len(padded) - n + 1):
            gram = padded[i:i + n]
            if gram.strip() == "":
                continue
            cjk = _CJK.search(gram) is not None
            if (cjk and n <= 3) or (not cjk and n >= 2):
                out[gram] += 1
    return out


@dataclass(frozen=True)
class Match:
    intent: str | None
    """The best intent, or None when its confidence is below the threshold."""
    best: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class IntentModel:
    """TF-IDF (sublinear tf, smoothed idf, L2-normalised) over `features`, nearest phrasing by cosine."""

    def __init__(self, examples: Iterable[tuple[str, str]], threshold: float = THRESHOLD,
                 cues: Mapping[str, Sequence[str]] | None = None, overrides: Iterable[str] = ()) -> None:
        pairs = list(examples)
        if not pairs:
            raise ValueError("no examples")
        self.threshold = threshold
        self.cues = {intent: tuple(_cue_pattern(c) for c in words) for intent, words in (cues or {}).items()}
        self.overrides = tuple(overrides)
        self.labels = [intent for intent, _ in pairs]
        self.intents = sorted(set(self.labels))
        counts = [features(text) for _, text in pairs]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        self.vocab = {gram: i for i, gram in enumerate(sorted(df))}
        n = len(pairs)
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in sorted(df)], dtype=np.float32)
        self.matrix = np.stack([self._vector(c) for c in counts])
        self._rows = {intent: np.array([i for i, lab in enumerate(self.labels) if lab == intent])
                      for intent in self.intents}

    def _vector(self, counts: Counter[str]) -> npt.NDArray[np.float32]:
        vec = np.zeros(len(self.vocab), dtype=np.float32)
        for gram, count in counts.items():
            i = self.vocab.get(gram)
            if i is not None:
                vec[i] = (1.0 + math.log(count)) * self.idf[i]
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def scores(self, text: str) -> dict[str, float]:
        """Intent -> the best cosine similarity between `text` and one of its phrasings, plus `CUE_BONUS` for
        each of the intent's cue words in it (two at most); capped at 1."""
        sims = self.matrix @ self._vector(features(text))
        norm = f" {normalize(text)} "
        out = {}
        for intent, rows in self._rows.items():
            hits = sum(1 for cue in self.cues.get(intent, ()) if cue.search(norm))
            out[intent] = min(1.0, float(sims[rows].max()) + CUE_BONUS * min(hits, 2))
        return out

    def classify(self, text: str) -> Match:
        scores = self.scores(text)
        norm = f" {normalize(text)} "
        for intent in self.overrides:  # a rule intent's cue word decides, before any score
            if any(cue.search(norm) for cue in self.cues.get(intent, ())):
                confidence = round(max(scores.get(intent, 0.0), self.threshold), 4)
                return Match(intent, intent, confidence, scores)
        best = max(scores, key=lambda k: scores[k])
        confidence = round(scores[best], 4)
        return Match(best if confidence >= self.threshold else None, best, confidence, scores)


def model_of(bank: QuestionBank, threshold: float = THRESHOLD,
             examples: Iterable[tuple[str, Lang, str]] | None = None) -> IntentModel:
    """The model of `examples` (default: every phrasing of the bank) with the bank's cue words."""
    pairs = ((intent, text) for intent, _lang, text in (bank.examples() if examples is None else examples))
    return IntentModel(pairs, threshold, {name: i.cues for name, i in bank.intents.items()},
                       [name for name, i in bank.intents.items() if i.overrides])


def _cue_pattern(cue: str) -> re.Pattern[str]:
    """A cue word as a pattern over normalized text: Chinese anywhere, Latin words whole."""
    norm = normalize(cue)
    if _CJK.search(norm):
        return re.compile(re.escape(norm))
    return re.compile(rf"(?<![a-z0-9]){re.escape(norm)}(?:s|es)?(?![a-z0-9])")


def language_of(text: str) -> Lang:
    """zh when the text has a Chinese character, else en."""
    return "zh" if _CJK.search(text) else "en"


# -- entities: products of the catalog --------------------------------------------------------------------------

KIND_WORDS: dict[ProductKind, tuple[str, ...]] = {
    ProductKind.GOLD_BAR: ("金条", "金块", "投资金", "bar", "bars", "bullion", "ingot"),
    ProductKind.COIN: ("金币", "银币", "纪念币", "硬币", "coin", "coins"),
    ProductKind.RING: ("戒指", "指环", "婚戒", "素圈", "ring", "rings", "band"),
    ProductKind.BANGLE: ("手镯", "镯子", "bangle", "bangles"),
    ProductKind.BRACELET: ("手链", "bracelet", "bracelets", "chain"),
    ProductKind.NECKLACE: ("项链", "吊坠", "necklace", "necklaces", "pendant"),
    ProductKind.EARRINGS: ("耳钉", "耳坠", "耳环", "耳饰", "earring", "earrings", "studs"),
    ProductKind.CAR: ("汽车", "轿车", "车", "suv", "car", "cars", "sedan", "vehicle"),
}
"""Words that name a kind of product (the catalog's kinds, not its products)."""

METAL_WORDS: dict[Metal, tuple[str, ...]] = {
    Metal.GOLD: ("金", "gold"), Metal.SILVER: ("银", "silver"), Metal.PLATINUM: ("铂", "platinum", "pt950")}
_KIND_MASK = tuple(re.compile(re.escape(w) if _CJK.match(w) else rf"(?<![a-z]){w}(?![a-z])")
                   for words in KIND_WORDS.values() for w in sorted(words, key=len, reverse=True) if w != "车")
_NOT_METAL = ("银行", "金价", "金额", "定金", "现金", "金融")
_WEIGHT = re.compile(r"(\d+(?:\.\d+)?)\s*(千克|公斤|kg|kilos?|克|grams?|g(?![a-z])|盎司|oz|ounces?)")
_SIZE = re.compile(r"(?:(\d+)\s*号)|(?:size\s*(\d+))")
_GRAMS_PER = {"千克": Decimal(1000), "公斤": Decimal(1000), "kg": Decimal(1000), "kilo": Decimal(1000),
              "kilos": Decimal(1000), "盎司": Decimal("31.1035"), "oz": Decimal("31.1035"),
              "ounce": Decimal("31.1035"), "ounces": Decimal("31.1035")}
_GENERIC_EN = frozenset({"the", "and", "with", "gold", "huajin", "investment", "pair", "size", "inner", "diameter"})


@dataclass(frozen=True)
class ProductMatch:
    product: Product
    variant: Variant
    score: float


def weight_in(text: str) -> Decimal | None:
    """A weight the text names, in grams ("100克", "100 g", "1kg", "1盎司"); None when none."""
    m = _WEIGHT.search(unicodedata.normalize("NFKC", text).lower())
    if m is None:
        return None
    return Decimal(m.group(1)) * _GRAMS_PER.get(m.group(2), Decimal(1))


def months_in(text: str) -> int | None:
    """A loan term the text names ("36期", "24 months", "3年", "5 years"); None when none."""
    low = unicodedata.normalize("NFKC", text).lower()
    m = re.search(r"(\d+)\s*(?:期|个月|months?)", low)
    if m:
        return int(m.group(1))
    m = re.search(r"(\d+)\s*(?:年|years?)", low)
    return int(m.group(1)) * 12 if m else None


def _bigrams(text: str) -> set[str]:
    out: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _GENERIC_EN}


def metals_in(text: str) -> set[Metal]:
    for word in _NOT_METAL:
        text = text.replace(word, " ")
    return {metal for metal, words in METAL_WORDS.items()
            if any((w in text) if _CJK.match(w) else re.search(rf"\b{w}\b", text) for w in words)}


def _kind_hit(kind: ProductKind, text: str) -> bool:
    return any((w in text) if _CJK.match(w) else re.search(rf"\b{w}\b", text) is not None
               for w in KIND_WORDS.get(kind, ()))


def _weight_matches(variant: Variant, grams: Decimal) -> bool:
    if variant.weight_g is None:
        return False
    return abs(variant.weight_g - grams) <= max(Decimal("0.1"), variant.weight_g * Decimal("0.005"))


def resolve_products(catalog: Catalog, text: str) -> list[ProductMatch]:
    """The catalog's (product, variant) pairs the text names best, best first (ties in catalog order); [] when
    the text names none. A kind, a weight or a ring size the text gives must match the product's."""
    low = unicodedata.normalize("NFKC", text).lower()
    grams = weight_in(low)
    size_m = _SIZE.search(low)
    size = (size_m.group(1) or size_m.group(2)) if size_m else None
    metals = metals_in(low)
    q_bigrams, q_words = _bigrams(low), _words(low)
    named_kinds = {kind for kind in KIND_WORDS if _kind_hit(kind, low)}
    found: list[ProductMatch] = []
    for product in catalog:
        if named_kinds and product.kind not in named_kinds:
            continue  # "金条" names bars: a ring of the same weight is not meant
        kind = 3.0 if product.kind in named_kinds else 0.0
        for variant in product.variants:
            score = kind
            if grams is not None:
                if not _weight_matches(variant, grams):
                    continue
                score += 4.0
            if size is not None and variant.size_label is not None:
                if variant.size_label != size:
                    continue
                score += 2.0
            if metals and variant.purity is not None and variant.purity.metal in metals:
                score += 1.0
            names = f"{product.name.zh} {variant.name.zh}", f"{product.name.en} {variant.name.en}"
            score += len(q_bigrams & _bigrams(names[0])) + 2 * len(q_words & _words(names[1]))
            if score >= 2.0:
                found.append(ProductMatch(product, variant, score))
    if not found:
        return []
    top = max(m.score for m in found)
    best = [m for m in found if m.score == top]
    # one answer per product: its first best variant (the catalog's order)
    seen: set[str] = set()
    out = []
    for m in best:
        if m.product.id not in seen:
            seen.add(m.product.id)
            out.append(m)
    return out


def split_half(examples: Sequence[tuple[str, Lang, str]], seed: int = 20261130
               ) -> tuple[list[tuple[str, Lang, str]], list[tuple[str, Lang, str]]]:
    """A fixed random half of each intent's phrasings per language to train on, the other half to test."""
    rng = np.random.default_rng(seed)
    train: list[tuple[str, Lang, str]] = []
    test: list[tuple[str, Lang, str]] = []
    groups: dict[tuple[str, Lang], list[tuple[str, Lang, str]]] = {}
    for ex in examples:
        groups.setdefault((ex[0], ex[1]), []).append(ex)
    for key in sorted(groups):
        items = groups[key]
        order = rng.permutation(len(items))
        half = (len(items) + 1) // 2
        train += [items[i] for i in order[:half]]
        test += [items[i] for i in order[half:]]
    return train, test
