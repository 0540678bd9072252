"""R3: reading a group's audit log. Admins (and the group's API keys) only; each read is itself recorded."""

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson

from app.audit import queries
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.db import Reader
from app.core.middleware import current_request
from app.core.pagination import PageParams, decode_cursor, encode_cursor, invalid_cursor

CSV_BATCH = 1000


def _reader_row(actor: Actor, group_id: uuid.UUID, filters: dict[str, Any], fmt: str) -> list[Any]:
    request = current_request.get()
    details: dict[str, Any] = {"filters": sorted(filters), "format": fmt}
    if "client_id" in filters:
        details["client_id"] = str(filters["client_id"])  # the client looked up: found by the client filter too
    return [
        actor.user_id,
        actor.id if actor.kind == "api_key" else None,
        request.ip if request else None,
        request.request_id if request else None,
        orjson.dumps(details).decode(),
    ]


def _cursor_values(cursor: str) -> tuple[datetime, int]:
    at, event_id = decode_cursor(cursor, 2)
    if not isinstance(at, str) or not isinstance(event_id, int) or isinstance(event_id, bool):
        raise invalid_cursor()
    try:
        after = datetime.fromisoformat(at)
    except ValueError:
        raise invalid_cursor() from None
    if after.tzinfo is None:
        raise invalid_cursor()
    return after, event_id


def _document(row: Any) -> dict[str, Any]:
    item = dict(row)
    if isinstance(item["details"], str):
        item["details"] = orjson.loads(item["details"])
    return item


async def list_events(
    reader: Reader, actor: Actor, group_id: uuid.UUID, filters: dict[str, Any], page: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    require(actor, Capability.AUDIT_LOG, group_id)
    names = list(filters)
    args: list[Any] = [group_id, *_reader_row(actor, group_id, filters, "json"), *filters.values()]
    if page.cursor:
        args.extend(_cursor_values(page.cursor))
    sql = queries.page_statement(names, after=page.cursor is not None, size=page.limit + 1, record=True)
    rows = [_document(row) for row in await reader.fetch(sql, *args)]
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor([rows[-1]["at"].isoformat(), rows[-1]["id"]])


async def start_export(reader: Reader, actor: Actor, group_id: uuid.UUID, filters: dict[str, Any]) -> None:
    """Checks the capability and records the export before the first byte is sent."""
    require(actor, Capability.AUDIT_LOG, group_id)
    await reader.execute(queries.record_statement(), group_id, *_reader_row(actor, group_id, filters, "csv"))


async def export_csv(reader: Reader, group_id: uuid.UUID, filters: dict[str, Any]) -> AsyncIterator[bytes]:
    """Every matching event, newest first, as CSV: keyset batches, so memory stays flat however long the log."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(queries.CSV_COLUMNS)
    names = list(filters)
    after: tuple[datetime, int] | None = None
    while True:
        sql = queries.page_statement(names, after=after is not None, size=CSV_BATCH, record=False)
        rows = await reader.fetch(sql, group_id, *filters.values(), *(after or ()))
        for row in rows:
            values = dict(row)
            details = values["details"]
            values["details"] = details if isinstance(details, str) else orjson.dumps(details).decode()
            values["at"] = values["at"].isoformat()
            writer.writerow([queries.csv_cell(values[name]) for name in queries.CSV_COLUMNS])
        if buffer.tell():
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if len(rows) < CSV_BATCH:
            return
        after = (rows[-1]["at"], rows[-1]["id"])
