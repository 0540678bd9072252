import uuid

from app.api_keys import schemas, service
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.rate_limit import limit_for
from app.core.routing import allowed, router
from app.models import ApiKey

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
    """Create a partner API key for the group; the secret is in this response only.

    Choose its `scopes` (`read`, and capability names for writes; never more than you may do yourself),
    its `mode` (`test` keys act on the group's test-mode copy: see `acts_on_group_id`) and optionally its
    `rate_limit_per_minute`. Live keys start `ck_live_`, test keys `ck_test_`, followed by 38 letters and digits.
    """
    key, secret, acts_on = await service.create_api_key(
        db, actor, group_id, name=body.name, scopes=body.scopes, mode=body.mode,
        rate_limit_per_minute=body.rate_limit_per_minute,
    )
    return schemas.ApiKeyCreated.model_validate({**_out(key, {key.mode: acts_on}).model_dump(), "key": secret})


@api_keys_router.get("", summary="List API keys", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.API_KEYS))
async def list_api_keys(
    group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery
) -> Page[schemas.ApiKeyOut]:
    """The group's API keys (never their secrets), revoked ones included."""
    keys, next_cursor = await service.list_api_keys(db, actor, group_id, page)
    groups = await service.acting_groups(db, group_id)
    return Page(items=[_out(k, groups) for k in keys], next_cursor=next_cursor)


@api_keys_router.delete(
    "/{key_id}", summary="Revoke an API key", status_code=204, responses=problem_responses(401, 403, 404), **allowed(Capability.API_KEYS)
)
async def revoke_api_key(group_id: uuid.UUID, key_id: uuid.UUID, actor: CurrentActor, db: DB) -> None:
    """Revoke an API key: it stops working at once."""
    await service.revoke_api_key(db, actor, group_id, key_id)


def _out(key: ApiKey, groups: dict[str, uuid.UUID]) -> schemas.ApiKeyOut:
    return schemas.ApiKeyOut(
        id=key.id,
        group_id=key.group_id,
        name=key.name,
        display_prefix=key.display_prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        mode=key.mode,  # type: ignore[arg-type]
        scopes=key.scopes,
        rate_limit_per_minute=limit_for(key.rate_limit_per_minute),
        acts_on_group_id=groups.get(key.mode),
    )
