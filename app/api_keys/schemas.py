import uuid
from datetime import datetime

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Strict


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. the partner's name.")
    scopes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=lambda: ["read"],
        min_length=1,
        max_length=30,
        description="What the key may do: `read` (every GET an admin's key may make) and/or capability names "
        "(each capability's reads and writes, e.g. `clients`, `calendar`, `rates`). You can only give what you "
        "may do yourself; the key loses it if you stop being an owner or admin of the group.",
        examples=[["read"], ["read", "clients", "calendar"]],
    )
    mode: Literal["live", "test"] = Field(
        default="live",
        description="`test`: the key (`ck_test_...`) acts on the group's test-mode copy (created on the first "
        "test key, same settings, no members or clients); nothing it does reaches live data, sends mail or "
        "moves real money.",
    )
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Requests per minute; default and maximum set by the server."
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    name: str
    display_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    mode: Literal["live", "test"]
    scopes: list[str] | None = Field(description="What the key may do; null for keys made before scopes existed.")
    rate_limit_per_minute: int = Field(description="Requests per minute this key may make.")
    acts_on_group_id: uuid.UUID | None = Field(
        default=None, description="The group whose data the key reaches: the test-mode copy's id for a test key."
    )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret. Shown this once: store it now, it cannot be read again.")
