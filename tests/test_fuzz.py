"""Every operation fuzzed from the committed OpenAPI document (rule X5, X1, X4).

Schemathesis generates requests from `openapi/openapi.json` (valid and invalid bodies, query strings,
headers) and sends them, as the group's owner, with the ids of a real world (the capability matrix's:
a group with members, clients, sessions, documents, imports...). Every answer must be documented for
its operation, never a 5xx, with a body and content type matching the document.

The API runs as a real `caseload serve` subprocess on its own scratch database, not in process:
schemathesis' ASGI transport (Starlette's TestClient) runs the app on its own thread and event loop,
while the suite's database connections belong to the test loop; and a real server also exercises
what runs before the app (uvicorn's parser and limits). Bounded for CI; a longer run by hand:

    CASELOAD_FUZZ_EXAMPLES=200 python3 bootstrap.py test tests/test_fuzz.py
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from app.cli import OPENAPI_PATH
from app.core.db import sqlalchemy_url
from app.core.storage import LocalStorage
from tests.fixtures.database import drop_database, recreate_database, run_migrations
from tests.groups.test_capability_matrix import World, build_world

MAX_EXAMPLES = int(os.environ.get("CASELOAD_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(json.loads(OPENAPI_PATH.read_text()))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, World]]:
    name = f"caseload_fuzz_{uuid.uuid4().hex[:8]}"
    url = await recreate_database(name)
    files = tmp_path_factory.mktemp("fuzz-files")
    server = None
    try:
        await asyncio.to_thread(run_migrations, url)
        engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await build_world(db, LocalStorage(files))
            await db.commit()
        await engine.dispose()
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url, "FILES_DIR": str(files), "LOG_LEVEL": "error"}
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{base_url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, "caseload serve did not start"
                await asyncio.sleep(0.2)
        yield base_url, world
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        await drop_database(name)


def _as_owner(case: Any, world: World) -> dict[str, str]:
    # Real objects, not random ids: otherwise almost every request would stop at a 404.
    for parameter in list(case.path_parameters or {}):
        if parameter in world.ids:
            case.path_parameters[parameter] = str(world.ids[parameter])
    # Logging out ends the session it is called with: use a credential nothing else needs.
    caller = "provider_admin" if case.path == "/v1/auth/logout" else "owner"
    return world.credentials[caller]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize="CASELOAD_FUZZ_EXAMPLES" not in os.environ,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_only_what_it_documents(case: Any, served: tuple[str, World]) -> None:
    # rule X5: no input makes the API answer 500; only documented statuses, bodies matching the document
    base_url, world = served
    headers = _as_owner(case, world)
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)


def _raw(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_the_server_caps_the_request_head_and_answers_problem_documents(served: tuple[str, World]) -> None:
    # rule X5, X4: what the server refuses before the app is a problem document too
    base_url, _ = served
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 200_000 + b"\r\n\r\n"
    status, headers, body = _raw(base_url, big)
    assert (status, headers["content-type"], json.loads(body)["code"]) == (431, "application/problem+json", "request_header_too_large")
    control = b"GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\nConnection: close\r\n\r\n"
    status, headers, body = _raw(base_url, control)
    assert (status, headers["content-type"], json.loads(body)["code"]) == (400, "application/problem+json", "bad_request")
    # under the cap, and a large body after a small head, are the app's to answer
    fine = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 30_000 + b"\r\nConnection: close\r\n\r\n"
    assert _raw(base_url, fine)[0] == 200
    body = b"x" * 300_000
    upload = (b"POST /v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    status, headers, _ = _raw(base_url, upload)
    assert status == 422 and headers["content-type"] == "application/problem+json"
