"""Browsers on other origins (X8): only the exact origins named in `CORS_ORIGINS` may call the API.

Credentials are headers (a bearer token or an API key), never cookies, so the API does not allow
credentialed requests (`Access-Control-Allow-Credentials` is never sent): a front end sends the
`Authorization` header itself, and a page on an origin not listed cannot read any answer.
"""

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.config import Settings

# What a front end sends and reads besides the CORS-safelisted ones.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key", "X-Request-ID", "If-Match", "If-None-Match"]
EXPOSED_HEADERS = [
    "X-Request-ID", "Idempotent-Replayed", "Retry-After", "Location", "ETag",
    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Content-Disposition",
]


def install_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        return  # no middleware at all: same-origin callers pay nothing
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
