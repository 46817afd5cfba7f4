"""The commerce routes turn request bodies into the use cases' typed arguments and refuse bad fields (422)
before any use case runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from showroom.api import requests
from showroom.errors import InvalidInput
from showroom.finance import RepaymentMethod
from showroom.orders import OrderStatus


def test_an_order_body_becomes_a_place_order() -> None:
    cmd = requests.place_order({"quote_id": " q1 ", "customer": {"name": "王芳", "phone": "+86 138-0000 0000"},
                                "channel": "kiosk", "product_view": {"view_set_hash": "abc"},
                                "finance": {"down_payment_ratio": "0.2", "term_months": 36}})
    assert cmd.quote_id == "q1" and cmd.customer.name == "王芳" and cmd.customer.phone == "13800000000"
    assert cmd.channel == "kiosk" and cmd.branch_id is None and cmd.product_view == {"view_set_hash": "abc"}
    assert cmd.finance is not None and cmd.finance.down_payment_ratio == Decimal("0.2")
    assert requests.place_order({"quote_id": "q", "customer": {"phone": "13800000000"}}).channel == "web"


PHONE = {"phone": "13800000000"}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "quote_id"), ({"quote_id": "q"}, "customer"), ({"quote_id": "q", "customer": []}, "customer"),
    ({"quote_id": "q", "customer": {"name": "王芳"}}, "customer.phone"),
    ({"quote_id": "q", "customer": {"phone": "1"}}, "customer.phone"),
    ({"quote_id": "q", "customer": {"phone": "23800000000"}}, "customer.phone"),
    ({"quote_id": "q", "customer": {"phone": "1" * 40}}, "customer.phone"),
    ({"quote_id": "q", "customer": {"phone": "13800000000", "name": "x" * 101}}, "customer.name"),
    ({"quote_id": 1, "customer": PHONE}, "quote_id"),
    ({"quote_id": "q" * 101, "customer": PHONE}, "quote_id"),
    ({"quote_id": "q", "customer": PHONE, "product_view": "x"}, "product_view"),
    ({"quote_id": "q", "customer": PHONE, "product_view": {"k": "v" * 3000}}, "product_view"),
    ({"quote_id": "q", "customer": PHONE, "finance": 3}, "finance"),
    ({"quote_id": "q", "customer": PHONE, "channel": "fax"}, "channel"),
    ({"quote_id": "q", "customer": PHONE, "branch": "../etc"}, "branch"),
    ({"quote_id": "q", "customer": {**PHONE, "kyc_level": "L3"}}, "customer.kyc_level"),
    ({"quote_id": "q", "customer": PHONE, "finance": {"annual_rate": "0"}}, "finance.annual_rate"),
    ({"quote_id": "q", "customer": PHONE, "finance": {"monthly_fee_cny": "0"}}, "finance.monthly_fee_cny"),
])
def test_a_bad_order_body_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        requests.place_order(body)
    assert err.value.message.startswith(field)


def test_facts_the_bank_owns_are_refused_with_where_they_come_from() -> None:
    with pytest.raises(InvalidInput, match="customer.kyc_level is not accepted: .*customer-information"):
        requests.place_order({"quote_id": "q", "customer": {**PHONE, "kyc_level": "L3"}})
    with pytest.raises(InvalidInput, match="wallet_tier is not accepted: .*payment backend"):
        requests.start_payment("o", {"method": "ecny_wallet", "wallet_tier": 1})
    with pytest.raises(InvalidInput, match="annual_rate is not accepted: .*rate table"):
        requests.plan_args({"product": "car-ev", "annual_rate": "0"})


def test_payments_name_a_known_method_only() -> None:
    assert requests.start_payment("o", {"method": "qr"}).method == "qr"
    assert requests.start_payment("o", {"method": "ecny_wallet"}).method == "ecny_wallet"
    for body in ({"method": "cash"}, {}, {"method": "ecny_wallet", "wallet_tier": "3"}, {"method": ["qr"]}):
        with pytest.raises(InvalidInput):
            requests.start_payment("o", body)


def test_refund_amounts_are_cny_with_at_most_two_decimals_and_bounded() -> None:
    assert requests.request_refund("o", {"amount_cny": "900.5"}).amount_fen == 90050
    assert requests.request_refund("o", {"amount_cny": Decimal("12.34")}).amount_fen == 1234
    assert requests.request_refund("o", {}).amount_fen is None
    for bad in ("1.001", "NaN", "Infinity", "-1", "0", "1e30", "9" * 40, True, "x", [1]):
        with pytest.raises(InvalidInput, match="amount_cny"):
            requests.request_refund("o", {"amount_cny": bad})


def test_loan_terms_take_defaults_and_refuse_unknown_methods() -> None:
    product, variant, terms = requests.plan_args({"product": "car-ev"})
    assert (product, variant, terms.term_months, terms.method) == ("car-ev", None, 36,
                                                                    RepaymentMethod.EQUAL_INSTALLMENT)
    assert terms.down_payment_ratio is None
    for body in ({"method": "balloon"}, {"term_months": 12.5}, {"term_months": "36"}, {"term_months": 600},
                 {"down_payment_ratio": "1e30"}, {"down_payment_ratio": "NaN"}, {"down_payment_ratio": "-0.1"},
                 {"down_payment_ratio": "1"}, {"down_payment_ratio": "0." + "1" * 40},
                 {"upfront_fee_cny": "0.00"}, {"annual_rate": "0.01"}):
        with pytest.raises(InvalidInput):
            requests.plan_args({"product": "car-ev", **body})


def test_quantities_are_bounded_integers() -> None:
    assert requests.quote_args({"product": "bar-50g", "quantity": 100})[2] == 100
    for bad in ("2", 0, -1, 101, 10**30, True, 1.5):
        with pytest.raises(InvalidInput, match="quantity"):
            requests.quote_args({"product": "bar-50g", "quantity": bad})


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1999-12-31", "2026-13-01", "20260101", "x",
                                 "2026-1-1", "+2026-01-01"])
def test_a_day_out_of_the_sane_range_or_malformed_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        requests.day(raw)


def test_a_day_in_range_is_read() -> None:
    assert requests.day("2026-11-30").isoformat() == "2026-11-30"


def test_quote_fulfilment_and_share_bodies_are_checked() -> None:
    assert requests.quote_args({"product": "bar-50g"}) == ("bar-50g", None, 1)
    with pytest.raises(InvalidInput):
        requests.quote_args({"product": "bar-50g", "quantity": "2"})
    assert requests.fulfilment_step({"status": "completed"}) is OrderStatus.COMPLETED
    with pytest.raises(InvalidInput):
        requests.fulfilment_step({"status": "paid"})
    assert requests.issue_share({"product": "ring-18k"}).channel == "web"
