"""`POST /api/guide/ask {"text", "lang"?, "product"?, "variant"?}`: the digital guide answers a typed question (or
what the browser's recogniser heard) from the bank's facts, read live (docs/guide.md, "Understanding").

Thin: check the content type, read at most 4 KiB, validate the body (text 1-500 characters), then hand the
question to the `Guide` (render_node/guide/answers.py). The answer is always a 200: a question the guide does
not understand is `"intent": null` with `"offer_advisor": true`, never an error. Questions are not logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from render_node.errors import InvalidInput
from render_node.guide.answers import Guide
from render_node.guide.facts import facts_of
from render_node.guide.intents import load_bank, model_of
from render_node.keys import CATALOG
from render_node.request_body import read_model
from showroom.errors import UnknownProduct, UnknownVariant
from showroom.http_schema import Operation, Reply, operation

MAX_QUESTION_CHARS = 500
MAX_BODY_BYTES = 4 * 1024

GUIDE: web.AppKey[Guide] = web.AppKey("guide", Guide)
"""The guide: question bank, intent model, live fact sources (built on startup)."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class AskBody(BaseModel):
    """A customer's question."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS)] = Field(
        description="the question, typed or as the browser's recogniser heard it")
    lang: Literal["zh", "en"] | None = Field(None, description="the answer's language (default: the question's)")
    product: Id | None = Field(None, description="the product the customer is looking at (used when the question "
                                                 "names none)")
    variant: Id | None = Field(None, description="its variant (default: the product's first)")


class AnswerText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    lang: Literal["zh", "en"]


class AskReply(BaseModel):
    """The guide's answer, with the live facts it used."""

    model_config = ConfigDict(extra="forbid")
    intent: str | None = Field(description="the question's intent; null: not understood (an advisor is offered)")
    confidence: float = Field(ge=0, le=1)
    answer: AnswerText
    facts: dict[str, Any] = Field(description="the live values in the answer, e.g. product_id, variant_id, "
                                              "price_cny, price_as_of (the catalog's and the quote's price)")
    offer_advisor: bool


@operation(Operation(
    "The digital guide answers a question (zh or en) from the bank's live facts", ("guide",),
    body=AskBody, replies={200: Reply("the answer; a question not understood offers an advisor", AskReply)},
    description="Intents are matched against the question bank (assets/guide/questions.toml); prices come from "
                "the same live table as the catalog and the quote, loan examples from the finance plan. No answer "
                "is investment advice.",
    errors={413: "the body is larger than 4 KiB", 415: "the body is not sent as application/json",
            422: "invalid_input: not JSON, a text empty or over 500 characters, an unknown product or variant, "
                 "or a field named"}))
async def ask(request: web.Request) -> web.Response:
    """POST /api/guide/ask: the answer to a question."""
    body = await read_model(request, AskBody, MAX_BODY_BYTES, '{"text": ..., "lang": "zh" | "en"}')
    text = body.text.strip()
    if not text:
        raise InvalidInput("text: the question is empty")
    focus = None
    if body.product is not None:
        try:
            request.app[CATALOG].get(body.product).variant(body.variant)
        except (UnknownProduct, UnknownVariant) as exc:
            raise InvalidInput(f"product: {exc}") from None
        focus = (body.product, body.variant)
    answer = await request.app[GUIDE].ask(text, body.lang, focus)
    return web.json_response(answer.as_json(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    """Adds `POST /api/guide/ask` (call after the app's price port is set); the question bank is read and the
    model built on startup."""
    facts = facts_of(app)

    async def guide_ctx(app: web.Application) -> AsyncIterator[None]:
        bank = load_bank()
        app[GUIDE] = Guide(bank, model_of(bank), facts)
        yield

    app.cleanup_ctx.append(guide_ctx)
    app.router.add_post("/api/guide/ask", ask, name="guide_ask")
