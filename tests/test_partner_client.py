"""A client generated from the committed document works for a partner (rule X1, X4).

The generator (openapi-python-client) is not a project dependency: the test runs when it is installed
(on PATH, or named by CASELOAD_CLIENT_GENERATOR) and is skipped otherwise. The generated package is
imported by the generator's own interpreter, which has the libraries generated code needs.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.partner_client import PACKAGE, generate

GENERATOR = os.environ.get("CASELOAD_CLIENT_GENERATOR") or shutil.which("openapi-python-client")

pytestmark = pytest.mark.skipif(GENERATOR is None, reason="openapi-python-client is not installed")

CHECK = f"""

from {PACKAGE}.models import Problem, SessionConflict, ProblemBlocker, FieldError, TokenResponse
from {PACKAGE}.api.auth import auth_issue_token
from {PACKAGE}.api.me import me_read_me
hints = {{name: str(kind) for name, kind in Problem.__annotations__.items()}}
assert "SessionConflict" in str(hints["conflicts"]), hints["conflicts"]
assert "ProblemBlocker" in str(hints["blockers"]), hints["blockers"]
assert "FieldError" in str(hints["errors"]), hints["errors"]
problem = Problem.from_dict({{"type": "https://api.example/problems/session_conflict", "title": "Conflict", "status": 409,
    "detail": "Taken.", "code": "session_conflict", "conflicts": [{{"party": "client", "starts_at": "2027-03-09T15:00:00Z",
    "ends_at": "2027-03-09T15:53:00Z", "other_practice": False}}]}})
assert problem.conflicts[0].party == "client" and problem.code == "session_conflict"
print("ok")
"""


def test_the_generated_client_types_problems_and_names_operations(tmp_path: Path) -> None:
    # rule X1: generated from openapi/openapi.json unchanged; rule X4: typed problem members, not dicts
    generate(str(GENERATOR), tmp_path)
    python = Path(str(GENERATOR)).with_name("python")
    if not python.exists():
        pytest.skip("the generator's interpreter is not beside it")
    result = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
