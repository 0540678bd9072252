"""One error format (X4): RFC 9457 `application/problem+json` with a stable `code`.

Services raise `Problem` (or one of its shorthands); handlers here turn every other failure
(404/405 from routing, 422 validation, pool exhaustion, anything unexpected) into the same shape.
"""

from http import HTTPStatus
from typing import Any

import orjson
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.outages import ANSWERS, outage_code

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("caseload.errors")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field in the request, e.g. `body.email`.")
    message: str
    type: str | None = None


class ProblemDocument(BaseModel):
    """An RFC 9457 problem. Extra members (e.g. `conflicts`, `missing`, `blockers`) say what would fix it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI reference naming the kind of problem: `/problems/{code}`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable: branch on this, not on `title` or `detail`.")
    errors: list[FieldError] | None = None


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extra = extra


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not_found", f"No such {what}, or you may not see it.")


def forbidden(capability: str) -> Problem:
    return Problem(
        403,
        "forbidden",
        f"Your role in this group does not allow '{capability}'. Ask the group's owner or an admin.",
        capability=capability,
    )


def conflict(code: str, detail: str, **extra: Any) -> Problem:
    return Problem(409, code, detail, **extra)


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": f"/problems/{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def outage_response(code: str) -> Response:
    retry_after, detail = ANSWERS[code]
    log.warning("outage", code=code)
    return problem_response(503, code, detail, title="Service Unavailable", headers={"Retry-After": retry_after})


# Routing's own HTTP errors, each with a stable code.
_HTTP_CODES = {
    400: ("bad_request", "The request could not be read."),
    401: ("unauthenticated", "Send a valid bearer token or API key."),
    404: ("not_found", "No such resource, or you may not see it."),
    405: ("method_not_allowed", "This path does not accept that method."),
    413: ("payload_too_large", "The request body is larger than this endpoint accepts."),
    415: ("unsupported_media_type", "Send the body in a media type this endpoint accepts."),
}


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        if exc.status in (403, 404):
            from app.core.audit import record_refusal  # here: audit -> auth -> errors

            await record_refusal(request, exc.status, exc.code)  # R3
        return problem_response(
            exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, default_detail = _HTTP_CODES.get(exc.status_code, ("http_error", ""))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed") else default_detail
        return problem_response(exc.status_code, code, detail or default_detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Echo where and why, never the submitted value: it may be a password or PHI.
        errors = [
            {"field": _field_path(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation_failed",
            "Some fields are missing or invalid; see `errors`.",
            title="Unprocessable Content",
            errors=errors,
        )

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _pool_timeout(request: Request, exc: Exception) -> Response:
        log.warning("db_pool_exhausted")
        return problem_response(
            503, "database_busy", "The service is busy; retry shortly.", headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # An outage of PostgreSQL or Redis is not a bug: 503 and when to retry (X5, DESIGN.md reliability).
        if (outage := outage_code(exc)) is not None:
            return outage_response(outage)
        log.exception("unhandled_error", error_type=type(exc).__name__)
        # This handler answers outside our middleware, so it adds the request id itself: support can find the log.
        request_id = getattr(request.state, "request_id", None) or ""
        return problem_response(
            500,
            "internal_error",
            "Something went wrong on our side. It has been logged; retry later, or quote the request_id to support.",
            headers={"X-Request-ID": request_id},
            request_id=request_id,
        )


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/ProblemDocument"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed status documented as a problem document."""
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}}}
        for status in statuses
    }
