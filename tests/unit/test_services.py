"""Use cases refuse bad input before touching the database (the unit of work here fails if used), and finance
plans apply the bank's and the regulator's rules."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from showroom.adapters.bus import InProcessBus
from showroom.catalog import Catalog, Product
from showroom.compliance import ComplianceRefused
from showroom.errors import InvalidInput, ShowroomError
from showroom.services import CommerceService, is_new_energy
from showroom.settings import CommerceSettings
from showroom.signing import PaymentSignatureInvalid, sign
from tests.commerce_fakes import SECRET, FakeGateway, FixedPrices, ManualClock, make_catalog


def _no_db() -> Any:
    raise AssertionError("the database must not be touched for this request")


def service(catalog: Catalog | None = None) -> CommerceService:
    clock = ManualClock()
    return CommerceService(catalog=catalog or make_catalog(), settings=CommerceSettings(
        database_url="sqlite+aiosqlite:///unused.db", payment_webhook_secret=SECRET), uow=_no_db,
        gateway=FakeGateway(clock), prices=FixedPrices(clock), bus=InProcessBus(), clock=clock)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_notice_with_a_bad_or_missing_signature_is_refused_first() -> None:
    svc = service()
    body = b'{"id": "evt_1", "type": "payment.succeeded", "data": {}}'
    for header in (None, "", "t=1,v1=00", sign("other", int(svc.clock.now().timestamp()), body)):
        with pytest.raises(PaymentSignatureInvalid):
            run(svc.handle_payment_notice(body, header))


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "e", "type": "payment.succeeded"}',
                                  b'{"id": "e", "type": "x", "data": {"payment_id": "p", "amount_fen": "12"}}',
                                  b'{"id": "e", "type": "x", "data": {"payment_id": "p", "amount_fen": true}}'])
def test_a_signed_but_malformed_notice_is_a_400(body: bytes) -> None:
    svc = service()
    with pytest.raises(ShowroomError) as err:
        run(svc.handle_payment_notice(body, sign(SECRET, int(svc.clock.now().timestamp()), body)))
    assert err.value.http_status == 400


def test_creating_requests_need_an_idempotency_key_and_valid_fields() -> None:
    svc = service()
    with pytest.raises(ShowroomError) as err:
        run(svc.place_order({"quote_id": "q"}, None))
    assert err.value.code == "idempotency_key_missing"
    with pytest.raises(InvalidInput):
        run(svc.start_payment("ord_1", {"method": "cash"}, "k"))
    with pytest.raises(InvalidInput):
        run(svc.refund("ord_1", {"amount_cny": "1.001"}, "k"))
    with pytest.raises(InvalidInput):
        run(svc.refund("ord_1", {"amount_cny": "NaN"}, "k"))
    with pytest.raises(InvalidInput):
        run(svc.place_order([1, 2], "k"))  # type: ignore[arg-type]


def test_finance_plans_follow_the_car_and_the_rules() -> None:
    svc = service()
    plan = svc.finance_plan({"product": "car-ev", "down_payment_ratio": "0.15", "term_months": 60})
    assert plan["principal_cny"] == "220830.00" and plan["annual_rate"] == "0.0399" and len(plan["schedule"]) == 60
    assert json.dumps(plan)  # plain JSON
    with pytest.raises(ComplianceRefused):
        svc.finance_plan({"product": "car-ev", "down_payment_ratio": "0.1"})
    with pytest.raises(InvalidInput, match="terms offered"):
        svc.finance_plan({"product": "car-ev", "term_months": 18})
    with pytest.raises(InvalidInput, match="not a car"):
        svc.finance_plan({"product": "bar-50g"})


def test_a_petrol_car_needs_twenty_percent_down() -> None:
    ev = make_catalog().get("car-ev")
    petrol = Product(ev.id, ev.kind, ev.name, ev.description, ev.model, ev.variants, tags=("car", "suv"),
                     reservation_deposit_cny=Decimal("5000"))
    assert is_new_energy(ev) and not is_new_energy(petrol)
    svc = service(Catalog((petrol,)))
    with pytest.raises(ComplianceRefused, match="20 %"):
        svc.finance_plan({"product": "car-ev", "down_payment_ratio": "0.15"})
    assert svc.finance_plan({"product": "car-ev", "down_payment_ratio": "0.2"})["down_payment_cny"] == "51960.00"
