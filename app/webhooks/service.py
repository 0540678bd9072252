"""Webhook endpoints (X3): register, change, rotate the secret, ping, read the delivery log, replay."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit, crypto
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import not_found
from app.core.pagination import PageParams, paginate
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks import signing
from app.webhooks.catalogue import PING
from app.webhooks.destinations import RefusedDestination, check_destination, refused_url
from app.webhooks.dispatcher import SECRET_PURPOSE
from app.webhooks.events import emit
from app.webhooks.schemas import DeliveryOut, EndpointCreate, EndpointUpdate


async def _checked_url(url: str) -> str:
    try:
        await check_destination(url, allow_private=get_settings().environment in ("development", "test"))
    except RefusedDestination as exc:
        raise refused_url(exc.reason) from None
    return url


async def _endpoint(db: AsyncSession, group_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.group_id == group_id)
    endpoint = await db.scalar(stmt.with_for_update() if lock else stmt)
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


async def create_endpoint(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: EndpointCreate) -> tuple[WebhookEndpoint, str]:
    require(actor, Capability.WEBHOOKS, group_id)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(), group_id=group_id, url=await _checked_url(body.url), description=body.description,
        event_types=sorted(set(body.event_types)), secret_encrypted=crypto.encrypt(secret, purpose=SECRET_PURPOSE),
        created_by_user_id=actor.user_id,
    )
    db.add(endpoint)
    await db.flush()
    await db.refresh(endpoint)
    await audit.record(db, actor, "webhook_endpoint.created", target_type="webhook_endpoint", target_id=endpoint.id, group_id=group_id)
    return endpoint, secret


async def list_endpoints(db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams) -> tuple[list[WebhookEndpoint], str | None]:
    require(actor, Capability.WEBHOOKS, group_id)
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.group_id == group_id)
    return await paginate(db, stmt, page, keys=(WebhookEndpoint.created_at, WebhookEndpoint.id))


async def read_endpoint(db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    require(actor, Capability.WEBHOOKS, group_id)
    return await _endpoint(db, group_id, endpoint_id)


async def update_endpoint(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID, body: EndpointUpdate
) -> WebhookEndpoint:
    require(actor, Capability.WEBHOOKS, group_id)
    endpoint = await _endpoint(db, group_id, endpoint_id, lock=True)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        endpoint.url = await _checked_url(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = sorted(set(changes["event_types"]))
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        endpoint.enabled = changes["enabled"]
        if changes["enabled"]:
            # Back on: a fresh start for the failure count, and deliveries that waited are due now.
            endpoint.disabled_reason = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
    endpoint.updated_at = func.now()
    await db.flush()
    await db.refresh(endpoint)
    await audit.record(db, actor, "webhook_endpoint.updated", target_type="webhook_endpoint", target_id=endpoint.id,
                       group_id=group_id, fields=sorted(changes))
    return endpoint


async def delete_endpoint(db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    require(actor, Capability.WEBHOOKS, group_id)
    endpoint = await _endpoint(db, group_id, endpoint_id, lock=True)
    await db.delete(endpoint)
    await db.flush()
    await audit.record(db, actor, "webhook_endpoint.deleted", target_type="webhook_endpoint", target_id=endpoint_id, group_id=group_id)


async def rotate_secret(db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the current one keeps signing too for the overlap, then stops."""
    require(actor, Capability.WEBHOOKS, group_id)
    endpoint = await _endpoint(db, group_id, endpoint_id, lock=True)
    secret = signing.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = func.now() + timedelta(hours=get_settings().webhook_secret_overlap_hours)
    endpoint.secret_encrypted = crypto.encrypt(secret, purpose=SECRET_PURPOSE)
    endpoint.updated_at = func.now()
    await db.flush()
    await db.refresh(endpoint)
    await audit.record(db, actor, "webhook_endpoint.secret_rotated", target_type="webhook_endpoint", target_id=endpoint_id, group_id=group_id)
    return endpoint, secret


def _delivery_query() -> Any:
    return select(WebhookDelivery, WebhookEvent.type).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)


def delivery_out(delivery: WebhookDelivery, event_type: str) -> DeliveryOut:
    out = DeliveryOut.model_validate({**{c: getattr(delivery, c) for c in DeliveryOut.model_fields if c != "event_type"},
                                      "event_type": event_type})
    if out.status != "pending":
        out.next_attempt_at = None
    return out


async def _delivery(db: AsyncSession, endpoint_id: uuid.UUID, delivery_id: int) -> DeliveryOut:
    row = (await db.execute(_delivery_query().where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id))).one_or_none()
    if row is None:
        raise not_found("delivery")
    return delivery_out(row[0], row[1])


async def send_test(db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID) -> DeliveryOut:
    """A `webhook.ping` event to this endpoint alone, sent by the worker like any other."""
    require(actor, Capability.WEBHOOKS, group_id)
    endpoint = await _endpoint(db, group_id, endpoint_id)
    event_id = await emit(db, group_id, PING, endpoint.id, only_endpoint=endpoint.id)
    delivery_id = await db.scalar(select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id))
    if delivery_id is None:  # a disabled endpoint gets no delivery
        raise _endpoint_disabled()
    await audit.record(db, actor, "webhook_endpoint.pinged", target_type="webhook_endpoint", target_id=endpoint_id, group_id=group_id)
    return await _delivery(db, endpoint_id, delivery_id)


def _endpoint_disabled() -> Exception:
    from app.core.errors import conflict

    return conflict(
        "webhook_endpoint_disabled",
        "The endpoint is turned off. Turn it on with a PATCH of this endpoint sending `{\"enabled\": true}` first.",
    )


async def list_deliveries(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID, page: PageParams, *, status: str | None
) -> tuple[list[DeliveryOut], str | None]:
    require(actor, Capability.WEBHOOKS, group_id)
    await _endpoint(db, group_id, endpoint_id)
    stmt = _delivery_query().where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = stmt.add_columns(WebhookDelivery.id)  # the page's key, read back from each row
    rows, next_cursor = await paginate(db, stmt, page, keys=(WebhookDelivery.id,), descending=True, rows=True)
    return [delivery_out(row[0], row[1]) for row in rows], next_cursor


async def replay_delivery(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: int
) -> DeliveryOut:
    """The same event again, as a new delivery due now (the old one stays in the log as it was)."""
    require(actor, Capability.WEBHOOKS, group_id)
    endpoint = await _endpoint(db, group_id, endpoint_id)
    original = await db.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id)
    )
    if original is None:
        raise not_found("delivery")
    new_id = await db.scalar(
        text("INSERT INTO webhook_deliveries (endpoint_id, event_id) VALUES (:endpoint_id, :event_id) RETURNING id"),
        {"endpoint_id": endpoint.id, "event_id": original.event_id},
    )
    await audit.record(db, actor, "webhook_delivery.replayed", target_type="webhook_endpoint", target_id=endpoint_id,
                       group_id=group_id, delivery_id=delivery_id)
    return await _delivery(db, endpoint_id, new_id)
