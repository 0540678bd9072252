"""One error format (X4): RFC 9457 `application/problem+json` with a stable `code`.

Services raise `Problem` (or one of its shorthands); handlers here turn every other failure
(404/405 from routing, 422 validation, pool exhaustion, anything unexpected) into the same shape.
"""

from http import HTTPStatus
from datetime import date, datetime
from typing import Any, Literal

import orjson
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.config import get_settings
from app.core.outages import ANSWERS, outage_code

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("caseload.errors")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field in the request, e.g. `body.email`.")
    message: str
    type: str | None = Field(default=None, description="A machine-readable reason, e.g. `missing`, `string_too_long`.")


class SessionConflict(BaseModel):
    """A session in the way of the one asked for (`session_conflict`)."""

    party: Literal["provider", "client"] = Field(description="Whose calendar is taken.")
    session_id: str | None = Field(default=None, description="Absent when the session belongs to another practice.")
    starts_at: datetime
    ends_at: datetime
    other_practice: bool = Field(description="The provider is busy with another practice: only the time is shown.")


class SeriesOccurrenceConflict(BaseModel):
    """An occurrence of a series that cannot be booked (`series_conflict`), with what is in its way."""

    occurrence: int = Field(description="1 for the first session of the series.")
    starts_at: datetime
    ends_at: datetime
    conflicts: list[SessionConflict]


class OpenSlot(BaseModel):
    """A time that can still be booked (`slot_taken`)."""

    starts_at: datetime
    ends_at: datetime
    telehealth: bool
    location_id: str | None


class ProblemBlocker(BaseModel):
    """Something that keeps a removal or an undo from happening (`removal_blocked`, `import_undo_blocked`)."""

    kind: str | None = Field(default=None, description="`unconfirmed_session`, `unpaid_earning`, `unpaid_payout` (may grow).")
    id: str | None = Field(default=None, description="The blocking session, earning line or payout.")
    detail: str | None = None
    on: date | None = Field(default=None, description="When: the session start, the pay date.")
    client_id: str | None = Field(default=None, description="For an import undo: the client something was done with.")
    reason: str | None = Field(
        default=None,
        description="For an import undo: `session`, `document`, `message`, `onboarding`, `invitation_accepted`, `edited`, `account_used` (may grow).",
    )


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document. Branch on `code`; `GET /problems` lists every code with what fixes it.

    The optional members below appear with the codes named in their descriptions and say what would make
    the request succeed. More members may be added (a client should ignore those it does not know).
    """

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        description="An absolute URI naming the kind of problem, `{API base}/problems/{code}`: it resolves to a page describing the code.",
        examples=["https://api.caseload.example/problems/session_conflict"],
    )
    title: str = Field(description="The HTTP status phrase, e.g. `Conflict`.")
    status: int
    detail: str = Field(description="What happened in this occurrence and what would fix it, for a person to read.")
    code: str = Field(description="Stable, machine-readable: branch on this, not on `title` or `detail`. New codes may be added.")
    errors: list[FieldError] | None = Field(default=None, description="`validation_failed` and other 422s: each field at fault.")
    conflicts: list[SessionConflict | SeriesOccurrenceConflict] | None = Field(
        default=None, description="`session_conflict`: every session in the way; `series_conflict`: every occurrence that cannot be booked."
    )
    missing: list[str] | None = Field(default=None, description="`client_not_ready`: the onboarding items left, e.g. `insurance`.")
    blockers: list[ProblemBlocker] | None = Field(default=None, description="`removal_blocked`, `import_undo_blocked`: what stands in the way.")
    counts: dict[str, int] | None = Field(default=None, description="`removal_blocked`: how many blockers of each kind.")
    retry_after: int | None = Field(default=None, description="429s and `throttle_unavailable`: seconds to wait (also the `Retry-After` header).")
    capability: str | None = Field(default=None, description="`forbidden`, `two_factor_required`: the capability refused.")
    request_id: str | None = Field(default=None, description="`internal_error`: quote it to support.")
    challenge_token: str | None = Field(default=None, description="`otp_required`: post it with the code to POST /v1/auth/token/two-factor.")
    challenge_expires_at: datetime | None = Field(default=None, description="`otp_required`: when `challenge_token` stops working.")
    client_id: str | None = Field(default=None, description="`client_not_ready`, `already_on_roster`, `client_not_on_roster`.")
    fields: list[str] | None = Field(default=None, description="`client_controls_identity`, `session_confirmed`, `session_not_confirmed`: the fields refused.")
    candidates: list[str] | None = Field(default=None, description="`not_a_candidate`: the client ids a row may be matched to.")
    providers: list[str] | None = Field(default=None, description="`provider_required`: the providers to choose from.")
    max_bytes: int | None = Field(default=None, description="`document_too_large`, `import_too_large`: the limit.")
    allowed_types: list[str] | None = Field(default=None, description="`document_type_refused`: the accepted media types.")
    starts_at: datetime | None = Field(default=None, description="`session_not_started`: when the session starts.")
    editable_until: datetime | None = Field(default=None, description="`confirmation_locked`: when corrections stopped.")
    session_status: str | None = Field(default=None, description="`session_not_scheduled`, `session_closed`: the session's status now.")
    import_status: str | None = Field(default=None, description="Import refusals: the import's status now.")
    current_version: str | None = Field(default=None, description="`form_version_outdated`: the version to acknowledge.")
    document: str | None = Field(default=None, description="`form_version_outdated`: the form concerned.")
    expected_service_date: date | None = Field(default=None, description="`service_date_mismatch`: the date to send.")
    service_code: str | None = Field(default=None, description="`rate_missing`, `rate_not_found`: the service code without a rate.")
    provider_user_id: str | None = Field(default=None, description="`rate_not_found`, `client_not_on_roster`: the provider concerned.")
    user_id: str | None = Field(default=None, description="`already_a_provider`: the person's account.")
    grant_id: str | None = Field(default=None, description="`admin_grant_exists`: the grant already open.")
    status_now: str | None = Field(default=None, description="`invitation_used`: how the invitation was answered.")
    change_status: str | None = Field(default=None, description="`bank_confirmation_used`: what became of the change.")
    current_status: str | None = Field(default=None, description="`identity_verification_not_pending`: its status now.")
    restricted_categories: list[str] | None = Field(default=None, description="`restricted_document_category`: the categories refused.")
    failing: list[str] | None = Field(default=None, description="`not_ready`: the dependencies that did not answer.")
    current_etag: str | None = Field(default=None, description="`precondition_failed`: the resource's ETag now (also the `ETag` header).")
    scope: str | None = Field(default=None, description="`unknown_scope`, `scope_exceeds_creator`: the scope refused.")
    maximum: int | None = Field(default=None, description="`rate_limit_too_high`: the most requests per minute a key may have.")
    job_state: str | None = Field(default=None, description="`job_not_failed`: the job's state now.")
    payout_status: str | None = Field(default=None, description="`payout_not_waiting`: the payout's status now.")
    state: str | None = Field(default=None, description="`not_licensed_in_state`: the client's US state no license covers.")
    age_min: int | None = Field(default=None, description="`outside_age_range`, `date_of_birth_required`: the youngest age the practice sees.")
    age_max: int | None = Field(default=None, description="`outside_age_range`, `date_of_birth_required`: the oldest age the practice sees.")
    next_slots: list[OpenSlot] | None = Field(default=None, description="`slot_taken`: the next open times.")
    window_hours: int | None = Field(default=None, description="`inside_cancellation_window`: the policy's window before the start.")
    fee_cents: int | None = Field(default=None, description="`inside_cancellation_window`: the fee a cancellation now carries.")
    currency: str | None = Field(default=None, description="With `fee_cents`: its ISO 4217 code.")
    cancellable_until: datetime | None = Field(default=None, description="`inside_cancellation_window`: when cancelling yourself stopped.")
    category: str | None = Field(default=None, description="`document_never_shared`: the document's category.")


# RFC 9110's names where Python's table still has the older ones: one title per status everywhere.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content", 416: "Range Not Satisfiable"}


def status_title(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


def problem_type(code: str) -> str:
    """The problem's `type`: an absolute URI that `GET /problems/{code}` of this API answers."""
    return f"{get_settings().api_base_url}/problems/{code}"


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
        self.title = title or status_title(status)
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
        "type": problem_type(code),
        "title": title or status_title(status),
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
HTTP_CODES = {
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
        code, default_detail = HTTP_CODES.get(exc.status_code, ("http_error", ""))
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


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed status documented as a problem document."""
    return {
        status: {"description": status_title(status), "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}}}
        for status in statuses
    }
