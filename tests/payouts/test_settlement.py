"""Settlement against real PostgreSQL and Redis, with committed data: rules P1, P5, P6, P7."""

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from arq import ArqRedis
from arq.worker import Worker
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from app.config import get_settings
from app.core.redis import connect
from app.models import BankAccount, EarningLine, Payout
from app.payouts.bank import SimulatedBank
from app.payouts.earnings import next_period_date
from app.payouts.settlement import NO_BANK_ACCOUNT, build_payouts, poll_transfers, send_transfers, settle, transfer_key
from app.worker import WorkerSettings
from tests.payouts.conftest import Cast, build_cast
from tests.payouts.factories import confirmed_session_with_line, make_bank_account

JAN_EARLY = datetime(2026, 1, 5, 15, tzinfo=UTC)  # period 2026-01-31 (a Saturday): paid Monday 2026-02-02
JAN_LATE = datetime(2026, 1, 20, 15, tzinfo=UTC)  # period 2026-02-15 (a Sunday; the 16th is a holiday): 2026-02-17


async def seed(sessionmaker: async_sessionmaker[AsyncSession], *, bank_account: str | None = "000123456789", time_zone: str = "America/New_York") -> Cast:
    async with sessionmaker() as db:
        cast = await build_cast(db, time_zone=time_zone)
        if bank_account:
            await make_bank_account(db, cast.group.id, account_number=bank_account)
        await db.commit()
    return cast


async def add_lines(sessionmaker, cast: Cast, specs: list[tuple[str, datetime, int]]) -> list[EarningLine]:
    """specs: (who: provider|colleague|owner, confirmed_at, amount_cents)."""
    async with sessionmaker() as db:
        lines = await add_lines_in(db, cast, specs)
        await db.commit()
    return lines


async def add_lines_in(db: AsyncSession, cast: Cast, specs: list[tuple[str, datetime, int]]) -> list[EarningLine]:
    """As add_lines, in the caller's open transaction."""
    lines = []
    for who, confirmed_at, cents in specs:
        provider = getattr(cast, who)
        client = cast.other_client if who == "colleague" else cast.client
        _, line = await confirmed_session_with_line(
            db, group_id=cast.group.id, provider_id=provider.id, client_id=client.id,
            confirmed_at=confirmed_at, amount_cents=cents, time_zone=cast.group.time_zone,
        )
        lines.append(line)
    return lines


async def payouts_of(sessionmaker, group_id: uuid.UUID, *, accruing: bool = False) -> list[Payout]:
    """The group's payouts that have left `accruing` (or, with accruing=True, all of them)."""
    async with sessionmaker() as db:
        stmt = select(Payout).where(Payout.group_id == group_id).order_by(Payout.period_date)
        if not accruing:
            stmt = stmt.where(Payout.status != "accruing")
        return list(await db.scalars(stmt))


async def lines_of(sessionmaker, group_id: uuid.UUID) -> list[EarningLine]:
    async with sessionmaker() as db:
        return list(await db.scalars(select(EarningLine).where(EarningLine.group_id == group_id)))


async def assert_sums_exact(sessionmaker) -> None:
    # rule P6: every payout's amount is the exact sum of its lines
    async with sessionmaker() as db:
        rows = (
            await db.execute(
                select(Payout.id, Payout.amount_cents, func.coalesce(func.sum(EarningLine.amount_cents), 0))
                .outerjoin(EarningLine, EarningLine.payout_id == Payout.id)
                .group_by(Payout.id)
            )
        ).all()
    assert rows and all(amount == total for _, amount, total in rows)


def test_periods_and_keys() -> None:
    # rule P3: the period after each period; rule P7: one key per attempt
    assert next_period_date(date(2026, 1, 31)) == date(2026, 2, 15)
    assert next_period_date(date(2026, 2, 15)) == date(2026, 2, 28)
    assert next_period_date(date(2026, 12, 31)) == date(2027, 1, 15)
    payout_id = uuid.uuid4()
    assert transfer_key(payout_id, 1) == str(payout_id) and transfer_key(payout_id, 3) == f"{payout_id}:3"


async def test_one_payout_per_group_and_period_with_the_exact_sum(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: one payout per payee and pay date; rule P6: exact sum; rule P7: scheduled -> in_transit -> paid
    cast = await seed(sessionmaker)
    other = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [
        ("provider", JAN_EARLY, 15000), ("provider", JAN_EARLY + timedelta(hours=2), 12050),
        ("colleague", JAN_EARLY, 9999), ("provider", JAN_LATE, 20000), ("colleague", JAN_LATE, 1),
        ("provider", datetime.now(UTC), 77700),  # not due yet
    ])
    await add_lines(sessionmaker, other, [("provider", JAN_EARLY, 500)])
    async with sessionmaker() as db:  # rule P6: each line's payout holds the running sum from the start
        assert await db.scalar(select(func.count()).select_from(Payout).where(Payout.status == "accruing")) == 4
    await assert_sums_exact(sessionmaker)
    result = await settle(sessionmaker, bank)
    assert (result.payouts_scheduled, result.lines_settled, result.amounts_corrected) == (3, 6, 0)
    assert result.transfers_sent == 3 and result.paid == 3
    jan31, feb15 = await payouts_of(sessionmaker, cast.group.id)
    assert (jan31.period_date, jan31.pay_date, jan31.arrives_latest) == (date(2026, 1, 31), date(2026, 2, 2), date(2026, 2, 4))
    assert (feb15.period_date, feb15.pay_date) == (date(2026, 2, 15), date(2026, 2, 17))
    assert (jan31.amount_cents, feb15.amount_cents) == (15000 + 12050 + 9999, 20001)
    assert {p.status for p in (jan31, feb15)} == {"paid"} and jan31.bank_account_last4 == "6789"
    assert jan31.transfer_reference and jan31.attempts == 1
    [*_, future] = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    assert (future.status, future.amount_cents) == ("accruing", 77700)  # the future line waits in its open period
    await assert_sums_exact(sessionmaker)
    transfers = await bank.transfers()
    assert sorted(t["amount_cents"] for t in transfers) == [500, 20001, 37049]

    again = await settle(sessionmaker, bank)  # rule P5: a second run pays nothing twice
    assert (again.payouts_scheduled, again.lines_settled, again.transfers_sent) == (0, 0, 0)
    assert len(await bank.transfers()) == 3


async def test_two_settlement_runs_at_once_pay_every_line_exactly_once(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: two runs at once (separate connections, real Redis) never pay a line twice nor miss one
    rng = random.Random(7)
    casts = [await seed(sessionmaker) for _ in range(4)]
    expected: Counter[uuid.UUID] = Counter()
    for cast in casts:
        specs = [
            (rng.choice(["provider", "colleague", "owner"]), JAN_EARLY + timedelta(days=rng.randrange(0, 40), minutes=i), rng.randrange(0, 30000))
            for i in range(60)
        ]
        await add_lines(sessionmaker, cast, specs)
        expected[cast.group.id] = sum(cents for _, _, cents in specs)
    runs = await asyncio.gather(*(settle(sessionmaker, bank, batch_size=1) for _ in range(3)))
    assert sum(r.lines_settled for r in runs) == 240
    assert sum(r.payouts_scheduled for r in runs) == sum(r.transfers_sent for r in runs)
    async with sessionmaker() as db:
        unpaid = select(func.count()).select_from(EarningLine).join(Payout, Payout.id == EarningLine.payout_id).where(Payout.status != "paid")
        assert await db.scalar(unpaid) == 0
        payouts = list(await db.scalars(select(Payout)))
    assert {p.status for p in payouts} == {"paid"}
    paid_per_group: Counter[uuid.UUID] = Counter()
    for p in payouts:
        paid_per_group[p.group_id] += p.amount_cents
    assert paid_per_group == expected
    transfers = await bank.transfers()
    assert len(transfers) == len(payouts)  # one transfer per payout
    assert sorted(t["key"] for t in transfers) == sorted(str(p.id) for p in payouts)
    await assert_sums_exact(sessionmaker)


async def burst_worker() -> None:
    """A real arq worker with its own Redis pool (closing a worker closes its pool), run until the queue is empty."""
    worker = Worker(
        functions=WorkerSettings.functions,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        redis_pool=await connect(get_settings().redis_url or ""),
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        ctx={"settings": get_settings()},
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_two_real_arq_workers_settle_once(sessionmaker, bank: SimulatedBank, redis: ArqRedis) -> None:
    # rule P5: two arq workers running `settle` at the same time
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY + timedelta(minutes=i), 1000 + i) for i in range(50)])
    await redis.enqueue_job("settle", _job_id="settle-a")
    await redis.enqueue_job("settle", _job_id="settle-b")
    await asyncio.gather(burst_worker(), burst_worker())
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "paid" and payout.amount_cents == sum(1000 + i for i in range(50))
    assert [t["key"] for t in await bank.transfers()] == [str(payout.id)]


async def test_a_worker_killed_after_the_bank_call_pays_once_on_rerun(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: a crash between sending and recording; the rerun sends the same key and the bank dedupes
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 4200), ("colleague", JAN_EARLY, 800)])
    async with sessionmaker() as db:
        run_started = await db.scalar(select(func.now()))
        await build_payouts(db)
        await db.commit()
    await send_transfers(sessionmaker, bank, run_started=run_started, stop_after_send=True)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "scheduled" and payout.attempts == 0  # the bank has it, the database does not know
    assert len(await bank.transfers()) == 1
    result = await settle(sessionmaker, bank)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "paid" and payout.attempts == 1 and payout.amount_cents == 5000
    assert result.transfers_sent == 1 and len(await bank.transfers()) == 1  # the same transfer, not a second


async def test_two_polls_at_once_record_each_outcome_once(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: polling takes no lock; an outcome is written only where the payout still waits on that transfer
    casts = [await seed(sessionmaker) for _ in range(3)]
    for cast in casts:
        await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 700), ("colleague", JAN_LATE, 300)])
    async with sessionmaker() as db:
        run_started = await db.scalar(select(func.now()))
        await build_payouts(db)
        await db.commit()
    sent = await send_transfers(sessionmaker, bank, run_started=run_started)
    assert sent.transfers_sent == 6
    polls = await asyncio.gather(*(poll_transfers(sessionmaker, bank, batch_size=1) for _ in range(2)))
    assert sum(p.paid for p in polls) == 6 and sum(p.failed for p in polls) == 0
    for cast in casts:
        assert [p.status for p in await payouts_of(sessionmaker, cast.group.id)] == ["paid", "paid"]
    assert len(await bank.transfers()) == 6


async def test_a_killed_build_leaves_nothing_behind(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: the close step is one transaction; aborted before commit, it never happened
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 300)])
    async with sessionmaker() as db:
        closed = await build_payouts(db)
        await db.rollback()
    assert closed.payouts_scheduled == 1
    [payout] = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    assert (payout.status, payout.amount_cents) == ("accruing", 300)
    await settle(sessionmaker, bank)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.amount_cents == 300 and payout.status == "paid"


async def test_a_failed_transfer_is_retried_by_the_next_run_then_paid(sessionmaker, bank: SimulatedBank) -> None:
    # rule P7: failed with the bank's reason, retried with a new key by the next run, then paid
    cast = await seed(sessionmaker, bank_account="111122220000")  # the simulated bank closes ...0000
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 6000)])
    first = await settle(sessionmaker, bank)
    assert first.failed == 1
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert (payout.status, payout.failure_reason, payout.attempts) == ("failed", "account closed", 1)
    async with sessionmaker() as db:  # the owner fixes the bank account
        await db.delete(await db.get(BankAccount, cast.group.id))
        await db.flush()
        await make_bank_account(db, cast.group.id, account_number="222233334444")
        await db.commit()
    second = await settle(sessionmaker, bank)
    assert second.transfers_sent == 1 and second.paid == 1
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert (payout.status, payout.attempts, payout.failure_reason, payout.bank_account_last4) == ("paid", 2, None, "4444")
    keys = sorted(t["key"] for t in await bank.transfers())
    assert keys == sorted([str(payout.id), f"{payout.id}:2"])


async def test_a_failure_during_a_run_waits_for_the_next_run(sessionmaker, redis: ArqRedis) -> None:
    # rule P7: retries happen run by run, not in a loop within one run
    cast = await seed(sessionmaker, bank_account="111122220000")
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 100)])
    bank = SimulatedBank(redis)
    await settle(sessionmaker, bank)
    await settle(sessionmaker, bank)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "failed" and payout.attempts == 2  # one attempt per run


async def test_slow_bank_leaves_payouts_in_transit_until_a_later_run(sessionmaker, redis: ArqRedis) -> None:
    # rule P7: in_transit until the bank settles
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 100)])
    slow = SimulatedBank(redis, settle_seconds=0.3)
    result = await settle(sessionmaker, slow)
    assert result.still_in_transit == 1
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "in_transit"
    await asyncio.sleep(0.35)
    await settle(sessionmaker, slow)
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.status == "paid" and payout.paid_at is not None


async def test_a_group_without_a_bank_account_waits_with_a_reason(sessionmaker, bank: SimulatedBank) -> None:
    # rule P1: payouts go to the owner's bank account; none on file -> scheduled, with the reason, run goes on
    without = await seed(sessionmaker, bank_account=None)
    with_account = await seed(sessionmaker)
    await add_lines(sessionmaker, without, [("provider", JAN_EARLY, 100)])
    await add_lines(sessionmaker, with_account, [("provider", JAN_EARLY, 200)])
    result = await settle(sessionmaker, bank)
    assert result.waiting_for_bank_account == 1 and result.paid == 1
    [waiting] = await payouts_of(sessionmaker, without.group.id)
    assert waiting.status == "scheduled" and waiting.failure_reason == NO_BANK_ACCOUNT and waiting.amount_cents == 100
    async with sessionmaker() as db:
        await make_bank_account(db, without.group.id)
        await db.commit()
    await settle(sessionmaker, bank)
    [paid] = await payouts_of(sessionmaker, without.group.id)
    assert paid.status == "paid" and paid.failure_reason is None


async def test_a_line_arriving_after_its_payout_left_joins_the_next_period(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5, the catch-up rule: a late line is neither lost nor added to a payout already sent
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 1000)])
    await settle(sessionmaker, bank)
    [late] = await add_lines(sessionmaker, cast, [("colleague", JAN_EARLY + timedelta(days=1), 250)])
    assert late.period_date == date(2026, 1, 31)
    [*_, catch_up] = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    assert (late.payout_id, catch_up.status) == (catch_up.id, "accruing")  # joined when recorded
    await settle(sessionmaker, bank)
    jan31, catch_up = await payouts_of(sessionmaker, cast.group.id)
    assert jan31.amount_cents == 1000 and jan31.status == "paid"  # never changed after it left
    assert (catch_up.period_date, catch_up.pay_date, catch_up.amount_cents) == (date(2026, 2, 15), date(2026, 2, 17), 250)
    lines = {line.id: line for line in await lines_of(sessionmaker, cast.group.id)}
    assert lines[late.id].payout_id == catch_up.id and lines[late.id].period_date == date(2026, 1, 31)
    await assert_sums_exact(sessionmaker)


async def test_pay_date_option_settles_only_that_pay_date(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: on demand, for one pay date
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 10), ("provider", JAN_LATE, 20)])
    result = await settle(sessionmaker, bank, pay_date=date(2026, 2, 17))
    assert result.payouts_scheduled == 1
    [payout] = await payouts_of(sessionmaker, cast.group.id)
    assert payout.period_date == date(2026, 2, 15) and payout.amount_cents == 20 and payout.status == "paid"
    [first, _] = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    assert (first.period_date, first.status) == (date(2026, 1, 31), "accruing")


@pytest.mark.parametrize(("time_zone", "due"), [("America/New_York", True), ("Pacific/Honolulu", False)])
async def test_due_is_judged_in_the_group_time_zone(sessionmaker, bank: SimulatedBank, time_zone: str, due: bool) -> None:
    # rule P3, rule P5: a pay date "has come" on the group's own calendar. At 09:00 UTC on Tuesday
    # 2026-02-17 (the pay date of period 2026-02-15) it is 04:00 that day in New York, and still
    # the 16th, 23:00, in Honolulu.
    cast = await seed(sessionmaker, time_zone=time_zone)
    await add_lines(sessionmaker, cast, [("provider", JAN_LATE, 10)])
    async with sessionmaker() as db:
        result = await build_payouts(db, now=datetime(2026, 2, 17, 9, tzinfo=UTC))
        await db.commit()
    assert (result.payouts_scheduled, result.lines_settled) == ((1, 1) if due else (0, 0))


async def test_a_wrong_running_amount_is_corrected_to_the_sum_of_its_lines(sessionmaker, bank: SimulatedBank) -> None:
    # rule P6: settlement proves amount = sum of lines; the lines are the truth
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 1000), ("colleague", JAN_EARLY, 234), ("provider", JAN_LATE, 5)])
    jan31, feb15 = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    async with sessionmaker() as db:  # a bug or a hand edit breaks one running balance
        await db.execute(update(Payout).where(Payout.id == jan31.id).values(amount_cents=999_999))
        await db.commit()
    with capture_logs() as logged:
        result = await settle(sessionmaker, bank)
    assert (result.payouts_scheduled, result.lines_settled, result.amounts_corrected) == (2, 3, 1)
    [error] = [e for e in logged if e["log_level"] == "error"]
    assert error == {"event": "payout_amount_corrected_to_sum_of_lines", "payout_id": str(jan31.id), "log_level": "error"}
    jan31, feb15 = await payouts_of(sessionmaker, cast.group.id)
    assert (jan31.amount_cents, jan31.status, feb15.amount_cents) == (1234, "paid", 5)
    assert sorted(t["amount_cents"] for t in await bank.transfers()) == [5, 1234]  # the corrected amount was sent
    await assert_sums_exact(sessionmaker)


async def test_a_line_recorded_while_settlement_closes_its_period_is_paid_exactly_once(sessionmaker, bank: SimulatedBank) -> None:
    # rule P5: recording and closing race on the payout row; the line lands in the closing payout, or in the next
    cast = await seed(sessionmaker)
    await add_lines(sessionmaker, cast, [("provider", JAN_EARLY, 100)])
    async with sessionmaker() as recorder, sessionmaker() as closer:
        # The recorder's line has grown the Jan 31 payout (row locked, not committed)...
        [_] = await add_lines_in(recorder, cast, [("colleague", JAN_EARLY + timedelta(hours=1), 20)])
        # ... so the close waits for it and then sees 120.
        closing = asyncio.create_task(build_payouts(closer))
        await asyncio.sleep(0.2)
        assert not closing.done()
        await recorder.commit()
        result = await closing
        await closer.commit()
    assert (result.payouts_scheduled, result.lines_settled, result.amounts_corrected) == (1, 2, 0)
    # A line recorded after the close joins the next period.
    await add_lines(sessionmaker, cast, [("owner", JAN_EARLY + timedelta(hours=2), 3)])
    await settle(sessionmaker, bank)
    jan31, feb15 = await payouts_of(sessionmaker, cast.group.id, accruing=True)
    assert (jan31.amount_cents, jan31.status, feb15.amount_cents, feb15.status) == (120, "paid", 3, "paid")
    await assert_sums_exact(sessionmaker)
