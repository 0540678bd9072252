"""The operations command as operators use it: JSON on stdout, one line for what cannot be reached, --help (rules P5, O1)."""

import json
import socket

import pytest
from fastapi import FastAPI

from app.models import OutboxJob
from tests.test_cli import caseload


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_settle_prints_only_json_on_stdout(live_app: FastAPI) -> None:
    # rule P5 on demand from the shell: `caseload settle | jq` works, the logs are on stderr
    done = caseload("settle", LOG_LEVEL="INFO")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["payouts_scheduled"] == 0 and "timings" in result
    assert "settlement_done" in done.stderr


@pytest.mark.parametrize("service", ["DATABASE_URL", "REDIS_URL"])
def test_an_unreachable_service_is_one_line_and_exit_2(service: str) -> None:
    port = closed_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/caseload" if service == "DATABASE_URL" else f"redis://127.0.0.1:{port}/0"
    done = caseload("settle", **{service: url})
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    name = "PostgreSQL" if service == "DATABASE_URL" else "Redis"
    assert line.startswith(f"caseload: cannot reach {name} at 127.0.0.1:{port}") and service in line


def test_every_command_says_what_it_does_its_defaults_and_environment() -> None:
    for command in (["dev"], ["serve"], ["worker"], ["migrate"], ["create-staff"], ["settle"], ["jobs", "list"],
                    ["jobs", "replay"], ["openapi"], ["audit", "verify"]):
        done = caseload(*command, "--help")
        assert done.returncode == 0, command
        assert "environment:" in done.stdout and "LOG_LEVEL" in done.stdout, command
    assert "(default: 8000)" in caseload("serve", "--help").stdout
    assert "BANK_RETURN_WINDOW_DAYS (14)" in caseload("settle", "--help").stdout


async def test_jobs_list_and_replay_from_the_shell(live_app: FastAPI) -> None:
    # rule O1: the console from the command line
    async with live_app.state.db.sessionmaker() as db:
        db.add(OutboxJob(function="settle", args=[], job_id="settle:cli-failed", state="failed", tries=2, last_error="RuntimeError: x"))
        db.add(OutboxJob(function="deliver_mail", args=[], job_id="mail:cli-done", state="done"))
        await db.commit()
    listed = caseload("jobs", "list", "--state", "failed")
    assert listed.returncode == 0, listed.stderr
    [job] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (job["job_id"], job["state"], job["tries"]) == ("settle:cli-failed", "failed", 2)
    replayed = caseload("jobs", "replay", "settle:cli-failed")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["state"] == "queued"
    refused = caseload("jobs", "replay", "mail:cli-done")
    assert refused.returncode == 1 and "Only a failed job can be replayed" in refused.stderr
