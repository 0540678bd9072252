"""X2: `Idempotency-Key` on every POST that creates something, sends mail or moves money.

The route class (core/routing.py) puts the guard on every POST except the few in `NOT_IDEMPOTENT`.
Same caller, key and request -> the first response, replayed. Same key, another request -> 422.
The first still running -> 409. The stored response is written in the same transaction as the
work it answers, so a crash leaves neither: the retry simply runs again. "The same request" is the
parsed request (core/request_fingerprint.py), so a re-serialised body or a new multipart boundary replays.
Stored responses may hold PHI (a created client): they are encrypted at rest, bound to caller and key.
Anonymous POSTs (a booking-link sign-up) are scoped by the key alone, for a short while.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.params import Depends as DependsParam
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.config import get_settings
from app.core import crypto
from app.core.auth import CurrentActor
from app.core.db import DB
from app.core.errors import Problem
from app.core.request_fingerprint import canonical_request
from app.models import IdempotencyRecord

# POSTs that take no Idempotency-Key, and why: they create, mail and move nothing a retry could repeat,
# or their answer is a credential that must not be stored.
NOT_IDEMPOTENT = {
    "/v1/auth/token": "signs in; the answer is a credential",
    "/v1/auth/token/two-factor": "signs in; the answer is a credential",
    "/v1/auth/logout": "ends a login; repeating it changes nothing",
    "/v1/auth/logout-everywhere": "ends logins; repeating it changes nothing",
    "/v1/auth/verify-email": "spends a one-time token; a retry is told it was used",
    "/v1/auth/password-reset/confirm": "spends a one-time token; the body holds a password",
    "/v1/me/password": "changes a credential; the body holds passwords",
    "/v1/me/two-factor": "the answer is a second-factor secret",
    "/v1/me/two-factor/confirm": "the answer is recovery codes",
    "/v1/me/two-factor/recovery-codes": "the answer is recovery codes",
    "/v1/me/two-factor/disable": "changes a credential",
}
ANONYMOUS = "anonymous"

# Response headers worth replaying; the rest (dates, request ids) belong to each response.
_REPLAYED_HEADERS = ("content-type", "location")


@dataclass(frozen=True, slots=True)
class PendingKey:
    principal: str
    key: str
    fingerprint: bytes
    lifetime: timedelta


class IdempotentReplay(Exception):
    """Raised to answer with the stored response; carries plain values (the session rolls back)."""

    def __init__(self, record: IdempotencyRecord):
        self.status_code = record.status_code
        self.body = crypto.decrypt_bytes(record.response_body, purpose=_purpose(record.principal, record.key))
        self.headers = dict(record.response_headers)


_KEY_HEADER = Header(
    alias="Idempotency-Key",
    min_length=1,
    max_length=255,
    # Visible ASCII only: a key is an opaque token (a UUID, say), and control bytes have no place in one.
    pattern=r"^[\x21-\x7e]+$",
    description="Retry-safe key (kept at least 24 hours; one hour without credentials): a retry with the same "
    "key and the same request (JSON compared after parsing; multipart by fields and file hashes) returns the "
    "first response with `Idempotent-Replayed: true`; the same key with another request is refused (422).",
)


async def idempotency_guard(
    request: Request,
    db: DB,
    actor: CurrentActor,
    idempotency_key: Annotated[str | None, _KEY_HEADER] = None,
) -> None:
    if idempotency_key is not None:
        lifetime = timedelta(hours=get_settings().idempotency_ttl_hours)
        await _claim(request, db, actor.principal, idempotency_key, lifetime)


async def anonymous_idempotency_guard(
    request: Request,
    db: DB,
    idempotency_key: Annotated[str | None, _KEY_HEADER] = None,
) -> None:
    if idempotency_key is not None:
        # A public route may still be called signed in (booking as oneself): such a caller's keys are
        # theirs, told apart by a digest of the credential (no lookup: the route authenticates later).
        credential = request.headers.get("authorization")
        principal = ANONYMOUS if credential is None else "credential:" + hashlib.sha256(credential.encode()).hexdigest()[:40]
        lifetime = timedelta(minutes=get_settings().idempotency_anonymous_ttl_minutes)
        await _claim(request, db, principal, idempotency_key, lifetime)


async def _claim(request: Request, db: DB, principal: str, idempotency_key: str, lifetime: timedelta) -> None:
    body = await request.body()
    canonical = canonical_request(
        request.method, request.url.path, request.query_params.multi_items(), request.headers.get("content-type", ""), body
    )
    fingerprint = crypto.keyed_digest(canonical, purpose="idempotency")
    # Held until this transaction ends: a concurrent duplicate sees the key busy instead of racing it.
    lock_id = int.from_bytes(hashlib.sha256(f"{principal}\0{idempotency_key}".encode()).digest()[:8], "big", signed=True)
    if not await db.scalar(select(func.pg_try_advisory_xact_lock(lock_id))):
        raise Problem(
            409,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still being processed. Retry in a moment.",
            headers={"Retry-After": "1"},
        )
    record = await db.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == idempotency_key)
    )
    if record is not None and record.expires_at <= await db.scalar(select(func.now())):
        await db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
        record = None
    if record is not None:
        if record.fingerprint != fingerprint:
            raise Problem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request. Use a new key for a new request.",
                errors=[{"field": "header.idempotency-key", "message": "already used with another request"}],
            )
        raise IdempotentReplay(record)
    request.state.idempotency = PendingKey(principal, idempotency_key, fingerprint, lifetime)


Idempotent = Depends(idempotency_guard)
AnonymousIdempotent = Depends(anonymous_idempotency_guard)


def with_guard(path: str, dependencies: list[DependsParam] | None, *, anonymous: bool) -> list[DependsParam]:
    """A POST's dependencies with the guard first (added once: included routers are rebuilt from these)."""
    dependencies = list(dependencies or [])
    guards = (idempotency_guard, anonymous_idempotency_guard)
    if path in NOT_IDEMPOTENT or any(d.dependency in guards for d in dependencies):
        return dependencies
    return [AnonymousIdempotent if anonymous else Idempotent, *dependencies]


def _purpose(principal: str, key: str) -> str:
    return f"idempotency:{principal}:{key}"


async def store_response(db: AsyncSession, pending: PendingKey, response: Response) -> None:
    headers = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    await db.execute(
        insert(IdempotencyRecord).values(
            principal=pending.principal,
            key=pending.key,
            fingerprint=pending.fingerprint,
            status_code=response.status_code,
            response_body=crypto.encrypt_bytes(bytes(response.body), purpose=_purpose(pending.principal, pending.key)),
            response_headers=headers,
            expires_at=func.now() + pending.lifetime,
        )
    )


def replay_response(exc: IdempotentReplay) -> Response:
    return Response(exc.body, status_code=exc.status_code, headers={**exc.headers, "Idempotent-Replayed": "true"})
