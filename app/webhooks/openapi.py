"""The OpenAPI document's `webhooks` section: one signed POST per event type of the catalogue."""

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from app.webhooks.catalogue import CATALOGUE, PING, PING_SPEC, EventSpec
from app.webhooks.schemas import EventObject

SIGNATURE_NOTE = (
    "\n\nSigned: the `Caseload-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" "
    "with your endpoint's secret>` (one `v1` per secret while one is being rotated). Answer 2xx within 10 "
    "seconds; anything else is retried with growing delays for three days. Deliveries may arrive more than "
    "once and out of order: dedupe by `id`, order one object's events by `object.sequence`."
)


def _model_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Event"


def payload_model(event_type: str, spec: EventSpec) -> type[BaseModel]:
    data = create_model(  # type: ignore[call-overload]
        _model_name(event_type).removesuffix("Event") + "Data",
        __config__=ConfigDict(extra="forbid"),
        **{name: (uuid.UUID | None, Field(description=f"The {name.removesuffix('_id')}'s id.")) for name in spec.ids},
    )
    return create_model(  # type: ignore[call-overload]
        _model_name(event_type),
        __doc__=spec.description,
        id=(uuid.UUID, Field(description="The event's id: the same in every delivery and replay of it.")),
        type=(Literal[event_type], ...),  # type: ignore[valid-type]
        created_at=(datetime, Field(description="When the change was committed (UTC).")),
        group_id=(uuid.UUID, ...),
        object=(EventObject, Field(description=f"The {spec.object_type} the event is about.")),
        changed_fields=(list[str], Field(description="Names of the fields that changed (never their values).")),
        data=(data, Field(description="Ids of related objects; read them through the API.")),
    )


def describe_webhooks(app: FastAPI) -> None:
    for event_type, spec in [*CATALOGUE.items(), (PING, PING_SPEC)]:
        model = payload_model(event_type, spec)

        async def receiver(body: Any) -> None:  # documentation only: Caseload sends, the partner receives
            return None

        receiver.__annotations__["body"] = model
        app.webhooks.post(
            event_type, name=f"webhook-{event_type}", operation_id=f"webhook-{event_type}", summary=event_type,
            description=spec.description + SIGNATURE_NOTE,
        )(receiver)


def tidy_webhooks(schema: dict[str, Any]) -> None:
    """What the partner's server answers: any 2xx (FastAPI would document its own request validation)."""
    for item in schema.get("webhooks", {}).values():
        item["post"]["responses"] = {"2XX": {"description": "Delivered. Any other answer (or none in 10 s) is retried."}}
