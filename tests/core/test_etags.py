"""ETag, If-None-Match and If-Match on the resources two people may edit: rule X6.

Run on the capability matrix's world (tests/groups/test_capability_matrix.py): a practice with a client,
a session, settings, rates and a provider profile, each written with its matrix sample body.
"""

import httpx
import pytest
from tests.groups.test_capability_matrix import (  # noqa: F401  (fixtures)
    SAMPLE_BODIES,
    World,
    conn,
    storage,
    world,
    world_conn,
)

# (path, write method, sample body's operation id)
RESOURCES = {
    "client": ("/v1/groups/{group_id}/clients/{client_id}", "PATCH", "clients-update_client"),
    "session": ("/v1/groups/{group_id}/sessions/{session_id}", "PATCH", "sessions-update_session"),
    "settings": ("/v1/groups/{group_id}/settings", "PATCH", "practice-update_settings"),
    "rates": ("/v1/groups/{group_id}/rates", "PUT", "practice-replace_rates"),
    "profile": ("/v1/groups/{group_id}/providers/{user_id}/profile", "PATCH", "providers-update_profile"),
}


def resource(name: str, world: World) -> tuple[str, str, dict]:
    path, method, operation_id = RESOURCES[name]
    for key, value in world.ids.items():
        path = path.replace("{" + key + "}", str(value))
    body = {k: str(world.ids[v[1:]]) if isinstance(v, str) and v[1:] in world.ids else v for k, v in SAMPLE_BODIES[operation_id].items()}
    return path, method, body


@pytest.mark.parametrize("name", RESOURCES)
async def test_a_read_answers_an_etag_and_304_when_it_is_still_current(name: str, world: World, client: httpx.AsyncClient) -> None:
    # rule X6
    path, _, _ = resource(name, world)
    owner = world.credentials["owner"]
    first = await client.get(path, headers=owner)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert (await client.get(path, headers=owner)).headers["etag"] == etag  # the same representation, the same tag
    unchanged = await client.get(path, headers={**owner, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    weak = await client.get(path, headers={**owner, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304  # If-None-Match compares weakly
    other = await client.get(path, headers={**owner, "If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.json() == first.json()


@pytest.mark.parametrize("name", RESOURCES)
async def test_a_stale_if_match_is_refused_with_the_current_etag(name: str, world: World, client: httpx.AsyncClient) -> None:
    # rule X6
    path, method, body = resource(name, world)
    owner = world.credentials["owner"]
    before = await client.get(path, headers=owner)
    current = before.headers["etag"]
    for stale in ('"stale"', f"W/{current}"):  # a weak tag never matches If-Match
        refused = await client.request(method, path, json=body, headers={**owner, "If-Match": stale})
        assert refused.status_code == 412, refused.text
        problem = refused.json()
        assert problem["code"] == "precondition_failed" and refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["etag"] == problem["current_etag"] == current
        assert "If-Match" in problem["detail"]
    after = await client.get(path, headers=owner)
    assert after.headers["etag"] == current and after.json() == before.json()  # nothing changed


@pytest.mark.parametrize("name", RESOURCES)
async def test_a_current_if_match_writes_once_and_answers_the_new_etag(name: str, world: World, client: httpx.AsyncClient) -> None:
    # rule X6: the write with the ETag read succeeds; a second write with that same (now stale) ETag is refused
    path, method, body = resource(name, world)
    owner = world.credentials["owner"]
    read = await client.get(path, headers=owner)
    current = read.headers["etag"]
    # Make sure the write changes something, so the second one's ETag is stale.
    changed = await client.request(method, path, json=body, headers={**owner, "If-Match": current})
    assert changed.status_code == 200, changed.text
    new = (await client.get(path, headers=owner)).headers["etag"]
    assert changed.headers["etag"] == new  # the write's answer carries the tag a read now gives
    if new != current:
        again = await client.request(method, path, json=body, headers={**owner, "If-Match": current})
        assert again.status_code == 412 and again.json()["current_etag"] == new
    assert (await client.request(method, path, json=body, headers={**owner, "If-Match": f'"x", {new}'})).status_code == 200
    assert (await client.request(method, path, json=body, headers={**owner, "If-Match": "*"})).status_code == 200
    assert (await client.request(method, path, json=body, headers=owner)).status_code == 200  # If-Match stays optional


async def test_if_match_does_not_reveal_another_groups_resource(world: World, client: httpx.AsyncClient) -> None:
    # rule X6 with tenancy: another group's caller gets the 404 they would get without If-Match
    path, method, body = resource("client", world)
    outsider = world.credentials["other_group_member"]
    refused = await client.request(method, path, json=body, headers={**outsider, "If-Match": '"guess"'})
    assert refused.status_code == 404 and "etag" not in refused.headers
    assert (await client.get(path, headers={**outsider, "If-None-Match": "*"})).status_code == 404
