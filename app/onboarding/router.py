import orjson
import structlog
from fastapi import Depends, Request, Response

from app.core.auth import PersonActor
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import PERSON, allowed, router
from app.onboarding import card_numbers, schemas, service

onboarding_router = router("/v1/me", "onboarding")
log = structlog.get_logger("caseload.onboarding")


async def refuse_card_numbers(request: Request, actor: PersonActor) -> None:
    """Runs after authentication and before the body is validated, so a card number in any field (even an
    unknown or malformed one) is refused as such, and never reaches a validator, a log line or the database."""
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return  # the body validator answers that
    fields = card_numbers.fields_with_card_numbers(payload)
    if fields:
        # Worth knowing: a front end or integration is collecting card numbers. Paths only, never digits.
        log.warning("card_number_refused", user_id=str(actor.id), fields=fields)
        raise service.card_number_refused(fields)


@onboarding_router.get("/insurance", summary="Get your insurance", responses=problem_responses(401, 403, 404), **allowed(PERSON))
async def read_insurance(actor: PersonActor, db: DB) -> schemas.InsurancePolicyOut:
    """Your insurance on file (the member id masked); 404 `insurance_not_on_file` when there is none."""
    return schemas.InsurancePolicyOut.of(await service.read_insurance(db, actor))


@onboarding_router.put("/insurance", summary="Add or replace your insurance", responses=problem_responses(401, 403, 422), **allowed(PERSON))
async def set_insurance(body: schemas.InsurancePolicyIn, actor: PersonActor, db: DB) -> schemas.InsurancePolicyOut:
    """Add or replace your insurance; a change puts it back to `on_file` until it is verified again."""
    return schemas.InsurancePolicyOut.of(await service.set_insurance(db, actor, body))


@onboarding_router.delete("/insurance", summary="Remove your insurance", status_code=204, responses=problem_responses(401, 403), **allowed(PERSON))
async def delete_insurance(actor: PersonActor, db: DB) -> None:
    """Remove your insurance (succeeds when there is none)."""
    await service.delete_insurance(db, actor)


@onboarding_router.get("/billing-method", summary="Get your billing method", responses=problem_responses(401, 403, 404), **allowed(PERSON))
async def read_billing_method(actor: PersonActor, db: DB) -> schemas.BillingMethodOut:
    """Your form of billing (brand, last four, expiry); 404 `billing_method_not_on_file` when there is none."""
    return schemas.BillingMethodOut.model_validate(await service.read_billing_method(db, actor))


@onboarding_router.put(
    "/billing-method", summary="Add or replace your billing method",
    dependencies=[Depends(refuse_card_numbers)],
    responses=problem_responses(401, 403, 422),
    **allowed(PERSON),
)
async def set_billing_method(body: schemas.BillingMethodIn, actor: PersonActor, db: DB) -> schemas.BillingMethodOut:
    """Add or replace your form of billing with the payment processor's card token; a card number is refused (422 `card_number_refused`)."""
    return schemas.BillingMethodOut.model_validate(await service.set_billing_method(db, actor, body))


@onboarding_router.post(
    "/acknowledgements", summary="Acknowledge a policy form",
    status_code=201,
    dependencies=[Idempotent],
    responses={
        200: {"description": "Already acknowledged: the first acknowledgement, unchanged.", "model": schemas.AcknowledgementOut},
        **problem_responses(401, 403, 409, 422),
    },
    **allowed(PERSON),
)
async def acknowledge_form(
    body: schemas.AcknowledgementIn, response: Response, actor: PersonActor, db: DB
) -> schemas.AcknowledgementOut:
    """Acknowledge the current version of the billing or privacy policy (201; 200 with the first one when done before; 409 `form_version_outdated` for another version)."""
    acknowledgement, created = await service.acknowledge(db, actor, body)
    if not created:
        response.status_code = 200
    return schemas.AcknowledgementOut.of(acknowledgement)


@onboarding_router.get("/acknowledgements", summary="List your acknowledgements", responses=problem_responses(401, 403, 422), **allowed(PERSON))
async def list_acknowledgements(actor: PersonActor, db: DB, page: PageQuery) -> Page[schemas.AcknowledgementOut]:
    """Every form version you acknowledged, oldest first, each marked current or not."""
    items, next_cursor = await service.list_acknowledgements(db, actor, page)
    return Page(items=[schemas.AcknowledgementOut.of(a) for a in items], next_cursor=next_cursor)


@onboarding_router.get("/onboarding", summary="Get your onboarding progress", responses=problem_responses(401, 403), **allowed(PERSON))
async def read_onboarding(actor: PersonActor, db: DB) -> schemas.OnboardingOut:
    """What you have done and what is missing (C4), with the checklist of every group you are a client of."""
    return schemas.OnboardingOut.of(await service.read_onboarding(db, actor))
