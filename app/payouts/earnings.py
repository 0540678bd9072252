"""Earning lines (P6) and the payouts' running balances: what a confirmed session or a late
cancellation earns, written when it happens, into the payout that will pay it.

A line's payout is known when the line is recorded: its group's payout for the line's pay period
(P3), created `accruing` with the period's first line. In the line's own transaction the line is
inserted with that payout's id and the payout's amount grows by the line's amount, so settlement
(app/payouts/settlement.py) has no line to touch: on the pay date it flips the payout to `scheduled`
and checks the amount against the sum of its lines.

- One line per session and kind (the unique index on (session_id, kind)): recording twice inserts
  nothing the second time, and the payout's amount only grows when a line was inserted (one
  statement: the line's INSERT ... ON CONFLICT DO NOTHING RETURNING feeds the payout's UPDATE).
- The catch-up rule. The payout only grows while `accruing` (the UPDATE's WHERE, re-checked under the
  row lock, so it serialises with settlement's flip). A line whose period's payout has already left
  (by construction this does not happen: a line is earned "now" and a period is settled only after
  its pay date; it is guarded all the same) joins the group's payout of the first period after the
  group's latest payout that left, created if needed. The line keeps its own period_date/pay_date
  (what S6 promised); the payout it joined says when it is paid. No line is lost, none paid twice.
- Corrections (S3) move the line and its accruing payout by the difference, in one transaction; once
  the payout has left, the line is history and stays as it was paid.
"""

import calendar
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, Uuid, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import conflict
from app.models import Client, EarningLine, Group, Payout, TherapySession
from app.payouts import schedule
from app.payouts.schedule import schedule_for
from app.practice.service import rate_for

# How many later periods the catch-up rule tries before giving up (one always suffices: see above).
_CATCH_UP_TRIES = 3

# The period's payout, if the group has none yet. ON CONFLICT DO NOTHING: two transactions opening
# the same period make one payout (the second waits for the first, then finds it).
OPEN_PAYOUT = text("""
INSERT INTO payouts (id, group_id, period_date, pay_date, arrives_earliest, arrives_latest, amount_cents, status)
VALUES (gen_random_uuid(), :group_id, :period_date, :pay_date, :pay_date, :arrives_latest, 0, 'accruing')
ON CONFLICT (group_id, period_date) DO NOTHING
""").bindparams(bindparam("group_id", type_=Uuid), bindparam("period_date", type_=Date), bindparam("pay_date", type_=Date),
                bindparam("arrives_latest", type_=Date))

# The line, then (only if it was inserted) its payout's running balance, while accruing.
RECORD_LINE = text("""
WITH line AS (
    INSERT INTO earning_lines (id, group_id, session_id, kind, provider_user_id, client_id, service_code, billing_type,
                               amount_cents, earned_at, period_date, pay_date, payout_id)
    SELECT gen_random_uuid(), :group_id, :session_id, :kind, :provider_user_id, :client_id, :service_code, :billing_type,
           :amount_cents, :earned_at, :period_date, :pay_date, p.id
      FROM payouts p
     WHERE p.group_id = :group_id AND p.period_date = :period_date
    ON CONFLICT (session_id, kind) DO NOTHING
    RETURNING id, payout_id, amount_cents
),
accrued AS (
    UPDATE payouts p
       SET amount_cents = p.amount_cents + line.amount_cents, updated_at = now()
      FROM line
     WHERE p.id = line.payout_id AND p.status = 'accruing'
    RETURNING p.id
)
SELECT line.id AS line_id, line.payout_id, (SELECT id FROM accrued) AS accrued_to FROM line
""").bindparams(
    *(bindparam(name, type_=Uuid) for name in ("group_id", "session_id", "provider_user_id", "client_id")),
    bindparam("period_date", type_=Date), bindparam("pay_date", type_=Date), bindparam("amount_cents", type_=Integer),
)

ACCRUE = text("""
UPDATE payouts SET amount_cents = amount_cents + :amount_cents, updated_at = now()
 WHERE group_id = :group_id AND period_date = :period_date AND status = 'accruing'
RETURNING id
""").bindparams(bindparam("group_id", type_=Uuid), bindparam("period_date", type_=Date), bindparam("amount_cents", type_=Integer))


@dataclass(frozen=True, slots=True)
class RecordedLine:
    line_id: uuid.UUID
    payout_id: uuid.UUID


def next_period_date(period_date: date) -> date:
    """The pay period after `period_date` (P3: the 15th, then the last day of the month, and so on)."""
    if period_date.day == 15:
        return period_date.replace(day=calendar.monthrange(period_date.year, period_date.month)[1])
    following = period_date + timedelta(days=1)
    return following.replace(day=15)


async def _open_payout(db: AsyncSession, group_id: uuid.UUID, period_date: date) -> None:
    earliest, latest = schedule.arrival_window(period_date)
    await db.execute(OPEN_PAYOUT, {"group_id": group_id, "period_date": period_date, "pay_date": earliest, "arrives_latest": latest})


async def record_line(
    db: AsyncSession,
    *,
    group_id: uuid.UUID,
    session_id: uuid.UUID,
    kind: str,
    provider_user_id: uuid.UUID,
    client_id: uuid.UUID,
    service_code: str | None,
    billing_type: str,
    amount_cents: int,
    earned_at: datetime,
    time_zone: str,
) -> RecordedLine | None:
    """P6: one line and its payout's running balance, in the caller's transaction.

    None when the line was already recorded (nothing changes). The confirmation path and the tests'
    factories both come through here, so every line has its payout and every payout its sum.
    """
    plan = schedule_for(earned_at, time_zone)
    await _open_payout(db, group_id, plan.period_date)
    row = (
        await db.execute(
            RECORD_LINE,
            {
                "group_id": group_id, "session_id": session_id, "kind": kind, "provider_user_id": provider_user_id,
                "client_id": client_id, "service_code": service_code, "billing_type": billing_type,
                "amount_cents": amount_cents, "earned_at": earned_at, "period_date": plan.period_date, "pay_date": plan.pay_date,
            },
        )
    ).one_or_none()
    if row is None:
        return None
    if row.accrued_to is not None:
        return RecordedLine(row.line_id, row.accrued_to)
    return RecordedLine(row.line_id, await _catch_up(db, group_id, row.line_id, plan.period_date, amount_cents))


async def _catch_up(db: AsyncSession, group_id: uuid.UUID, line_id: uuid.UUID, period_date: date, amount_cents: int) -> uuid.UUID:
    """The line's period's payout has left: the line joins the next accruing one (module docstring)."""
    target = period_date
    for _ in range(_CATCH_UP_TRIES):
        last_gone = await db.scalar(
            select(Payout.period_date).where(Payout.group_id == group_id, Payout.status != "accruing")
            .order_by(Payout.period_date.desc()).limit(1)
        )
        target = next_period_date(max(target, last_gone or target))
        await _open_payout(db, group_id, target)
        payout_id = await db.scalar(ACCRUE, {"group_id": group_id, "period_date": target, "amount_cents": amount_cents})
        if payout_id is not None:
            await db.execute(update(EarningLine).where(EarningLine.id == line_id).values(payout_id=payout_id))
            return payout_id
    raise RuntimeError(f"no accruing payout found for line {line_id}")  # the rollback keeps the books whole


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
            f"There is no rate for service code {session.service_code}: an admin sets one (PUT /v1/groups/{session.group_id}/rates).",
            service_code=session.service_code,
        )
    amount = rate.insurance_cents if billing_type == "insurance" else rate.private_pay_cents
    return amount, billing_type, tz


async def record_session_earning(db: AsyncSession, session: TherapySession) -> None:
    """P6: the session's line, at the provider's rate (override, else the group's) for its billing type."""
    assert session.confirmed_at is not None
    amount, billing_type, tz = await _session_amount(db, session)
    await record_line(
        db,
        group_id=session.group_id,
        session_id=session.id,
        kind="session",
        provider_user_id=session.provider_user_id,
        client_id=session.client_id,
        service_code=session.service_code,
        billing_type=billing_type,
        amount_cents=amount,
        earned_at=session.confirmed_at,
        time_zone=tz,
    )


async def record_late_cancellation_fee(db: AsyncSession, session: TherapySession) -> None:
    """S4: the late-cancellation fee goes to the provider in full; it is the client's to pay, never insurance's."""
    fee = session.late_cancellation_fee_cents or 0
    if fee <= 0:
        return
    assert session.cancelled_at is not None
    tz = await db.scalar(select(Group.time_zone).where(Group.id == session.group_id))
    assert tz is not None
    await record_line(
        db,
        group_id=session.group_id,
        session_id=session.id,
        kind="late_cancellation_fee",
        provider_user_id=session.provider_user_id,
        client_id=session.client_id,
        service_code=None,
        billing_type="private_pay",
        amount_cents=fee,
        earned_at=session.cancelled_at,
        time_zone=tz,
    )


async def correct_session_earning(db: AsyncSession, session: TherapySession) -> None:
    """S3 corrections: a line whose payout is still accruing follows the corrected code, and the payout
    moves by the difference; a line whose payout has left is history and stays.

    The payout row is locked first (FOR UPDATE, its status re-checked after any wait): a settlement
    flipping it either waits for this transaction, or has flipped it and the line is left alone.
    """
    assert session.confirmed_at is not None
    amount, billing_type, _ = await _session_amount(db, session)
    line = (
        await db.execute(
            select(EarningLine.id, EarningLine.amount_cents, EarningLine.payout_id)
            .join(Payout, Payout.id == EarningLine.payout_id)
            .where(EarningLine.session_id == session.id, EarningLine.kind == "session", Payout.status == "accruing")
            .with_for_update(of=Payout)
        )
    ).one_or_none()
    if line is None:
        return
    await db.execute(
        update(EarningLine)
        .where(EarningLine.id == line.id)
        .values(service_code=session.service_code, billing_type=billing_type, amount_cents=amount)
    )
    if amount != line.amount_cents:
        await db.execute(
            update(Payout)
            .where(Payout.id == line.payout_id)
            .values(amount_cents=Payout.amount_cents + (amount - line.amount_cents), updated_at=func.now())
        )
