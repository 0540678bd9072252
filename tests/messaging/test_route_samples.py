"""The capability matrix's sample bodies and world for the messaging routes are valid: the conversation's
provider (group routes) and its client (/v1/me routes) get a 2xx for every route."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import Client, Group, User
from tests.fixtures.factories import user_headers
from tests.messaging.route_samples import SAMPLE_BODIES, extend_world


def messaging_operations() -> list[tuple[str, str, str, bool]]:
    spec = create_app().openapi()
    return [
        (method.upper(), path, operation["operationId"], "requestBody" in operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation["tags"][0] == "messaging"
    ]


async def test_every_messaging_route_works_with_its_sample_and_the_extended_world(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    operations = messaging_operations()
    assert {op_id for _, _, op_id, has_body in operations if has_body} == set(SAMPLE_BODIES)
    ids = {"group_id": group.id, "user_id": provider.id, "client_id": client_record.id}
    await extend_world(db, ids, None)
    await extend_world(db, ids, None)  # the matrix may build its world more than once: same conversation
    provider_headers, client_headers = await user_headers(db, provider), await user_headers(db, client_person)
    for method, path, operation_id, has_body in operations:
        url = path.replace("{group_id}", str(ids["group_id"])).replace("{conversation_id}", str(ids["conversation_id"]))
        headers = client_headers if path.startswith("/v1/me/") else provider_headers
        body = {k: str(ids["client_id"]) if v == "$client_id" else v for k, v in SAMPLE_BODIES.get(operation_id, {}).items()}
        response = await client.request(method, url, json=body if has_body else None, headers=headers)
        assert 200 <= response.status_code < 300, (operation_id, response.text)
