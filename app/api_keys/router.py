import uuid

from app.api_keys import schemas, service
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import allowed, router

api_keys_router = router("/v1/groups/{group_id}/api-keys", "api-keys")


@api_keys_router.post(
    "", summary="Create an API key",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.API_KEYS),
)
async def create_api_key(
    group_id: uuid.UUID, body: schemas.ApiKeyCreate, actor: CurrentActor, db: DB
) -> schemas.ApiKeyCreated:
    """Create a partner API key for the group; the secret is in this response only."""
    key, secret = await service.create_api_key(db, actor, group_id, name=body.name)
    return schemas.ApiKeyCreated.model_validate({**schemas.ApiKeyOut.model_validate(key).model_dump(), "key": secret})


@api_keys_router.get("", summary="List API keys", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.API_KEYS))
async def list_api_keys(
    group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery
) -> Page[schemas.ApiKeyOut]:
    """The group's API keys (never their secrets), revoked ones included."""
    keys, next_cursor = await service.list_api_keys(db, actor, group_id, page)
    return Page(items=[schemas.ApiKeyOut.model_validate(k) for k in keys], next_cursor=next_cursor)


@api_keys_router.delete(
    "/{key_id}", summary="Revoke an API key", status_code=204, responses=problem_responses(401, 403, 404), **allowed(Capability.API_KEYS)
)
async def revoke_api_key(group_id: uuid.UUID, key_id: uuid.UUID, actor: CurrentActor, db: DB) -> None:
    """Revoke an API key: it stops working at once."""
    await service.revoke_api_key(db, actor, group_id, key_id)
