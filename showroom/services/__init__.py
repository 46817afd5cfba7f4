"""Use cases of the commerce side, one module per thing the customer, the teller or the backend does. They take
typed arguments, return domain objects and reach the world only through the ports (`showroom/ports.py`), held
by one `Commerce` value that `showroom.bootstrap` builds.

```
orders.py          quote, place_order, get_order, cancel, advance_fulfilment, expire_due
payments.py        start_payment, submit_payment, apply_gateway_payment
notices.py         handle_payment_notice (signed notifications from the payment backend)
refunds.py         staff_refund (four eyes), approve, reject, request_refund, execute_refund
staff.py           LocalStaffDirectory (sign-in), sessions, accounts
audit.py           list_entries, verify_chain (the hash-chained audit trail)
backoffice.py      list_orders, order_story, stock (what staff read)
recovery.py        recover, sweep (the background work)
reconciliation.py  reconcile (against the backend's settlement file)
finance.py         finance_plan (car loans)
shares.py          issue_share, open_share
prices.py          current_snapshot, catalog_prices
_uow.py            Commerce (the dependencies), transact (one transaction, retried, events after commit)
_idempotency.py    run_once (Idempotency-Key: replay, reuse, in flight)
```

Money-safety rules kept here (docs/commerce.md explains them):
- every state change is one database transaction; events are published only after it commits;
- a payment is first written as an *intent* row, then created at the backend with an idempotency key derived
  from that row, then marked pending: a crash between the two steps is finished by `recover()` on start;
- a notification is verified (HMAC, 300 s tolerance), matched (payment, order, amount, currency) and
  deduplicated by its event id inside the transaction that applies it; status changes are idempotent too;
- an order is paid by exactly one payment; any other successful payment is refunded in full automatically
  (refund intents are written in the same transaction and executed after it, retried by the sweeper);
- every creating request is idempotent by `Idempotency-Key` (replay = first answer, other body = 422,
  in flight = 409).
"""

from __future__ import annotations

from showroom.services._idempotency import Claim, Reply, check_key, run_once
from showroom.services._uow import Commerce

__all__ = ["Claim", "Commerce", "Reply", "check_key", "run_once"]
