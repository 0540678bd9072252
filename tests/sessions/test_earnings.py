"""app/payouts/earnings.py, the contract settlement builds on: rule P5, P6, S3, S4.

Every line is recorded into its group's accruing payout for its period, whose amount is the running
sum of its lines (settlement then only flips the payout and checks that sum).
"""

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Problem
from app.models import Client, EarningLine, Group, Payout, Rate, TherapySession, User
from app.payouts import earnings
from tests.sessions.conftest import NOW, make_client


async def confirmed(db: AsyncSession, group: Group, provider: User, client: Client, code: str = "90837", day: int = 2) -> TherapySession:
    start = NOW - timedelta(days=day)
    session = TherapySession(
        id=uuid.uuid4(), group_id=group.id, provider_user_id=provider.id, client_id=client.id, kind="therapy",
        starts_at=start, duration_minutes=50, ends_at=start + timedelta(minutes=50), telehealth=True, status="confirmed",
        confirmed_at=NOW, service_date=start.date(), service_code=code, diagnosis_code="F41.1",
    )
    db.add(session)
    await db.flush()
    return session


async def lines(db: AsyncSession, session: TherapySession) -> list[EarningLine]:
    stmt = select(EarningLine).where(EarningLine.session_id == session.id).execution_options(populate_existing=True)
    return list(await db.scalars(stmt))


async def payout_of(db: AsyncSession, line: EarningLine) -> Payout:
    payout = await db.scalar(select(Payout).where(Payout.id == line.payout_id).execution_options(populate_existing=True))
    assert payout is not None
    return payout


async def sum_of_lines(db: AsyncSession, payout: Payout) -> int:
    return int(await db.scalar(select(func.coalesce(func.sum(EarningLine.amount_cents), 0)).where(EarningLine.payout_id == payout.id)))


async def test_amount_follows_the_billing_type(db: AsyncSession, group: Group, provider: User) -> None:
    # rule P6: insurance contracted rate for insurance clients, private-pay rate otherwise
    insured = await make_client(db, group, provider, billing_type="insurance", name="Ins")
    private = await make_client(db, group, provider, name="Priv")
    for day, (client, expected, billing) in enumerate(((insured, 13500, "insurance"), (private, 18000, "private_pay")), 1):
        session = await confirmed(db, group, provider, client, day=day)
        await earnings.record_session_earning(db, session)
        [line] = await lines(db, session)
        assert (line.amount_cents, line.billing_type, line.kind) == (expected, billing, "session")
        assert (line.earned_at, line.period_date, line.pay_date) == (NOW, date(2027, 3, 31), date(2027, 3, 31))
        assert (line.provider_user_id, line.client_id, line.group_id, line.service_code) == (provider.id, client.id, group.id, "90837")
    # rule P5, P6: both lines are in the group's one accruing payout for the period, which holds their sum
    payouts = list(await db.scalars(select(Payout).where(Payout.group_id == group.id)))
    assert [(p.period_date, p.pay_date, p.status, p.amount_cents) for p in payouts] == [(date(2027, 3, 31), date(2027, 3, 31), "accruing", 13500 + 18000)]
    assert (await lines(db, session))[0].payout_id == payouts[0].id


async def test_a_providers_own_rate_overrides_the_groups(db: AsyncSession, group: Group, provider: User, colleague: User) -> None:
    # rule P6
    db.add(Rate(group_id=group.id, provider_user_id=provider.id, service_code="90837", private_pay_cents=21000, insurance_cents=14000))
    await db.flush()
    mine = await confirmed(db, group, provider, await make_client(db, group, provider))
    theirs = await confirmed(db, group, colleague, await make_client(db, group, colleague, name="Other"))
    await earnings.record_session_earning(db, mine)
    await earnings.record_session_earning(db, theirs)
    assert [line.amount_cents for line in await lines(db, mine)] == [21000]
    assert [line.amount_cents for line in await lines(db, theirs)] == [18000]


async def test_recording_twice_earns_once(db: AsyncSession, group: Group, provider: User, client_record: Client) -> None:
    # rule P5/P6: one line per session and kind
    session = await confirmed(db, group, provider, client_record)
    await earnings.record_session_earning(db, session)
    [line] = await lines(db, session)
    assert (await payout_of(db, line)).amount_cents == 18000
    await earnings.record_session_earning(db, session)
    assert len(await lines(db, session)) == 1
    # rule P6: the second record does not add the amount to the payout again
    payout = await payout_of(db, line)
    assert payout.amount_cents == 18000 == await sum_of_lines(db, payout)


async def test_a_correction_moves_the_payout_by_the_difference(
    db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule S3, P6: the line follows the corrected code and its accruing payout moves by the difference
    other = await confirmed(db, group, provider, client_record, day=3)
    await earnings.record_session_earning(db, other)
    session = await confirmed(db, group, provider, client_record)
    await earnings.record_session_earning(db, session)
    [line] = await lines(db, session)
    assert (await payout_of(db, line)).amount_cents == 2 * 18000
    session.service_code = "90834"
    await db.flush()
    await earnings.correct_session_earning(db, session)
    [line] = await lines(db, session)
    payout = await payout_of(db, line)
    assert (line.service_code, line.amount_cents) == ("90834", 15000)
    assert payout.amount_cents == 18000 + 15000 == await sum_of_lines(db, payout)


async def test_a_line_whose_payout_has_left_is_not_corrected(
    db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule S3, P6: once the payout has left `accruing` its amount and its lines are history
    session = await confirmed(db, group, provider, client_record)
    await earnings.record_session_earning(db, session)
    [line] = await lines(db, session)
    await db.execute(update(Payout).where(Payout.id == line.payout_id).values(status="scheduled"))
    session.service_code = "90834"
    await db.flush()
    await earnings.correct_session_earning(db, session)
    [line] = await lines(db, session)
    assert (line.service_code, line.amount_cents, (await payout_of(db, line)).amount_cents) == ("90837", 18000, 18000)


async def test_a_line_whose_period_has_left_joins_the_next_period(
    db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule P5, the catch-up rule: never added to a payout that has left, never lost
    first = await confirmed(db, group, provider, client_record, day=3)
    await earnings.record_session_earning(db, first)
    [first_line] = await lines(db, first)
    await db.execute(update(Payout).where(Payout.id == first_line.payout_id).values(status="paid"))
    late = await confirmed(db, group, provider, client_record)
    await earnings.record_session_earning(db, late)
    [late_line] = await lines(db, late)
    assert (await payout_of(db, first_line)).amount_cents == 18000  # unchanged after it left
    catch_up = await payout_of(db, late_line)
    assert (catch_up.period_date, catch_up.pay_date, catch_up.status, catch_up.amount_cents) == (date(2027, 4, 15), date(2027, 4, 15), "accruing", 18000)
    assert (late_line.period_date, late_line.pay_date) == (date(2027, 3, 31), date(2027, 3, 31))  # what S6 promised stays


async def test_missing_rate_is_a_conflict(db: AsyncSession, group: Group, provider: User, client_record: Client) -> None:
    session = await confirmed(db, group, provider, client_record, code="90853")
    with pytest.raises(Problem) as refused:
        await earnings.record_session_earning(db, session)
    assert refused.value.code == "rate_missing"


async def test_late_cancellation_fee_line(db: AsyncSession, group: Group, provider: User) -> None:
    # rule S4: the fee is the client's to pay (never insurance's) and goes to the provider in full
    insured = await make_client(db, group, provider, billing_type="insurance")
    start = NOW + timedelta(hours=3)
    session = TherapySession(
        id=uuid.uuid4(), group_id=group.id, provider_user_id=provider.id, client_id=insured.id, kind="therapy",
        starts_at=start, duration_minutes=50, ends_at=start + timedelta(minutes=50), telehealth=True, status="late_cancelled",
        cancelled_at=NOW.replace(day=20), cancelled_by="client", late_cancellation_fee_cents=7500,
    )
    db.add(session)
    await db.flush()
    await earnings.record_late_cancellation_fee(db, session)
    await earnings.record_late_cancellation_fee(db, session)
    [line] = await lines(db, session)
    assert (await payout_of(db, line)).amount_cents == 7500  # recorded twice, added once
    assert (line.kind, line.amount_cents, line.billing_type, line.provider_user_id) == ("late_cancellation_fee", 7500, "private_pay", provider.id)
    assert line.pay_date == date(2027, 4, 15)  # cancelled on the 20th: paid on the 15th of next month
    session.late_cancellation_fee_cents = 0
    other = TherapySession(
        id=uuid.uuid4(), group_id=group.id, provider_user_id=provider.id, client_id=insured.id, kind="therapy",
        starts_at=start + timedelta(hours=2), duration_minutes=50, ends_at=start + timedelta(hours=2, minutes=50), telehealth=True,
        status="late_cancelled", cancelled_at=NOW, cancelled_by="client", late_cancellation_fee_cents=0,
    )
    db.add(other)
    await db.flush()
    await earnings.record_late_cancellation_fee(db, other)
    assert await lines(db, other) == []
