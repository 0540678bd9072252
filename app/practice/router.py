import uuid

from app.core.auth import CurrentActor, StaffActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.routing import STAFF, allowed, router
from app.practice import schemas, service

practice_router = router("/v1/groups/{group_id}", "practice")
# Staff-only: Caseload staff decide identity verifications (A4), whatever group they are in.
practice_ops_router = router("/v1/ops/groups/{group_id}", "practice")


@practice_router.get("/settings", summary="Get practice settings", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.ACCOUNT_SETTINGS))
async def read_settings(group_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.SettingsOut:
    """The group's practice settings, cancellation policy versions, bank account and identity summaries."""
    return schemas.SettingsOut.of(await service.read_settings(db, actor, group_id))


@practice_router.patch(
    "/settings", summary="Update practice settings", responses=problem_responses(401, 403, 404, 409, 422), **allowed(Capability.ACCOUNT_SETTINGS)
)
async def update_settings(
    group_id: uuid.UUID, body: schemas.SettingsPatch, actor: CurrentActor, db: DB
) -> schemas.SettingsOut:
    """Change settings; each field sent also needs its capability: shown_in_search search_visibility; intake_session_minutes, client_age_min/max, booking_preferences booking_settings; contact_email/phone account_settings; cancellation_policy (appends a version) billing_settings; require_two_factor_for_admins group_edit."""
    return schemas.SettingsOut.of(await service.update_settings(db, actor, group_id, body))


@practice_router.get("/rates", summary="Get the rate card", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.RATES))
async def read_rates(group_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.RateCardOut:
    """The group's rate card: default rates per service code and each provider's overrides (not paginated)."""
    rates = await service.read_rates(db, actor, group_id)
    return schemas.RateCardOut(rates=[schemas.RateOut.model_validate(rate) for rate in rates])


@practice_router.put("/rates", summary="Replace the rate card", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.RATES))
async def replace_rates(
    group_id: uuid.UUID, body: schemas.RateCardIn, actor: CurrentActor, db: DB
) -> schemas.RateCardOut:
    """Replace the whole rate card in one transaction; rates left out are removed."""
    rates = await service.replace_rates(db, actor, group_id, body.rates)
    return schemas.RateCardOut(rates=[schemas.RateOut.model_validate(rate) for rate in rates])


@practice_router.put(
    "/bank-account",
    status_code=202,
    summary="Set the payout bank account (held until the owner confirms it)",
    responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.BILLING_SETTINGS),
)
async def set_bank_account(
    group_id: uuid.UUID, body: schemas.BankAccountIn, actor: CurrentActor, db: DB
) -> schemas.BankAccountChangeOut:
    """Ask for payouts to go to a new bank account. The owner is mailed a single-use link and the account takes
    effect only once they confirm it (`POST .../bank-account/confirm`); until then the account already on file keeps
    receiving payouts, or payouts wait when there is none. A newer request replaces one still waiting. The number is
    stored encrypted and only its last four are returned."""
    change = await service.set_bank_account(db, actor, group_id, body)
    return schemas.BankAccountChangeOut.model_validate(change)


@practice_router.post(
    "/bank-account/confirm",
    summary="Confirm a new payout bank account (owner)",
    responses=problem_responses(401, 403, 404, 409, 410, 422),
    **allowed(Capability.BANK_ACCOUNT_CONFIRM),
)
async def confirm_bank_account(
    group_id: uuid.UUID, body: schemas.BankConfirmationIn, actor: CurrentActor, db: DB
) -> schemas.BankAccountSummary:
    """The practice's owner, logged in, confirms the waiting account with the token of the link mailed to them;
    payouts go to it from the next settlement on."""
    account = await service.confirm_bank_account(db, actor, group_id, body.token)
    return schemas.BankAccountSummary.model_validate(account)


@practice_router.post(
    "/bank-account/refuse",
    summary="Refuse a new payout bank account (owner)",
    responses=problem_responses(401, 403, 404, 409, 410, 422),
    **allowed(Capability.BANK_ACCOUNT_CONFIRM),
)
async def refuse_bank_account(
    group_id: uuid.UUID, body: schemas.BankConfirmationIn, actor: CurrentActor, db: DB
) -> schemas.BankAccountChangeOut:
    """The practice's owner refuses the waiting account with the token mailed to them; the account on file stays."""
    change = await service.refuse_bank_account(db, actor, group_id, body.token)
    return schemas.BankAccountChangeOut.model_validate(change)


@practice_router.get(
    "/identity-verification", summary="Get identity verification status",
    responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.BILLING_SETTINGS),
)
async def read_identity_verification(
    group_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.IdentityVerificationOut:
    """The group's identity verification status (`not_submitted` before the first submission)."""
    record = await service.read_identity_verification(db, actor, group_id)
    if record is None:
        return schemas.IdentityVerificationOut(status="not_submitted")
    return schemas.IdentityVerificationOut.model_validate(record, from_attributes=True)


@practice_router.put(
    "/identity-verification", summary="Submit the tax identity for verification",
    responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.BILLING_SETTINGS),
)
async def submit_identity_verification(
    group_id: uuid.UUID, body: schemas.IdentityVerificationIn, actor: CurrentActor, db: DB
) -> schemas.IdentityVerificationOut:
    """Submit the tax identity for verification: it becomes pending, even when it was verified before."""
    record = await service.submit_identity_verification(db, actor, group_id, body)
    return schemas.IdentityVerificationOut.model_validate(record, from_attributes=True)


@practice_ops_router.post(
    "/identity-verification/decision", summary="Decide an identity verification (staff)",
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(STAFF),
)
async def decide_identity_verification(
    group_id: uuid.UUID, body: schemas.IdentityDecisionIn, staff: StaffActor, db: DB
) -> schemas.IdentityVerificationOut:
    """Staff: verify or reject a group's pending identity verification (a rejection needs a reason)."""
    record = await service.decide_identity_verification(db, staff, group_id, body)
    return schemas.IdentityVerificationOut.model_validate(record, from_attributes=True)
