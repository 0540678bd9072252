import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Strict
from app.webhooks.catalogue import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]

_URL = Field(min_length=8, max_length=2048, description="Where events are POSTed: an https:// URL on the public internet.")
_TYPES = Field(min_length=1, max_length=len(EVENT_TYPES), description="The event types to send (see the `webhooks` section).")


class EndpointCreate(Strict):
    url: str = _URL
    event_types: list[EventType] = _TYPES
    description: str = Field(default="", max_length=200, description="What the endpoint is for.")


class EndpointUpdate(Strict):
    url: str | None = Field(default=None, min_length=8, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(default=None, description="Turn deliveries off or back on (waiting ones are sent).")


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="Why deliveries stopped, when the endpoint was turned off for failing.")
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(description="Until when the secret before the last rotation still signs.")
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret. Shown this once: store it now, it cannot be read again.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "succeeded", "failed"] = Field(
        description="`pending` (waiting for its next attempt), `succeeded`, or `failed` (given up after three days)."
    )
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending.")
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="The receiver's HTTP status at the last attempt.")
    last_latency_ms: int | None
    last_response_excerpt: str | None = Field(description="The start of the receiver's answer at the last attempt.")
    last_error: str | None = Field(description="Why the last attempt got no answer (timeout, connection refused...).")
    created_at: datetime
    delivered_at: datetime | None


class EventObject(BaseModel):
    type: str
    id: uuid.UUID
    sequence: int = Field(description="1, 2, 3... per object: order one object's events by it.")
