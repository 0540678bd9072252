"""What each problem code means, served where the problems' `type` URIs point (X4)."""

import html
from typing import Annotated

from fastapi import Path, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, Response

from app.core.errors import not_found, problem_responses, problem_type
from app.core.problems import PROBLEMS
from app.core.routing import PUBLIC, allowed, router

problems_router = router("/problems", "problems")


class ProblemKindOut(BaseModel):
    code: str = Field(examples=["session_conflict"])
    type: str = Field(description="The URI a problem document of this code carries in `type`.")
    status: int = Field(description="The HTTP status it usually comes with.", examples=[409])
    title: str = Field(examples=["Time taken"])
    meaning: str
    fix: str = Field(description="What would make the request succeed.")


class ProblemKindList(BaseModel):
    items: list[ProblemKindOut]


def _kind(code: str) -> ProblemKindOut:
    kind = PROBLEMS[code]
    return ProblemKindOut(code=code, type=problem_type(code), status=kind.status, title=kind.title, meaning=kind.meaning, fix=kind.fix)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _page(kinds: list[ProblemKindOut]) -> Response:
    rows = "".join(
        f"<section id='{k.code}'><h2><code>{k.code}</code> ({k.status}): {html.escape(k.title)}</h2>"
        f"<p>{html.escape(k.meaning)}</p><p><strong>To fix:</strong> {html.escape(k.fix)}</p></section>"
        for k in kinds
    )
    body = f"<!doctype html><html><head><meta charset='utf-8'><title>Caseload API problems</title></head><body>{rows}</body></html>"
    return HTMLResponse(body, headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"})


_HTML = {200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The page (JSON unless the caller asks for HTML only)."}}


@problems_router.get(
    "",
    summary="List every problem code",
    response_model=ProblemKindList,
    responses=_HTML,
    **allowed(PUBLIC),
)
async def list_problems(request: Request) -> ProblemKindList | Response:
    """Every `code` the API may answer in a problem document, with what it means and what would fix it.
    New codes may be added at any time: a client should treat an unknown code by its HTTP status.
    Browsers (`Accept: text/html`) get a readable page."""
    kinds = [_kind(code) for code in sorted(PROBLEMS)]
    return _page(kinds) if _wants_html(request) else ProblemKindList(items=kinds)


@problems_router.get(
    "/{code}",
    summary="Describe one problem code",
    response_model=ProblemKindOut,
    responses={**_HTML, **problem_responses(404)},
    **allowed(PUBLIC),
)
async def get_problem(request: Request, code: Annotated[str, Path(max_length=64, examples=["session_conflict"])]) -> ProblemKindOut | Response:
    """What a problem `code` means and what would make the request succeed. Every problem document's `type`
    is this page's URI, so following it from an error leads here."""
    if code not in PROBLEMS:
        raise not_found("problem code")
    kind = _kind(code)
    return _page([kind]) if _wants_html(request) else kind
