import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    id: int = Field(description="The event's number (increasing across the whole service).")
    at: datetime
    actor_user_id: uuid.UUID | None = Field(description="The person who acted (null for an API key or the system).")
    actor_api_key_id: uuid.UUID | None = Field(description="The API key that acted, if any.")
    actor_ip: str | None = Field(description="Where the request came from.")
    request_id: str | None = Field(description="The request's `X-Request-ID`.")
    action: str = Field(description="What was done, e.g. `client.read`, `document.downloaded`, `access.refused`.")
    target_type: str = Field(description="The kind of object acted on, e.g. `client`, `session`, `client_document`.")
    target_id: str | None
    client_id: uuid.UUID | None = Field(description="The client the event is about, when it is about one client.")
    outcome: str = Field(description="`success`, or `refused` for an attempt the caller was not allowed.")
    details: dict[str, Any] = Field(description="Ids and field names only: never names, contact details or clinical content.")
    chain_seq: int = Field(description="The event's position in the group's hash chain (1, 2, ...).")
    hash: str = Field(description="sha256 (hex) of the previous event's hash and this event's content.")


AuditFormat = Literal["json", "csv"]
