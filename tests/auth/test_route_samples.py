"""The capability matrix's sample bodies for the account routes are valid requests (never a 422), so the
matrix exercises the routes' rules rather than their validation."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from tests.auth.route_samples import SAMPLE_BODIES
from tests.fixtures.factories import user_headers


def sampled_operations() -> list[tuple[str, str, str]]:
    spec = create_app().openapi()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation["operationId"] in SAMPLE_BODIES
    ]


@pytest.mark.parametrize("method, path, operation_id", sampled_operations())
async def test_samples_pass_validation(client: httpx.AsyncClient, db: AsyncSession, person, method: str, path: str, operation_id: str) -> None:
    response = await client.request(method, path, headers=await user_headers(db, person), json=SAMPLE_BODIES[operation_id])
    assert response.status_code not in (401, 403, 404, 422) and response.status_code < 500, response.text


def test_every_sample_names_a_route() -> None:
    assert {op for _, _, op in sampled_operations()} == set(SAMPLE_BODIES)
