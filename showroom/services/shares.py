"""Sharing: a signed, expiring link to a product at the price quoted now, and the landing page that opens it
(counting the visit). Orders placed from a share and payments of them are counted by `orders` and `payments`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from showroom.services._uow import Commerce
from showroom.services.orders import quote
from showroom.sharing import Share, make_token, new_share_id, read_token


@dataclass(frozen=True)
class IssueShare:
    product_id: str
    variant_id: str | None = None
    channel: str = "web"


@dataclass(frozen=True)
class SharedLink:
    share: Share
    token: str


def link(ctx: Commerce, share: Share) -> SharedLink:
    return SharedLink(share, make_token(ctx.settings.share_secret, share))


async def issue_share(ctx: Commerce, cmd: IssueShare) -> SharedLink:
    """A share of the product with the price of one piece quoted now (shown with its time on the poster)."""
    q = await quote(ctx, cmd.product_id, cmd.variant_id, 1)
    now = ctx.clock.now()
    share = Share(new_share_id(), q.product_id, q.variant_id, cmd.channel, now,
                  now + timedelta(seconds=ctx.settings.share_ttl_s), q.unit_price_fen, q.created_at)
    async with ctx.uow() as uow:
        await uow.add_share(share)
        await uow.commit()
    return link(ctx, share)


async def open_share(ctx: Commerce, token: str, *, count_visit: bool) -> SharedLink:
    """The share of a valid token (`ShareInvalid`, `ShareExpired` otherwise), counting a landing-page visit."""
    claims = read_token(ctx.settings.share_secrets(ctx.clock.now()), token, ctx.clock.now())
    async with ctx.uow() as uow:
        if count_visit:
            await uow.count_share(claims.share_id, visits=1)
        share = await uow.get_share(claims.share_id)
        await uow.commit()
    return link(ctx, share)
