"""The OpenAPI document reads as a contract a partner can build against (rules X1, X4, X2).

Every operation, present and future: a human summary (not FastAPI's function-name default), a description
without internal rule ids, a realistic example for its request body that the API itself accepts, its
response headers documented, and every error typed as the one `Problem` schema. A new route without them
fails here.
"""

import json
import uuid

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.contract import TAGS
from app.core.examples import REQUEST_EXAMPLES
from app.core.openapi import RULE_ID
from app.main import create_app
from tests.fixtures.factories import make_user, user_headers

APP = create_app()
SPEC = APP.openapi()
OPERATIONS = [(path, method, op) for path, item in SPEC["paths"].items() for method, op in item.items()]
IDS = [f"{method.upper()} {path}" for path, method, _ in OPERATIONS]
ROUTES = {
    (context.path_format, method.lower()): context.route
    for context in iter_route_contexts(APP.routes)
    if isinstance(context.original_route, APIRoute)
    for method in context.methods
}


def _fastapi_default_summary(route: APIRoute) -> str:
    return route.name.replace("_", " ").title()


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_summary_and_a_description_for_partners(path: str, method: str, operation: dict) -> None:
    # rule X1
    summary = operation.get("summary", "")
    assert summary and summary != _fastapi_default_summary(ROUTES[(path, method)]), "write a summary= a partner would"
    assert len(summary) <= 80 and not summary.endswith("."), summary
    description = operation.get("description", "")
    assert len(description) >= 20, "the docstring is the description: write one for a partner"
    assert not RULE_ID.search(description), f"an internal rule id in: {description}"


@pytest.mark.parametrize(("path", "method", "operation"), [o for o in OPERATIONS if "requestBody" in o[2]], ids=[i for i, o in zip(IDS, OPERATIONS) if "requestBody" in o[2]])
def test_every_request_body_has_an_example_the_api_accepts(path: str, method: str, operation: dict) -> None:
    # rule X1: the example in the document is one the API accepts as it stands (app/core/examples.py)
    content = next(iter(operation["requestBody"]["content"].values()))
    assert "example" in content, f"add {operation['operationId']!r} to app/core/examples.py"
    body_field = ROUTES[(path, method)].body_field
    if body_field is not None and "multipart/form-data" not in operation["requestBody"]["content"]:
        TypeAdapter(body_field.field_info.annotation).validate_json(json.dumps(content["example"]))


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=IDS)
def test_every_response_documents_its_headers_and_every_error_is_a_problem(path: str, method: str, operation: dict) -> None:
    # rule X1, X4, X2
    idempotent = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    for status, response in operation["responses"].items():
        headers = response.get("headers", {})
        assert "X-Request-ID" in headers, status
        if status in ("429", "503"):
            assert "Retry-After" in headers, status
        if status == "201":
            assert "Location" in headers
        if idempotent and status.startswith("2"):
            assert "Idempotent-Replayed" in headers, status
        if status.startswith(("4", "5")):
            assert response["content"] == {"application/problem+json": {**response["content"]["application/problem+json"], "schema": {"$ref": "#/components/schemas/Problem"}}}
        elif status != "204" and "content" in response:
            for media in response["content"].values():
                assert media.get("schema") not in (None, {}), f"{status} has no schema"


def test_the_problem_schema_is_one_typed_schema() -> None:
    # rule X4: generated clients read typed members, not plain dicts
    problem = SPEC["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    for member in ("errors", "conflicts", "missing", "blockers", "retry_after"):
        assert member in problem["properties"], member
    assert "ProblemDocument" not in SPEC["components"]["schemas"]


def test_the_document_explains_itself() -> None:
    # rule X1: authentication, pagination, idempotency, errors, versioning and compatibility; every tag described
    description = SPEC["info"]["description"]
    for section in ("Authentication", "Pagination", "Idempotency", "Errors", "Versioning and compatibility"):
        assert f"## {section}" in description
    assert "enumerations" in description and "additive" in description
    used = {op["tags"][0] for _, _, op in OPERATIONS}
    described = {tag["name"]: tag["description"] for tag in SPEC["tags"]}
    assert used == set(described) and all(described.values())
    assert set(described) <= {name for name, _ in TAGS}
    assert not [o for o in REQUEST_EXAMPLES if o not in {op["operationId"] for _, _, op in OPERATIONS}]


async def test_creates_answer_location_that_reads_what_was_created(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X1: a 201 says where the new object is; following it reads that object
    owner = await make_user(db, first_name="Maya", last_name="Chen")
    headers = await user_headers(db, owner)
    group = await client.post("/v1/groups", json={"name": "Harbor Counseling", "owner_license_type": "LCSW"}, headers=headers)
    assert group.status_code == 201, group.text
    group_id = group.json()["group"]["id"]
    assert group.headers["location"] == f"/v1/groups/{group_id}"
    assert (await client.get(group.headers["location"], headers=headers)).json()["id"] == group_id

    new_client = {k: v for k, v in REQUEST_EXAMPLES["clients-add_client"].items() if k != "provider_id"}
    added = await client.post(f"/v1/groups/{group_id}/clients", json=new_client, headers=headers)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"/v1/groups/{group_id}/clients/{added.json()['id']}"
    assert (await client.get(added.headers["location"], headers=headers)).status_code == 200

    booked = await client.post(
        f"/v1/groups/{group_id}/sessions",
        json={"client_id": added.json()["id"], "starts_at": "2030-03-05T15:00:00Z", "telehealth": True},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert booked.status_code == 201, booked.text
    assert booked.headers["location"] == f"/v1/groups/{group_id}/sessions/{booked.json()['id']}"
    assert (await client.get(booked.headers["location"], headers=headers)).status_code == 200

    # An object with no address of its own points to where it is listed.
    grant = await client.post(f"/v1/groups/{group_id}/admin-grants", json=REQUEST_EXAMPLES["memberships-request_admin_grant"], headers=headers)
    assert grant.status_code == 201, grant.text
    assert grant.headers["location"] == f"/v1/groups/{group_id}/admin-grants"


async def test_a_replayed_create_says_so_and_keeps_its_location(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X2: the retry answers the first response, Location included, marked as replayed
    owner = await make_user(db)
    headers = {**await user_headers(db, owner), "Idempotency-Key": "first-practice-2027"}
    first = await client.post("/v1/groups", json={"owner_license_type": "LPC"}, headers=headers)
    again = await client.post("/v1/groups", json={"owner_license_type": "LPC"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers


async def test_welcome_email_answers_what_was_queued(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule X1: a 202 with a body a generated client can read, not `null`
    owner = await make_user(db)
    headers = await user_headers(db, owner)
    group_id = (await client.post("/v1/groups", json={"owner_license_type": "LPC"}, headers=headers)).json()["group"]["id"]
    new_client = {k: v for k, v in REQUEST_EXAMPLES["clients-add_client"].items() if k != "provider_id"}
    client_id = (await client.post(f"/v1/groups/{group_id}/clients", json=new_client, headers=headers)).json()["id"]
    welcome = await client.post(f"/v1/groups/{group_id}/clients/{client_id}/welcome-email", headers=headers)
    assert welcome.status_code == 202
    assert welcome.json() == {"client_id": client_id, "status": "queued"}


def test_every_money_amount_in_a_response_says_its_currency() -> None:
    # rule X1: integer cents always travel with their currency (request bodies take the group's currency)
    schemas = SPEC["components"]["schemas"]
    nested = {"EstimateInputs"}  # inside EstimateOut, whose `currency` covers them
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if name.endswith("In") or name in nested or not any(key.endswith("_cents") for key in properties):
            continue
        assert "currency" in properties, f"{name} has amounts without a currency"
    for name in ("PayoutLineOut", "ClinicianSubtotal", "UpcomingPayout", "TaxSummary", "CancellationOut"):
        assert "currency" in schemas[name]["required"], name
