"""The operations command: `caseload create-staff` (rule A4) and `caseload openapi --check`."""

import os
import subprocess
import sys

import httpx
from fastapi import FastAPI

from app.config import get_settings


def caseload(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, "DATABASE_URL": get_settings().database_url or "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_create_staff_makes_a_verified_staff_account(live_app: FastAPI, live_client: httpx.AsyncClient) -> None:
    # rule A4: staff is a platform role, created by operations
    done = caseload("create-staff", "--email", "Ops.Person@example.com", CASELOAD_STAFF_PASSWORD="a staff passphrase!")
    assert done.returncode == 0, done.stderr
    token = await live_client.post("/v1/auth/token", data={"username": "ops.person@example.com", "password": "a staff passphrase!"})
    me = await live_client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["user"]["is_staff"] is True and me.json()["user"]["email_verified"] is True
    short = caseload("create-staff", "--email", "x@example.com", CASELOAD_STAFF_PASSWORD="short")
    assert short.returncode != 0 and "12 characters" in short.stderr


def test_openapi_check_passes_on_the_committed_document() -> None:
    # rule X1
    done = caseload("openapi", "--check")
    assert done.returncode == 0, done.stderr
