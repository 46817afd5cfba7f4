"""The digital guide's questions through the real node: `POST /api/guide/ask` answers prices with the very price
the quote gives, loans with the commerce finance plan, refuses investment advice, offers an advisor when it does
not understand, and says so honestly when no live price can be read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from render_node.app import create_app
from render_node.config import load_config
from render_node.pool import RenderPool
from showroom.catalog import load_catalog
from tests.e2e.conftest import Node
from tests.tiny_renderer import make_tiny_renderer
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


@dataclass
class Stack:
    base: str
    session: aiohttp.ClientSession

    async def ask(self, text: str, **extra: Any) -> dict[str, Any]:
        async with self.session.post(self.base + "/api/guide/ask", json={"text": text, **extra}) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.session.post(self.base + path, json=body) as resp:
            return resp.status, await resp.json()


@pytest_asyncio.fixture
async def stack(tmp_path: Path, project_root: Path) -> AsyncIterator[Stack]:
    """A node with role all (the commerce service in process, SQLite, the sandbox price feed)."""
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "branches.toml").write_text(
        (project_root / "assets" / "branches.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "data").mkdir()
    config = load_config({"data_dir": str(tmp_path / "data"), "assets_dir": str(tmp_path / "assets"),
                          "port": 0, "workers": 1, "rate_limits": False}, {})
    config = replace(config, commerce=replace(config.commerce, payment_backend_url="http://127.0.0.1:9"))
    pool = RenderPool(make_tiny_renderer, workers=0)
    runner = web.AppRunner(create_app(config, catalog=catalog, renderer_pool=pool), shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        async with aiohttp.ClientSession() as session:
            yield Stack(f"http://127.0.0.1:{runner.addresses[0][1]}", session)
    finally:
        await runner.cleanup()
        await pool.close()


@pytest.mark.parametrize("question", ["100克金条多少钱", "how much is the 100 g bar"])
async def test_the_price_of_the_100_g_bar_is_the_quote_s_unit_price(stack: Stack, question: str) -> None:
    seen: dict[str, Any] = {}

    async def answer_equals_the_quote() -> bool:
        """Asked, quoted, asked again: when no price tick falls in between, all three are the same price."""
        before = await stack.ask(question)
        facts = before["facts"]
        if facts.get("price_cny") is None:
            return False
        status, quote = await stack.post("/api/quotes", {"product": facts["product_id"],
                                                         "variant": facts["variant_id"], "quantity": 1})
        after = await stack.ask(question)
        seen.update(before=before, quote=quote)
        return (status == 201 and before["facts"]["price_cny"] == after["facts"]["price_cny"]
                and Decimal(quote["unit_price_cny"]) == Decimal(facts["price_cny"]))

    await wait_until(answer_equals_the_quote, what="the guide's price to be the quote's unit price")
    answer = seen["before"]
    assert answer["intent"] == "product_price" and answer["offer_advisor"] is False
    assert answer["facts"]["product_id"] == "bar-au9999-100g" and answer["facts"]["variant_id"] == "au9999-100g"
    assert f"{Decimal(answer['facts']['price_cny']):,.2f}" in answer["answer"]["text"]
    assert answer["answer"]["lang"] == ("zh" if "克" in question else "en")
    # the cast 100 g bar is named too, with its own live price
    assert [a["product_id"] for a in answer["facts"]["also"]] == ["bar-au9999-100g-cast"]


async def test_the_price_is_the_catalog_price_table_s(stack: Stack) -> None:
    async def same_as_the_table() -> bool:
        answer = await stack.ask("熊猫金币多少钱")
        async with stack.session.get(stack.base + "/api/prices/catalog") as resp:
            table = (await resp.json())["products"]
        again = await stack.ask("熊猫金币多少钱")
        facts = answer["facts"]
        return (facts.get("price_cny") is not None and facts == again["facts"]
                and table[facts["product_id"]][facts["variant_id"]]["price_cny"] == facts["price_cny"])

    await wait_until(same_as_the_table, what="the coin's price to be the catalog table's")


async def test_should_i_buy_gold_now_gets_the_no_advice_answer(stack: Stack) -> None:
    for question, words in (("should I buy gold now", "can't give investment advice"),
                            ("现在适合买黄金吗", "不能提供投资建议")):
        answer = await stack.ask(question)
        assert answer["intent"] == "investment_advice"
        assert words in answer["answer"]["text"]


async def test_a_question_it_does_not_understand_offers_an_advisor(stack: Stack) -> None:
    answer = await stack.ask("qwxz blorp vrrk")
    assert answer["intent"] is None and answer["offer_advisor"] is True
    assert "advisor" in answer["answer"]["text"]
    zh = await stack.ask("嗯嗯啊啊呃")
    assert zh["intent"] is None and zh["offer_advisor"] is True and zh["answer"]["lang"] == "zh"


async def test_a_loan_example_is_the_commerce_finance_plan(stack: Stack) -> None:
    answer = await stack.ask("曙光轿车贷款36期月供多少")
    assert answer["intent"] == "loan_terms"
    facts = answer["facts"]
    status, plan = await stack.post("/api/finance/plans", {"product": facts["product_id"],
                                                           "variant": facts["variant_id"], "term_months": 36})
    assert status == 200
    assert facts["plan"] == {k: v for k, v in plan.items() if k != "schedule"}
    assert f"{plan['apr_percent']}%" in answer["answer"]["text"]


async def test_the_quote_lock_and_branches_come_from_settings_and_the_branch_file(stack: Stack) -> None:
    lock = await stack.ask("锁价多久")
    assert lock["intent"] == "quote_lock" and lock["facts"] == {"quote_lock_s": 300} and "5 分钟" in lock["answer"]["text"]
    hours = await stack.ask("what are your opening hours")
    assert hours["intent"] == "branches_hours" and "sh-lujiazui" in hours["facts"]["branches"]
    assert "Mon-Fri 09:00-17:00" in hours["answer"]["text"]


async def test_the_product_in_focus_answers_a_question_that_names_none(stack: Stack) -> None:
    answer = await stack.ask("what is the purity", product="coin-panda-ag999-30g")
    assert answer["intent"] == "product_facts" and answer["facts"]["purity"] == "Ag999"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b'{"text": ""}', "application/json", 422),
    (b'{"text": "   "}', "application/json", 422),
    (b'{"text": "hi", "lang": "fr"}', "application/json", 422),
    (b'{"text": "hi", "extra": 1}', "application/json", 422),
    (b'{"text": "hi", "product": "no-such-thing"}', "application/json", 422),
    (b"not json", "application/json", 422),
    (b'{"text": "hi"}', "text/plain", 415),
    (b'{"text": "' + b"x" * 5000 + b'"}', "application/json", 413),
], ids=["empty", "blank", "lang", "extra", "product", "not-json", "text-plain", "too-large"])
async def test_a_bad_question_is_a_4xx_json_error(stack: Stack, body: bytes, content_type: str,
                                                   status: int) -> None:
    async with stack.session.post(stack.base + "/api/guide/ask", data=body,
                                  headers={"Content-Type": content_type}) as resp:
        assert resp.status == status
        assert "code" in (await resp.json())["error"]


async def test_an_edge_without_commerce_says_it_cannot_read_a_price(node: Node) -> None:
    async with (aiohttp.ClientSession() as session,
                session.post(node.base + "/api/guide/ask", json={"text": "how much is the 100 g bar"}) as resp):
        answer = await resp.json()
    assert answer["intent"] == "product_price" and answer["facts"]["price_cny"] is None
    assert answer["offer_advisor"] is True and "can't read a live price" in answer["answer"]["text"]
