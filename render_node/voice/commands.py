"""The hall's voice commands: one closed grammar, in English and Chinese, from a phrase to a `Command`.

Six intents: `go` (to a zone of the hall), `show` (a product), `price` and `buy` (the focused product, or one
named), `call_advisor` and `back`. The grammar is data: each intent's patterns are written in a small subset of
JSGF (words, `[optional]`, `(a | b)` alternatives and the slots `<zone>` and `<product>`), and the slots are
filled from the names of the hall's zones and products (ids from `render_node/hall/layout.py` and the catalog).
`parse` reads typed or browser-recognised text with the whole grammar (synonyms, "please", "I would like to").
The offline recogniser listens for a small part of it (`SPOKEN_PATTERNS`, each name's first form): `jsgf`
lists those sentences, and each of them is checked to parse to its command, so speech and text cannot drift.

Text is normalised before matching: NFKC, lower case, punctuation dropped; in English digits are spelt out
("100g" -> "one hundred gram"), contractions opened ("what's" -> "what is") and variants folded into one word
(`SPOKEN_FORMS`: "grams", "kilo", "adviser"; `TYPED_FORMS`: "g", "kg"); in Chinese spaces are dropped and
Arabic numbers written in Chinese ("100克" -> "一百克"). Pure: no I/O, no recogniser.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Intent = Literal["go", "show", "price", "buy", "call_advisor", "back"]
Lang = Literal["en", "zh"]
INTENTS: tuple[Intent, ...] = get_args(Intent)
LANGS: tuple[Lang, ...] = get_args(Lang)
MAX_TEXT_CHARS = 200
"""Longer text is no command of this grammar (the route refuses it before parsing)."""


@dataclass(frozen=True)
class Command:
    """What a phrase asks for: `target` is a zone id (`go`) or a product id (`show`, and `price`/`buy` when a
    product is named; without one they mean the product in focus)."""

    intent: Intent
    target: str | None = None

    def as_json(self) -> dict[str, str]:
        out: dict[str, str] = {"intent": self.intent}
        if self.target is not None:
            out["target"] = self.target
        return out


# -- what the slots are filled with ------------------------------------------------------------------------------

ZONE_NAMES: Mapping[Lang, Mapping[str, tuple[str, ...]]] = {
    "en": {
        "entrance": ("entrance", "main entrance", "front door", "door", "welcome desk"),
        "gold_counter": ("gold counter", "precious metals counter", "precious metals", "gold", "gold bars"),
        "car_studio": ("car studio", "car finance studio", "car finance", "cars", "car showroom"),
        "wealth_corner": ("wealth corner", "wealth", "gold price screen", "lounge"),
        "service_counter": ("service counter", "customer service", "service desk"),
    },
    "zh": {
        "entrance": ("入口", "门口", "大门", "咨询台"),
        "gold_counter": ("黄金柜台", "贵金属柜台", "贵金属", "黄金区", "金条柜台"),
        "car_studio": ("汽车展厅", "汽车金融展厅", "汽车金融", "汽车区", "车展区"),
        "wealth_corner": ("财富资讯区", "财富区", "财富角", "金价屏"),
        "service_counter": ("服务柜台", "客户服务", "客服柜台", "服务台"),
    },
}
"""Spoken names of the hall's zones (`HallPlan.zones` ids), canonical words only (see `SPOKEN_FORMS`)."""

PRODUCT_NAMES: Mapping[Lang, Mapping[str, tuple[str, ...]]] = {
    "en": {
        "bar-au9999-10g": ("ten gram bar", "ten gram gold bar"),
        "bar-au9999-50g": ("fifty gram bar", "fifty gram gold bar"),
        "bar-au9999-100g": ("one hundred gram bar", "one hundred gram gold bar", "hundred gram bar",
                            "minted one hundred gram bar"),
        "bar-au9999-100g-cast": ("cast bar", "cast one hundred gram bar", "one hundred gram cast bar",
                                 "cast gold bar"),
        "bar-au9999-1kg": ("one kilogram bar", "one kilogram gold bar", "kilogram bar", "big bar"),
        "coin-panda-au999-1oz": ("panda coin", "gold panda coin", "panda gold coin", "gold coin",
                                 "one ounce coin", "one ounce gold coin"),
        "coin-panda-ag999-30g": ("silver panda coin", "panda silver coin", "silver coin", "thirty gram coin"),
        "ring-band-classic": ("band ring", "plain band ring", "plain ring", "classic ring", "wedding band"),
        "ring-solitaire": ("solitaire ring", "solitaire", "engagement ring", "diamond ring"),
        "bangle-au999-classic": ("bangle", "gold bangle", "classic bangle"),
        "bracelet-au999-curb": ("bracelet", "gold bracelet", "chain bracelet", "curb chain bracelet"),
        "necklace-pendant-heart": ("necklace", "heart necklace", "pendant necklace", "heart pendant"),
        "earrings-stud-diamond": ("diamond earrings", "stud earrings", "diamond studs", "earring studs"),
        "earrings-drop-au750": ("drop earrings", "gold drop earrings", "hook earrings"),
        "car-sedan-aurora": ("aurora sedan", "sedan", "aurora", "electric sedan", "aurora s"),
        "car-suv-summit": ("suv", "summit", "summit suv", "summit x", "hybrid suv"),
    },
    "zh": {
        "bar-au9999-10g": ("十克金条", "十克的金条"),
        "bar-au9999-50g": ("五十克金条", "五十克的金条"),
        "bar-au9999-100g": ("一百克金条", "一百克的金条", "一百克压制金条"),
        "bar-au9999-100g-cast": ("一百克浇铸金条", "浇铸金条"),
        "bar-au9999-1kg": ("一千克金条", "一公斤金条", "一千克的金条", "一公斤的金条"),
        "coin-panda-au999-1oz": ("熊猫金币", "金币", "一盎司金币"),
        "coin-panda-ag999-30g": ("熊猫银币", "银币", "三十克银币"),
        "ring-band-classic": ("素圈戒指", "素圈", "经典素圈戒指"),
        "ring-solitaire": ("钻戒", "求婚戒指", "单钻戒指", "钻石戒指"),
        "bangle-au999-classic": ("手镯", "金手镯", "足金手镯"),
        "bracelet-au999-curb": ("手链", "金手链", "侧身链手链"),
        "necklace-pendant-heart": ("项链", "心形项链", "吊坠项链", "心形吊坠"),
        "earrings-stud-diamond": ("钻石耳钉", "耳钉"),
        "earrings-drop-au750": ("耳坠", "水滴耳坠"),
        "car-sedan-aurora": ("曙光", "轿车", "曙光轿车", "电动轿车"),
        "car-suv-summit": ("峰峦", "suv", "峰峦suv", "混动suv"),
    },
}
"""Spoken names of the hall's products (catalog ids, each in a slot of the hall)."""

SPOKEN_FORMS: Mapping[str, tuple[str, ...]] = {
    "gram": ("gram", "grams"),
    "kilogram": ("kilogram", "kilograms", "kilo", "kilos"),
    "ounce": ("ounce", "ounces"),
    "advisor": ("advisor", "adviser", "advisors", "advisers"),
    "earrings": ("earrings", "earring"),
}
"""English words said or typed in several forms: each form is read as the canonical word (the key)."""

TYPED_FORMS: Mapping[str, str] = {"g": "gram", "gramme": "gram", "grammes": "gram", "kg": "kilogram",
                                  "oz": "ounce"}
"""Abbreviations and spellings that are typed: read as the canonical word."""

_CONTRACTIONS = {"what's": "what is", "i'd": "i would", "i'll": "i will", "that's": "that is", "it's": "it is",
                 "how's": "how is", "let's": "let us", "i'm": "i am", "can't": "cannot"}

_THIS = "(this | it | that | this one | that one)"
_PLEASE = "[please | can you | could you | would you]"

PATTERNS: Mapping[Lang, Mapping[Intent, tuple[str, ...]]] = {
    "en": {
        "go": (
            f"{_PLEASE} (go | walk | take me | bring me | move) to [the] <zone> [please]",
            "(i want | i would like) to go to [the] <zone> [please]",
        ),
        "show": (
            f"{_PLEASE} show [me] [the] <product> [please]",
            f"{_PLEASE} (let me see | i want to see | i would like to see | look at) [the] <product> [please]",
        ),
        "price": (
            f"how much (is | does) {_THIS} [cost]",
            f"(what is | tell me) the price [of {_THIS}] [please]",
            "how much (is | does) [the] <product> [cost]",
            "(what is | tell me) the price of [the] <product> [please]",
            "price",
        ),
        "buy": (
            f"{_PLEASE} buy {_THIS} [please]",
            f"(i want | i would like | i will) [to] (buy | take) {_THIS}",
            f"{_PLEASE} buy [the] <product> [please]",
            "(i want | i would like) to buy [the] <product>",
        ),
        "call_advisor": (
            f"{_PLEASE} call [an | a | the | my] advisor [please]",
            "(i need | i want | i would like) [to talk to] [an | a] advisor [please]",
            "(talk | speak) to [an | a] advisor [please]",
            "call [a] staff member [please]",
        ),
        "back": (
            "[go] back [please]",
            "return",
        ),
    },
    "zh": {
        "go": (
            "[请] [带我] (去 | 到 | 前往) <zone> [吧]",
            "我 (要 | 想) (去 | 到) <zone>",
        ),
        "show": (
            "[请] (看 | 看看 | 看一下 | 展示 | 给我看 | 给我看看 | 我想看 | 我要看) [一下] <product>",
        ),
        "price": (
            "[这个 | 它 | 这] (多少钱 | 什么价格 | 价格是多少 | 怎么卖)",
            "<product> (多少钱 | 什么价格 | 价格是多少 | 怎么卖)",
        ),
        "buy": (
            "[我] [要 | 想] (买 | 购买) (这个 | 它)",
            "[我] [要 | 想] (买 | 购买) <product>",
        ),
        "call_advisor": (
            "[请] (呼叫 | 叫 | 找) (顾问 | 客户经理 | 理财顾问 | 工作人员)",
            "我 (要 | 想) 找 (顾问 | 客户经理 | 理财顾问 | 工作人员)",
        ),
        "back": (
            "返回 [上一步]",
            "(回去 | 后退 | 上一步)",
        ),
    },
}
"""Each intent's patterns: words, `[optional]`, `(a | b)`, `<zone>` and `<product>` (a JSGF subset)."""

# -- normalising text -------------------------------------------------------------------------------------------

_EN_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ZH_DIGITS = "零一二三四五六七八九"


def _en_number(n: int) -> str:
    """0..9999 in English words: 100 -> "one hundred", 1000 -> "one thousand"."""
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        return _EN_TENS[n // 10] + ("" if n % 10 == 0 else " " + _EN_ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _EN_ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + _en_number(rest))
    rest = n % 1000
    return _en_number(n // 1000) + " thousand" + ("" if rest == 0 else " " + _en_number(rest))


def _zh_number(n: int) -> str:
    """0..9999 in Chinese numerals: 10 -> 十, 50 -> 五十, 100 -> 一百, 1000 -> 一千, 105 -> 一百零五."""
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 20:
        return "十" + ("" if n == 10 else _ZH_DIGITS[n - 10])
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _ZH_DIGITS[digit] + unit
    return out


_NUMBER = re.compile(r"\d{1,4}")
_FORM_OF = {**TYPED_FORMS, **{form: word for word, forms in SPOKEN_FORMS.items() for form in forms}}


def normalise(text: str, lang: Lang) -> str:
    """The words of `text` as the grammar reads them: English words separated by single spaces, Chinese with no
    spaces at all (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    if lang == "zh":
        text = _NUMBER.sub(lambda m: _zh_number(int(m.group())), text)
        return "".join(ch for ch in text if ch.isalnum())
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    text = _NUMBER.sub(lambda m: " " + _en_number(int(m.group())) + " ", text)
    words = []
    for raw in re.split(r"[^a-z']+", text):
        word = raw.strip("'")
        if not word:
            continue
        for part in _CONTRACTIONS.get(word, word).split():
            words.append(_FORM_OF.get(part, part))
    return " ".join(words)


# -- the grammar as a regular expression and as JSGF ------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\[|\]|\(|\)|\||<zone>|<product>|[^\s\[\]()|<>]+)")


def _tokens(pattern: str) -> list[str]:
    out: list[str] = []
    pos = 0
    pattern = pattern.strip()
    while pos < len(pattern):
        m = _TOKEN.match(pattern, pos)
        if m is None:
            raise ValueError(f"bad grammar pattern at {pattern[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _slot_regex(names: Mapping[str, tuple[str, ...]], lang: Lang) -> str:
    sep = " " if lang == "en" else ""
    aliases = sorted({normalise(a, lang) for all_names in names.values() for a in all_names}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(a) + sep for a in aliases) + ")"


def _pattern_regex(pattern: str, lang: Lang) -> str:
    """A pattern as a regex over normalised text where every English word is followed by one space."""
    sep = " " if lang == "en" else ""
    out = []
    for tok in _tokens(pattern):
        if tok == "[":
            out.append("(?:")
        elif tok == "]":
            out.append(")?")
        elif tok == "(":
            out.append("(?:")
        elif tok in (")", "|"):
            out.append(tok)
        elif tok == "<zone>":
            out.append(f"(?P<zone>{_slot_regex(ZONE_NAMES[lang], lang)})")
        elif tok == "<product>":
            out.append(f"(?P<product>{_slot_regex(PRODUCT_NAMES[lang], lang)})")
        else:
            out.append(re.escape(normalise(tok, lang)) + sep)
    return "".join(out)


@functools.cache
def _compiled(lang: Lang) -> tuple[tuple[Intent, re.Pattern[str]], ...]:
    return tuple((intent, re.compile(_pattern_regex(p, lang)))
                 for intent, patterns in PATTERNS[lang].items() for p in patterns)


@functools.cache
def _slot_ids(lang: Lang, slot: str) -> dict[str, str]:
    names = ZONE_NAMES[lang] if slot == "zone" else PRODUCT_NAMES[lang]
    return {normalise(alias, lang): item for item, aliases in names.items() for alias in aliases}


def parse(text: str, lang: Lang) -> Command | None:
    """The command `text` says in `lang`, or None when it is not a phrase of the grammar."""
    if len(text) > MAX_TEXT_CHARS:
        return None
    words = normalise(text, lang)
    if not words:
        return None
    subject = words + (" " if lang == "en" else "")
    for intent, regex in _compiled(lang):
        m = regex.fullmatch(subject)
        if m is None:
            continue
        for slot in ("zone", "product"):
            value = m.groupdict().get(slot)
            if value is not None:
                return Command(intent, _slot_ids(lang, slot)[value.strip()])
        return Command(intent)
    return None


SPOKEN_PATTERNS: Mapping[Intent, tuple[str, ...]] = {
    "go": ("(go | take me) to the <zone>",),
    "show": ("show [me] the <product>",),
    "price": ("how much is this",),
    "buy": ("buy this",),
    "call_advisor": ("call (an | a) advisor",),
    "back": ("go back",),
}
"""The part of the English grammar the offline recogniser listens for, each zone and product by its first name.

Kept small on purpose: every extra phrase is one more thing a sound can be mistaken for (measured in
docs/voice.md: the typed grammar's fillers and synonyms as a spoken grammar cost 13 % of the commands)."""


def _expand(tokens: list[str], pos: int, stop: tuple[str, ...]) -> tuple[list[list[str]], int]:
    """The word sequences of a pattern from `tokens[pos]` up to one of `stop`: (sequences, next position)."""
    alternatives: list[list[str]] = []
    current: list[list[str]] = [[]]
    while pos < len(tokens) and tokens[pos] not in stop:
        tok = tokens[pos]
        if tok in ("[", "("):
            inner, pos = _expand(tokens, pos + 1, ("]",) if tok == "[" else (")",))
            options = inner + ([[]] if tok == "[" else [])
            current = [seq + opt for seq in current for opt in options]
        elif tok == "|":
            alternatives += current
            current = [[]]
        elif tok in ("<zone>", "<product>"):
            names = ZONE_NAMES["en"] if tok == "<zone>" else PRODUCT_NAMES["en"]
            current = [[*seq, aliases[0]] for seq in current for aliases in names.values()]
        else:
            current = [[*seq, tok] for seq in current]
        pos += 1
    return alternatives + current, pos


def spoken_phrases() -> dict[str, Command]:
    """Every sentence the recogniser can hear, with its command (each parses to it through `parse`)."""
    out: dict[str, Command] = {}
    for intent, patterns in SPOKEN_PATTERNS.items():
        for pattern in patterns:
            sequences, _ = _expand(_tokens(pattern), 0, ())
            for words in sequences:
                phrase = " ".join(words)
                command = parse(phrase, "en")
                if command is None or command.intent != intent:
                    raise ValueError(f"the spoken phrase {phrase!r} is not a {intent} command of the grammar")
                out[phrase] = command
    return out


def jsgf() -> str:
    """The spoken grammar as a JSGF document (top rule `<command>`) for the offline recogniser."""
    phrases = " | ".join(f"({p})" for p in sorted(spoken_phrases()))
    return f"#JSGF V1.0;\ngrammar hall;\npublic <command> = {phrases};\n"


def grammar_words() -> frozenset[str]:
    """Every word the recogniser's grammar can output (each must be in its pronunciation dictionary)."""
    return frozenset(w for phrase in spoken_phrases() for w in phrase.split())


def example_phrases(lang: Lang) -> dict[str, Command]:
    """One phrase per zone (`go`), per product (`show`) and per other intent: what the docs and tests speak."""
    if lang == "en":
        out = {f"go to the {names[0]}": Command("go", zone) for zone, names in ZONE_NAMES["en"].items()}
        out |= {f"show the {names[0]}": Command("show", pid) for pid, names in PRODUCT_NAMES["en"].items()}
        out |= {"how much is this": Command("price"), "buy this": Command("buy"),
                "call an advisor": Command("call_advisor"), "go back": Command("back")}
        return out
    out = {f"去{names[0]}": Command("go", zone) for zone, names in ZONE_NAMES["zh"].items()}
    out |= {f"看{names[0]}": Command("show", pid) for pid, names in PRODUCT_NAMES["zh"].items()}
    out |= {"这个多少钱": Command("price"), "买这个": Command("buy"), "呼叫顾问": Command("call_advisor"),
            "返回": Command("back")}
    return out
