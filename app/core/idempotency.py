"""X2: `Idempotency-Key` on POSTs that create something or move money.

Same caller, key and request -> the first response, replayed. Same key, another request -> 422.
The first still running -> 409. The stored response is written in the same transaction as the
work it answers, so a crash leaves neither: the retry simply runs again.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.config import get_settings
from app.core.auth import CurrentActor
from app.core.db import DB
from app.core.errors import Problem
from app.models import IdempotencyRecord

# Response headers worth replaying; the rest (dates, request ids) belong to each response.
_REPLAYED_HEADERS = ("content-type", "location")


@dataclass(frozen=True, slots=True)
class PendingKey:
    principal: str
    key: str
    fingerprint: bytes


class IdempotentReplay(Exception):
    """Raised to answer with the stored response; carries plain values (the session rolls back)."""

    def __init__(self, record: IdempotencyRecord):
        self.status_code = record.status_code
        self.body = record.response_body
        self.headers = dict(record.response_headers)


async def idempotency_guard(
    request: Request,
    db: DB,
    actor: CurrentActor,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            # Visible ASCII only: a key is an opaque token (a UUID, say), and control bytes have no place in one.
            pattern=r"^[\x21-\x7e]+$",
            description="Retry-safe key (kept at least 24 hours): a retry with the same key and body "
            "returns the first response; the same key with another body is refused (422).",
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    body = await request.body()
    fingerprint = hashlib.sha256(b"\0".join([request.method.encode(), request.url.path.encode(), body])).digest()
    principal = actor.principal
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
    request.state.idempotency = PendingKey(principal, idempotency_key, fingerprint)


Idempotent = Depends(idempotency_guard)


async def store_response(db: AsyncSession, pending: PendingKey, response: Response) -> None:
    headers = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    await db.execute(
        insert(IdempotencyRecord).values(
            principal=pending.principal,
            key=pending.key,
            fingerprint=pending.fingerprint,
            status_code=response.status_code,
            response_body=bytes(response.body),
            response_headers=headers,
            expires_at=func.now() + timedelta(hours=get_settings().idempotency_ttl_hours),
        )
    )


def replay_response(exc: IdempotentReplay) -> Response:
    return Response(exc.body, status_code=exc.status_code, headers={**exc.headers, "Idempotent-Replayed": "true"})
