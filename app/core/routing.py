"""The route class every router uses, and how a route declares who may call it.

Each route names its capability (`x-capability` in the OpenAPI document, read by the generated
capability-matrix test), so partners see it and a route without one fails the tests.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import Response

from app.config import get_settings
from app.core import etags
from app.core.authz import CAPABILITIES, Capability, Reach
from app.core.errors import problem_response, problem_responses
from app.core.idempotency import store_response, with_guard

# Routes that are not group capabilities say who they are for instead.
PUBLIC = "public"  # no credentials
AUTHENTICATED = "authenticated"  # any logged-in person or API key, about themselves
PERSON = "person"  # any logged-in person, not an API key
STAFF = "staff"  # Caseload staff only


_IF_MATCH = Depends(etags.if_match_guard)


class AppRoute(APIRoute):
    # How many leading path segments of this route's own path (and whether to add the body's id) make the
    # `Location` of what it creates: found once, from the app's GET routes (None: not looked up yet).
    location_shape: tuple[int, bool] | None = None
    # Set by etags.install() once the routers are included (X6).
    etag: bool = False
    etag_source: "AppRoute | None" = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = set(kwargs.get("methods") or ())
        if "POST" in methods:  # X2: every POST takes an Idempotency-Key, but for a short list
            public = (kwargs.get("openapi_extra") or {}).get("x-capability") == PUBLIC
            kwargs["dependencies"] = with_guard(path, kwargs.get("dependencies"), anonymous=public)
        if methods & set(etags.WRITES) and not any(d.dependency is etags.if_match_guard for d in kwargs.get("dependencies") or ()):
            kwargs["dependencies"] = [_IF_MATCH, *(kwargs.get("dependencies") or ())]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            refused = await _control_characters(request)
            if refused is not None:
                return refused
            response = await handler(request)
            if response.status_code == 201 and "location" not in response.headers:
                _add_location(self, request, response)
            # Still inside the request's transaction (the db dependency exits after this returns),
            # so the stored response commits together with the work it describes.
            pending = request.scope["state"].get("idempotency")
            if pending is not None and 200 <= response.status_code < 300:
                await store_response(request.state.db, pending, response)
            if self.etag:
                return etags.on_read(self, request, response)
            if self.etag_source is not None:
                return etags.on_write(self, response)
            return response

        self.handle_request = handle
        return handle


def _location_shape(template: str, app_routes: list[Any]) -> tuple[int, bool]:
    """A 201's `Location` (X1): the created object's own address when the API reads it there
    (`POST /clients` -> `GET /clients/{client_id}`), else the nearest enclosing path the API reads
    (where it is listed, or its owner)."""
    readable = {c.path_format for c in iter_route_contexts(app_routes) if "GET" in (c.methods or ())}
    template = template.rstrip("/")
    segments = template.split("/")
    if any(p.startswith(template + "/{") and p.count("/") == len(segments) for p in readable):
        return len(segments), True
    for keep in range(len(segments), 1, -1):
        if "/".join(segments[:keep]) in readable:
            return keep, False
    return len(segments), False


def _add_location(route: "AppRoute", request: Request, response: Response) -> None:
    if route.location_shape is None:
        matched = request.scope.get("route")
        route.location_shape = _location_shape(getattr(matched, "path_format", route.path_format), request.app.routes)
    keep, with_id = route.location_shape
    location = "/".join(request.url.path.rstrip("/").split("/")[:keep])
    if with_id:
        try:
            created = orjson.loads(bytes(response.body))
        except (AttributeError, orjson.JSONDecodeError):
            return  # a streamed or non-JSON body: the route sets Location itself if it has one
        if not isinstance(created, dict):
            return
        # The created object, or the one object the answer wraps it in (`{"group": {...}, "members": [...]}`).
        created_id = created.get("id") or next((v["id"] for v in created.values() if isinstance(v, dict) and "id" in v), None)
        if created_id is None:
            return
        location = f"{location}/{created_id}"
    response.headers["Location"] = location


# NUL and other control characters (and lone surrogates, which percent-decoding can produce) in a path or
# query parameter or a form field would reach PostgreSQL (which cannot store NUL) or logs; none of ours needs them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


async def _control_characters(request: Request) -> Response | None:
    fields = [f"path.{name}" for name, value in request.path_params.items() if isinstance(value, str) and _CONTROL.search(value)]
    if request.scope.get("query_string"):
        fields += [f"query.{name}" for name, value in request.query_params.multi_items() if _CONTROL.search(name + value)]
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # The login form. Parsed once: Starlette keeps it for the handler. (Multipart uploads are left to
        # their routes, which parse them with their own limits.)
        form = await request.form()
        fields += [f"body.{name}" for name, value in form.multi_items() if isinstance(value, str) and _CONTROL.search(name + value)]
    if not fields:
        return None
    return problem_response(
        422,
        "validation_failed",
        "Some fields are missing or invalid; see `errors`.",
        title="Unprocessable Content",
        errors=[{"field": field, "message": "must not contain control characters", "type": "control_characters"} for field in fields],
    )


def router(prefix: str, tag: str) -> APIRouter:
    # The body limit is set per router (upload routes raise theirs) rather than app-wide: FastAPI's
    # app-wide limit answers outside our middleware, in plain text; this one becomes a problem document.
    return APIRouter(prefix=prefix, tags=[tag], route_class=AppRoute, max_body_size=get_settings().max_body_bytes)


def allowed(who: Capability | str) -> dict[str, Any]:
    """`@router.get(..., **allowed(Capability.RATES))`: declares the capability the route needs."""
    extra: dict[str, Any] = {"x-capability": str(who)}
    if isinstance(who, Capability) and CAPABILITIES[who].provider is Reach.NONE:
        # authz.require answers 409 `email_unverified` to an unverified owner or admin on these.
        extra["responses"] = {"409": problem_responses(409)[409]}
    return {"openapi_extra": extra}
