"""Every event a webhook endpoint can subscribe to: its type, the object it is about, the ids it carries.

One table, read by the endpoint routes (which types may be chosen), by `emit` (which ids an event may
carry) and by the OpenAPI document's `webhooks` section (one payload per event). Payloads carry ids and the
names of changed fields, never their values: a receiver reads what it may see through the API.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventSpec:
    object_type: str
    description: str
    # Ids the event carries besides its object's, in `data`.
    ids: tuple[str, ...] = ()


CATALOGUE: dict[str, EventSpec] = {
    "client.created": EventSpec("client", "A client record was added to the group by hand or from the booking link (an import's clients come as one `import.completed`).", ("provider_id",)),
    "client.updated": EventSpec("client", "A client record was edited; `changed_fields` names what changed."),
    "session.booked": EventSpec("session", "A therapy session was put on a provider's calendar.", ("provider_id", "client_id")),
    "session.confirmed": EventSpec("session", "A session took place and was confirmed for payment.", ("provider_id", "client_id")),
    "session.cancelled": EventSpec("session", "A session was cancelled by the client or the provider.", ("provider_id", "client_id")),
    "payout.scheduled": EventSpec("payout", "A payout was closed for its pay date and is being sent to the bank."),
    "payout.paid": EventSpec("payout", "The bank reported a payout paid."),
    "payout.failed": EventSpec("payout", "The bank reported a payout failed (or returned after it was paid)."),
    "import.ready": EventSpec("import", "A client import was read and classified: it waits for review.", ("provider_id",)),
    "import.completed": EventSpec("import", "A client import was finalized: its clients are in the group.", ("provider_id",)),
    "member.added": EventSpec("member", "A person joined the group (the object id is their user id)."),
    "member.removed": EventSpec("member", "A person was removed from the group (the object id is their user id)."),
}

# Sent by `POST .../webhook-endpoints/{id}/test` to that endpoint only, whatever it subscribed to.
PING = "webhook.ping"
PING_SPEC = EventSpec("webhook_endpoint", "A test event asked for with `POST .../webhook-endpoints/{id}/test`.")

EVENT_TYPES = tuple(CATALOGUE)


def spec(event_type: str) -> EventSpec:
    return PING_SPEC if event_type == PING else CATALOGUE[event_type]
