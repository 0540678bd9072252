import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from app.audit import schemas, service
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import Reader, get_reader
from app.core.errors import problem_responses
from app.core.pagination import Page, PageQuery
from app.core.responses import json_response
from app.core.routing import allowed, router

audit_router = router("/v1/groups/{group_id}/audit-events", "audit")


@audit_router.get(
    "", summary="List or export audit events",
    response_model=Page[schemas.AuditEventOut],
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "A page of events (JSON), or every matching event (CSV)."},
    },
    **allowed(Capability.AUDIT_LOG),
)
async def list_audit_events(
    group_id: uuid.UUID,
    request: Request,
    actor: CurrentActor,
    reader: Annotated[Reader, Depends(get_reader)],
    page: PageQuery,
    actor_id: Annotated[uuid.UUID | None, Query(description="Events by this person.")] = None,
    api_key_id: Annotated[uuid.UUID | None, Query(description="Events by this API key.")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Events about this client (reads, changes, refused attempts).")] = None,
    action: Annotated[str | None, Query(max_length=64, description="One action, e.g. `client.read`.")] = None,
    target_type: Annotated[str | None, Query(max_length=32, description="The kind of object, e.g. `session`.")] = None,
    target_id: Annotated[str | None, Query(max_length=64, description="One object's id (with or without `target_type`).")] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from", description="Events at or after this time.")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="Events before this time.")] = None,
    format: Annotated[schemas.AuditFormat | None, Query(description="`csv` exports every matching event "
                                                        "(as `Accept: text/csv` does); default a JSON page.")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The group's audit log, newest first: who read or changed which record, when and from where, and the
    attempts that were refused. Filters combine. Events carry ids, never names or clinical content. Every event
    is chained by hash to the one before it in the group, so an edited or removed event is detected. Reading
    the log is itself recorded."""
    given = {"actor_id": actor_id, "api_key_id": api_key_id, "client_id": client_id, "action": action,
             "target_type": target_type, "target_id": target_id, "start": start, "end": end}
    filters: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    if format == "csv" or (format is None and accept is not None and "text/csv" in accept):
        await service.start_export(reader, actor, group_id, filters)
        return StreamingResponse(
            service.export_csv(reader, group_id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
        )
    items, next_cursor = await service.list_events(reader, actor, group_id, filters, page)
    return json_response({"items": items, "next_cursor": next_cursor})
