"""Interactive documentation that works offline (X8): Swagger UI and ReDoc served from the app.

The assets come from the pinned `fastapi-offline` package, never from a CDN: a page about health data runs
no third-party script, and the docs load on a machine with no internet. A Content-Security-Policy on the
pages allows only this origin (plus the one inline script Swagger UI needs, by its hash).
"""

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Swagger UI's default validator badge is an image from a public server: off.
SWAGGER_UI_PARAMETERS = {"persistAuthorization": True, "validatorUrl": None, "tryItOutEnabled": True}


def content_security_policy(html: str) -> str:
    # Inline styles stay allowed: ReDoc and Swagger UI set them at run time (they load nothing from elsewhere).
    # ReDoc runs its search index in a worker made from a blob.
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'self'; "
        f"script-src 'self' {hashes}".rstrip() + "; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _page(html: str) -> Response:
    headers = {"Content-Security-Policy": content_security_policy(html), "Cache-Control": "no-cache"}
    return HTMLResponse(html, headers=headers)


def install_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI, with the OAuth2 password flow of `/v1/auth/token`) and `/redoc`."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")

    # Built per request: the pages quote the root path a proxy may mount the API under.
    def swagger_ui(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        ).body.decode()
        return _page(html)

    def oauth2_redirect(request: Request) -> Response:
        return _page(get_swagger_ui_oauth2_redirect_html().body.decode())

    def redoc(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        ).body.decode()
        return _page(html)

    # Plain Starlette routes, as FastAPI's own docs routes are: not operations of the API.
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
