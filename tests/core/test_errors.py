"""One error format: rule X4 (RFC 9457 problem documents with a stable code)."""

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI

from app.core.errors import problem_type
from app.core.routing import PUBLIC, allowed, router

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_KEYS <= body.keys()
    # rule X4: the type is an absolute URI that the API itself serves (tests/core/test_problem_codes.py)
    assert body["status"] == status and body["code"] == code and body["type"] == problem_type(code)
    assert body["type"].startswith(("http://", "https://"))
    return body


async def test_unknown_path_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/v1/me"), 405, "method_not_allowed")


async def test_validation_lists_each_field(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/auth/signup", json={"email": "not-an-email"}), 422, "validation_failed")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"body.email", "body.password", "body.first_name", "body.last_name"}


async def test_malformed_json_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/signup", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 422, "validation_failed")


async def test_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/signup", content=b"x" * (1_048_576 + 1), headers={"content-type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    broken = router("/test-only", "test")

    @broken.get("/crash", **allowed(PUBLIC))
    async def crash() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @broken.get("/pool", **allowed(PUBLIC))
    async def pool_exhausted() -> None:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

    app.include_router(broken)
    return app


async def test_500_hides_internals(failing_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/test-only/crash")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["detail"].startswith("Something went wrong")
    assert response.headers["x-request-id"]


async def test_exhausted_pool_is_503_with_retry_after(failing_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/test-only/pool")
    assert_problem(response, 503, "database_busy")
    assert response.headers["retry-after"] == "1"


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"
    assert (await client.get("/healthz", headers={"X-Request-ID": "bad id\n"})).headers["x-request-id"] != "bad id\n"
