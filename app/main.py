"""create_app(): lifespan, middleware, error handlers and the /v1 routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request

from app.api_keys.router import api_keys_router
from app.audit.router import audit_router
from app.availability.router import availability_router, booking_settings_router
from app.auth.router import auth_router, me_router
from app.booking.router import booking_router
from app.clients.router import clients_router
from app.config import Settings, get_settings
from app.core import etags
from app.core.cors import install_cors
from app.core.db import Database
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.idempotency import IdempotentReplay, replay_response
from app.core.jobs import OutboxRelay
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware, wait_for_requests
from app.core.openapi import build_openapi
from app.core.redis import connect
from app.core.storage import storage_from_settings
from app.documents.router import documents_router, my_documents_router
from app.estimates.router import estimates_router
from app.groups.router import groups_router
from app.health import health_router
from app.imports.router import imports_router
from app.invitations.router import invitations_router, my_invitations_router
from app.memberships.router import memberships_router
from app.messaging.router import messaging_router, my_messaging_router
from app.onboarding.router import onboarding_router
from app.ops.router import ops_router
from app.payouts.router import payouts_router, settlements_router
from app.practice.router import practice_ops_router, practice_router
from app.problem_pages import problems_router
from app.providers.router import providers_router
from app.sessions.router import my_sessions_router, sessions_router
from app.webhooks.openapi import describe_webhooks
from app.webhooks.router import webhooks_router

# Starlette tries routes in this order, one regex match each (about 80 routes): the most-read
# paths come first. Paths do not overlap, so the order changes nothing else.
ROUTERS = [
    health_router,
    me_router,
    sessions_router,
    my_sessions_router,
    clients_router,
    auth_router,
    groups_router,
    memberships_router,
    api_keys_router,
    practice_router,
    practice_ops_router,
    providers_router,
    availability_router,
    booking_settings_router,
    messaging_router,
    my_messaging_router,
    onboarding_router,
    estimates_router,
    documents_router,
    my_documents_router,
    booking_router,
    imports_router,
    payouts_router,
    settlements_router,
    ops_router,
    audit_router,
    my_invitations_router,
    invitations_router,
    problems_router,
    webhooks_router,
]


def operation_id(route: APIRoute) -> str:
    # Stable, readable ids for generated clients: "{tag}-{function name}".
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("DATABASE_URL and REDIS_URL must be set (`caseload dev` starts embedded ones).")
        app.state.db = Database(settings.database_url, settings)
        await app.state.db.start()
        app.state.redis = await connect(settings.redis_url, settings.redis_timeout_s)
        app.state.outbox_relay = OutboxRelay(app.state.db.sessionmaker, app.state.redis)
        app.state.storage = storage_from_settings(settings)
        try:
            yield
        finally:
            await wait_for_requests(timeout=5)  # cancelled ones answer 503 before the pools close
            await app.state.outbox_relay.drain()
            await app.state.redis.aclose()
            await app.state.db.close()

    app = FastAPI(
        title="Caseload API",
        version="1.0.0",
        summary="Group and solo mental-health practices: members, clients, sessions, payouts, imports.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # FastAPI's own telemetry hooks run on every request; we log and trace our way (core/logging.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # served by install_docs from local assets (X8)
        redoc_url=None,
    )
    install_cors(app, settings)  # inside the request context: preflights get an X-Request-ID too
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    @app.exception_handler(IdempotentReplay)
    async def _replay(request: Request, exc: IdempotentReplay):  # type: ignore[no-untyped-def]
        return replay_response(exc)

    for router in ROUTERS:
        app.include_router(router)
    describe_webhooks(app)
    install_docs(app)
    etags.install(route for router in ROUTERS for route in router.routes)  # X6: ETags on the GETs of paths that are also written, If-Match on the writes
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
