"""Proof of the phone (services/phone_proofs.py) over in-memory fakes: a code by SMS, five tries, five minutes, a
proof bound to the number and the bank's customer for it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from showroom.phone_ports import (
    CodeExpired,
    CodeLocked,
    CodeState,
    CodeThrottled,
    CodeWrong,
    PhoneCode,
    PhoneProof,
    PhoneProofExpired,
    PhoneProofInvalid,
    PhoneProofMismatch,
    PhoneProofRequired,
    SmsUnavailable,
)
from showroom.services import phone_proofs as svc
from tests.commerce_fakes import FakeWorld, fake_world

T = TypeVar("T")
PHONE = "13800138000"
OTHER = "13900000000"


@dataclass
class FakePhoneStore:
    codes: dict[str, PhoneCode] = field(default_factory=dict)
    proofs: dict[str, PhoneProof] = field(default_factory=dict)

    async def add_code(self, code: PhoneCode) -> None:
        self.codes[code.id] = replace(code)

    async def codes_since(self, phone: str, since: datetime) -> list[PhoneCode]:
        found = [c for c in self.codes.values() if c.phone == phone and c.created_at >= since]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    async def latest_code(self, phone: str) -> PhoneCode | None:
        found = await self.codes_since(phone, datetime.min.replace(tzinfo=UTC))
        return replace(found[0]) if found else None

    async def supersede_pending(self, phone: str) -> None:
        for c in self.codes.values():
            if c.phone == phone and c.state is CodeState.PENDING:
                c.state = CodeState.SUPERSEDED

    async def take_attempt(self, code_id: str, max_attempts: int) -> bool:
        c = self.codes[code_id]
        if c.state is not CodeState.PENDING or c.attempts >= max_attempts:
            return False
        c.attempts += 1
        return True

    async def mark_used(self, code_id: str) -> bool:
        c = self.codes[code_id]
        if c.state is not CodeState.PENDING:
            return False
        c.state = CodeState.USED
        return True

    async def add_proof(self, proof: PhoneProof) -> None:
        self.proofs[proof.token_sha256] = proof

    async def get_proof(self, token_sha256: str) -> PhoneProof | None:
        return self.proofs.get(token_sha256)

    async def purge(self, before: datetime) -> int:
        gone = [k for k, c in self.codes.items() if c.expires_at < before]
        for k in gone:
            del self.codes[k]
        return len(gone)


@dataclass
class FakeSms:
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    down: bool = False

    async def send_code(self, phone: str, code: str, *, message_id: str, ttl_min: int) -> None:
        if self.down:
            raise SmsUnavailable("down")
        self.sent.append((phone, code, message_id))

    def last_code(self, phone: str) -> str:
        return next(code for p, code, _ in reversed(self.sent) if p == phone)


@dataclass
class Phones:
    world: FakeWorld
    store: FakePhoneStore
    sms: FakeSms
    book: svc.PhoneProofs

    def later(self, seconds: float) -> None:
        self.world.clock.advance(seconds)


def phones() -> Phones:
    world = fake_world()
    store, sms = FakePhoneStore(), FakeSms()
    return Phones(world, store, sms, svc.PhoneProofs(world.ctx, sms, lambda _uow: store))


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _proof(p: Phones, phone: str = PHONE) -> str:
    await svc.send_code(p.book, phone)
    return (await svc.verify(p.book, phone, p.sms.last_code(phone))).token


def test_a_right_code_gives_a_proof_for_that_number_and_its_customer() -> None:
    p = phones()

    async def go() -> svc.VerifiedPhone:
        sent = await svc.send_code(p.book, PHONE)
        assert sent.expires_at == p.world.clock.now() + timedelta(minutes=5)
        code = p.sms.last_code(PHONE)
        assert len(code) == 6 and code.isdigit()
        stored = next(iter(p.store.codes.values()))
        assert code not in (stored.code_sha256, stored.salt)  # only a salted hash is kept
        issued = await svc.verify(p.book, PHONE, code)
        assert issued.expires_at == p.world.clock.now() + timedelta(minutes=30)
        assert issued.token not in str(p.store.proofs)  # the token is kept as its hash
        return await svc.require(p.book, issued.token, PHONE)

    verified = run(go())
    assert verified == svc.VerifiedPhone(PHONE, f"cust_{PHONE}")


def test_a_code_is_used_once() -> None:
    p = phones()

    async def go() -> None:
        await svc.send_code(p.book, PHONE)
        await svc.verify(p.book, PHONE, p.sms.last_code(PHONE))
        with pytest.raises(CodeExpired):
            await svc.verify(p.book, PHONE, p.sms.last_code(PHONE))

    run(go())


def test_five_wrong_codes_burn_the_code_even_for_the_right_one_after() -> None:
    p = phones()

    async def go() -> list[str]:
        await svc.send_code(p.book, PHONE)
        right = p.sms.last_code(PHONE)
        wrong = "000000" if right != "000000" else "111111"
        messages = []
        for _ in range(4):
            with pytest.raises(CodeWrong) as exc:
                await svc.verify(p.book, PHONE, wrong)
            messages.append(exc.value.message)
        with pytest.raises(CodeLocked):
            await svc.verify(p.book, PHONE, wrong)
        with pytest.raises(CodeLocked):
            await svc.verify(p.book, PHONE, right)
        return messages

    messages = run(go())
    assert messages[0] == "wrong code; 4 tries left" and messages[3] == "wrong code; 1 try left"


def test_concurrent_guesses_never_get_more_than_five_tries() -> None:
    p = phones()

    async def go() -> list[BaseException | svc.IssuedProof]:
        await svc.send_code(p.book, PHONE)
        right = p.sms.last_code(PHONE)
        guesses = [f"{(int(right) + i) % 1_000_000:06d}" for i in range(1, 40)]
        return await asyncio.gather(*(svc.verify(p.book, PHONE, g) for g in guesses), return_exceptions=True)

    results = run(go())
    assert sum(isinstance(r, CodeWrong) for r in results) == 4
    assert all(isinstance(r, CodeWrong | CodeLocked) for r in results)
    assert next(iter(p.store.codes.values())).attempts == 5


def test_an_expired_code_is_refused() -> None:
    p = phones()

    async def go() -> None:
        await svc.send_code(p.book, PHONE)
        p.later(301)
        with pytest.raises(CodeExpired):
            await svc.verify(p.book, PHONE, p.sms.last_code(PHONE))

    run(go())


def test_a_new_code_replaces_the_one_before() -> None:
    p = phones()

    async def go() -> None:
        await svc.send_code(p.book, PHONE)
        first = p.sms.last_code(PHONE)
        p.later(61)
        await svc.send_code(p.book, PHONE)
        second = p.sms.last_code(PHONE)
        if first != second:
            with pytest.raises(CodeWrong):
                await svc.verify(p.book, PHONE, first)
        await svc.verify(p.book, PHONE, second)

    run(go())


def test_a_number_gets_one_code_a_minute_and_five_an_hour() -> None:
    p = phones()

    async def go() -> tuple[int, int]:
        await svc.send_code(p.book, PHONE)
        with pytest.raises(CodeThrottled) as soon:
            await svc.send_code(p.book, PHONE)
        await svc.send_code(p.book, OTHER)  # another number is not held up
        for _ in range(4):
            p.later(61)
            await svc.send_code(p.book, PHONE)
        p.later(61)
        with pytest.raises(CodeThrottled) as hourly:
            await svc.send_code(p.book, PHONE)
        return soon.value.retry_after_s, hourly.value.retry_after_s

    soon_s, hourly_s = run(go())
    assert 0 < soon_s <= 60 and 60 < hourly_s <= 3600
    assert [s[0] for s in p.sms.sent].count(PHONE) == 5


def test_an_sms_service_that_is_down_is_503_and_the_code_counts() -> None:
    p = phones()
    p.sms.down = True

    async def go() -> None:
        with pytest.raises(SmsUnavailable):
            await svc.send_code(p.book, PHONE)
        with pytest.raises(CodeThrottled):
            await svc.send_code(p.book, PHONE)

    run(go())


def test_a_missing_unknown_expired_or_other_numbers_proof_is_refused() -> None:
    p = phones()

    async def go() -> None:
        token = await _proof(p)
        with pytest.raises(PhoneProofRequired):
            await svc.require(p.book, None, PHONE)
        with pytest.raises(PhoneProofInvalid):
            await svc.require(p.book, "forged-" + token[7:], PHONE)
        with pytest.raises(PhoneProofMismatch):
            await svc.require(p.book, token, OTHER)
        p.later(1801)
        with pytest.raises(PhoneProofExpired):
            await svc.require(p.book, token, PHONE)

    run(go())


def test_a_proof_stops_when_the_bank_gives_the_number_to_another_customer() -> None:
    p = phones()

    async def go() -> None:
        token = await _proof(p)
        p.world.customers.known[PHONE] = replace(await p.world.customers.lookup(PHONE), customer_id="cust_new")
        with pytest.raises(PhoneProofMismatch):
            await svc.require(p.book, token, PHONE)

    run(go())


def test_the_sms_service_needs_its_key_and_no_key_has_a_default() -> None:
    from render_node.config import BadRequest, load_config

    with pytest.raises(BadRequest, match="SHOWROOM_SMS_API_KEY"):
        load_config({}, environ={"SHOWROOM_SMS_URL": "https://sms.bank.internal/v1"})
    key = "k" * 32
    config = load_config({}, environ={"SHOWROOM_SMS_URL": "https://sms.bank.internal/v1/", "SHOWROOM_SMS_API_KEY": key})
    assert config.commerce.sms_url == "https://sms.bank.internal/v1" and config.commerce.sms_api_key == key
    assert key not in repr(config.commerce)
    assert load_config({}, environ={}).commerce.sms_api_key is None  # unset: the sandbox's outbox, no key
