"""The capability matrix's sample bodies for the onboarding routes are valid: a person gets a 2xx."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import User
from tests.fixtures.factories import user_headers
from tests.onboarding.route_samples import SAMPLE_BODIES


def sampled_operations() -> list[tuple[str, str, str]]:
    spec = create_app().openapi()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation["tags"][0] == "onboarding" and "requestBody" in operation
    ]


async def test_every_route_with_a_body_has_a_valid_sample(client: httpx.AsyncClient, db: AsyncSession, person: User) -> None:
    operations = sampled_operations()
    assert {op_id for _, _, op_id in operations} == set(SAMPLE_BODIES)
    headers = await user_headers(db, person)
    for method, path, operation_id in operations:
        response = await client.request(method, path, json=SAMPLE_BODIES[operation_id], headers=headers)
        assert 200 <= response.status_code < 300, (operation_id, response.text)
