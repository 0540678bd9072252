import uuid
from typing import Annotated

from fastapi import Body, Path, Query

from app.core.auth import CurrentActor, StaffActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import STAFF, allowed, router
from app.payouts import schemas, service

payouts_router = router("/v1/groups/{group_id}", "payouts")
# Staff-only: run a settlement now (P5), whatever group they are in.
settlements_router = router("/v1/ops/settlements", "payouts")
READ_ERRORS = problem_responses(401, 403, 404, 422)


@payouts_router.get("/payouts", summary="List payouts", responses=READ_ERRORS, **allowed(Capability.PAYMENTS))
async def list_payouts(
    group_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    page: PageQuery,
    status: Annotated[schemas.PayoutStatus | None, Query(description="Only payouts in this state.")] = None,
) -> Page[schemas.PayoutOut]:
    """The group's payouts, newest first, open (accruing) periods included: pay date, arrival window, status, amount (P4, P7)."""
    payouts, next_cursor = await service.list_payouts(db, actor, group_id, page, status=status)
    return Page(items=[schemas.PayoutOut.model_validate(p) for p in payouts], next_cursor=next_cursor)


# Declared before /payouts/{payout_id}, which would otherwise take "upcoming" for an id.
@payouts_router.get("/payouts/upcoming", summary="List upcoming payouts", responses=READ_ERRORS, **allowed(Capability.PAYMENTS))
async def upcoming_payouts(group_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.UpcomingPayouts:
    """The accruing payouts (open pay periods): what each holds so far, per clinician."""
    return await service.upcoming_payouts(db, actor, group_id)


@payouts_router.get("/payouts/{payout_id}", summary="Get a payout with its lines", responses=READ_ERRORS, **allowed(Capability.PAYMENTS))
async def read_payout(group_id: uuid.UUID, payout_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.PayoutDetail:
    """A payout with its lines (session, provider, client, amount, confirmed_at) and a subtotal per clinician (P6)."""
    return await service.read_payout(db, actor, group_id, payout_id)


@payouts_router.get("/payments", summary="List payments", responses=READ_ERRORS, **allowed(Capability.PAYMENTS))
async def list_payments(group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery) -> Page[schemas.PaymentOut]:
    """The payments tab: payment date, amount, the client it is for and the provider, newest first."""
    items, next_cursor = await service.list_payments(db, actor, group_id, page)
    return Page(items=items, next_cursor=next_cursor)


@payouts_router.get("/tax-summaries/{year}", summary="Get a year's tax summary", responses=READ_ERRORS, **allowed(Capability.PAYMENTS))
async def read_tax_summary(
    group_id: uuid.UUID, year: Annotated[int, Path(ge=2000, le=2100)], actor: CurrentActor, db: DB
) -> schemas.TaxSummary:
    """A year's paid total under the owner's tax identity, with each clinician's share (P2)."""
    return await service.tax_summary(db, actor, group_id, year)


@settlements_router.post(
    "", summary="Run payout settlement now (staff)",
    status_code=202,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 422),
    **allowed(STAFF),
)
async def request_settlement(
    staff: StaffActor, db: DB, body: Annotated[schemas.SettlementRequest | None, Body()] = None
) -> schemas.SettlementQueued:
    """Staff: run settlement now (every pay date that has come, or one); answers with the queued job."""
    return await service.request_settlement(db, staff, pay_date=body.pay_date if body else None)
