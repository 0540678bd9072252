"""A partner's first call through a client generated from `openapi/openapi.json` (rule X1).

The generator is not a dependency of the project: install it in a throwaway virtualenv, then point this
script at it and at a running API (`python3 bootstrap.py dev` prints the demo logins):

    python3 -m venv /tmp/gen && /tmp/gen/bin/pip install openapi-python-client
    /tmp/gen/bin/python scripts/partner_client.py --generator /tmp/gen/bin/openapi-python-client \\
        --api http://127.0.0.1:8000 --email owner@demo.caseload.example --password demo-password-2026

It generates the client into a temporary directory, logs in, reads `/v1/me`, and shows a refusal
arriving as the typed `Problem` model (its `code`, and `type` (`type_` in Python) pointing at the page that explains it).
"""

import argparse
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
PACKAGE = "caseload_client"


def generate(generator: str, into: Path) -> Path:
    """Generate the client package `caseload_client` under `into`; return the directory to import it from."""
    subprocess.run(
        [generator, "generate", "--path", str(DOCUMENT), "--meta", "none", "--output-path", str(into / PACKAGE), "--overwrite"],
        check=True,
        capture_output=True,
    )
    return into


def first_call(api: str, email: str, password: str) -> None:
    client_module = importlib.import_module(f"{PACKAGE}.client")
    issue_token = importlib.import_module(f"{PACKAGE}.api.auth.auth_issue_token")
    read_me = importlib.import_module(f"{PACKAGE}.api.me.me_read_me")
    models = importlib.import_module(f"{PACKAGE}.models")

    anonymous = client_module.Client(base_url=api)
    token = issue_token.sync(client=anonymous, body=models.BodyAuthIssueToken(username=email, password=password))
    if isinstance(token, models.Problem):
        sys.exit(f"login refused: {token.code} ({token.type_}): {token.detail}")
    caller = client_module.AuthenticatedClient(base_url=api, token=token.access_token)
    me = read_me.sync(client=caller)
    print(f"logged in as {me.user.email}; groups: {[m.group_name for m in me.memberships]}")

    refused = issue_token.sync(client=anonymous, body=models.BodyAuthIssueToken(username=email, password="not the password"))
    assert isinstance(refused, models.Problem)
    print(f"a wrong password is a typed Problem: code={refused.code} status={refused.status} type={refused.type_}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="openapi-python-client")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sys.path.insert(0, str(generate(args.generator, Path(scratch))))
        first_call(args.api, args.email, args.password)


if __name__ == "__main__":
    main()
