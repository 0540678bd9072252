"""The interactive documentation works with no internet, and named front ends may call the API: rule X8."""

import re
import shutil
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings, get_settings
from app.main import create_app

FRONT_END = "https://app.partner.example"


@pytest.fixture
async def docs_client() -> AsyncIterator[httpx.AsyncClient]:
    settings = get_settings().model_copy(update={"cors_origins": [FRONT_END]})
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_every_asset_a_docs_page_references_is_served_by_the_api(docs_client: httpx.AsyncClient, page: str) -> None:
    # rule X8: nothing is loaded from another host, so the page works offline
    answer = await docs_client.get(page)
    assert answer.status_code == 200
    references = _references(answer.text)
    assert any(ref.endswith(".js") for ref in references)
    for ref in references:
        assert ref.startswith("/"), f"{page} loads {ref} from elsewhere"
        asset = await docs_client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_allow_scripts_only_from_the_api_itself(docs_client: httpx.AsyncClient, page: str) -> None:
    # rule X8: a page about health data runs no third-party script
    policy = (await docs_client.get(page)).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert all(source == "'self'" or source.startswith("'sha256-") for source in directives["script-src"].split())
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in policy


async def test_swagger_ui_logs_in_with_the_password_flow(docs_client: httpx.AsyncClient) -> None:
    # rule X8: the Authorize dialog posts the password form to the token route
    page = (await docs_client.get("/docs")).text
    assert "/docs/oauth2-redirect" in page
    assert (await docs_client.get("/docs/oauth2-redirect")).status_code == 200
    scheme = (await docs_client.get("/openapi.json")).json()["components"]["securitySchemes"]
    flows = [s["flows"]["password"] for s in scheme.values() if s["type"] == "oauth2"]
    assert flows and flows[0]["tokenUrl"] == "/v1/auth/token"


async def test_a_named_front_end_passes_its_preflight(docs_client: httpx.AsyncClient) -> None:
    # rule X8: a front end on a configured origin can send an authenticated, idempotent POST
    answer = await docs_client.options(
        "/v1/groups",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == FRONT_END
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "idempotency-key" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers  # tokens travel as headers, never cookies
    # The answer itself is readable by that page, with the headers it needs.
    read = await docs_client.get("/healthz", headers={"Origin": FRONT_END})
    assert read.headers["access-control-allow-origin"] == FRONT_END
    assert "x-request-id" in read.headers["access-control-expose-headers"].lower()


async def test_an_origin_not_named_is_refused(docs_client: httpx.AsyncClient) -> None:
    # rule X8: exact origins only
    answer = await docs_client.options(
        "/v1/groups", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    read = await docs_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in read.headers


def test_cors_origins_are_read_comma_separated_and_never_a_wildcard() -> None:
    # rule X8
    assert Settings(cors_origins="https://a.example, https://b.example/").cors_origins == ["https://a.example", "https://b.example"]
    with pytest.raises(ValueError):
        Settings(cors_origins="*")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
def test_swagger_ui_renders_in_a_headless_browser_without_network(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # rule X8: the page renders the operations from local assets alone (the browser is given no proxy and
    # no other host can be reached through the API's own origin)
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, lifespan="off", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
             f"--user-data-dir={tmp_path}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
             "--dump-dom", f"http://127.0.0.1:{port}/docs"],
            capture_output=True, text=True, timeout=60,
        ).stdout
        assert "opblock" in dom  # Swagger UI drew the operations
    finally:
        server.should_exit = True
        thread.join(timeout=5)
