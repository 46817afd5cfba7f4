"""The limit for bench/commerce.py: a bare asyncpg loop doing a checkout's inserts and updates on our own schema
(migrated by the commerce code, so the same tables, keys and indexes), in the same transactions, with the same
row locks (the order row and the audit chain's head, `FOR UPDATE`), and nothing else: no HTTP, no payment
backend, no ORM layer, no checks. Whatever we do above this costs throughput; our share of it is the measure.

Per checkout, five transactions (what the checkout commits, bench/results/commerce.md):
  quote: INSERT quotes
  order: INSERT idempotency_keys; INSERT orders; UPDATE idempotency_keys; UPDATE stock_units (reserve a piece,
         SKIP LOCKED); audit
  intent: INSERT idempotency_keys; SELECT orders FOR UPDATE; UPDATE orders; INSERT payments
  record: SELECT orders FOR UPDATE; UPDATE payments; UPDATE idempotency_keys
  paid: INSERT processed_events; SELECT orders FOR UPDATE; UPDATE payments; INSERT points_ledger; UPSERT
        points_accounts; INSERT order_discounts; UPDATE orders; DELETE stock_units (take the piece); audit
where "audit" is SELECT audit_head FOR UPDATE; INSERT audit_log; UPDATE audit_head.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench._machine import machine_cpu, postgres_cpu_s

PRODUCT, VARIANT, BRANCH = "bar-au9999-10g", "au9999-10g", "online"
_PIECE = "SELECT id FROM stock_units WHERE branch_id = $1 AND product_id = $2 AND variant_id = $3"


async def _audit(conn: asyncpg.Connection, subject: str, action: str, now: datetime) -> None:
    seq, prev = await conn.fetchrow("SELECT seq, digest FROM audit_head WHERE id = 1 FOR UPDATE")
    digest = hashlib.sha256(f"{prev}{subject}{action}".encode()).hexdigest()
    await conn.execute("INSERT INTO audit_log (seq, at, actor, role, action, subject, prev_digest, digest) "
                       "VALUES ($1, $2, 'bench', 'system', $3, $4, $5, $6)", seq + 1, now, action, subject, prev, digest)
    await conn.execute("UPDATE audit_head SET seq = $1, digest = $2 WHERE id = 1 AND seq = $3", seq + 1, digest, seq)


async def checkout(pool: asyncpg.Pool, i: int, tag: str) -> None:
    now = datetime.now(UTC)
    qid, oid, pid = f"q{tag}{i}", f"o{tag}{i}", f"p{tag}{i}"
    customer = f"bench:{tag}:{i}"
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO quotes (id, product_id, variant_id, quantity, unit_price_fen, total_fen, breakdown, "
                "snapshot, created_at, expires_at) VALUES ($1, $2, $3, 1, 980000, 980000, '{}', '{}', $4, $5)",
                qid, PRODUCT, VARIANT, now, now + timedelta(minutes=5))
        async with conn.transaction():
            await conn.execute("INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) "
                               "VALUES ('orders', $1, 'h', 'in_flight', $2) ON CONFLICT DO NOTHING", oid, now)
            await conn.execute(
                "INSERT INTO orders (id, quote_id, product_id, variant_id, quantity, branch_id, amount_fen, currency, "
                "status, customer, customer_key, channel, created_at, updated_at, expires_at, paid_fen, refunded_fen, "
                "aml_review, version) VALUES ($1, $2, $3, $4, 1, $5, 980000, 'CNY', 'pending_payment', '{}', $6, "
                "'bench', $7, $7, $8, 0, 0, false, 0)", oid, qid, PRODUCT, VARIANT, BRANCH, customer, now,
                now + timedelta(minutes=15))
            await conn.execute("UPDATE idempotency_keys SET state = 'done', response_status = 201, "
                               "response_body = '{}' WHERE scope = 'orders' AND key = $1", oid)
            await conn.execute(f"UPDATE stock_units SET reserved = true WHERE id IN ({_PIECE} AND NOT reserved "
                               "LIMIT 1 FOR UPDATE SKIP LOCKED)", BRANCH, PRODUCT, VARIANT)
            await _audit(conn, f"order:{oid}", "order_placed", now)
        async with conn.transaction():
            await conn.execute("INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) "
                               "VALUES ('payments', $1, 'h', 'in_flight', $2) ON CONFLICT DO NOTHING", pid, now)
            await conn.fetchrow("SELECT id FROM orders WHERE id = $1 FOR UPDATE", oid)
            await conn.execute("UPDATE orders SET status = 'pending_payment', version = version + 1 "
                               "WHERE id = $1 AND version = 0", oid)
            await conn.execute("INSERT INTO payments (id, order_id, method, amount_fen, status, idempotency_key, "
                               "created_at, updated_at) VALUES ($1, $2, 'qr', 980000, 'intent', $3, $4, $4)",
                               pid, oid, f"{oid}:{pid}", now)
        async with conn.transaction():
            await conn.fetchrow("SELECT id FROM orders WHERE id = $1 FOR UPDATE", oid)
            await conn.execute("UPDATE payments SET status = 'pending', gateway_payment_id = $2 WHERE id = $1",
                               pid, f"gw{pid}")
            await conn.execute("UPDATE idempotency_keys SET state = 'done', response_status = 201, "
                               "response_body = '{}' WHERE scope = 'payments' AND key = $1", pid)
        async with conn.transaction():
            await conn.execute("INSERT INTO processed_events (event_id, event_type, received_at) "
                               "VALUES ($1, 'payment.succeeded', $2) ON CONFLICT DO NOTHING", f"ev{pid}", now)
            await conn.fetchrow("SELECT id FROM orders WHERE id = $1 FOR UPDATE", oid)
            await conn.execute("UPDATE payments SET status = 'succeeded', succeeded_at = $2 WHERE id = $1", pid, now)
            await conn.execute("INSERT INTO points_ledger (customer_id, delta, reason, ref, at) "
                               "VALUES ($1, 98, 'earned', $2, $3) ON CONFLICT DO NOTHING", customer, oid, now)
            await conn.execute("INSERT INTO points_accounts (customer_id, balance) VALUES ($1, 98) ON CONFLICT "
                               "(customer_id) DO UPDATE SET balance = points_accounts.balance + 98", customer)
            await conn.execute("INSERT INTO order_discounts (order_id, customer_id, lines, points_earned, "
                               "points_returned, earned_reversed, coupon_returned) VALUES ($1, $2, '[]', 98, 0, 0, "
                               "false)", oid, customer)
            await conn.execute("UPDATE orders SET status = 'paid', paid_fen = 980000, version = version + 1 "
                               "WHERE id = $1 AND version = 1", oid)
            await conn.execute(f"DELETE FROM stock_units WHERE id IN ({_PIECE} AND reserved "
                               "LIMIT 1 FOR UPDATE SKIP LOCKED)", BRANCH, PRODUCT, VARIANT)
            await _audit(conn, f"order:{oid}", "paid", now)


async def limit_run(dsn: str, checkouts: int, concurrency: int, pool_size: int) -> dict[str, Any]:
    """`checkouts` bare checkouts by `concurrency` tasks over `pool_size` connections: checkouts/s, latency, this
    loop's and the PostgreSQL server's CPU per checkout, and how busy the machine was."""
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO stock (branch_id, product_id, variant_id) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", BRANCH, PRODUCT, VARIANT)
            await conn.execute("INSERT INTO stock_units (branch_id, product_id, variant_id, reserved) "
                               "SELECT $1, $2, $3, false FROM generate_series(1, $4)", BRANCH, PRODUCT, VARIANT,
                               2 * (checkouts + 2 * concurrency))
            await conn.execute("INSERT INTO audit_head (id, seq, digest) VALUES (1, 0, $1) ON CONFLICT DO NOTHING",
                               "0" * 64)
        tag = secrets.token_hex(3)
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(checkouts + concurrency):
            queue.put_nowait(i)

        async def worker(measure: bool) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                await checkout(pool, i, tag)
                if measure:
                    latencies.append(time.perf_counter() - t0)

        warm = [queue.get_nowait() for _ in range(concurrency)]
        await asyncio.gather(*(checkout(pool, i, tag + "w") for i in warm))
        pg0, machine0, self0 = postgres_cpu_s(), machine_cpu(), time.process_time()
        t_start = time.perf_counter()
        await asyncio.gather(*(worker(True) for _ in range(concurrency)))
        wall = time.perf_counter() - t_start
        pg1, machine1, self1 = postgres_cpu_s(), machine_cpu(), time.process_time()
    finally:
        await pool.close()
    ms = sorted(x * 1000 for x in latencies)
    total = machine1[1] - machine0[1]
    return {"paid": len(ms), "orders_per_s": len(ms) / wall, "p50_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "client_cpu_ms": 1000 * (self1 - self0) / max(len(ms), 1),
            "postgres_cpu_ms": None if pg0 is None or pg1 is None else 1000 * (pg1 - pg0) / max(len(ms), 1),
            "machine_busy": (machine1[0] - machine0[0]) / total if total else 0.0}
