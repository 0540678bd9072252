"""Reading payouts and payments (P2, P4, P6, P7), and settlement on demand (P5).

Payments are the admin column of the capability table: providers see none of it. Lines name clients,
so every read that returns them is audited (R2), with ids only.
"""

import uuid
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import conflict, not_found
from app.core.jobs import enqueue
from app.core.pagination import PageParams, paginate
from app.models import (
    BankAccount,
    BankAccountChange,
    Client,
    EarningLine,
    Group,
    IdentityVerification,
    Payout,
    TherapySession,
    User,
)
from app.payouts.settlement import NO_BANK_ACCOUNT, PENDING_OWNER_CONFIRMATION
from app.payouts.schemas import (
    ClinicianSubtotal,
    PaymentOut,
    PayoutDetail,
    PayoutLineOut,
    PayoutOut,
    Person,
    SettlementQueued,
    TaxPayee,
    TaxSummary,
    UpcomingPayout,
    UpcomingPayouts,
)

Provider = aliased(User, name="provider")


def _provider_name() -> ColumnElement[str]:
    return func.concat_ws(" ", Provider.first_name, Provider.last_name)


def _client_name() -> ColumnElement[str]:
    return func.concat_ws(" ", Client.first_name, Client.last_name)


async def list_payouts(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams, *, status: str | None
) -> tuple[list[Payout], str | None]:
    """The group's payouts, newest first, the accruing ones (periods still open, amounts still growing) included."""
    require(actor, Capability.PAYMENTS, group_id)
    stmt = select(Payout).where(Payout.group_id == group_id)
    if status:
        stmt = stmt.where(Payout.status == status)
    return await paginate(db, stmt, page, keys=(Payout.created_at, Payout.id), descending=True)


def _subtotals(rows: list[Any]) -> list[ClinicianSubtotal]:
    return [
        ClinicianSubtotal(
            provider=Person(id=r.provider_user_id, name=r.provider_name), amount_cents=int(r.amount), currency=r.currency, line_count=r.lines
        )
        for r in rows
    ]


def _subtotal_query(*where: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            EarningLine.provider_user_id,
            _provider_name().label("provider_name"),
            func.sum(EarningLine.amount_cents).label("amount"),
            EarningLine.currency,
            func.count().label("lines"),
        )
        .join(Provider, Provider.id == EarningLine.provider_user_id)
        .where(*where)
        # Never a sum across currencies: a clinician paid in two would get one subtotal per currency.
        .group_by(EarningLine.provider_user_id, Provider.first_name, Provider.last_name, EarningLine.currency)
        .order_by(_provider_name(), EarningLine.provider_user_id)
    )


async def read_payout(db: AsyncSession, actor: Actor, group_id: uuid.UUID, payout_id: uuid.UUID) -> PayoutDetail:
    """P6: the payout with each line and a subtotal per clinician."""
    require(actor, Capability.PAYMENTS, group_id)
    payout = await db.scalar(select(Payout).where(Payout.id == payout_id, Payout.group_id == group_id))
    if payout is None:
        raise not_found("payout")
    rows = (
        await db.execute(
            select(
                EarningLine,
                _provider_name().label("provider_name"),
                _client_name().label("client_name"),
                TherapySession.confirmed_at,
            )
            .join(Provider, Provider.id == EarningLine.provider_user_id)
            .join(Client, Client.id == EarningLine.client_id)
            .join(TherapySession, TherapySession.id == EarningLine.session_id)
            .where(EarningLine.payout_id == payout.id)
            .order_by(EarningLine.earned_at, EarningLine.id)
        )
    ).all()
    subtotals = (await db.execute(_subtotal_query(EarningLine.payout_id == payout.id))).all()
    lines = [
        PayoutLineOut(
            id=line.id,
            kind=line.kind,  # type: ignore[arg-type]
            session_id=line.session_id,
            provider=Person(id=line.provider_user_id, name=provider_name),
            client=Person(id=line.client_id, name=client_name),
            service_code=line.service_code,
            amount_cents=line.amount_cents,
            currency=line.currency,
            earned_at=line.earned_at,
            confirmed_at=confirmed_at,
        )
        for line, provider_name, client_name, confirmed_at in rows
    ]
    await audit.record(
        db, actor, "payout.read", target_type="payout", target_id=payout.id, group_id=group_id,
        client_ids=sorted({str(line.client.id) for line in lines}),
    )
    return PayoutDetail(
        **PayoutOut.model_validate(payout).model_dump(), lines=lines, subtotals=_subtotals(list(subtotals))
    )


async def upcoming_payouts(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> UpcomingPayouts:
    """The accruing payouts (pay periods still open): what each holds so far, per clinician (no client data)."""
    require(actor, Capability.PAYMENTS, group_id)
    payouts = list(
        await db.scalars(
            select(Payout)
            .where(Payout.group_id == group_id, Payout.status == "accruing")
            .order_by(Payout.pay_date, Payout.period_date)
        )
    )
    rows = []
    if payouts:
        rows = (
            await db.execute(
                _subtotal_query(EarningLine.payout_id.in_([p.id for p in payouts]))
                .add_columns(EarningLine.payout_id)
                .group_by(EarningLine.payout_id)
            )
        ).all()
    by_payout: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        by_payout.setdefault(row.payout_id, []).append(row)
    items = []
    for payout in payouts:
        subtotals = _subtotals(by_payout.get(payout.id, []))
        items.append(
            UpcomingPayout(
                id=payout.id,
                period_date=payout.period_date,
                pay_date=payout.pay_date,
                arrives_earliest=payout.arrives_earliest,
                arrives_latest=payout.arrives_latest,
                amount_cents=payout.amount_cents,
                currency=payout.currency,
                line_count=sum(s.line_count for s in subtotals),
                subtotals=subtotals,
            )
        )
    return UpcomingPayouts(items=items, waiting_reason=await _waiting_reason(db, group_id))


async def _waiting_reason(db: AsyncSession, group_id: uuid.UUID) -> str | None:
    """P8, as settlement judges it (app.payouts.settlement): no confirmed account means payouts wait."""
    row = (
        await db.execute(
            select(
                exists().where(BankAccount.group_id == group_id),
                exists().where(BankAccountChange.group_id == group_id, BankAccountChange.status == "pending_owner_confirmation"),
            )
        )
    ).one()
    if row[0]:
        return None
    return PENDING_OWNER_CONFIRMATION if row[1] else NO_BANK_ACCOUNT


async def list_payments(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams
) -> tuple[list[PaymentOut], str | None]:
    """The payments tab: payment date, amount, the client it is for, the provider; newest first."""
    require(actor, Capability.PAYMENTS, group_id)
    stmt = (
        select(
            EarningLine.id,
            EarningLine.earned_at,
            EarningLine.kind,
            EarningLine.session_id,
            EarningLine.provider_user_id,
            EarningLine.client_id,
            EarningLine.amount_cents,
            EarningLine.currency,
            EarningLine.payout_id,
            Payout.pay_date.label("payment_date"),
            Payout.status.label("payout_status"),
            _provider_name().label("provider_name"),
            _client_name().label("client_name"),
        )
        .join(Provider, Provider.id == EarningLine.provider_user_id)
        .join(Client, Client.id == EarningLine.client_id)
        .join(Payout, Payout.id == EarningLine.payout_id)
        .where(EarningLine.group_id == group_id)
    )
    rows, next_cursor = await paginate(db, stmt, page, keys=(EarningLine.earned_at, EarningLine.id), descending=True, rows=True)
    items = [
        PaymentOut(
            id=r.id,
            kind=r.kind,
            session_id=r.session_id,
            provider=Person(id=r.provider_user_id, name=r.provider_name),
            client=Person(id=r.client_id, name=r.client_name),
            amount_cents=r.amount_cents,
            currency=r.currency,
            earned_at=r.earned_at,
            payment_date=r.payment_date,
            payout_id=r.payout_id,
            payout_status=r.payout_status,
        )
        for r in rows
    ]
    await audit.record(
        db, actor, "payment.list_read", target_type="earning_line", group_id=group_id,
        client_ids=sorted({str(r.client_id) for r in rows}),
    )
    return items, next_cursor


async def tax_summary(db: AsyncSession, actor: Actor, group_id: uuid.UUID, year: int) -> TaxSummary:
    """P2: what was paid in `year` (by the day it was paid, in the group's time zone), under the owner's identity."""
    require(actor, Capability.PAYMENTS, group_id)
    tz = ZoneInfo(await db.scalar(select(Group.time_zone).where(Group.id == group_id)) or "UTC")
    start, end = (datetime.combine(date(y, 1, 1), time(), tzinfo=tz) for y in (year, year + 1))
    in_year = (Payout.group_id == group_id, Payout.status == "paid", Payout.paid_at >= start, Payout.paid_at < end)
    # Payouts are in the group's one currency (USD today); a year without payouts states USD.
    total, count, currency = (
        await db.execute(
            select(func.coalesce(func.sum(Payout.amount_cents), 0), func.count(), func.coalesce(func.max(Payout.currency), "USD")).where(*in_year)
        )
    ).one()
    clinicians = (
        await db.execute(_subtotal_query(EarningLine.payout_id.in_(select(Payout.id).where(*in_year))))
    ).all()
    identity = await db.get(IdentityVerification, group_id)
    payee = (
        TaxPayee(legal_name=identity.legal_name, tax_id_last4=identity.tax_id_last4, verification_status=identity.status)  # type: ignore[arg-type]
        if identity is not None
        else None
    )
    await audit.record(db, actor, "tax_summary.read", target_type="group", target_id=group_id, group_id=group_id, year=year)
    return TaxSummary(
        year=year, payee=payee, total_paid_cents=int(total), currency=currency, payout_count=count, clinicians=_subtotals(list(clinicians))
    )


async def request_settlement(db: AsyncSession, staff: Actor, *, pay_date: date | None) -> SettlementQueued:
    """P5 on demand: the `settle` job, sent to the workers once this transaction commits."""
    job_id = f"settle:{pay_date.isoformat() if pay_date else 'due'}:{uuid.uuid4().hex}"
    await enqueue(db, "settle", *([pay_date.isoformat()] if pay_date else []), job_id=job_id)
    await audit.record(db, staff, "settlement.requested", target_type="settlement", target_id=job_id,
                       pay_date=pay_date.isoformat() if pay_date else None)
    return SettlementQueued(job_id=job_id, pay_date=pay_date)


async def resume_payout(db: AsyncSession, staff: Actor, payout_id: uuid.UUID) -> Payout:
    """P9: a payout waiting in `needs_attention` goes back in line as failed, with its failure count reset."""
    payout = await db.get(Payout, payout_id, with_for_update=True)
    if payout is None:
        raise not_found("payout")
    if payout.status != "needs_attention":
        raise conflict(
            "payout_not_waiting",
            f"Only a payout that needs attention can be resumed; this one is {payout.status}. Failed payouts are retried "
            "by the next settlement run by themselves.",
            payout_status=payout.status,
        )
    # Failed before the next run starts: that run sends it (a new transfer key), as any failed payout.
    payout.status, payout.failures, payout.failed_at = "failed", 0, func.now()
    await db.flush()
    await db.refresh(payout)
    await audit.record(db, staff, "payout.resumed", target_type="payout", target_id=payout.id, group_id=payout.group_id)
    return payout
