"""Sessions, earning lines, bank accounts and payouts for the payout tests.

A confirmed session is inserted here directly (no rates, no HTTP), but its line goes through
app/payouts/earnings.record_line, the function confirmation uses: every line lands in its group's
accruing payout for its period, whose amount grows by the line's, as in production.
"""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import BankAccount, EarningLine, Payout, TherapySession
from app.payouts import earnings, schedule
from app.payouts.settlement import BANK_ACCOUNT_NUMBER

# Each session gets its own hour on the calendar, so no two ever overlap (S2's exclusion constraints).
_slots = itertools.count()
_SLOT_BASE = datetime(2019, 1, 1, tzinfo=UTC)


def next_slot() -> datetime:
    return _SLOT_BASE + timedelta(hours=next(_slots))


async def make_session(
    db: AsyncSession,
    *,
    group_id: uuid.UUID,
    provider_id: uuid.UUID,
    client_id: uuid.UUID,
    status: str = "scheduled",
    starts_at: datetime | None = None,
    confirmed_at: datetime | None = None,
    time_zone: str = "America/New_York",
) -> TherapySession:
    starts_at = starts_at or next_slot()
    session = TherapySession(
        id=uuid.uuid4(),
        group_id=group_id,
        provider_user_id=provider_id,
        client_id=client_id,
        kind="therapy",
        starts_at=starts_at,
        duration_minutes=50,
        ends_at=starts_at + timedelta(minutes=50),
        telehealth=True,
        status=status,
    )
    if status == "confirmed":
        confirmed_at = confirmed_at or starts_at + timedelta(hours=1)
        plan = schedule.schedule_for(confirmed_at, time_zone)
        session.confirmed_at = confirmed_at
        session.service_date = starts_at.date()
        session.service_code = "90837"
        session.period_date, session.pay_date = plan.period_date, plan.pay_date
    db.add(session)
    await db.flush()
    return session


async def make_line(
    db: AsyncSession,
    session: TherapySession,
    *,
    amount_cents: int,
    kind: str = "session",
    earned_at: datetime | None = None,
    time_zone: str = "America/New_York",
) -> EarningLine:
    earned_at = earned_at or session.confirmed_at
    assert earned_at is not None
    recorded = await earnings.record_line(
        db,
        group_id=session.group_id,
        session_id=session.id,
        kind=kind,
        provider_user_id=session.provider_user_id,
        client_id=session.client_id,
        service_code=session.service_code,
        billing_type="private_pay",
        amount_cents=amount_cents,
        earned_at=earned_at,
        time_zone=time_zone,
    )
    assert recorded is not None, "the line was already recorded"
    line = await db.scalar(select(EarningLine).where(EarningLine.id == recorded.line_id).execution_options(populate_existing=True))
    assert line is not None
    return line


async def confirmed_session_with_line(
    db: AsyncSession,
    *,
    group_id: uuid.UUID,
    provider_id: uuid.UUID,
    client_id: uuid.UUID,
    confirmed_at: datetime,
    amount_cents: int,
    time_zone: str = "America/New_York",
) -> tuple[TherapySession, EarningLine]:
    session = await make_session(
        db, group_id=group_id, provider_id=provider_id, client_id=client_id, status="confirmed",
        starts_at=next_slot(), confirmed_at=confirmed_at, time_zone=time_zone,
    )
    return session, await make_line(db, session, amount_cents=amount_cents, time_zone=time_zone)


async def make_bank_account(db: AsyncSession, group_id: uuid.UUID, *, account_number: str = "000123456789") -> BankAccount:
    account = BankAccount(
        group_id=group_id,
        account_holder_name="Olive Owner",
        routing_number="011000015",
        account_number_encrypted=crypto.encrypt(account_number, purpose=BANK_ACCOUNT_NUMBER),
        account_last4=account_number[-4:],
        account_type="checking",
    )
    db.add(account)
    await db.flush()
    return account


async def make_payout(db: AsyncSession, group_id: uuid.UUID, lines: list[EarningLine], *, status: str = "scheduled") -> Payout:
    """The payout holding `lines` (all of one payout), moved on to `status` as settlement would have."""
    [payout_id] = {line.payout_id for line in lines}
    now = datetime.now(UTC)
    stamps: dict[str, object] = {"status": status}
    if status in ("in_transit", "paid", "failed"):
        stamps.update(sent_at=now, attempts=1, transfer_reference=f"simtr_{payout_id.hex[:24]}", bank_account_last4="6789")
    if status == "paid":
        stamps["paid_at"] = now
    if status == "failed":
        stamps.update(failed_at=now, failure_reason="account closed")
    await db.execute(update(Payout).where(Payout.id == payout_id, Payout.group_id == group_id).values(**stamps))
    payout = await db.scalar(select(Payout).where(Payout.id == payout_id).execution_options(populate_existing=True))
    assert payout is not None
    return payout
