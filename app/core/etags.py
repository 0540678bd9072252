"""X6: `ETag`, `If-None-Match` and `If-Match` on resources two people may edit.

Any single-object GET whose path also takes PATCH, PUT or DELETE is such a resource (a client, a session,
the settings, the rates, a profile ...): `install()` finds them once the routers are included.
- The GET answers a strong ETag, a hash of its canonical JSON body, and 304 when `If-None-Match` holds it.
- A write to the path first takes a transaction lock on the path, so writers go one at a time; with
  `If-Match`, it then computes the current representation by running the GET route inside its own
  transaction (the lock holder's change is committed by then) and refuses a mismatch with 412,
  the current ETag in the `ETag` header and in `current_etag`. `If-Match: *` needs only that one exists.
- The write's answer carries the new ETag when it is the same representation as the GET's.
"""

import base64
import hashlib
import re
from collections.abc import Iterable
from contextlib import AsyncExitStack
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from app.core.db import DB, SHARED_DB_SCOPE_KEY
from app.core.errors import Problem, problem_responses

WRITES = ("PATCH", "PUT", "DELETE")
_TAG = re.compile(r'(W/)?"([^"]*)"')
# Headers of the write that must not reach the GET run for its representation.
_DROPPED = {b"if-match", b"if-none-match", b"content-type", b"content-length", b"idempotency-key"}


def etag_of(body: bytes) -> str:
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()[:18]).decode() + '"'


def _tags(header: str) -> list[tuple[bool, str]]:
    return [(bool(weak), f'"{opaque}"') for weak, opaque in _TAG.findall(header)]


def none_match(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison; `*` matches any current representation."""
    return header.strip() == "*" or any(tag == etag for _, tag in _tags(header))


def if_match(header: str, etag: str | None) -> bool:
    """If-Match: strong comparison (a weak tag never matches); `*` needs a current representation."""
    if etag is None:
        return False
    return header.strip() == "*" or any(tag == etag and not weak for weak, tag in _tags(header))


def on_read(route: APIRoute, request: Request, response: Response) -> Response:
    """The GET's answer with its ETag, or 304 when the caller already holds it."""
    if response.status_code != 200:
        return response
    etag = etag_of(bytes(response.body))
    response.headers["ETag"] = etag
    held = request.headers.get("if-none-match")
    if held is not None and none_match(held, etag):
        kept = {name: value for name, value in response.headers.items() if name not in ("content-length", "content-type")}
        return Response(status_code=304, headers=kept)
    return response


def on_write(route: APIRoute, response: Response) -> Response:
    source = getattr(route, "etag_source", None)
    if source is not None and response.status_code == 200 and route.response_model is source.response_model:
        response.headers["ETag"] = etag_of(bytes(response.body))
    return response


async def if_match_guard(request: Request, db: DB) -> None:
    """On every PATCH/PUT/DELETE (the route class adds it); acts on those whose path has a GET."""
    source: APIRoute | None = getattr(request.scope.get("route"), "etag_source", None)
    if source is None:
        return
    # One writer of this representation at a time, until commit: a second PATCH with the same If-Match
    # waits here and then sees the first one's change (READ COMMITTED), so they never both succeed.
    lock_id = int.from_bytes(hashlib.sha256(b"etag\0" + request.url.path.encode()).digest()[:8], "big", signed=True)
    await db.execute(select(func.pg_advisory_xact_lock(lock_id)))
    expected = request.headers.get("if-match")
    if expected is None:
        return
    current = await current_etag(source, request, db)
    if if_match(expected, current):
        return
    if current is None:
        raise Problem(
            412, "precondition_failed",
            "There is nothing here yet to match If-Match. Send the request without If-Match to create it.",
            current_etag=None,
        )
    raise Problem(
        412, "precondition_failed",
        "Someone changed this since you read it. Read it again (its current ETag is in the ETag header), "
        "reapply your change, and send it with If-Match set to that ETag.",
        headers={"ETag": current},
        current_etag=current,
    )


async def current_etag(source: APIRoute, request: Request, db: DB) -> str | None:
    """The ETag a GET of this path would answer now, computed by the GET route inside this transaction."""
    scope = {
        **request.scope,
        "method": "GET",
        "query_string": b"",
        "headers": [(name, value) for name, value in request.scope["headers"] if name not in _DROPPED],
        "state": dict(request.scope.get("state") or {}),
        "route": source,
        "endpoint": source.endpoint,
        SHARED_DB_SCOPE_KEY: db,
    }
    async with AsyncExitStack() as stack:
        scope.update(fastapi_middleware_astack=stack, fastapi_inner_astack=stack, fastapi_function_astack=stack)
        try:
            response = await source.handle_request(Request(scope, receive=_no_body))  # type: ignore[attr-defined]
        except Problem as refused:
            if refused.status == 404 and request.method == "PUT":
                return None  # a PUT that would create it
            raise
    return response.headers.get("etag") if response.status_code == 200 else None


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def install(routes: Iterable[BaseRoute]) -> None:
    """Marks the GETs that answer ETags and the writes that honour If-Match, and documents both.

    The routes are the routers' own (FastAPI serves them as they are), so a second app marks nothing twice.
    """
    by_path: dict[str, dict[str, APIRoute]] = {}
    for route in routes:
        if isinstance(route, APIRoute) and not getattr(route, "etag", False) and getattr(route, "etag_source", None) is None:
            for method in route.methods:
                by_path.setdefault(route.path, {})[method] = route
    for methods in by_path.values():
        read = methods.get("GET")
        writes = [methods[m] for m in WRITES if m in methods]
        if read is None or not writes or _streamed(read):
            continue  # a streamed download (a document's bytes) is not a representation a PATCH edits
        read.etag = True  # type: ignore[attr-defined]
        read.openapi_extra = _merged(read.openapi_extra, _READ_DOCS)
        for write in writes:
            write.etag_source = read  # type: ignore[attr-defined]
            docs = _write_docs(same_representation=write.response_model is read.response_model)
            write.openapi_extra = _merged(write.openapi_extra, docs)


def _streamed(route: APIRoute) -> bool:
    response_class = getattr(route.response_class, "value", route.response_class)  # FastAPI's DefaultPlaceholder
    return isinstance(response_class, type) and issubclass(response_class, StreamingResponse)


_ETAG_HEADER = {
    "description": "Strong entity tag of this representation: send it back in If-Match when you change the "
    "resource, or in If-None-Match to read it only if it changed.",
    "schema": {"type": "string", "example": '"3q2-7wEjRWeJq83vASNFZ4mr"'},
}
_READ_DOCS: dict[str, Any] = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "An ETag you hold: if it is still current, the answer is 304 with no body.",
        }
    ],
    "responses": {
        "200": {"headers": {"ETag": _ETAG_HEADER}},
        "304": {"description": "Not Modified: the ETag in If-None-Match is still current.", "headers": {"ETag": _ETAG_HEADER}},
    },
}


def _write_docs(*, same_representation: bool) -> dict[str, Any]:
    precondition = problem_responses(412)[412]
    responses: dict[str, Any] = {
        "412": {
            **precondition,
            "description": "Precondition Failed (`precondition_failed`): the resource changed since the ETag in "
            "If-Match was read. The current ETag is in the ETag header and in `current_etag`.",
            "headers": {"ETag": {**_ETAG_HEADER, "description": "The current ETag."}},
        }
    }
    if same_representation:
        responses["200"] = {"headers": {"ETag": {**_ETAG_HEADER, "description": "The ETag of the changed resource."}}}
    return {
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The ETag of the version you read (from its GET): the change is refused with 412 if "
                "someone changed it since. `*` requires only that it exists.",
            }
        ],
        "responses": responses,
    }


def _merged(extra: dict[str, Any] | None, docs: dict[str, Any]) -> dict[str, Any]:
    """A new dict (routes of an included router share theirs with the router's own)."""
    merged = dict(extra or {})
    merged["parameters"] = [*merged.get("parameters", []), *docs["parameters"]]
    responses = {str(k): dict(v) for k, v in (merged.get("responses") or {}).items()}
    for status, doc in docs["responses"].items():
        responses[status] = {**responses.get(status, {}), **doc}
    merged["responses"] = responses
    return merged
