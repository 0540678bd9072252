"""Password reset end to end with real commits and a real arq worker: the link comes out of the `.eml`
the worker writes (rule A5)."""

import re
from collections.abc import Awaitable, Callable

import httpx
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.core.test_jobs_and_mail_live import wait_relayed
from tests.fixtures.mail import eml_files, read_eml

RunWorker = Callable[[], Awaitable[Worker]]


async def test_forgotten_password_to_login_through_the_real_worker(
    live_client: httpx.AsyncClient, engine: AsyncEngine, run_worker: RunWorker
) -> None:
    # rule A5 end to end
    signup = {"email": "noor@example.com", "password": "a long enough password", "first_name": "Noor", "last_name": "Ali"}
    assert (await live_client.post("/v1/auth/signup", json=signup)).status_code == 202
    before = set(eml_files())
    assert (await live_client.post("/v1/auth/password-reset", json={"email": "noor@example.com"})).status_code == 202
    await wait_relayed(engine)
    worker = await run_worker()
    assert worker.jobs_failed == 0
    reset = [read_eml(path) for path in set(eml_files()) - before]
    reset = [m for m in reset if m["X-Caseload-Template"] == "password_reset"]
    assert len(reset) == 1 and reset[0]["To"] == "noor@example.com"
    body = reset[0].get_payload(decode=True).decode()
    assert body.startswith("Hello Noor,")
    token = re.search(r"token=(cpr_[A-Za-z0-9_-]+)", body).group(1)
    new_password = "a different long passphrase"
    confirmed = await live_client.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password})
    assert confirmed.status_code == 204
    login = await live_client.post("/v1/auth/token", data={"username": "noor@example.com", "password": new_password})
    assert login.status_code == 200
