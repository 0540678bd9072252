"""Deliveries with real commits, a real HTTP receiver on 127.0.0.1 and the worker's dispatcher: rule X3.

Signatures are checked here by a separate implementation (what a partner would write), not by ours.
"""

import asyncio
import hashlib
import hmac
import json
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from app.config import get_settings
from app.models import MailMessage, WebhookDelivery, WebhookEndpoint
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.events import emit
from app.webhooks.worker import start_dispatcher, stop_dispatcher
from tests.fixtures.factories import make_group, make_user, user_headers
from tests.webhooks.receiver import Receiver


@dataclass
class Partner:
    group_id: uuid.UUID
    headers: dict[str, str]
    endpoint_id: str
    secret: str
    owner_email: str


def verify(secret: str, header: str, body: bytes) -> bool:
    """The partner's check: any v1 matches HMAC-SHA256(secret, "t.body")."""
    parts = [p.split("=", 1) for p in header.split(",")]
    timestamp = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode("utf-8"), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


async def partner(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver, *types: str) -> Partner:
    async with live_app.state.db.sessionmaker() as db:
        owner = await make_user(db, first_name="Olive", last_name="Owner")
        group = await make_group(db, owner=owner)
        headers = await user_headers(db, owner)
        await db.commit()
    created = await live_client.post(f"/v1/groups/{group.id}/webhook-endpoints",
                                     json={"url": receiver.url, "event_types": list(types or ["payout.paid"])}, headers=headers)
    assert created.status_code == 201, created.text
    return Partner(group.id, headers, created.json()["id"], created.json()["secret"], owner.email)


def dispatcher(live_app: FastAPI, **settings: object) -> Dispatcher:
    return Dispatcher(live_app.state.db.sessionmaker, get_settings().model_copy(update=settings), retry_base_s=0.3)


async def emit_committed(live_app: FastAPI, group_id: uuid.UUID, count: int = 1) -> list[uuid.UUID]:
    async with live_app.state.db.sessionmaker() as db:
        ids = [await emit(db, group_id, "payout.paid", uuid.uuid4(), ["status"]) for _ in range(count)]
        await db.commit()
    return ids


async def deliveries(live_client: httpx.AsyncClient, p: Partner) -> list[dict]:
    answer = await live_client.get(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}/deliveries", headers=p.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_ping_is_signed_and_logged(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: a test ping arrives signed; the delivery log shows status, latency and the answer
    p = await partner(live_app, live_client, receiver)
    ping = await live_client.post(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}/test", headers=p.headers)
    assert ping.status_code == 202
    assert await dispatcher(live_app).run_once() == 1
    [got] = receiver.received
    assert verify(p.secret, got.headers["caseload-signature"], got.body)
    assert not verify("whsec_someone_else", got.headers["caseload-signature"], got.body)
    body = json.loads(got.body)
    assert body["type"] == "webhook.ping" and body["object"] == {"type": "webhook_endpoint", "id": p.endpoint_id, "sequence": 1}
    assert got.headers["caseload-event-id"] == body["id"] == ping.json()["event_id"]
    [logged] = await deliveries(live_client, p)
    assert logged["status"] == "succeeded" and logged["attempts"] == 1 and logged["last_status_code"] == 200
    assert logged["last_latency_ms"] is not None and logged["last_response_excerpt"] == '{"ok": true}'


async def test_rotation_signs_with_both_secrets_for_a_while(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: during a rotation a receiver holding either secret verifies the delivery
    p = await partner(live_app, live_client, receiver)
    rotated = await live_client.post(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}/rotate-secret", headers=p.headers)
    assert rotated.status_code == 200 and rotated.json()["secret"] != p.secret
    await emit_committed(live_app, p.group_id)
    await dispatcher(live_app).run_once()
    [got] = receiver.received
    header = got.headers["caseload-signature"]
    assert header.count("v1=") == 2
    assert verify(p.secret, header, got.body) and verify(rotated.json()["secret"], header, got.body)
    # Once the overlap is over, only the new secret signs.
    async with live_app.state.db.sessionmaker() as db:
        await db.execute(text("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'"))
        await db.commit()
    await emit_committed(live_app, p.group_id)
    await dispatcher(live_app).run_once()
    header = receiver.received[1].headers["caseload-signature"]
    assert header.count("v1=") == 1 and not verify(p.secret, header, receiver.received[1].body)


async def test_failures_are_retried_with_backoff_until_success(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: 500, timeout-free failures, then success; not retried before its backoff is over
    receiver.statuses.extend([500, 503])
    p = await partner(live_app, live_client, receiver)
    [event_id] = await emit_committed(live_app, p.group_id)
    sender = dispatcher(live_app)
    assert await sender.run_once() == 1
    [logged] = await deliveries(live_client, p)
    assert logged["status"] == "pending" and logged["attempts"] == 1 and logged["last_status_code"] == 500
    assert logged["last_response_excerpt"] == "receiver says no"
    assert await sender.run_once() == 0  # not due yet: the backoff holds it
    for _ in range(100):
        await asyncio.sleep(0.1)
        await sender.run_once()
        if (await deliveries(live_client, p))[0]["status"] == "succeeded":
            break
    [logged] = await deliveries(live_client, p)
    assert logged["status"] == "succeeded" and logged["attempts"] == 3
    assert [json.loads(r.body)["id"] for r in receiver.received] == [str(event_id)] * 3


async def test_unreachable_receiver_is_logged_and_retried(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: no answer at all (the port is closed) is a failed attempt with its reason
    p = await partner(live_app, live_client, receiver)
    receiver.close()
    await emit_committed(live_app, p.group_id)
    await dispatcher(live_app).run_once()
    [logged] = await deliveries(live_client, p)
    assert logged["status"] == "pending" and logged["last_status_code"] is None and logged["last_error"] == "connect_failed"


async def test_given_up_after_its_time_then_replayed(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: a delivery failing past its retry period is failed; replay sends the same event again
    receiver.statuses.append(500)
    p = await partner(live_app, live_client, receiver)
    await emit_committed(live_app, p.group_id)
    await dispatcher(live_app, webhook_give_up_hours=0.0).run_once()
    [failed] = await deliveries(live_client, p)
    assert failed["status"] == "failed" and failed["next_attempt_at"] is None
    replay = await live_client.post(
        f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}/deliveries/{failed['id']}/replay", headers=p.headers
    )
    assert replay.status_code == 202 and replay.json()["status"] == "pending" and replay.json()["id"] != failed["id"]
    await dispatcher(live_app).run_once()
    newest, oldest = await deliveries(live_client, p)
    assert newest["status"] == "succeeded" and oldest["status"] == "failed"
    first, second = (json.loads(r.body) for r in receiver.received)
    assert first == second  # the same event (same id): the receiver can tell it is a replay


async def test_sustained_failure_disables_the_endpoint_and_tells_the_admins(
    live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    # rule X3: N failures in a row over the period turn the endpoint off, with a mail to the owner and admins
    receiver.default = 500
    p = await partner(live_app, live_client, receiver)
    await emit_committed(live_app, p.group_id, 3)
    # Three failures but only just now: not sustained over the period, still on.
    await dispatcher(live_app, webhook_disable_after_failures=3).run_once()
    assert (await live_client.get(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}", headers=p.headers)).json()["enabled"]
    async with live_app.state.db.sessionmaker() as db:
        await db.execute(text("UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours'"))
        await db.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now()"))
        await db.commit()
    await dispatcher(live_app, webhook_disable_after_failures=3).run_once()
    endpoint = (await live_client.get(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}", headers=p.headers)).json()
    assert endpoint["enabled"] is False and endpoint["consecutive_failures"] == 6 and "failed deliveries" in endpoint["disabled_reason"]
    async with live_app.state.db.sessionmaker() as db:
        mails = (await db.scalars(select(MailMessage).where(MailMessage.template == "webhook_endpoint_disabled"))).all()
    assert [m.to_address for m in mails] == [p.owner_email] and p.endpoint_id in mails[0].body_text
    # Turned off: nothing more is sent, and new events are not queued for it; turned back on: the deliveries
    # that were waiting go out.
    sent = len(receiver.received)
    await emit_committed(live_app, p.group_id)
    async with live_app.state.db.sessionmaker() as db:
        await db.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now()"))
        await db.commit()
    assert await dispatcher(live_app).run_once() == 0 and len(receiver.received) == sent
    receiver.default = 200
    on = await live_client.patch(f"/v1/groups/{p.group_id}/webhook-endpoints/{p.endpoint_id}", json={"enabled": True}, headers=p.headers)
    assert on.json()["enabled"] is True and on.json()["consecutive_failures"] == 0
    assert await dispatcher(live_app).run_once() == 3


async def test_two_dispatchers_deliver_each_event_once(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: two workers at once, SKIP LOCKED claims and leases: every event exactly once
    receiver.delay_s = 0.01
    p = await partner(live_app, live_client, receiver)
    events = await emit_committed(live_app, p.group_id, 300)
    first, second = dispatcher(live_app), dispatcher(live_app)
    first.batch = second.batch = 40

    async def drain(sender: Dispatcher) -> int:
        total = 0
        while sent := await sender.run_once():
            total += sent
        return total

    counts = await asyncio.gather(drain(first), drain(second))
    assert sum(counts) == 300 and all(counts), counts  # both took part
    received = Counter(json.loads(r.body)["id"] for r in receiver.received)
    assert set(received) == {str(e) for e in events} and set(received.values()) == {1}
    async with live_app.state.db.sessionmaker() as db:
        outcomes = (await db.execute(text("SELECT status, attempts, count(*) FROM webhook_deliveries GROUP BY 1, 2"))).all()
    assert [tuple(o) for o in outcomes] == [("succeeded", 1, 300)]


async def test_a_worker_process_sends_by_itself(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: the dispatcher runs in each worker from its start to its stop
    p = await partner(live_app, live_client, receiver)
    ctx = {"sessionmaker": live_app.state.db.sessionmaker, "settings": get_settings()}
    start_dispatcher(ctx)
    try:
        await emit_committed(live_app, p.group_id)
        for _ in range(100):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
    finally:
        await stop_dispatcher(ctx)
    assert len(receiver.received) == 1 and "webhooks" not in ctx


async def test_an_event_of_a_rolled_back_change_is_never_sent(live_app: FastAPI, live_client: httpx.AsyncClient, receiver: Receiver) -> None:
    # rule X3: events are written in the change's transaction
    p = await partner(live_app, live_client, receiver)
    async with live_app.state.db.sessionmaker() as db:
        await emit(db, p.group_id, "payout.paid", uuid.uuid4())
        await db.rollback()
    assert await dispatcher(live_app).run_once() == 0 and receiver.received == []
    async with live_app.state.db.sessionmaker() as db:
        assert (await db.scalar(select(WebhookDelivery.id))) is None
        assert (await db.scalar(select(WebhookEndpoint.consecutive_failures))) == 0
