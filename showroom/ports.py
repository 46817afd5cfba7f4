"""Ports: the `Protocol`s through which the use cases (`showroom/services/`) reach the world.

Adapters in `showroom/adapters/` implement them (SQLAlchemy, the payment backend over HTTP, price feeds, Redis);
tests implement them with in-memory fakes. Money crossing a port is integer fen (1 CNY = 100 fen) or `Decimal`
CNY, never float. Times are timezone-aware UTC `datetime`s.

The payment gateway mirrors the payment backend wire protocol (docs/payments.md):

- `create_payment`: `POST {base}/payments` (header `Idempotency-Key`) body `{"order_id", "amount_fen", "currency",
  "method", "description", "notify_url", "return_url", "expires_in_s", "payer_phone"?}` -> 201 `{"payment_id",
  "status": "pending", "pay_url", "qr_png_url", "expires_at", "wallet"?: {"wallet_id", "tier", "single_limit_fen",
  "daily_limit_fen", "balance_limit_fen"}}` (`wallet` for e-CNY wallet payments: the backend's facts);
- `query_payment`: `GET {base}/payments/{id}` -> `{"payment_id", "order_id", "status", "amount_fen", "refunded_fen",
  "failure_code", ...}`;
- `refund`: `POST {base}/payments/{id}/refunds` (header `Idempotency-Key`) `{"amount_fen", "reason"}` ->
  `{"refund_id", "status"}`;
- `settlement`: `GET {base}/settlements/{YYYY-MM-DD}.csv`, parsed into `SettlementLine`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from showroom.branch_ports import BranchRepository
from showroom.errors import ShowroomError
from showroom.pricing import PriceSnapshot
from showroom.pricing import PriceUnavailable as PriceUnavailable  # where the adapters raise it from

if TYPE_CHECKING:
    from showroom.audit import Actor, AuditEntry, AuditEvent
    from showroom.compliance import CustomerActivity
    from showroom.customers import CustomerFacts
    from showroom.finance import LoanRate
    from showroom.orders import Order, Payment, PaymentStatus, Refund, RefundStatus
    from showroom.pricing import Quote
    from showroom.sharing import Share
    from showroom.staff import ApprovalState, RefundApproval, SignInState, StaffAccount, StaffSession

# --------------------------------------------------------------------------------------------------------------
# Payment gateway
# --------------------------------------------------------------------------------------------------------------

PaymentMethod = Literal["card", "mobile_banking", "ecny_wallet", "qr"]
PAYMENT_METHODS: tuple[PaymentMethod, ...] = ("card", "mobile_banking", "ecny_wallet", "qr")

GatewayPaymentStatus = Literal["pending", "succeeded", "failed", "expired"]
GatewayRefundStatus = Literal["pending", "succeeded", "failed"]
SettlementKind = Literal["payment", "refund"]


class PaymentGatewayError(ShowroomError):
    """The payment backend answered something we cannot use (malformed reply, unexpected status)."""

    code = "payment_backend_error"
    http_status = 502


class PaymentGatewayUnavailable(PaymentGatewayError):
    """The payment backend could not be reached, timed out or answered 5xx: safe to retry with the same key."""

    code = "payment_backend_unavailable"
    http_status = 503


class PaymentRejected(PaymentGatewayError):
    """The payment backend refused the request (4xx): retrying the same request will not help."""

    code = "payment_rejected"
    http_status = 422


class GatewayPaymentNotFound(PaymentGatewayError):
    """The payment backend knows no payment with that id (404)."""

    code = "payment_not_found_at_backend"
    http_status = 404


@dataclass(frozen=True)
class CreatePaymentRequest:
    order_id: str
    amount_fen: int
    method: PaymentMethod
    description: str
    notify_url: str
    """Where the backend POSTs signed notifications: `{public_url}/api/payments/notify`."""
    return_url: str
    """Where the pay page sends the customer back to after paying."""
    expires_in_s: int
    idempotency_key: str
    """Sent as the `Idempotency-Key` header: the same key always yields the same payment at the backend."""
    currency: str = "CNY"
    payer_phone: str | None = None
    """e-CNY wallets: the verified mobile number the wallet is registered to (the backend answers its tier)."""


@dataclass(frozen=True)
class WalletFacts:
    """An e-CNY wallet as the payment backend reports it when a wallet payment is created: its tier and that
    tier's limits in fen (None: no limit). The commerce side checks the amount against these, never against a
    tier the customer claims."""

    tier: int
    single_limit_fen: int | None
    daily_limit_fen: int | None
    balance_limit_fen: int | None
    wallet_id: str | None = None


@dataclass(frozen=True)
class CreatedPayment:
    payment_id: str
    status: GatewayPaymentStatus
    pay_url: str
    qr_png_url: str
    expires_at: datetime
    wallet: WalletFacts | None = None
    """e-CNY wallet payments: the payer's wallet (None for other methods, or a backend that sends none)."""


@dataclass(frozen=True)
class GatewayPayment:
    """A payment as the backend sees it now (the reply of `query_payment`)."""

    payment_id: str
    order_id: str
    status: GatewayPaymentStatus
    amount_fen: int
    refunded_fen: int = 0
    currency: str = "CNY"
    method: str | None = None
    failure_code: str | None = None
    """declined | insufficient_funds | limit_exceeded | timeout | ... when status is failed."""


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    amount_fen: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class RefundReply:
    refund_id: str
    status: GatewayRefundStatus


@dataclass(frozen=True)
class SettlementLine:
    """One line of the backend's daily settlement file.

    The CSV columns are `type,payment_id,refund_id,order_id,amount_fen,currency,fee_fen,settled_at` (one header
    row); `type` is payment|refund, `refund_id` is empty for payments, amounts are positive integer fen.
    """

    kind: SettlementKind
    payment_id: str
    order_id: str
    amount_fen: int
    refund_id: str | None = None
    currency: str = "CNY"
    fee_fen: int = 0
    settled_at: datetime | None = None


@runtime_checkable
class PaymentGateway(Protocol):
    """The bank's payment backend (the sandbox, or a real one behind the same wire protocol).

    Errors: `PaymentGatewayUnavailable` (retry with the same idempotency key), `PaymentRejected` (4xx),
    `GatewayPaymentNotFound` (404), `PaymentGatewayError` (anything else unusable).
    """

    async def create_payment(self, request: CreatePaymentRequest) -> CreatedPayment: ...

    async def query_payment(self, payment_id: str) -> GatewayPayment: ...

    async def refund(self, request: RefundRequest) -> RefundReply: ...

    async def settlement(self, day: date) -> tuple[SettlementLine, ...]: ...


# --------------------------------------------------------------------------------------------------------------
# Customer information (the bank's register of verified customers)
# --------------------------------------------------------------------------------------------------------------


class CustomerDirectory(Protocol):
    """The bank's customer-information service: who holds a mobile number, at which verification level, with
    which limits. Raises `showroom.customers.CustomerInfoUnavailable` when it cannot answer (no order is taken
    on an assumed level); an unknown number is answered as unverified (`showroom.customers.unverified`)."""

    async def lookup(self, phone: str) -> CustomerFacts:
        """`phone`: a normalised mainland mobile number (`showroom.customers.normalise_mobile`)."""
        ...


# --------------------------------------------------------------------------------------------------------------
# Price feed (its snapshot is the domain's `showroom.pricing.PriceSnapshot`)
# --------------------------------------------------------------------------------------------------------------


class PriceFeed(Protocol):
    async def snapshot(self) -> PriceSnapshot:
        """The latest spot prices; raises `PriceUnavailable` when there is none or it is stale."""
        ...


# --------------------------------------------------------------------------------------------------------------
# Events and time
# --------------------------------------------------------------------------------------------------------------


class Subscription(Protocol):
    """Messages published on one channel after the subscription was made, in order, until `close()`."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None: ...


class EventBusUnavailable(ShowroomError):
    """The event bus (Redis) cannot be reached right now: the message is lost, and subscribers resync when it is back."""

    code = "event_bus_unavailable"
    http_status = 503


class EventBus(Protocol):
    """Publish/subscribe between the commerce service and the edge nodes (in process, or Redis).

    Channels: `orders` (every order change, `{"type": "order", "id", "status", ...}`) and `order:{id}`.
    """

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        """Sends `message` to the channel's subscribers; `EventBusUnavailable` when the bus cannot be reached."""
        ...

    async def subscribe(self, channel: str) -> Subscription: ...

    async def close(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


# --------------------------------------------------------------------------------------------------------------
# Persistence: one unit of work per transaction, holding the repositories' operations
# --------------------------------------------------------------------------------------------------------------


class OutOfStock(ShowroomError):
    code = "out_of_stock"
    http_status = 409


class ConcurrentUpdate(ShowroomError):
    """Someone else changed the row since it was read (optimistic version check); the service retries."""

    code = "concurrent_update"
    http_status = 409


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    key: str
    request_hash: str
    state: Literal["in_flight", "done"]
    created_at: datetime
    response_status: int | None = None
    response_body: dict[str, Any] | None = None


class OrderRepository(Protocol):
    """Orders with their quotes, payments, refunds, stock, audit and shares (one transaction: `UnitOfWork`)."""

    async def add_quote(self, quote: Quote) -> None: ...
    async def get_quote(self, quote_id: str) -> Quote: ...
    async def delete_quotes_expired_before(self, before: datetime) -> int: ...
    async def delete_idempotency_before(self, before: datetime) -> int: ...

    async def add_order(self, order: Order, customer_key: str, token_sha256: str | None = None) -> None:
        """`customer_key`: the verified customer's id (limits and AML totals count per it); `token_sha256`: the
        SHA-256 (hex) of the order's customer token, the only form in which the token is kept."""
        ...
    async def order_token_sha256(self, order_id: str) -> str | None:
        """The stored hash of the order's customer token (None: an order from before tokens); `OrderNotFound`."""
        ...
    async def get_order(self, order_id: str, *, for_update: bool = False) -> Order:
        """Raises `showroom.orders.OrderNotFound`; `for_update` locks the row until the transaction ends."""
        ...
    async def save_order(self, order: Order) -> None:
        """Writes the order when its version is still the one read (then bumps it); else `ConcurrentUpdate`."""
        ...
    async def order_ids_expiring(self, now: datetime, limit: int) -> list[str]: ...
    async def order_for_quote(self, quote_id: str) -> str | None: ...
    async def customer_activity(self, customer_key: str, now: datetime) -> CustomerActivity: ...

    async def reserve_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int,
                            initial_on_hand: int) -> None: ...
    async def release_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None: ...
    async def take_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None:
        """A paid order takes its reserved pieces off the shelf."""
        ...
    async def stock_level(self, branch_id: str, product_id: str, variant_id: str) -> tuple[int, int]:
        """(on hand, reserved); (0, 0) when never stocked."""
        ...

    async def add_payment(self, payment: Payment) -> None: ...
    async def get_payment(self, payment_id: str) -> Payment: ...
    async def payment_by_key(self, idempotency_key: str) -> Payment | None: ...
    async def payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None: ...
    async def save_payment(self, payment: Payment) -> None: ...
    async def payments_for_order(self, order_id: str) -> list[Payment]: ...
    async def payments_in(self, statuses: tuple[PaymentStatus, ...], updated_before: datetime) -> list[Payment]: ...
    async def payments_succeeded_between(self, start: datetime, end: datetime) -> list[Payment]: ...

    async def add_refund(self, refund: Refund) -> None: ...
    async def get_refund(self, refund_id: str) -> Refund: ...
    async def refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None: ...
    async def save_refund(self, refund: Refund) -> None: ...
    async def refunds_for_order(self, order_id: str) -> list[Refund]: ...
    async def refunds_in(self, statuses: tuple[RefundStatus, ...], updated_before: datetime) -> list[Refund]: ...
    async def refunds_succeeded_between(self, start: datetime, end: datetime) -> list[Refund]: ...

    async def record_event(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Remembers a notification id; False when it was seen before (the caller then does nothing)."""
        ...

    async def idempotency_begin(self, scope: str, key: str, request_hash: str, now: datetime,
                                stale_after_s: float) -> IdempotencyRecord | None:
        """Claims (scope, key) for a new request; returns None when claimed, or the existing record
        (an in-flight record older than `stale_after_s` is taken over and None returned)."""
        ...
    async def idempotency_finish(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None: ...
    async def idempotency_abort(self, scope: str, key: str) -> None: ...

    async def add_audit(self, order_id: str, kind: str, data: dict[str, Any], at: datetime, *,
                        actor: Actor | None = None) -> None:
        """An entry of the audit chain on subject `order:<order_id>` (action `kind`, `data` as its `after`); the
        actor is `actor`, or for the callers that name none: `customer` for what the customer did, `payment_backend`
        for what the backend reported, `system` for the rest."""
        ...
    async def audit_for(self, order_id: str) -> list[dict[str, Any]]:
        """The order's audit entries, oldest first: `{"seq", "kind", "at", "data", "actor", "role", ...}`."""
        ...

    async def loan_rates(self, applies_to: str | None = None) -> list[LoanRate]:
        """The bank's loan rate table (every row, or those of one product id or kind), oldest first."""
        ...
    async def add_loan_rate(self, rate: LoanRate) -> None:
        """A new row (rows are never edited: a new decision is a new row with its own validity)."""
        ...

    async def add_share(self, share: Share) -> None: ...
    async def get_share(self, share_id: str) -> Share: ...
    async def count_share(self, share_id: str, *, visits: int = 0, orders: int = 0, purchases: int = 0) -> None: ...


class StaffRepository(Protocol):
    """Local staff accounts, their sessions, sign-in throttles, refunds waiting for approval, and what the back
    office reads about orders and stock."""

    async def add_staff(self, account: StaffAccount) -> None:
        """Raises `showroom.staff.StaffExists` when the name is taken."""
        ...
    async def find_staff(self, name: str) -> StaffAccount | None: ...
    async def save_staff(self, account: StaffAccount) -> StaffAccount:
        """Writes the account when its version is still the one read (returns it with the version bumped);
        else `ConcurrentUpdate`."""
        ...
    async def list_staff(self) -> list[StaffAccount]: ...

    async def add_staff_session(self, session: StaffSession) -> None: ...
    async def get_staff_session(self, id_hash: str) -> StaffSession | None: ...
    async def touch_staff_session(self, id_hash: str, at: datetime) -> None: ...
    async def revoke_staff_session(self, id_hash: str, at: datetime) -> None: ...
    async def revoke_staff_sessions(self, name: str, at: datetime) -> int:
        """Ends every live session of account `name`; returns how many."""
        ...

    async def sign_in_throttle(self, key: str) -> SignInState:
        """Failed sign-ins counted under `key` (`addr:<client address>`); a fresh state when none."""
        ...
    async def save_sign_in_throttle(self, key: str, state: SignInState) -> None: ...

    async def add_refund_approval(self, approval: RefundApproval) -> None: ...
    async def get_refund_approval(self, approval_id: str) -> RefundApproval:
        """Raises `showroom.errors.NotFound`."""
        ...
    async def refund_approval_by_key(self, idempotency_key: str) -> RefundApproval | None: ...
    async def save_refund_approval(self, approval: RefundApproval) -> RefundApproval:
        """Version-checked like `save_order`; returns it with the version bumped."""
        ...
    async def refund_approvals(self, *, state: ApprovalState | None = None, order_id: str | None = None,
                               limit: int = 100, offset: int = 0) -> list[RefundApproval]:
        """Newest first."""
        ...

    async def find_orders(self, *, status: str | None = None, text: str | None = None,
                          created_from: datetime | None = None, created_to: datetime | None = None,
                          limit: int = 50, offset: int = 0) -> tuple[list[Order], int]:
        """Orders newest first, filtered by status, by `text` (order id, customer name or phone contain it) and
        by creation time (`created_from` <= created_at < `created_to`); with the total before paging."""
        ...
    async def stock_levels(self) -> list[tuple[str, str, str, int, int]]:
        """Every shelf: (branch, product, variant, on hand, reserved)."""
        ...


class AuditLog(Protocol):
    """The hash-chained audit trail (`showroom.audit`). Entries appended in a transaction are chained, in order,
    when it commits (after every other write, so the chain's head is held only for the commit itself);
    sequence numbers are unique, so two committers never fork the chain (the loser retries)."""

    async def append_audit(self, event: AuditEvent) -> None: ...
    async def audit_entries(self, *, subject: str | None = None, limit: int = 100, offset: int = 0,
                            newest_first: bool = True) -> list[AuditEntry]: ...
    async def audit_count(self, *, subject: str | None = None) -> int: ...
    async def audit_scan(self, after_seq: int, limit: int) -> list[AuditEntry]:
        """Entries with seq > `after_seq`, in sequence order, at most `limit` (verification reads in batches)."""
        ...


class UnitOfWork(OrderRepository, StaffRepository, AuditLog, BranchRepository, Protocol):
    """One database transaction: `async with uow_factory() as uow: ...; await uow.commit()`.

    Leaving the block without `commit()` rolls back. Order events collected during the transaction are
    published by the service after the commit.
    """

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
