"""Request bodies and queries of the staff routes, as pydantic v2 models: bounded strings, decimals with a size,
enums; unknown fields refused. `parse` turns a `ValidationError` into `InvalidInput` (422 `invalid_input`) naming
the field and what is wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from showroom.errors import InvalidInput
from showroom.orders import OrderStatus
from showroom.staff import PASSWORD_MIN_CHARS, STAFF_NAME_PATTERN, ApprovalState, Role

M = TypeVar("M", bound=BaseModel)

Name = Annotated[str, StringConstraints(pattern=STAFF_NAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
NewPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024),
                        Field(json_schema_extra={"minLength": PASSWORD_MIN_CHARS},
                              description="at least 12 characters, not the account name, not one repeated "
                                          "character (else 422 weak_password)")]
"""A password being set: the strength rules are the use case's (`showroom.staff`), the document says them."""
Otp = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
AmountCny = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignInBody(_Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    """Any string up to 40: a malformed name is refused like a wrong one (one neutral answer)."""
    password: Password
    otp: Annotated[str, StringConstraints(min_length=1, max_length=10)]


class RefundBody(_Body):
    amount_cny: AmountCny | None = None
    """None: all that is left to refund."""
    reason: Reason = "customer_request"


class FulfilmentBody(_Body):
    status: OrderStatus

    def step(self) -> OrderStatus:
        if self.status not in (OrderStatus.FULFILLING, OrderStatus.COMPLETED):
            raise InvalidInput("status: must be fulfilling or completed")
        return self.status


class RejectBody(_Body):
    reason: Reason


class NewAccountBody(_Body):
    name: Name
    role: Role
    display_name: DisplayName = ""
    password: NewPassword


class AccountPatchBody(_Body):
    role: Role | None = None
    disabled: bool | None = None


class PasswordBody(_Body):
    password: NewPassword


class DayPath(_Body):
    """The path of `GET /api/reconciliation/{day}`: the day's shape here, its calendar and range in
    `requests.day` (2000-01-01 .. 2099-12-31)."""

    day: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                   Field(description="a settlement day, YYYY-MM-DD, 2000-01-01 .. 2099-12-31")]


class OrdersQuery(_Body):
    status: OrderStatus | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    day: date | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class ApprovalsQuery(_Body):
    state: ApprovalState | None = ApprovalState.PENDING
    limit: Annotated[int, Field(ge=1, le=200)] = 100
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class AuditQuery(_Body):
    subject: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


def _message(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


def parse(model: type[M], data: Any) -> M:
    """The validated model of `data` (a JSON body or a query's mapping); `InvalidInput` names the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_message(exc)) from None


def parse_query(model: type[M], query: Any) -> M:
    """A query string: each parameter once (a repeated one is refused), empty values left out."""
    data: dict[str, str] = {}
    for key in query:
        values = query.getall(key)
        if len(values) > 1:
            raise InvalidInput(f"{key}: given more than once")
        if values[0] != "":
            data[key] = values[0]
    return parse(model, data)


# -- the OpenAPI operations of the staff routes, from their declarations ------------------------------------------


def staff_operations() -> dict[tuple[str, str], dict[str, Any]]:
    """`(METHOD, path) -> OpenAPI operation` of every staff route, from the declaration each handler carries
    (`staff_routes.staff_route` makes it from the same models and flags the handler checks with)."""
    import re

    from aiohttp import web

    from showroom.api.staff_routes import add_staff_routes
    from showroom.http_schema import declared, operation_object

    app = web.Application()
    add_staff_routes(app)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for route in app.router.routes():
        op = declared(route.handler)
        if op is not None and route.resource is not None and route.method != "HEAD":
            path = route.resource.canonical
            out[(route.method, path)] = operation_object(op, re.findall(r"\{(\w+)\}", path))
    return out
