"""The capability matrix's samples for the availability routes are valid requests."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, User
from tests.availability.conftest import provider_url
from tests.availability.route_samples import SAMPLE_BODIES, extend_world


async def test_samples_are_accepted(client: httpx.AsyncClient, app, db: AsyncSession, group: Group, owner: User,
                                    provider: User, as_user) -> None:
    ids = {"group_id": group.id, "user_id": provider.id}
    await extend_world(db, ids, app.state.storage)
    headers = await as_user(provider)
    calls = [
        ("PUT", provider_url(group, provider, "weekly-hours"), "availability-replace_weekly_hours", 200),
        ("POST", provider_url(group, provider, "time-off"), "availability-add_time_off", 201),
        ("POST", provider_url(group, provider, "licenses"), "availability-add_license", 201),
    ]
    for method, url, name, status in calls:
        response = await client.request(method, url, json=SAMPLE_BODIES[name], headers=headers)
        assert response.status_code == status, response.text
    settings = await client.put(f"/v1/groups/{group.id}/booking-settings", json=SAMPLE_BODIES["availability-put_booking_settings"],
                                headers=await as_user(owner))
    assert settings.status_code == 200, settings.text
    for what, key in (("time-off", "time_off_id"), ("licenses", "license_id")):
        gone = await client.delete(provider_url(group, provider, what, ids[key]), headers=headers)
        assert gone.status_code == 204, gone.text
