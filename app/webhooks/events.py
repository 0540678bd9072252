"""`emit`: record that something happened in a group, in the transaction of the change itself.

One statement writes the event and one pending delivery per enabled endpoint of the group that subscribed
to its type, so an event exists exactly when its change was committed, and the worker's dispatcher sends it
after commit. Callers pass ids and the names of the changed fields, never values (no PHI in payloads).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.webhooks.catalogue import CATALOGUE, PING, spec

# The per-object sequence reads the object's last one: changes to one object are serialised by the row
# lock its own update takes, so two transactions do not both take the same number for it.
_EMIT = text(
    """
    WITH event AS (
        INSERT INTO webhook_events (id, group_id, type, object_id, sequence, data)
        VALUES (:event_id, :group_id, :type, :object_id,
                (SELECT coalesce(max(sequence), 0) + 1 FROM webhook_events WHERE object_id = :object_id), :data)
        RETURNING id
    )
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT e.id, event.id FROM webhook_endpoints e, event
    WHERE e.group_id = :group_id AND e.enabled
      AND CASE WHEN CAST(:only_endpoint AS uuid) IS NULL THEN CAST(:type AS varchar) = ANY(e.event_types)
               ELSE e.id = CAST(:only_endpoint AS uuid) END
    """
).bindparams(
    bindparam("event_id", type_=Uuid),
    bindparam("group_id", type_=Uuid),
    bindparam("object_id", type_=Uuid),
    bindparam("only_endpoint", type_=Uuid),
    bindparam("data", type_=JSONB),
)


async def emit(
    db: AsyncSession,
    group_id: uuid.UUID,
    event_type: str,
    object_id: uuid.UUID,
    changed_fields: Iterable[str] = (),
    *,
    only_endpoint: uuid.UUID | None = None,
    **ids: uuid.UUID | None,
) -> uuid.UUID:
    """Record `event_type` about `object_id`; returns the event id. `ids` are the catalogue's ids for the type
    (`provider_id=`, `client_id=`...); `changed_fields` names what changed (`client.updated`)."""
    event_spec = spec(event_type)
    if event_type != PING and event_type not in CATALOGUE:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    unexpected = set(ids) - set(event_spec.ids)
    if unexpected:
        raise ValueError(f"{event_type} carries no {sorted(unexpected)}")
    data: dict[str, Any] = {name: str(value) if value is not None else None for name, value in ids.items()}
    data["changed_fields"] = sorted(changed_fields)
    event_id = uuid.uuid4()
    await db.execute(
        _EMIT,
        {"event_id": event_id, "group_id": group_id, "type": event_type, "object_id": object_id,
         "data": data, "only_endpoint": only_endpoint},
    )
    return event_id


def payload(
    *, event_id: uuid.UUID, event_type: str, group_id: uuid.UUID, object_id: uuid.UUID, sequence: int,
    data: dict[str, Any], created_at: datetime,
) -> dict[str, Any]:
    """The JSON body a receiver gets (described per type in the OpenAPI document's `webhooks`)."""
    ids = {k: v for k, v in data.items() if k != "changed_fields"}
    return {
        "id": str(event_id),
        "type": event_type,
        "created_at": created_at.isoformat(),
        "group_id": str(group_id),
        "object": {"type": spec(event_type).object_type, "id": str(object_id), "sequence": sequence},
        "changed_fields": data.get("changed_fields", []),
        "data": ids,
    }


# `emit` for many objects of one type at once, on the asyncpg connection of a batch job (settlement).
_EMIT_MANY = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS v(object_id, group_id)
), event AS (
    INSERT INTO webhook_events (id, group_id, type, object_id, sequence, data)
    SELECT gen_random_uuid(), i.group_id, $3, i.object_id,
           (SELECT coalesce(max(w.sequence), 0) + 1 FROM webhook_events w WHERE w.object_id = i.object_id), $4::jsonb
      FROM input i
    RETURNING id, group_id
)
INSERT INTO webhook_deliveries (endpoint_id, event_id)
SELECT e.id, event.id FROM event JOIN webhook_endpoints e
    ON e.group_id = event.group_id AND e.enabled AND $3 = ANY(e.event_types)
"""


async def emit_many(
    driver: Any, event_type: str, object_ids: list[uuid.UUID], group_ids: list[uuid.UUID], changed_fields: Iterable[str] = ()
) -> None:
    """`emit` for each (object, group) pair, in one statement on an asyncpg connection, in its transaction."""
    if event_type not in CATALOGUE or spec(event_type).ids:
        raise ValueError(f"{event_type} cannot be emitted in bulk")
    if object_ids:
        import orjson

        await driver.execute(_EMIT_MANY, object_ids, group_ids, event_type,
                             orjson.dumps({"changed_fields": sorted(changed_fields)}).decode())
