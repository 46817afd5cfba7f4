"""The guide's answers: the intent of a question (render_node/guide/intents.py) and the bank's facts read live
(render_node/guide/facts.py) put into the question bank's templates.

Numbers in an answer come only from a live source at the time of the question and are returned beside the text
(`facts`), so a client (and a test) can check them against the quote. When a source cannot answer, the guide
says so and offers an advisor; it never fills in a number of its own. Below the confidence threshold the guide
says it did not understand and offers an advisor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from render_node.guide.facts import GuideFacts
from render_node.guide.intents import (
    IntentModel,
    Lang,
    ProductMatch,
    QuestionBank,
    language_of,
    metals_in,
    months_in,
    resolve_products,
)
from showroom.branches import Branch
from showroom.catalog import Metal, Product, ProductKind

CHINA = timezone(timedelta(hours=8))
WEEKDAYS: dict[Lang, tuple[str, ...]] = {"zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
                                         "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
METAL_NAMES: dict[Metal, dict[Lang, str]] = {Metal.GOLD: {"zh": "黄金", "en": "Gold"},
                                             Metal.SILVER: {"zh": "白银", "en": "Silver"},
                                             Metal.PLATINUM: {"zh": "铂金", "en": "Platinum"}}
PRODUCT_INTENTS = frozenset({"product_price", "product_facts", "loan_terms"})


@dataclass
class Answer:
    intent: str | None
    confidence: float
    text: str
    lang: Lang
    facts: dict[str, Any] = field(default_factory=dict)
    offer_advisor: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "confidence": self.confidence,
                "answer": {"text": self.text, "lang": self.lang}, "facts": self.facts,
                "offer_advisor": self.offer_advisor}


def money(value: str | Decimal) -> str:
    """"4650.5" -> "4,650.50" (two decimals, thousands separated)."""
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def when(iso: str, lang: Lang) -> str:
    """An ISO 8601 time as Beijing time, e.g. "2026-11-30 18:05 (UTC+8)" / "北京时间 2026-11-30 18:05"."""
    try:
        at = datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso
    return f"北京时间 {at}" if lang == "zh" else f"{at} Beijing time"


def _hours(branch: Branch, lang: Lang) -> str:
    """Opening hours with equal consecutive days grouped: "Mon-Fri 09:00-17:00, Sat 10:00-16:00, Sun closed"."""
    def text(ranges: tuple[tuple[int, int], ...]) -> str:
        if not ranges:
            return "休息" if lang == "zh" else "closed"
        return ",".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges)

    days, parts, start = WEEKDAYS[lang], [], 0
    for i in range(1, len(branch.hours) + 1):
        if i == len(branch.hours) or branch.hours[i] != branch.hours[start]:
            span = days[start] if i - 1 == start else f"{days[start]}-{days[i - 1]}"
            parts.append(f"{span} {text(branch.hours[start])}")
            start = i
    return ("，" if lang == "zh" else ", ").join(parts)


class Guide:
    """Answers questions: `await guide.ask(text, lang, focus)`."""

    def __init__(self, bank: QuestionBank, model: IntentModel, facts: GuideFacts) -> None:
        self.bank, self.model, self.facts = bank, model, facts

    def _t(self, intent: str, key: str, lang: Lang, **slots: Any) -> str:
        return self.bank.template(intent, key, lang).format(**slots)

    def _m(self, key: str, lang: Lang, **slots: Any) -> str:
        return self.bank.message(key, lang).format(**slots)

    async def ask(self, text: str, lang: Lang | None = None,
                  focus: tuple[str, str | None] | None = None) -> Answer:
        """The answer to `text`. `focus`: the (product, variant) the customer is looking at, used when the
        question names none."""
        lang = lang or language_of(text)
        match = self.model.classify(text)
        if match.intent is None:
            return Answer(None, match.confidence, self._m("low_confidence", lang), lang, {}, True)
        intent = match.intent
        answer = Answer(intent, match.confidence, "", lang, {}, self.bank.intents[intent].advisor)
        products = resolve_products(self.facts.catalog, text) if intent in PRODUCT_INTENTS else []
        if not products and focus is not None:
            product = self.facts.catalog.get(focus[0])
            products = [ProductMatch(product, product.variant(focus[1]), 0.0)]
        if intent == "product_price":
            await self._price(answer, products)
        elif intent == "gold_price":
            await self._metal_price(answer, text)
        elif intent == "product_facts":
            self._product_facts(answer, products)
        elif intent == "loan_terms":
            await self._loan(answer, products, text)
        elif intent == "quote_lock":
            minutes = Decimal(self.facts.quote_ttl_s) / 60
            answer.facts = {"quote_lock_s": self.facts.quote_ttl_s}
            answer.text = self._t(intent, "answer", lang, quote_lock_minutes=f"{minutes.normalize():f}")
        elif intent in ("pickup", "branches_hours"):
            self._branches(answer)
        else:
            answer.text = self._t(intent, "answer", lang)
        return answer

    def _which(self, answer: Answer) -> None:
        names = [getattr(p.name, answer.lang) for p in list(self.facts.catalog)[:3]]
        answer.text = self._m("which_product", answer.lang, examples=("、" if answer.lang == "zh" else "; ").join(names))
        answer.facts = {"product_id": None}

    async def _price(self, answer: Answer, products: list[ProductMatch]) -> None:
        lang = answer.lang
        if not products:
            self._which(answer)
            return
        table = await self.facts.prices.prices()
        first, *others = products
        product, variant = first.product, first.variant
        entry = table.get(product.id, {}).get(variant.id)
        name, vname = getattr(product.name, lang), getattr(variant.name, lang)
        if entry is None:
            answer.text = self._m("price_unavailable", lang, product=name)
            answer.facts = {"product_id": product.id, "variant_id": variant.id, "price_cny": None}
            answer.offer_advisor = True
            return
        answer.facts = {"product_id": product.id, "variant_id": variant.id, "price_cny": entry["price_cny"],
                        "price_as_of": entry.get("price_as_of"), "price_source": entry.get("price_source"),
                        "price_stale": bool(entry.get("price_stale", False))}
        slots = {"product": name, "variant": vname, "price_cny": money(entry["price_cny"]),
                 "as_of": when(str(entry.get("price_as_of", "")), lang)}
        if product.kind is ProductKind.CAR and "deposit_cny" in entry:
            answer.facts["deposit_cny"] = entry["deposit_cny"]
            text = self._t("product_price", "car", lang, deposit_cny=money(entry["deposit_cny"]), **slots)
        else:
            text = self._t("product_price", "answer", lang, **slots)
        if entry.get("price_stale"):
            text += self._m("stale_note", lang)
        also: list[dict[str, Any]] = []
        also_texts: list[str] = []
        for other in others:
            e = table.get(other.product.id, {}).get(other.variant.id)
            if e is not None:
                also.append({"product_id": other.product.id, "variant_id": other.variant.id,
                             "price_cny": e["price_cny"]})
                unit = " 元" if lang == "zh" else " CNY"
                also_texts.append(f"{getattr(other.product.name, lang)}（{getattr(other.variant.name, lang)}）"
                                  f"{money(e['price_cny'])}{unit}" if lang == "zh" else
                                  f"{other.product.name.en} ({other.variant.name.en}) {money(e['price_cny'])}{unit}")
        if also:
            answer.facts["also"] = also
            text += self._m("also", lang, others=("；" if lang == "zh" else "; ").join(also_texts))
        answer.text = text

    async def _metal_price(self, answer: Answer, text: str) -> None:
        lang = answer.lang
        metal = next(iter(sorted(metals_in(text.lower()) or {Metal.GOLD})))
        table = await self.facts.prices.prices()
        best: tuple[Decimal, str, dict[str, Any]] | None = None
        for product in self.facts.catalog:
            for variant in product.variants:
                entry = table.get(product.id, {}).get(variant.id)
                if (entry is None or variant.purity is None or variant.purity.metal is not metal
                        or "metal_cny_per_g" not in entry):
                    continue
                if best is None or variant.purity.fineness > best[0]:
                    best = (variant.purity.fineness, variant.purity.value, entry)
        if best is None:
            answer.text = self._m("price_unavailable", lang, product=METAL_NAMES[metal][lang])
            answer.facts = {"metal": metal.value, "metal_cny_per_g": None}
            answer.offer_advisor = True
            return
        _fineness, purity, entry = best
        answer.facts = {"metal": metal.value, "purity": purity, "metal_cny_per_g": entry["metal_cny_per_g"],
                        "price_as_of": entry.get("price_as_of"), "price_source": entry.get("price_source"),
                        "price_stale": bool(entry.get("price_stale", False))}
        answer.text = self._t("gold_price", "answer", lang, metal=f"{METAL_NAMES[metal][lang]} {purity}",
                              metal_cny_per_g=money(entry["metal_cny_per_g"]),
                              as_of=when(str(entry.get("price_as_of", "")), lang),
                              source=entry.get("price_source", ""))
        if entry.get("price_stale"):
            answer.text += self._m("stale_note", lang)

    def _product_facts(self, answer: Answer, products: list[ProductMatch]) -> None:
        lang = answer.lang
        if not products:
            self._which(answer)
            return
        product, variant = products[0].product, products[0].variant
        zh = lang == "zh"
        facts: dict[str, Any] = {"product_id": product.id, "variant_id": variant.id}
        parts: list[str] = []
        if variant.purity is not None:
            facts["purity"] = variant.purity.value
            parts.append(f"成色 {variant.purity.value}" if zh else f"purity {variant.purity.value}")
        if variant.weight_g is not None:
            facts["weight_g"] = str(variant.weight_g)
            parts.append(f"重量 {variant.weight_g} 克" if zh else f"weight {variant.weight_g} g")
        if product.dimensions_mm is not None:
            dims = " x ".join(f"{d.normalize():f}" for d in product.dimensions_mm)
            facts["dimensions_mm"] = [str(d) for d in product.dimensions_mm]
            parts.append(f"尺寸 {dims} 毫米" if zh else f"size {dims} mm")
        if variant.size_label:
            facts["size_label"] = variant.size_label
            parts.append(f"规格 {variant.size_label}" if zh else f"size {variant.size_label}")
        if product.hallmark:
            facts["hallmark"] = product.hallmark
            parts.append(f"印记“{product.hallmark}”" if zh else f"hallmark \"{product.hallmark}\"")
        if product.certificate is not None:
            cert = product.certificate
            facts["certificate"] = {"issuer": cert.issuer, "standard": cert.standard}
            parts.append(f"证书由{cert.issuer}出具，标准 {cert.standard}" if zh
                         else f"certificate by {cert.issuer}, standard {cert.standard}")
        answer.facts = facts
        body = ("，".join(parts) + "。") if zh else ("; ".join(parts) + ".")
        answer.text = self._t("product_facts", "answer", lang,
                              product=f"{getattr(product.name, lang)}（{getattr(variant.name, lang)}）" if zh
                              else f"{product.name.en} ({variant.name.en})", facts=body)

    async def _loan(self, answer: Answer, products: list[ProductMatch], text: str) -> None:
        lang = answer.lang
        financed = [m for m in products if m.product.finance_terms_months]
        product: Product | None = financed[0].product if financed else next(
            (p for p in self.facts.catalog if p.finance_terms_months), None)
        if product is None:
            answer.text, answer.offer_advisor = self._t("loan_terms", "unavailable", lang), True
            return
        variant = financed[0].variant if financed else product.variant(None)
        terms = product.finance_terms_months
        asked = months_in(text)
        term = asked if asked in terms else (36 if 36 in terms else terms[len(terms) // 2])
        plan = await self.facts.finance.plan(product.id, variant.id, term)
        if plan is None:
            answer.text, answer.offer_advisor = self._t("loan_terms", "unavailable", lang), True
            answer.facts = {"product_id": product.id, "variant_id": variant.id, "plan": None}
            return
        summary = {k: v for k, v in plan.items() if k != "schedule"}
        answer.facts = {"product_id": product.id, "variant_id": variant.id, "plan": summary}
        method = {"equal_installment": {"zh": "等额本息", "en": "equal instalments"},
                  "equal_principal": {"zh": "等额本金", "en": "equal principal"}}
        least = product.finance_min_down_payment_ratio
        answer.text = self._t(
            "loan_terms", "answer", lang, product=getattr(product.name, lang), variant=getattr(variant.name, lang),
            price_cny=money(plan["price_cny"]), down_payment_cny=money(plan["down_payment_cny"]),
            principal_cny=money(plan["principal_cny"]), term_months=plan["term_months"],
            method=method.get(str(plan.get("method")), {"zh": "", "en": ""})[lang],
            annual_rate_percent=f"{(Decimal(plan['annual_rate']) * 100).normalize():f}",
            apr_percent=plan["apr_percent"], first_payment_cny=money(plan["first_payment_cny"]),
            total_interest_cny=money(plan["total_interest_cny"]), terms="/".join(str(t) for t in terms),
            min_down_percent="-" if least is None else f"{(least * 100).normalize():f}",
            rate_source=plan.get("rate_source", ""))

    def _branches(self, answer: Answer) -> None:
        lang, intent = answer.lang, answer.intent or ""
        branches = self.facts.branches
        answer.facts = {"branches": [b.id for b in branches]}
        if not branches:
            listing = "暂时读取不到网点信息，请咨询客户经理" if lang == "zh" else \
                "the branch list is unavailable right now; an advisor can help"
            answer.offer_advisor = True
        elif intent == "pickup":
            listing = ("、" if lang == "zh" else "; ").join(getattr(b.name, lang) for b in branches)
        else:
            sep = "；" if lang == "zh" else "; "
            listing = sep.join(f"{getattr(b.name, lang)}（{getattr(b.address, lang)}，{b.phone}）{_hours(b, lang)}"
                               if lang == "zh" else
                               f"{b.name.en} ({b.address.en}, {b.phone}): {_hours(b, lang)}" for b in branches)
        answer.text = self._t(intent, "answer", lang, branches=listing)
