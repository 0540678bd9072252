"""The capability matrix's samples for the session routes are valid requests."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group, User
from tests.sessions.conftest import sessions_url
from tests.sessions.route_samples import SAMPLE_BODIES, extend_world


def body(name: str, ids: dict) -> dict:
    return {k: str(ids[v[1:]]) if isinstance(v, str) and v.startswith("$") else v for k, v in SAMPLE_BODIES[name].items()}


async def test_samples_are_accepted(client: httpx.AsyncClient, app, db: AsyncSession, group: Group, provider: User,
                                    client_record: Client, as_user) -> None:
    ids = {"group_id": group.id, "client_id": client_record.id, "user_id": provider.id}
    await extend_world(db, ids, app.state.storage)
    headers = await as_user(provider)
    created = await client.post(sessions_url(group), json=body("sessions-create_session", ids), headers=headers)
    assert created.status_code == 201, created.text
    moved = await client.patch(sessions_url(group, ids["session_id"]), json=body("sessions-update_session", ids), headers=headers)
    assert moved.status_code == 200, moved.text
    # the world's session has started: confirm answers on the merits (this client is ready here), cancel says use no-show
    confirmed = await client.post(sessions_url(group, ids["session_id"], "confirm"), json=body("sessions-confirm_session", ids), headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    cancelled = await client.post(sessions_url(group, created.json()["id"], "cancel"), json=body("sessions-cancel_session", ids), headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    series = await client.post(sessions_url(group, "series"), json=body("sessions-create_series", ids), headers=headers)
    assert series.status_code == 201, series.text
    # the client's own cancel: their series' last session, well before the window
    person = await db.get(User, client_record.user_id)
    last = series.json()["sessions"][-1]["id"]
    mine = await client.post(f"/v1/me/sessions/{last}/cancel", json=body("sessions-cancel_my_session", ids), headers=await as_user(person))
    assert mine.status_code == 200, mine.text
