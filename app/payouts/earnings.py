"""Earning lines (P6): what a confirmed session or a late cancellation earns, written when it happens.

Settlement (P5) pays the unpaid lines whose pay date has come. One line per session and kind, guarded by
the unique index on (session_id, kind): calling twice never earns twice.
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import conflict
from app.models import Client, EarningLine, Group, TherapySession
from app.payouts.schedule import schedule_for
from app.practice.service import rate_for


async def _session_amount(db: AsyncSession, session: TherapySession) -> tuple[int, str, str]:
    """(amount in cents, billing type, group time zone): the provider's rate for the code and billing type."""
    billing_type, tz = (
        await db.execute(
            select(Client.billing_type, Group.time_zone)
            .join(Group, Group.id == Client.group_id)
            .where(Client.id == session.client_id)
        )
    ).one()
    assert session.service_code is not None
    rate = await rate_for(db, session.group_id, session.provider_user_id, session.service_code)
    if rate is None:
        raise conflict(
            "rate_missing",
            f"There is no rate for service code {session.service_code}: an admin sets one (PUT /v1/groups/{{group_id}}/rates).",
            service_code=session.service_code,
        )
    amount = rate.insurance_cents if billing_type == "insurance" else rate.private_pay_cents
    return amount, billing_type, tz


async def record_session_earning(db: AsyncSession, session: TherapySession) -> None:
    """P6: the session's line, at the provider's rate (override, else the group's) for its billing type."""
    assert session.confirmed_at is not None
    amount, billing_type, tz = await _session_amount(db, session)
    schedule = schedule_for(session.confirmed_at, tz)
    await db.execute(
        pg_insert(EarningLine)
        .values(
            group_id=session.group_id,
            session_id=session.id,
            kind="session",
            provider_user_id=session.provider_user_id,
            client_id=session.client_id,
            service_code=session.service_code,
            billing_type=billing_type,
            amount_cents=amount,
            earned_at=session.confirmed_at,
            period_date=schedule.period_date,
            pay_date=schedule.pay_date,
        )
        .on_conflict_do_nothing(index_elements=["session_id", "kind"])
    )


async def record_late_cancellation_fee(db: AsyncSession, session: TherapySession) -> None:
    """S4: the late-cancellation fee goes to the provider in full; it is the client's to pay, never insurance's."""
    fee = session.late_cancellation_fee_cents or 0
    if fee <= 0:
        return
    assert session.cancelled_at is not None
    tz = await db.scalar(select(Group.time_zone).where(Group.id == session.group_id))
    assert tz is not None
    schedule = schedule_for(session.cancelled_at, tz)
    await db.execute(
        pg_insert(EarningLine)
        .values(
            group_id=session.group_id,
            session_id=session.id,
            kind="late_cancellation_fee",
            provider_user_id=session.provider_user_id,
            client_id=session.client_id,
            service_code=None,
            billing_type="private_pay",
            amount_cents=fee,
            earned_at=session.cancelled_at,
            period_date=schedule.period_date,
            pay_date=schedule.pay_date,
        )
        .on_conflict_do_nothing(index_elements=["session_id", "kind"])
    )


async def correct_session_earning(db: AsyncSession, session: TherapySession) -> None:
    """S3 corrections: the unpaid session line follows the corrected code; a paid line is history and stays."""
    assert session.confirmed_at is not None
    amount, billing_type, tz = await _session_amount(db, session)
    confirmed_at: datetime = session.confirmed_at
    schedule = schedule_for(confirmed_at, tz)
    await db.execute(
        update(EarningLine)
        .where(EarningLine.session_id == session.id, EarningLine.kind == "session", EarningLine.payout_id.is_(None))
        .values(
            service_code=session.service_code,
            billing_type=billing_type,
            amount_cents=amount,
            period_date=schedule.period_date,
            pay_date=schedule.pay_date,
        )
    )
