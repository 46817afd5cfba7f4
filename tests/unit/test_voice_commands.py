"""The voice grammar: English and Chinese phrases -> intents and zone/product ids; the spoken part of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from render_node.hall.layout import hall_plan
from render_node.voice.commands import (
    PRODUCT_NAMES,
    ZONE_NAMES,
    Command,
    Lang,
    example_phrases,
    jsgf,
    normalise,
    parse,
    spoken_phrases,
)
from showroom.catalog import load_catalog

ENGLISH = {
    "go to the gold counter": Command("go", "gold_counter"),
    "take me to the car studio": Command("go", "car_studio"),
    "Go to the wealth corner, please.": Command("go", "wealth_corner"),
    "I would like to go to customer service": Command("go", "service_counter"),
    "walk to the entrance": Command("go", "entrance"),
    "show the 100 gram bar": Command("show", "bar-au9999-100g"),
    "Show the 100g bar": Command("show", "bar-au9999-100g"),
    "show me the one hundred grams bar": Command("show", "bar-au9999-100g"),
    "show the cast 100 gram bar": Command("show", "bar-au9999-100g-cast"),
    "show me the panda coin": Command("show", "coin-panda-au999-1oz"),
    "show the silver panda coin": Command("show", "coin-panda-ag999-30g"),
    "I'd like to see the 1 kg bar": Command("show", "bar-au9999-1kg"),
    "let me see the SUV": Command("show", "car-suv-summit"),
    "show me the sedan": Command("show", "car-sedan-aurora"),
    "how much is this": Command("price"),
    "How much is this?": Command("price"),
    "what's the price of the solitaire ring": Command("price", "ring-solitaire"),
    "how much does the bangle cost": Command("price", "bangle-au999-classic"),
    "buy this": Command("buy"),
    "I want to buy this": Command("buy"),
    "buy the 10 gram bar": Command("buy", "bar-au9999-10g"),
    "call an advisor": Command("call_advisor"),
    "please call an adviser": Command("call_advisor"),
    "I need an advisor": Command("call_advisor"),
    "go back": Command("back"),
    "back": Command("back"),
}

CHINESE = {
    "去黄金柜台": Command("go", "gold_counter"),
    "去汽车展厅": Command("go", "car_studio"),
    "请带我去财富资讯区": Command("go", "wealth_corner"),
    "我要去服务柜台": Command("go", "service_counter"),
    "去 入口。": Command("go", "entrance"),
    "看一百克金条": Command("show", "bar-au9999-100g"),
    "看100克金条": Command("show", "bar-au9999-100g"),
    "给我看看熊猫金币": Command("show", "coin-panda-au999-1oz"),
    "看一公斤金条": Command("show", "bar-au9999-1kg"),
    "这个多少钱": Command("price"),
    "这个多少钱？": Command("price"),
    "钻戒多少钱": Command("price", "ring-solitaire"),
    "买这个": Command("buy"),
    "我要买这个": Command("buy"),
    "买十克金条": Command("buy", "bar-au9999-10g"),
    "呼叫顾问": Command("call_advisor"),
    "我想找客户经理": Command("call_advisor"),
    "返回": Command("back"),
    "回去": Command("back"),
}


@pytest.mark.parametrize(("text", "command"), ENGLISH.items())
def test_english_commands_are_understood(text: str, command: Command) -> None:
    assert parse(text, "en") == command


@pytest.mark.parametrize(("text", "command"), CHINESE.items())
def test_chinese_commands_are_understood(text: str, command: Command) -> None:
    assert parse(text, "zh") == command


@pytest.mark.parametrize("text", ["", "   ", "hello", "my balance", "go to the moon", "show the gold",
                                  "buy a car", "what a lovely day", "go to the gold counter and buy this",
                                  "show " + "the " * 80 + "panda coin"])
def test_english_text_outside_the_grammar_is_no_command(text: str) -> None:
    assert parse(text, "en") is None


@pytest.mark.parametrize("text", ["", "你好", "我的余额", "去月球", "看看", "买", "去黄金柜台买这个"])
def test_chinese_text_outside_the_grammar_is_no_command(text: str) -> None:
    assert parse(text, "zh") is None


def test_each_language_reads_only_its_own_grammar() -> None:
    assert parse("去黄金柜台", "en") is None
    assert parse("go to the gold counter", "zh") is None


def test_every_zone_of_the_hall_and_no_other_has_names_in_both_languages() -> None:
    zones = {z.id for z in hall_plan().zones}
    assert set(ZONE_NAMES["en"]) == zones
    assert set(ZONE_NAMES["zh"]) == zones


def test_every_product_in_the_hall_can_be_named_and_is_in_the_catalog(project_root: Path) -> None:
    in_hall = {s.product for s in hall_plan().slots}
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assert set(PRODUCT_NAMES["en"]) == in_hall
    assert set(PRODUCT_NAMES["zh"]) == in_hall
    assert in_hall <= {p.id for p in catalog.products}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_name_means_two_things(lang: Lang) -> None:
    for names in (ZONE_NAMES, PRODUCT_NAMES):
        seen: dict[str, str] = {}
        for item, aliases in names[lang].items():
            for alias in aliases:
                key = normalise(alias, lang)
                assert seen.setdefault(key, item) == item, f"{alias!r} names {seen[key]} and {item}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_zone_and_product_is_reached_by_its_example_phrase(lang: Lang) -> None:
    examples = example_phrases(lang)
    targets = {c.target for c in examples.values() if c.target is not None}
    assert targets == set(ZONE_NAMES[lang]) | set(PRODUCT_NAMES[lang])
    assert {c.intent for c in examples.values()} == {"go", "show", "price", "buy", "call_advisor", "back"}
    for phrase, command in examples.items():
        assert parse(phrase, lang) == command, phrase


def test_every_spoken_sentence_is_a_command_of_the_typed_grammar() -> None:
    spoken = spoken_phrases()
    assert len(spoken) == 2 * len(ZONE_NAMES["en"]) + 2 * len(PRODUCT_NAMES["en"]) + 5
    for phrase, command in spoken.items():
        assert parse(phrase, "en") == command
        assert f"({phrase})" in jsgf()
    assert jsgf().startswith("#JSGF V1.0;\ngrammar hall;\npublic <command> = ")


def test_numbers_units_and_contractions_are_read_as_words() -> None:
    assert normalise("Show the 100g bar!", "en") == "show the one hundred gram bar"
    assert normalise("what's the 1 kg bar", "en") == "what is the one kilogram bar"
    assert normalise("the 50 grams bar", "en") == "the fifty gram bar"
    assert normalise("看 100 克 金条。", "zh") == "看一百克金条"
    assert normalise("１０克", "zh") == "十克"
    assert normalise("105克", "zh") == "一百零五克"
