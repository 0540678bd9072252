"""R2: the audit log. Written in the same transaction as the change it records, so neither exists alone.

Record ids and field names only: a reader of the audit log learns who touched which record, not its content.
"""

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Actor
from app.core.middleware import current_request
from app.models import AuditEvent


async def record(
    db: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    group_id: uuid.UUID | None = None,
    outcome: str = "success",
    **details: Any,
) -> None:
    request = current_request.get()
    await db.execute(
        insert(AuditEvent).values(
            actor_user_id=actor.user_id if actor else None,
            actor_api_key_id=actor.id if actor and actor.kind == "api_key" else None,
            actor_ip=request.ip if request else None,
            request_id=request.request_id if request else None,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            group_id=group_id,
            outcome=outcome,
            details=details,
        )
    )
