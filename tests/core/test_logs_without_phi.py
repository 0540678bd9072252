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
