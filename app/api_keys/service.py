"""Partner API keys (A3, X7): scoped to one group, shown once at creation, stored as a hash, revocable;
scopes no wider than the creator's rights, a rate limit, and a test mode acting on a test-mode copy."""

import uuid

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit, tokens
from app.core.auth import Actor
from app.core.authz import CAPABILITIES, READ_SCOPE, Capability, Reach, key_may_hold, membership, reach, require
from app.core.errors import Problem, not_found
from app.core.pagination import PageParams, paginate
from app.models import ApiKey

DISPLAY_PREFIX_LEN = 12  # `ck_live_` and four characters


def check_scopes(actor: Actor, group_id: uuid.UUID, scopes: list[str]) -> list[str]:
    """Known scopes a key can hold, each within what the creator may do in the group (X7)."""
    role = membership(actor, group_id)
    chosen: list[str] = []
    for scope in scopes:
        if scope == READ_SCOPE:
            chosen.append(scope)
            continue
        try:
            capability = Capability(scope)
        except ValueError:
            capability = None
        if capability is None or not key_may_hold(capability):
            holdable = ", ".join([READ_SCOPE] + [c.value for c in Capability if key_may_hold(c)])
            raise Problem(
                422,
                "unknown_scope",
                f"'{scope}' is not a scope an API key can hold. Choose from: {holdable}.",
                scope=scope,
            )
        if reach(role, CAPABILITIES[capability]) is not Reach.GROUP:
            raise Problem(
                403,
                "scope_exceeds_creator",
                f"You cannot give a key '{scope}': you may not do it yourself in this group. Leave it out, or ask "
                "the owner to create the key.",
                scope=scope,
            )
        chosen.append(scope)
    return sorted(set(chosen))


def check_rate_limit(requested: int | None) -> int | None:
    ceiling = get_settings().api_key_rate_limit_max
    if requested is not None and requested > ceiling:
        raise Problem(
            422,
            "rate_limit_too_high",
            f"A key may make at most {ceiling} requests per minute. Ask for {ceiling} or fewer.",
            maximum=ceiling,
        )
    return requested


_TEST_COPY = text("""
INSERT INTO groups (id, name, time_zone, shown_in_search, intake_session_minutes, client_age_min, client_age_max,
                    booking_preferences, contact_email, contact_phone, require_two_factor_for_admins, live_group_id)
SELECT gen_random_uuid(), name, time_zone, false, intake_session_minutes, client_age_min, client_age_max,
       booking_preferences, contact_email, contact_phone, require_two_factor_for_admins, id
  FROM groups WHERE id = :live AND live_group_id IS NULL
ON CONFLICT (live_group_id) DO NOTHING
""")


async def test_mode_group(db: AsyncSession, group_id: uuid.UUID) -> uuid.UUID:
    """The group's test-mode copy, made on the first test key: its settings, none of its people or clients,
    never listed in search (shown_in_search false)."""
    await db.execute(_TEST_COPY, {"live": group_id})
    copy = await db.scalar(text("SELECT id FROM groups WHERE live_group_id = :live"), {"live": group_id})
    assert copy is not None
    return copy


async def create_api_key(
    db: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    *,
    name: str,
    scopes: list[str],
    mode: str = "live",
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str, uuid.UUID]:
    require(actor, Capability.API_KEYS, group_id)
    chosen = check_scopes(actor, group_id, scopes)
    check_rate_limit(rate_limit_per_minute)
    acts_on = await test_mode_group(db, group_id) if mode == "test" else group_id
    secret = tokens.new_api_key(mode)
    key = ApiKey(
        id=uuid.uuid4(),
        group_id=group_id,
        name=name,
        display_prefix=secret[:DISPLAY_PREFIX_LEN],
        key_hash=tokens.digest(secret),
        created_by_user_id=actor.user_id,
        mode=mode,
        scopes=chosen,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    db.add(key)
    await db.flush()
    await db.refresh(key)
    await audit.record(db, actor, "api_key.created", target_type="api_key", target_id=key.id, group_id=group_id)
    return key, secret, acts_on


async def acting_groups(db: AsyncSession, group_id: uuid.UUID) -> dict[str, uuid.UUID]:
    copy = await db.scalar(text("SELECT id FROM groups WHERE live_group_id = :live"), {"live": group_id})
    return {"live": group_id} | ({"test": copy} if copy is not None else {})


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
