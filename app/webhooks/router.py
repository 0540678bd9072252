import uuid
from typing import Annotated, Literal

from fastapi import Path, Query

from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import allowed, router
from app.webhooks import schemas, service

webhooks_router = router("/v1/groups/{group_id}/webhook-endpoints", "webhooks")

DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A delivery's id, from the delivery log.")]


def _with_secret(endpoint: object, secret: str) -> schemas.EndpointWithSecret:
    return schemas.EndpointWithSecret.model_validate(
        {**schemas.EndpointOut.model_validate(endpoint).model_dump(), "secret": secret}
    )


@webhooks_router.post(
    "", status_code=201, summary="Register a webhook endpoint", dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422), **allowed(Capability.WEBHOOKS),
)
async def create_webhook_endpoint(
    group_id: uuid.UUID, body: schemas.EndpointCreate, actor: CurrentActor, db: DB
) -> schemas.EndpointWithSecret:
    """Register a URL to receive the chosen event types of this group as signed POSTs.

    The URL must be https and reach a public address. The answer carries the signing secret, shown this once:
    verify each delivery's `Caseload-Signature` header with it (`t=<unix seconds>,v1=<hex HMAC-SHA256 of
    "<t>.<raw body>">`; several `v1` values while a secret is being rotated). A delivery is retried with
    growing, jittered delays for three days until your server answers 2xx within 10 seconds.
    """
    endpoint, secret = await service.create_endpoint(db, actor, group_id, body)
    return _with_secret(endpoint, secret)


@webhooks_router.get(
    "", summary="List webhook endpoints", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.WEBHOOKS)
)
async def list_webhook_endpoints(
    group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery
) -> Page[schemas.EndpointOut]:
    """The group's webhook endpoints (never their secrets), with whether each is on and its failure count."""
    endpoints, next_cursor = await service.list_endpoints(db, actor, group_id, page)
    return Page(items=[schemas.EndpointOut.model_validate(e) for e in endpoints], next_cursor=next_cursor)


@webhooks_router.get(
    "/{endpoint_id}", summary="Read a webhook endpoint", responses=problem_responses(401, 403, 404),
    **allowed(Capability.WEBHOOKS),
)
async def read_webhook_endpoint(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.EndpointOut:
    """One webhook endpoint: its URL, event types, whether it is on and why it was turned off."""
    return schemas.EndpointOut.model_validate(await service.read_endpoint(db, actor, group_id, endpoint_id))


@webhooks_router.patch(
    "/{endpoint_id}", summary="Change a webhook endpoint", responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.WEBHOOKS),
)
async def update_webhook_endpoint(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, body: schemas.EndpointUpdate, actor: CurrentActor, db: DB
) -> schemas.EndpointOut:
    """Change the URL, the event types or the description, or turn the endpoint off or back on.

    An endpoint turned off for failing keeps its waiting deliveries: turning it on sends them (those older than
    three days are given up).
    """
    return schemas.EndpointOut.model_validate(await service.update_endpoint(db, actor, group_id, endpoint_id, body))


@webhooks_router.delete(
    "/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint", responses=problem_responses(401, 403, 404),
    **allowed(Capability.WEBHOOKS),
)
async def delete_webhook_endpoint(group_id: uuid.UUID, endpoint_id: uuid.UUID, actor: CurrentActor, db: DB) -> None:
    """Delete the endpoint and its delivery log: nothing more is sent to it."""
    await service.delete_endpoint(db, actor, group_id, endpoint_id)


@webhooks_router.post(
    "/{endpoint_id}/rotate-secret", summary="Rotate the signing secret", dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409), **allowed(Capability.WEBHOOKS),
)
async def rotate_webhook_secret(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.EndpointWithSecret:
    """Issue a new signing secret (shown this once). For the next 24 hours deliveries carry two `v1`
    signatures, one with the new secret and one with the previous, so you can switch your receiver over
    without missing an event; then only the new one signs."""
    endpoint, secret = await service.rotate_secret(db, actor, group_id, endpoint_id)
    return _with_secret(endpoint, secret)


@webhooks_router.post(
    "/{endpoint_id}/test", status_code=202, summary="Send a test event", dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409), **allowed(Capability.WEBHOOKS),
)
async def test_webhook_endpoint(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.DeliveryOut:
    """Send a `webhook.ping` event to this endpoint, signed like any other, within seconds. Follow its
    outcome in the delivery log (the answer is the delivery). A turned-off endpoint is a 409."""
    return await service.send_test(db, actor, group_id, endpoint_id)


@webhooks_router.get(
    "/{endpoint_id}/deliveries", summary="Read an endpoint's delivery log",
    responses=problem_responses(401, 403, 404, 422), **allowed(Capability.WEBHOOKS),
)
async def list_webhook_deliveries(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query(description="Only deliveries in this state.")] = None,
) -> Page[schemas.DeliveryOut]:
    """The endpoint's deliveries, newest first: the event, attempts so far, the state, and the last attempt's
    HTTP status, latency and the start of your server's answer."""
    items, next_cursor = await service.list_deliveries(db, actor, group_id, endpoint_id, page, status=status)
    return Page(items=items, next_cursor=next_cursor)


@webhooks_router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay", status_code=202, summary="Replay a delivery",
    dependencies=[Idempotent], responses=problem_responses(401, 403, 404, 422), **allowed(Capability.WEBHOOKS),
)
async def replay_webhook_delivery(
    group_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: DeliveryId, actor: CurrentActor, db: DB
) -> schemas.DeliveryOut:
    """Send the delivery's event again, as a new delivery due now (same event id: a receiver that already
    handled it can tell). The answer is the new delivery; the old one stays in the log as it was."""
    return await service.replay_delivery(db, actor, group_id, endpoint_id, delivery_id)
