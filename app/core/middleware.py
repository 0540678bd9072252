"""Request context: a request id on every log line and response, and one access-log line.

Pure ASGI (not BaseHTTPMiddleware): it sits on every request, so it must cost little.
"""

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

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROBLEM_CONTENT_TYPE = b"application/problem+json"
_TOO_LARGE = orjson.dumps(
    {
        "type": "/problems/payload_too_large",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request body is larger than this endpoint accepts. Send a smaller body.",
        "code": "payload_too_large",
    }
)
access_log = structlog.get_logger("caseload.access")
_ROOT_LOGGER = logging.getLogger()


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str
    ip: str | None


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        current_request.set(RequestInfo(request_id, client_ip(scope)))
        status = 500
        rewriting = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, rewriting
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                # Starlette's body limit answers 413 in plain text, outside FastAPI's handlers: X4 wants a problem.
                if status == 413 and (b"content-type", PROBLEM_CONTENT_TYPE) not in headers:
                    rewriting = True
                    headers[:] = [(b"content-type", PROBLEM_CONTENT_TYPE), (b"content-length", str(len(_TOO_LARGE)).encode())]
                headers.append((b"x-request-id", request_id.encode()))
            elif rewriting and message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": _TOO_LARGE}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if _ROOT_LOGGER.isEnabledFor(logging.INFO):  # building the event costs, even when filtered out
                route = scope.get("route")
                access_log.info(
                    "request",
                    method=scope["method"],
                    # The route template, not the raw path: it groups requests and carries no values.
                    path=getattr(route, "path", None) or "<unmatched>",
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.match(text) else None
    return None
