"""Test mode never mixes with live data (rule X7), generated from the app's own OpenAPI document.

A test key writes in the group's test-mode copy; then every GET route of the API that the live world can
fill in is called by every live caller (the owner, a live key, staff, anonymous), and no answer may show
the test-mode copy or what the test key wrote. The other way round, the test key finds no live group route.
"""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.routing import PERSON, PUBLIC, STAFF
from app.main import create_app
from tests.fixtures.factories import api_key, bearer, make_group, make_user, user_headers

MARKER = "sandbox-only@test-mode.example"


def get_routes() -> list[tuple[str, str]]:
    spec = create_app().openapi()
    return [
        (path, operation["x-capability"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method == "get"
    ]


GET_ROUTES = get_routes()


async def test_no_live_list_ever_shows_a_test_mode_object(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X7: test-mode isolation
    owner = await make_user(db, first_name="Olive", last_name="Owner")
    group = await make_group(db, owner=owner, name="Harbor Counseling")
    staff = await make_user(db, is_staff=True)
    owner_headers = await user_headers(db, owner)
    created = await client.post(
        f"/v1/groups/{group.id}/api-keys",
        json={"name": "Sandbox", "mode": "test", "scopes": ["read", "account_settings", "booking_settings"]},
        headers=owner_headers,
    )
    assert created.status_code == 201, created.text
    test_key, test_group = bearer(created.json()["key"]), created.json()["acts_on_group_id"]
    written = await client.patch(
        f"/v1/groups/{test_group}/settings", json={"contact_email": MARKER, "intake_session_minutes": 45}, headers=test_key
    )
    assert written.status_code == 200, written.text

    callers = {
        "owner": owner_headers,
        "live_key": bearer(await api_key(db, group)),
        "staff": await user_headers(db, staff),
        "anonymous": {},
    }
    ids = {"group_id": str(group.id), "user_id": str(owner.id)}
    walked = 0
    for template, _capability in GET_ROUTES:
        path = template.format_map(_Fill(ids))
        if "{" in path or not path.startswith("/v1/"):
            continue  # needs an object the live world does not have; its list route is walked instead
        for name, headers in callers.items():
            response = await client.get(path, headers=headers)
            assert response.status_code < 500, (name, template, response.text)
            text = response.text
            if template.endswith("/api-keys") and response.status_code == 200:
                # The keys list names the copy each test key acts on (that is how a partner finds it), nothing more.
                text = str([{k: v for k, v in item.items() if k != "acts_on_group_id"} for item in response.json()["items"]])
            assert test_group not in text and MARKER not in text, (name, template, response.text)
            walked += 1
    assert walked >= 4 * 20  # the walk reached the group's lists, /v1/me, /v1/groups, staff and public routes


async def test_a_test_key_finds_no_live_group_route(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X7: test-mode isolation, the other way round
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    created = await client.post(
        f"/v1/groups/{group.id}/api-keys", json={"name": "Sandbox", "mode": "test"}, headers=await user_headers(db, owner)
    )
    test_key = bearer(created.json()["key"])
    for template, capability in GET_ROUTES:
        if "{group_id}" not in template or capability in (PUBLIC, PERSON, STAFF):
            continue
        path = template.format_map(_Fill({"group_id": str(group.id), "user_id": str(owner.id)}))
        if "{" in path:
            continue
        response = await client.get(path, headers=test_key)
        assert response.status_code == 404, (template, response.text)


class _Fill(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
