import uuid
from typing import Annotated

from fastapi import Query

from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.routing import allowed, router
from app.estimates import schemas, service

estimates_router = router("/v1/groups/{group_id}/clients", "clients")

ServiceCode = Annotated[
    str,
    Query(
        min_length=5,
        max_length=5,
        pattern=r"^[A-Za-z0-9]{5}$",
        description="The session's CPT/HCPCS code; 90837 (psychotherapy, 60 minutes) when left out.",
    ),
]
ProviderId = Annotated[
    uuid.UUID | None,
    Query(description="Price with this provider's rate. By default: the caller when they see the client, else the client's first provider."),
]


@estimates_router.get(
    "/{client_id}/estimate", summary="Estimate a client's cost per session", responses=problem_responses(401, 403, 404, 409, 422), **allowed(Capability.CLIENTS)
)
async def read_estimate(
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    service_code: ServiceCode = "90837",
    provider_id: ProviderId = None,
) -> schemas.EstimateOut:
    """The client's estimated cost per session (C6): their plan's copay or coinsurance, or the private-pay rate; 404 `rate_not_found` without a rate."""
    view = await service.estimate(db, actor, group_id, client_id, service_code=service_code, provider_id=provider_id)
    return schemas.EstimateOut.of(view)
