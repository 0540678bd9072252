"""The webhook routes for the generated capability matrix (tests/groups/test_capability_matrix.py),
checked by test_route_samples.py."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.core.storage import Storage
from app.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.dispatcher import SECRET_PURPOSE
from app.webhooks.events import emit

SAMPLE_BODIES: dict[str, dict] = {
    "webhooks-create_webhook_endpoint": {"url": "https://partner.example.com/hooks", "event_types": ["session.booked"]},
    "webhooks-update_webhook_endpoint": {"description": "Matrix"},
}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """An endpoint of group `group_id` subscribed to payout.paid, with one delivery in its log."""
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(), group_id=ids["group_id"], url="https://partner.example.com/hooks", event_types=["payout.paid"],
        secret_encrypted=crypto.encrypt("whsec_matrix", purpose=SECRET_PURPOSE),
    )
    db.add(endpoint)
    await db.flush()
    event_id = await emit(db, ids["group_id"], "payout.paid", uuid.uuid4(), ["status"])
    ids["endpoint_id"] = endpoint.id
    ids["delivery_id"] = await db.scalar(select(WebhookDelivery.id).where(WebhookDelivery.event_id == event_id))
