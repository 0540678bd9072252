"""Every problem code is registered, described at its `type` URI, and every message is finished: rule X4."""

import ast
import re
from pathlib import Path

import httpx

from app.core.errors import HTTP_CODES, ProblemDocument, problem_type
from app.core.outages import ANSWERS
from app.core.problems import PROBLEMS

APP = Path(__file__).resolve().parents[2] / "app"
# The functions that make a problem, and the position of their `code` argument.
MAKERS = {"Problem": 1, "conflict": 0, "problem_response": 1, "_problem": 2}
# Where a code is decided in a variable rather than written at the call: each source, listed here.
CODES_FROM_ELSEWHERE = {
    "session_not_started", "confirmation_window_closed",  # app/sessions/rules.confirmation_refusal
    "import_finalized",  # app/imports/service.py, chosen by the import's status
    "unsupported_type", "empty_file", "no_rows", "spreadsheet_encrypted",  # the upload's precheck (415)
    "payload_too_large", "shutting_down",  # app/core/middleware.py
}
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z_ ]*\}")


def _calls() -> list[tuple[Path, ast.Call, str]]:
    found = []
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in MAKERS or name == "ImportRejected":
                    found.append((path, node, name))
    return found


def _raised_codes() -> set[str]:
    codes = set()
    for _, call, name in _calls():
        position = MAKERS.get(name)
        if position is not None and len(call.args) > position:
            argument = call.args[position]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                codes.add(argument.value)
    return codes


def test_every_code_the_code_base_raises_is_registered() -> None:
    # rule X4: a partner finds every code in GET /problems
    raised = _raised_codes() | set(ANSWERS) | {code for code, _ in HTTP_CODES.values()} | CODES_FROM_ELSEWHERE
    assert len(raised) > 100
    missing = sorted(raised - set(PROBLEMS))
    assert not missing, f"register these in app/core/problems.py: {missing}"


def test_every_registered_code_says_what_fixes_it() -> None:
    # rule X4
    for code, kind in PROBLEMS.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code), code
        assert kind.title and kind.meaning.endswith(".") and kind.fix.endswith("."), code
        assert 400 <= kind.status < 600, code
        assert not re.search(r"\b[A-Z]{1,2}\d{1,2}\b", kind.meaning + kind.fix), f"{code} cites an internal rule id"


def test_no_message_carries_an_unfilled_placeholder() -> None:
    # rule X4: the literal text of every problem message, f-string parts included, has no `{name}` left in it
    # (an f-string's `{{name}}` comes out as `{name}`: the bug this catches)
    for path, call, _ in _calls():
        for node in ast.walk(call):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value:
                assert not PLACEHOLDER.search(node.value), f"{path.name}:{call.lineno}: {node.value!r}"
    for kind in PROBLEMS.values():
        assert not PLACEHOLDER.search(kind.meaning + kind.fix)


def test_the_problem_schema_types_every_extension_member_the_code_base_sends() -> None:
    # rule X1, X4: generated clients read `conflicts`, `missing`, `blockers`... as typed fields, not dicts
    sent = set()
    for _, call, name in _calls():
        if name in ("Problem", "conflict", "problem_response"):
            sent |= {k.arg for k in call.keywords if k.arg not in (None, "title", "headers")}
    untyped = sorted(sent - set(ProblemDocument.model_fields))
    assert not untyped, f"add these to ProblemDocument: {untyped}"


async def test_a_problem_type_uri_resolves_to_the_page_describing_its_code(client: httpx.AsyncClient) -> None:
    # rule X4: follow `type` from an error and land on what it means
    problem = (await client.get("/v1/me")).json()
    assert problem["type"] == problem_type("unauthenticated") and problem["type"].startswith("http")
    path = problem["type"].removeprefix(problem_type("").removesuffix("/problems/"))
    page = await client.get(path)
    assert page.status_code == 200
    assert page.json()["code"] == "unauthenticated" and page.json()["fix"]
    html = await client.get(path, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html") and "unauthenticated" in html.text


async def test_the_problem_index_lists_every_code(client: httpx.AsyncClient) -> None:
    # rule X4
    listed = (await client.get("/problems")).json()["items"]
    assert [item["code"] for item in listed] == sorted(PROBLEMS)
    unknown = await client.get("/problems/no_such_code")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


async def test_every_422_has_one_title(client: httpx.AsyncClient) -> None:
    # rule X4: "Unprocessable Content" (RFC 9110), whichever layer refuses
    invalid_body = await client.post("/v1/auth/signup", json={"email": "x"})
    control = await client.get("/v1/booking/a%00b")
    assert invalid_body.status_code == control.status_code == 422
    assert invalid_body.json()["title"] == control.json()["title"] == "Unprocessable Content"
