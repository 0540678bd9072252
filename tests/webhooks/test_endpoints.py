"""Webhook endpoints and the events written with each change: rule X3 (and R1 for tenancy)."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.main import create_app
from app.models import Client, Group, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks.catalogue import CATALOGUE, PING
from app.webhooks.destinations import RefusedDestination, check_destination
from app.webhooks.dispatcher import SECRET_PURPOSE
from tests.fixtures.factories import api_key, bearer, make_group, make_user, user_headers
from tests.sessions.conftest import NOW, book

HOOK = "https://partner.example.com/hooks"


def hooks_url(group: Group, *parts: object) -> str:
    return "/".join([f"/v1/groups/{group.id}/webhook-endpoints", *map(str, parts)])


async def register(client: httpx.AsyncClient, group: Group, headers: dict, *types: str, url: str = HOOK) -> dict:
    created = await client.post(hooks_url(group), json={"url": url, "event_types": list(types or CATALOGUE)}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_register_shows_the_secret_once_and_stores_it_encrypted(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule X3
    headers = await user_headers(db, owner)
    created = await register(client, group, headers, "session.booked", "client.created")
    assert created["secret"].startswith("whsec_") and created["event_types"] == ["client.created", "session.booked"]
    stored = await db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == created["id"]))
    assert created["secret"].encode() not in stored.secret_encrypted
    assert crypto.decrypt(stored.secret_encrypted, purpose=SECRET_PURPOSE) == created["secret"]
    read = await client.get(hooks_url(group, created["id"]), headers=headers)
    listed = await client.get(hooks_url(group), headers=headers)
    assert "secret" not in read.json() and [e["id"] for e in listed.json()["items"]] == [created["id"]]
    assert "secret" not in listed.json()["items"][0]

    changed = await client.patch(hooks_url(group, created["id"]), json={"event_types": ["payout.paid"], "enabled": False}, headers=headers)
    assert changed.status_code == 200 and changed.json()["event_types"] == ["payout.paid"] and changed.json()["enabled"] is False
    assert (await client.delete(hooks_url(group, created["id"]), headers=headers)).status_code == 204
    assert (await client.get(hooks_url(group, created["id"]), headers=headers)).status_code == 404


async def test_unknown_event_types_and_bad_urls_are_refused(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule X3: types come from the catalogue; URLs are checked
    headers = await user_headers(db, owner)
    unknown = await client.post(hooks_url(group), json={"url": HOOK, "event_types": ["session.exploded"]}, headers=headers)
    assert unknown.status_code == 422
    ftp = await client.post(hooks_url(group), json={"url": "ftp://partner.example.com/x", "event_types": ["payout.paid"]}, headers=headers)
    assert ftp.status_code == 422 and ftp.json()["code"] == "webhook_url_refused"
    assert "https://" in ftp.json()["detail"]


@pytest.mark.parametrize("url", [
    "http://partner.example.com/hooks",  # not https
    "https://127.0.0.1/hooks", "https://10.1.2.3/hooks", "https://192.168.0.10/", "https://169.254.169.254/latest",
    "https://[::1]:8443/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/", "https://localhost/hooks",
    "https://user:pw@partner.example.com/",
])
async def test_outside_development_only_public_https_destinations(url: str) -> None:
    # rule X3: the SSRF guard (production) refuses private, loopback and link-local addresses
    with pytest.raises(RefusedDestination):
        await check_destination(url, allow_private=False)


async def test_a_public_address_is_accepted() -> None:
    await check_destination("https://93.184.215.14/hooks", allow_private=False)
    await check_destination("http://127.0.0.1:9000/hooks", allow_private=True)  # development and tests


async def test_tenancy_other_groups_endpoint_is_not_found_and_providers_may_not(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User
) -> None:
    # rule X3, R1
    created = await register(client, group, await user_headers(db, owner), "payout.paid")
    stranger = await make_user(db)
    other = await make_group(db, owner=stranger)
    for method, path in (("GET", hooks_url(group, created["id"])), ("GET", hooks_url(group, created["id"], "deliveries")),
                         ("POST", hooks_url(group, created["id"], "test")), ("DELETE", hooks_url(group, created["id"]))):
        assert (await client.request(method, path, headers=await user_headers(db, stranger))).status_code == 404
    # The other group's own path with this group's endpoint id: not found either.
    assert (await client.get(hooks_url(other, created["id"]), headers=await user_headers(db, stranger))).status_code == 404
    assert (await client.get(hooks_url(group), headers=await user_headers(db, provider))).status_code == 403
    # A partner key of the group may register endpoints.
    key = await api_key(db, group)
    assert (await client.get(hooks_url(group), headers=bearer(key))).status_code == 200
    assert (await register(client, group, bearer(key), "client.created"))["secret"]


async def test_events_are_written_with_the_change_ids_and_field_names_only(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User, frozen, client_record: Client
) -> None:
    # rule X3: session.booked / client.updated in the request's transaction, a delivery per subscribed endpoint
    headers = await user_headers(db, owner)
    subscribed = await register(client, group, headers, "session.booked", "client.updated")
    await register(client, group, headers, "payout.paid")  # not subscribed: no delivery
    booked = await book(client, group, await user_headers(db, provider), client_record, NOW + timedelta(days=1))
    assert booked.status_code == 201, booked.text
    event = await db.scalar(select(WebhookEvent).where(WebhookEvent.type == "session.booked"))
    assert str(event.object_id) == booked.json()["id"] and event.sequence == 1
    assert event.data == {"provider_id": str(provider.id), "client_id": str(client_record.id), "changed_fields": []}
    deliveries = (await db.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id))).all()
    assert [str(d.endpoint_id) for d in deliveries] == [subscribed["id"]] and deliveries[0].status == "pending"

    for change in ({"telehealth_state": "NJ"}, {"billing_type": "insurance", "telehealth_state": "NY"}):
        edited = await client.patch(f"/v1/groups/{group.id}/clients/{client_record.id}", json=change, headers=headers)
        assert edited.status_code == 200, edited.text
    events = (await db.scalars(select(WebhookEvent).where(WebhookEvent.object_id == client_record.id).order_by(WebhookEvent.sequence))).all()
    # 1 is the client's creation (enrolled by the fixture); then one per edit, in order, with field names only.
    assert [(e.sequence, e.type, e.data["changed_fields"]) for e in events] == [
        (1, "client.created", []), (2, "client.updated", ["telehealth_state"]),
        (3, "client.updated", ["billing_type", "telehealth_state"]),
    ]
    everything = (await db.execute(text("SELECT data::text FROM webhook_events"))).scalars().all()
    assert not any("NJ" in row or "Casey" in row or "insurance" in row for row in everything)  # no values, no PHI


async def test_a_disabled_endpoint_cannot_be_pinged(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule X3
    headers = await user_headers(db, owner)
    created = await register(client, group, headers, "payout.paid")
    ping = await client.post(hooks_url(group, created["id"], "test"), headers=headers)
    assert ping.status_code == 202 and ping.json()["event_type"] == PING and ping.json()["status"] == "pending"
    await client.patch(hooks_url(group, created["id"]), json={"enabled": False}, headers=headers)
    refused = await client.post(hooks_url(group, created["id"], "test"), headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "webhook_endpoint_disabled"


def test_the_catalogue_and_the_openapi_webhooks_are_in_sync() -> None:
    # rule X3: every event type is documented with its payload, nothing else is
    spec = create_app().openapi()
    assert set(spec["webhooks"]) == set(CATALOGUE) | {PING}
    for event_type, item in spec["webhooks"].items():
        ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][ref]
        assert schema["properties"]["type"]["const"] == event_type
        data = spec["components"]["schemas"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        expected = CATALOGUE[event_type].ids if event_type in CATALOGUE else ()
        assert set(data.get("properties", {})) == set(expected)
        assert "Caseload-Signature" in item["post"]["description"]
