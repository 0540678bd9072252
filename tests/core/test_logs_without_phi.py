"""PHI stays out of logs (DESIGN.md 8): ids and statuses only."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]):
    def read() -> str:
        return capsys.readouterr().out

    return read


async def test_signup_login_and_errors_log_no_names_emails_or_secrets(client: httpx.AsyncClient, db: AsyncSession, logs, monkeypatch) -> None:
    from app.core.logging import configure_logging

    configure_logging("INFO")
    email, password = "Priya.Patel@example.com", "a private passphrase"
    await client.post("/v1/auth/signup", json={"email": email, "password": password, "first_name": "Priya", "last_name": "Patel"})
    await client.post("/v1/auth/token", data={"username": email, "password": "wrong password here"})
    await client.get("/v1/me", params={"search": "Priya"}, headers={"Authorization": "Bearer cls_leaky"})
    output = logs()
    assert '"path":"/v1/auth/signup"' in output  # the access log is there...
    for secret in ("priya", "patel", "a private passphrase", "wrong password here", "cls_leaky", "search="):
        assert secret not in output.lower(), secret  # ...without what the requests carried


def test_a_library_exception_is_one_json_line_without_its_row_values(logs) -> None:
    """A library (uvicorn, asyncpg) logging an exception through the standard library must still
    write one JSON line, its traceback as data, and the database's DETAIL (row values) dropped."""
    import logging

    import orjson

    from app.core.logging import configure_logging

    configure_logging("INFO")
    try:
        raise RuntimeError('duplicate key value\nDETAIL:  Key (email)=(priya@example.com) already exists.')
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = [orjson.loads(line) for line in logs().splitlines() if line.strip()]
    assert lines[-1]["event"] == "Exception in ASGI application"
    assert lines[-1]["exception"][0]["exc_type"] == "RuntimeError"
    assert "priya" not in orjson.dumps(lines[-1]).decode()


async def test_the_access_log_names_the_caller_and_the_client_address(client: httpx.AsyncClient, db: AsyncSession, logs) -> None:
    # operators trace a request to who made it and from where: ids and the address, nothing the request carried
    import json

    from app.core.logging import configure_logging
    from tests.fixtures.factories import make_user, user_headers

    configure_logging("INFO")
    user = await make_user(db)
    headers = await user_headers(db, user)
    logs()
    await client.get("/v1/me", headers=headers)
    await client.get("/v1/me")
    lines = [json.loads(line) for line in logs().splitlines() if '"event":"request"' in line]
    assert [(line["actor"], line["status"]) for line in lines] == [(f"user:{user.id}", 200), (None, 401)]
    assert all(line["client"] for line in lines)
