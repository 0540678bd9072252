"""Who is calling: a login session's bearer token or a partner's API key, resolved in one statement.

This runs on every authenticated request, so it uses the asyncpg fast path (core/db.py) and
returns everything authorization needs (the caller's memberships) in that one round trip.
"""

import uuid
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from app.config import get_settings
from app.core import rate_limit, test_mode, tokens
from app.core.db import Reader, get_reader
from app.core.errors import Problem


@dataclass(frozen=True, slots=True)
class GroupRole:
    group_id: uuid.UUID
    group_name: str
    is_owner: bool = False
    is_admin: bool = False
    is_provider: bool = False
    via_api_key: bool = False
    # A6: the group's `require_two_factor_for_admins`, read in the same lookup (authz decides with it).
    admins_need_two_factor: bool = False
    # X7, API keys only: the key's scopes (None: a key made before scopes, which keeps what keys always had),
    # whether its creator is still the group's owner or an admin (a key never exceeds its creator), and
    # whether it acts on the group's test-mode copy.
    key_scopes: frozenset[str] | None = None
    creator_is_admin: bool = False
    test_mode: bool = False

    @property
    def roles(self) -> list[str]:
        if self.via_api_key:
            return ["integration"]
        flags = (("owner", self.is_owner), ("admin", self.is_admin), ("provider", self.is_provider))
        return [name for name, held in flags if held]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: Literal["user", "api_key"]
    id: uuid.UUID
    memberships: dict[uuid.UUID, GroupRole]
    is_staff: bool = False
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_verified: bool = False
    session_id: uuid.UUID | None = None
    api_key_name: str | None = None
    two_factor: bool = False  # A6: the person has confirmed two-factor sign-in
    enrol_only: bool = False  # A6: a staff login without two-factor, good only for enrolling
    writes: bool = True  # X7: the request is not a GET/HEAD (a `read`-scoped key may only read)
    rate_limit: int | None = None  # X7: an API key's requests per minute (None: the setting's default)

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.id if self.kind == "user" else None

    @property
    def principal(self) -> str:
        return f"{self.kind}:{self.id}"


_SESSION_LOOKUP = """
SELECT s.id AS session_id, s.enrol_only,
       s.last_seen_at < now() - interval '1 minute' AS stale,
       u.id, u.email, u.first_name, u.last_name, u.email_verified_at IS NOT NULL AS verified, u.is_staff,
       u.totp_enabled_at IS NOT NULL AS two_factor,
       (SELECT coalesce(json_agg(json_build_array(m.group_id, g.name, m.is_owner, m.is_admin, m.is_provider,
                                                  g.require_two_factor_for_admins)), '[]')
          FROM memberships m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = u.id AND m.ended_at IS NULL) AS memberships
  FROM auth_sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
   AND s.last_seen_at > now() - make_interval(mins => $2)
"""
# Sliding idle expiry, written at most once a minute per session rather than on every request.
_SESSION_TOUCH = "UPDATE auth_sessions SET last_seen_at = now() WHERE id = $1"

# X7: a test key acts on the live group's test-mode copy (NULL until it exists: the key then reaches nothing);
# the creator's current admin power in the live group (membership, verified email, two-factor when the group
# requires it of admins: what authz.require would ask of them) is the key's ceiling, read in the same statement.
_API_KEY_LOOKUP = """
SELECT k.id, k.name, k.mode, k.scopes, k.rate_limit_per_minute,
       CASE WHEN k.mode = 'test' THEN t.id ELSE g.id END AS group_id,
       CASE WHEN k.mode = 'test' THEN t.name ELSE g.name END AS group_name,
       coalesce((c.is_owner OR c.is_admin) AND cu.email_verified_at IS NOT NULL
                AND (NOT g.require_two_factor_for_admins OR cu.totp_enabled_at IS NOT NULL), false) AS creator_is_admin,
       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale
  FROM api_keys k JOIN groups g ON g.id = k.group_id
  LEFT JOIN groups t ON k.mode = 'test' AND t.live_group_id = k.group_id
  LEFT JOIN memberships c ON c.group_id = k.group_id AND c.user_id = k.created_by_user_id AND c.ended_at IS NULL
  LEFT JOIN users cu ON cu.id = c.user_id
 WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""
_API_KEY_TOUCH = "UPDATE api_keys SET last_used_at = now() WHERE id = $1"

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token",
    scheme_name="BearerToken",
    description="A login session token from `POST /v1/auth/token`, or an API key (`ck_...`).",
    auto_error=False,
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", description="A group's partner API key (`ck_...`).", auto_error=False
)


def unauthenticated(detail: str = "Send a valid bearer token or API key.") -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(reader: Reader, secret: str) -> Actor | None:
    if secret.startswith(tokens.API_KEY_PREFIX):
        return await _api_key_actor(reader, secret)
    if secret.startswith(tokens.SESSION_PREFIX):
        return await _session_actor(reader, secret)
    return None


async def _session_actor(reader: Reader, secret: str) -> Actor | None:
    row = await reader.fetchrow(_SESSION_LOOKUP, tokens.digest(secret), get_settings().session_idle_minutes)
    if row is None:
        return None
    if row["stale"]:
        await reader.execute(_SESSION_TOUCH, row["session_id"])
    memberships = {
        uuid.UUID(group_id): GroupRole(uuid.UUID(group_id), name, owner, admin, provider, False, needs_2fa)
        for group_id, name, owner, admin, provider, needs_2fa in row["memberships"]
    }
    return Actor(
        kind="user",
        id=row["id"],
        memberships=memberships,
        is_staff=row["is_staff"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email_verified=row["verified"],
        session_id=row["session_id"],
        two_factor=row["two_factor"],
        enrol_only=row["enrol_only"],
    )


async def _api_key_actor(reader: Reader, secret: str) -> Actor | None:
    row = await reader.fetchrow(_API_KEY_LOOKUP, tokens.digest(secret))
    if row is None:
        return None
    if row["stale"]:
        await reader.execute(_API_KEY_TOUCH, row["id"])
    memberships = {}
    if row["group_id"] is not None:
        role = GroupRole(
            row["group_id"],
            row["group_name"],
            via_api_key=True,
            key_scopes=None if row["scopes"] is None else frozenset(row["scopes"]),
            creator_is_admin=row["creator_is_admin"],
            test_mode=row["mode"] == "test",
        )
        memberships[role.group_id] = role
    return Actor(
        kind="api_key", id=row["id"], memberships=memberships, api_key_name=row["name"], rate_limit=row["rate_limit_per_minute"]
    )


async def current_actor(
    request: Request,
    bearer: Annotated[str | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
    reader: Annotated[Reader, Depends(get_reader)],
) -> Actor:
    secret = bearer or api_key
    if not secret:
        raise unauthenticated()
    actor = await authenticate(reader, secret)
    if actor is None:
        raise unauthenticated("The token or API key is unknown, expired or revoked. Log in again.")
    if actor.enrol_only and request.url.path != "/v1/me" and not request.url.path.startswith(ENROL_ONLY_PATHS):
        raise Problem(
            403,
            "two_factor_required",
            "Staff accounts need two-factor sign-in. Enrol with POST /v1/me/two-factor and confirm with "
            "POST /v1/me/two-factor/confirm; this login then works everywhere.",
        )
    if actor.kind == "api_key":
        actor = replace(actor, writes=request.method not in _READS)
        await rate_limit.check(request, actor.id, actor.rate_limit)
        if any(role.test_mode for role in actor.memberships.values()):
            test_mode.enter()
    request.state.actor = actor
    return actor


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


# What a staff login without two-factor may reach (A6): enough to see who it is, enrol, and log out.
ENROL_ONLY_PATHS = ("/v1/me/two-factor", "/v1/auth/logout", "/v1/me/logins")


async def person_actor(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    if actor.kind != "user":
        raise Problem(403, "people_only", "This is for people: log in instead of using an API key.")
    return actor


async def staff_actor(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    if not actor.is_staff:
        raise Problem(403, "staff_only", "This operation is for Caseload staff.")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
PersonActor = Annotated[Actor, Depends(person_actor)]
StaffActor = Annotated[Actor, Depends(staff_actor)]
