"""Partner API keys (A3): scoped to one group, shown once at creation, stored as a hash, revocable."""

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, tokens
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import not_found
from app.core.pagination import PageParams, paginate
from app.models import ApiKey

DISPLAY_PREFIX_LEN = 10


async def create_api_key(db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, name: str) -> tuple[ApiKey, str]:
    require(actor, Capability.API_KEYS, group_id)
    secret = tokens.new_secret(tokens.API_KEY_PREFIX)
    key = ApiKey(
        id=uuid.uuid4(),
        group_id=group_id,
        name=name,
        display_prefix=secret[:DISPLAY_PREFIX_LEN],
        key_hash=tokens.digest(secret),
        created_by_user_id=actor.user_id,
    )
    db.add(key)
    await db.flush()
    await db.refresh(key)
    await audit.record(db, actor, "api_key.created", target_type="api_key", target_id=key.id, group_id=group_id)
    return key, secret


async def list_api_keys(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams
) -> tuple[list[ApiKey], str | None]:
    require(actor, Capability.API_KEYS, group_id)
    stmt = select(ApiKey).where(ApiKey.group_id == group_id)
    return await paginate(db, stmt, page, keys=(ApiKey.created_at, ApiKey.id))


async def revoke_api_key(db: AsyncSession, actor: Actor, group_id: uuid.UUID, key_id: uuid.UUID) -> None:
    require(actor, Capability.API_KEYS, group_id)
    revoked = await db.scalar(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.group_id == group_id)
        .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
        .returning(ApiKey.id)
    )
    if revoked is None:
        raise not_found("API key")
    await audit.record(db, actor, "api_key.revoked", target_type="api_key", target_id=key_id, group_id=group_id)
