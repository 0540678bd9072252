"""Cursor pagination: `?limit=&cursor=` -> `{"items": [...], "next_cursor": ...}`.

Keyset, not offset: a page costs the same at row 100,000 as at row 0, and rows inserted meanwhile
do not shift pages. The cursor is the last row's sort key, sealed (R4): a sort key may be a client's name,
and URLs end up in proxies, browser history and logs. AES-GCM with the app's keys (app/core/crypto.py), bound
to the path of the list that issued it (associated data) and carrying an expiry: a forged, edited, foreign or
old cursor is a 422 `invalid_cursor`.
"""

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from cryptography.exceptions import InvalidTag
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core import clock, crypto
from app.core.errors import Problem
from app.core.middleware import current_request

MAX_PAGE_SIZE = 200
# Long enough to page through any list at a reader's pace, short enough that a cursor copied out of a log
# or a history stops working.
CURSOR_TTL_SECONDS = 24 * 3600
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the previous page.")] = None,
) -> PageParams:
    # A coroutine: FastAPI runs a plain `def` dependency in a worker thread, a hop on every list request.
    # An empty `?cursor=` (a client that sends the last page's null as text) means the first page.
    return PageParams(limit=limit, cursor=cursor or None)


PageQuery = Annotated[PageParams, Depends(page_params)]


def _purpose(scope: str | None) -> str:
    # The list a cursor belongs to: by default the request's path (which names the group, client, ...).
    if scope is None:
        request = current_request.get()
        scope = request.path if request else ""
    return "cursor:" + scope


def encode_cursor(values: list[Any], *, scope: str | None = None) -> str:
    expires = int(clock.now().timestamp()) + CURSOR_TTL_SECONDS
    sealed = crypto.encrypt(orjson.dumps([expires, values], default=str).decode(), purpose=_purpose(scope))
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, *, scope: str | None = None) -> list[Any]:
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        expires, values = orjson.loads(crypto.decrypt(sealed, purpose=_purpose(scope)))
    except (ValueError, TypeError, InvalidTag):  # not base64, not ours, edited, another list's, not a pair
        raise invalid_cursor() from None
    if not isinstance(expires, int) or not isinstance(values, list) or len(values) != arity:
        raise invalid_cursor()
    if expires < clock.now().timestamp():
        raise invalid_cursor(expired=True)
    return values


def invalid_cursor(*, expired: bool = False) -> Problem:
    if expired:
        return Problem(
            422,
            "invalid_cursor",
            "The cursor has expired. Start again without a cursor.",
            errors=[{"field": "query.cursor", "message": "expired cursor"}],
        )
    return Problem(
        422,
        "invalid_cursor",
        "The cursor is not one this endpoint issued. Start again without a cursor.",
        errors=[{"field": "query.cursor", "message": "unknown cursor"}],
    )


async def paginate(
    db: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    *,
    keys: tuple[InstrumentedAttribute[Any], ...],
    descending: bool = False,
    rows: bool = False,
) -> tuple[list[Any], str | None]:
    """Run `stmt` one page at a time, ordered by `keys` (unique together).

    `stmt` selects ORM entities; with `rows=True` it selects columns (the keys among them) and each
    item is a row.
    """
    columns = tuple_(*keys)
    if params.cursor:
        after = decode_cursor(params.cursor, len(keys))
        bound = tuple_(*(_typed(key, value) for key, value in zip(keys, after)))
        stmt = stmt.where(columns < bound if descending else columns > bound)
    order = [key.desc() for key in keys] if descending else list(keys)
    stmt = stmt.order_by(*order).limit(params.limit + 1)
    items = list((await db.execute(stmt)).all() if rows else (await db.scalars(stmt)).all())
    if len(items) <= params.limit:
        return items, None
    items = items[: params.limit]
    return items, encode_cursor([getattr(items[-1], key.key) for key in keys])


def _typed(key: InstrumentedAttribute[Any], value: Any) -> Any:
    # The cursor went through JSON: give timestamps and UUIDs their types back, and refuse forged values.
    python_type = key.type.python_type
    try:
        if python_type is datetime:
            value = datetime.fromisoformat(value)
        elif python_type is uuid.UUID:
            value = uuid.UUID(value)
        elif python_type is int and not isinstance(value, int):
            raise TypeError
    except (TypeError, ValueError, AttributeError):  # AttributeError: a number where text was issued
        raise invalid_cursor() from None
    return literal(value, key.type)
