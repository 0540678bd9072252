"""Request context: a request id on every log line and response, and one access-log line.

Pure ASGI (not BaseHTTPMiddleware): it sits on every request, so it must cost little.
"""

import asyncio
import logging
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.core import proxies
from app.core.errors import problem_type

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROBLEM_CONTENT_TYPE = b"application/problem+json"


def _too_large() -> bytes:
    return orjson.dumps(
        {
            "type": problem_type("payload_too_large"),
            "title": "Content Too Large",
            "status": 413,
            "detail": "The request body is larger than this endpoint accepts. Send a smaller body.",
            "code": "payload_too_large",
        }
    )


# A request still running when the server's shutdown grace period ends is cancelled: it answers this
# (nothing it did was committed) rather than the server's plain-text 500.
def _shutting_down() -> bytes:
    return orjson.dumps(
        {
            "type": problem_type("shutting_down"),
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The server restarted before this request completed; nothing was changed. Retry it.",
            "code": "shutting_down",
        }
    )


# The tasks of the requests being served: at shutdown the app waits (briefly) for those the server has
# cancelled, so they finish rolling back and answer before the pools close and the process exits.
_in_flight: set[asyncio.Task[object]] = set()
# R4: API responses may carry PHI: no cache (browser, proxy) keeps them, and no browser guesses their type.
# Set here, once, so no route can forget; a route's own Cache-Control (document downloads) is kept.
_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
access_log = structlog.get_logger("caseload.access")
_ROOT_LOGGER = logging.getLogger()


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str
    ip: str | None
    # The request's path: list cursors are bound to the list (path) that issued them (R4).
    path: str = ""


# Read by the audit log, which records where each change came from (R2).
current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


def client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    trusted = proxies.networks(tuple(get_settings().trusted_proxies))
    if not trusted:  # the common case costs one tuple check
        return client[0]
    forwarded = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"), None)
    return proxies.forwarded_client(client[0], forwarded, trusted)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app
        # Built once per app: their `type` URIs quote the configured API base URL.
        self.too_large = _too_large()
        self.shutting_down = _shutting_down()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        ip = client_ip(scope)
        current_request.set(RequestInfo(request_id, ip, scope["path"]))
        status = 500
        rewriting = False
        started_response = False
        task = asyncio.current_task()
        if task is not None:
            _in_flight.add(task)
        api = scope["path"].startswith("/v1/")

        async def send_with_id(message: Message) -> None:
            nonlocal status, rewriting, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = message.setdefault("headers", [])
                # Starlette's body limit answers 413 in plain text, outside FastAPI's handlers: X4 wants a problem.
                if status == 413 and (b"content-type", PROBLEM_CONTENT_TYPE) not in headers:
                    rewriting = True
                    headers[:] = [(b"content-type", PROBLEM_CONTENT_TYPE), (b"content-length", str(len(self.too_large)).encode())]
                headers.append((b"x-request-id", request_id.encode()))
                # X7: an API key's quota, counted in core/rate_limit.py, on every keyed response.
                headers.extend(scope["state"].get("rate_limit_headers", ()))
                if api:
                    if not any(name == b"cache-control" for name, _ in headers):
                        headers.append(_NO_STORE)
                    if not any(name == b"x-content-type-options" for name, _ in headers):
                        headers.append(_NOSNIFF)
            elif rewriting and message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": self.too_large}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            if started_response:
                raise
            # Cancelled by the server's shutdown past its grace period (X5): the transaction was rolled back
            # on the way out. The task ends here, answered, instead of as uvicorn's plain-text 500.
            status = 503
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", PROBLEM_CONTENT_TYPE),
                        (b"content-length", str(len(self.shutting_down)).encode()),
                        (b"retry-after", b"2"),
                        (b"connection", b"close"),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self.shutting_down})
        finally:
            _in_flight.discard(task)  # type: ignore[arg-type]
            if _ROOT_LOGGER.isEnabledFor(logging.INFO):  # building the event costs, even when filtered out
                route = scope.get("route")
                access_log.info(
                    "request",
                    method=scope["method"],
                    # The route template, not the raw path: it groups requests and carries no values.
                    path=getattr(route, "path", None) or "<unmatched>",
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    # Who called (`user:<id>` or `api_key:<id>`, set by authentication) and from where.
                    actor=getattr(scope["state"].get("actor"), "principal", None),
                    client=ip,
                )


async def wait_for_requests(timeout: float) -> None:
    """Let the requests still running (cancelled by the server past its grace period) finish answering."""
    current = asyncio.current_task()
    pending = [task for task in _in_flight if task is not current and not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.match(text) else None
    return None
