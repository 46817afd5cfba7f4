"""The commerce routes turn request bodies into the use cases' typed arguments and refuse bad fields (422)
before any use case runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from showroom.api import requests
from showroom.compliance import KycLevel
from showroom.errors import InvalidInput
from showroom.finance import RepaymentMethod
from showroom.orders import OrderStatus


def test_an_order_body_becomes_a_place_order() -> None:
    cmd = requests.place_order({"quote_id": " q1 ", "customer": {"name": "王芳", "kyc_level": "L2"},
                                "channel": "kiosk", "product_view": {"view_set_hash": "abc"},
                                "finance": {"down_payment_ratio": "0.2", "term_months": 36}})
    assert cmd.quote_id == "q1" and cmd.customer.name == "王芳" and cmd.customer.kyc_level is KycLevel.L2
    assert cmd.channel == "kiosk" and cmd.branch_id is None and cmd.product_view == {"view_set_hash": "abc"}
    assert cmd.finance is not None and cmd.finance.down_payment_ratio == Decimal("0.2")
    assert requests.place_order({"quote_id": "q", "customer": {"phone": "1"}}).channel == "web"


@pytest.mark.parametrize("body", [{}, {"quote_id": "q"}, {"quote_id": "q", "customer": []},
                                  {"quote_id": "q", "customer": {"name": ""}},
                                  {"quote_id": 1, "customer": {"phone": "1"}},
                                  {"quote_id": "q", "customer": {"phone": "1"}, "product_view": "x"},
                                  {"quote_id": "q", "customer": {"phone": "1"}, "finance": 3}])
def test_a_bad_order_body_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        requests.place_order(body)


def test_payments_name_a_known_method_and_a_wallet_its_tier() -> None:
    assert requests.start_payment("o", {"method": "qr"}).wallet_tier is None
    assert requests.start_payment("o", {"method": "ecny_wallet"}).wallet_tier == 2
    for body in ({"method": "cash"}, {}, {"method": "ecny_wallet", "wallet_tier": "3"}):
        with pytest.raises(InvalidInput):
            requests.start_payment("o", body)


def test_refund_amounts_are_cny_with_at_most_two_decimals() -> None:
    assert requests.request_refund("o", {"amount_cny": "900.5"}).amount_fen == 90050
    assert requests.request_refund("o", {}).amount_fen is None
    for bad in ("1.001", "NaN", "Infinity", True, "x"):
        with pytest.raises(InvalidInput):
            requests.request_refund("o", {"amount_cny": bad})


def test_loan_terms_take_defaults_and_refuse_unknown_methods() -> None:
    product, variant, terms = requests.plan_args({"product": "car-ev", "upfront_fee_cny": "0.00"})
    assert (product, variant, terms.term_months, terms.method) == ("car-ev", None, 36,
                                                                    RepaymentMethod.EQUAL_INSTALLMENT)
    assert terms.down_payment_ratio is None and str(terms.upfront_fee_cny) == "0.00"
    with pytest.raises(InvalidInput):
        requests.plan_args({"product": "car-ev", "method": "balloon"})
    with pytest.raises(InvalidInput):
        requests.plan_args({"product": "car-ev", "term_months": 12.5})


def test_quote_fulfilment_and_share_bodies_are_checked() -> None:
    assert requests.quote_args({"product": "bar-50g"}) == ("bar-50g", None, 1)
    with pytest.raises(InvalidInput):
        requests.quote_args({"product": "bar-50g", "quantity": "2"})
    assert requests.fulfilment_step({"status": "completed"}) is OrderStatus.COMPLETED
    with pytest.raises(InvalidInput):
        requests.fulfilment_step({"status": "paid"})
    assert requests.issue_share({"product": "ring-18k"}).channel == "web"
