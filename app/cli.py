"""`caseload`: the one command for developers and operations.

  dev            everything on this machine: embedded database and Redis when their URLs are unset,
                 migrations, demo data, the API and a worker
  serve          the API (uvicorn with uvloop and httptools)
  worker         an arq worker, restarted with backoff when Redis goes away
  migrate        apply database migrations
  create-staff   create (or promote) a Caseload staff account
  settle         run a payout settlement now, in this process (P5: safe beside the workers' own)
  jobs           list the background jobs, replay a failed one
  openapi        write openapi/openapi.json (or --check it)
  audit verify   recompute the audit log's hash chains (one group's or all); exit 1 at the first broken row
"""

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from app.config import get_settings

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and each option's default after its help."""


# What each command reads from the environment (or `.env`), printed by its --help.
_DATABASE = "DATABASE_URL (PostgreSQL; unset: an embedded one under DATA_DIR)"
_REDIS = "REDIS_URL (Redis; unset: an embedded one under DATA_DIR)"
_COMMON = "LOG_LEVEL (INFO), DATA_DIR (.data)"


def _epilog(*variables: str) -> str:
    return "environment:\n" + "".join(f"  {v}\n" for v in (*variables, _COMMON)) + (
        "\nexit status: 0 done, 1 refused or failed, 2 a database or Redis that cannot be reached"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="caseload", description=__doc__, formatter_class=_HelpFormatter,
                                     epilog=_epilog(_DATABASE, _REDIS))
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str, description: str, *variables: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=description, epilog=_epilog(*variables),
                                   formatter_class=_HelpFormatter)

    dev = command("dev", "run everything locally",
                  "Start embedded PostgreSQL and Redis when their URLs are unset, apply migrations, seed a demo group "
                  "when the database is empty, then run the API and a worker until Ctrl-C.",
                  _DATABASE, _REDIS, "MAIL_DIR (.data/mail)", "PUBLIC_URL (http://HOST:PORT)")
    dev.add_argument("--host", default="127.0.0.1", help="address the API listens on")
    dev.add_argument("--port", type=int, default=8000, help="port the API listens on")
    serve = command("serve", "run the API",
                    "Run the HTTP API (uvicorn with uvloop and httptools); logs are JSON lines on stdout.",
                    _DATABASE, _REDIS, "TRUSTED_PROXIES (none)", "SHUTDOWN_GRACE_S")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="API processes")
    command("worker", "run an arq worker",
            "Run a background worker (mail, settlement, imports, the outbox relay); restarted with backoff when Redis "
            "goes away. Logs are JSON lines on stdout.", _DATABASE, _REDIS, "MAIL_BACKEND (file)")
    command("migrate", "apply migrations", "Apply the database migrations up to the newest.", _DATABASE)
    staff = command("create-staff", "create or promote a staff account",
                    "Create a verified Caseload staff account, or make an existing account staff.", _DATABASE)
    staff.add_argument("--email", required=True, help="the account's email")
    staff.add_argument("--first-name", default="Staff", help="first name of a new account")
    staff.add_argument("--last-name", default="Member", help="last name of a new account")
    staff.add_argument("--password-env", default="CASELOAD_STAFF_PASSWORD", help="read the password from this variable (else prompt)")
    settle = command("settle", "run a payout settlement now",
                     "Run one payout settlement in this process (safe beside the workers' own): close due payouts, send "
                     "them, poll the bank, record returns. Prints the result as JSON on stdout; logs go to stderr.",
                     _DATABASE, _REDIS, "SETTLEMENT_BATCH_SIZE (200)", "BANK_RETURN_WINDOW_DAYS (14)",
                     "BANK_SIM_SETTLE_SECONDS (0)", "BANK_SIM_FAILURE_RATE (0)")
    settle.add_argument("--pay-date", type=date.fromisoformat, default=None, help="only payouts of this pay date (YYYY-MM-DD)")
    jobs = command("jobs", "the background jobs (list, replay)",
                   "The job console: what the workers ran, are running or failed.", _DATABASE, _REDIS
                   ).add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs.add_parser("list", help="list jobs as JSON lines, newest first", formatter_class=_HelpFormatter,
                                description="Print one JSON object per job on stdout, newest first.",
                                epilog=_epilog(_DATABASE))
    jobs_list.add_argument("--state", choices=["queued", "running", "retrying", "failed", "done"], default=None,
                           help="only jobs in this state")
    jobs_list.add_argument("--kind", default=None, help="only jobs of this kind (e.g. settle, deliver_mail)")
    jobs_list.add_argument("--limit", type=int, default=50, help="at most this many jobs")
    jobs_replay = jobs.add_parser("replay", help="send a failed job to the workers again", formatter_class=_HelpFormatter,
                                  description="Replay a failed job under its own id (every job is idempotent); prints it "
                                              "as JSON. A job that is not failed is refused (exit 1).",
                                  epilog=_epilog(_DATABASE, _REDIS))
    jobs_replay.add_argument("job_id", help="the job's id, as `jobs list` shows it")
    openapi = command("openapi", "write the OpenAPI document", "Write openapi/openapi.json from the app (or --check it).")
    openapi.add_argument("--check", action="store_true", help="fail if the committed file differs from the app")
    audit = command("audit", "the audit log", "The audit log's tools.", _DATABASE).add_subparsers(
        dest="audit_command", required=True)
    audit.add_parser("verify", help="recompute the hash chains", formatter_class=_HelpFormatter,
                     description="Recompute the audit log's hash chains (one group's or all); exit 1 at the first broken row.",
                     epilog=_epilog(_DATABASE)).add_argument("--group", default=None, help="one group's id")
    args = parser.parse_args(argv)
    if args.command not in ("dev", "serve", "worker"):
        # A command whose stdout is its answer (JSON): its logs go to stderr, so `| jq` works.
        from app.core.logging import configure_logging

        configure_logging(get_settings().log_level, stream=sys.stderr)
        # Its retries of an unreachable Redis would be five lines before ours: one clear line is enough.
        logging.getLogger("arq.connections").setLevel(logging.ERROR)
    handler = {
        "dev": cmd_dev,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "migrate": cmd_migrate,
        "create-staff": cmd_create_staff,
        "settle": cmd_settle,
        "jobs": cmd_jobs,
        "openapi": cmd_openapi,
        "audit": cmd_audit_verify,
    }[args.command]
    try:
        handler(args)
    except Exception as exc:
        if (line := unreachable(exc)) is None:
            raise
        print(line, file=sys.stderr)
        sys.exit(2)


def unreachable(exc: BaseException) -> str | None:
    """One line for a database or Redis that cannot be reached (or went away), else None: a bug keeps its traceback."""
    import redis.exceptions

    from app.core.outages import outage_code

    chain, current = [], exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(isinstance(e, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)) for e in chain):
        service, variable = "Redis", "REDIS_URL"
    elif outage_code(exc) is not None or any(_cannot_connect(e) for e in chain):
        service, variable = "PostgreSQL", "DATABASE_URL"
    else:
        return None
    return (f"caseload: cannot reach {service} at {_where(os.environ.get(variable, ''))} "
            f"({type(chain[-1]).__name__}); check {variable} and that the server is running")


def _cannot_connect(exc: BaseException) -> bool:
    """Refused, reset, timed out or an unknown host: not a bug (asyncpg folds several addresses' refusals into one OSError)."""
    import socket

    return isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or (
        isinstance(exc, OSError) and "Connect call failed" in str(exc)
    )


def _where(url: str) -> str:
    """host:port of a service URL, never its credentials."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return f"{parts.hostname or '?'}:{parts.port or 'default port'}"
    except ValueError:
        return "an unreadable URL"


def _with_services(*, redis: bool = True) -> dict[str, str]:
    """The process environment, with embedded services started for the URLs that are unset."""
    from app.embedded import EmbeddedNotInstalled, ensure_services

    env = dict(os.environ)
    try:
        started = ensure_services(get_settings().data_dir, env, redis=redis)
    except EmbeddedNotInstalled as exc:
        sys.exit(f"caseload: {exc}")
    os.environ.update(env)
    get_settings.cache_clear()
    for name in started:
        print(f"caseload: started embedded {name}", file=sys.stderr, flush=True)
    return env


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def cmd_migrate(args: argparse.Namespace) -> None:
    env = _with_services(redis=False)
    migrate(env["DATABASE_URL"])


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.server import MAX_HEAD_BYTES

    _with_services()
    uvicorn.run(
        "app.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        # httptools with a cap on the request head (431 past it; see app/server.py); the same cap for h11.
        http="app.server:HeadLimitedHttpTools",
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        access_log=False,  # ours has the request id and no query strings
        log_config=None,
        timeout_graceful_shutdown=get_settings().shutdown_grace_s,
        # A8: X-Forwarded-For is believed from TRUSTED_PROXIES only (uvicorn trusts 127.0.0.1 by default).
        proxy_headers=bool(get_settings().trusted_proxies),
        forwarded_allow_ips=get_settings().trusted_proxies or "",
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from arq.worker import create_worker

    from app.worker import WorkerSettings

    _with_services()
    settings = get_settings()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    backoff = 1.0
    while not stopping:
        started = time.monotonic()
        asyncio.set_event_loop(asyncio.new_event_loop())
        worker = create_worker(
            WorkerSettings,  # type: ignore[arg-type]
            redis_settings=WorkerSettings.redis_settings_from(settings),
            ctx={"settings": settings},
            handle_signals=False,
        )
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            worker.run()
            return
        except KeyboardInterrupt:
            asyncio.get_event_loop().run_until_complete(worker.close())
            return
        except Exception as exc:  # arq exits when Redis goes away: come back when it does
            if time.monotonic() - started > 60:
                backoff = 1.0
            print(f"caseload worker: stopped ({type(exc).__name__}); restarting in {backoff:.0f}s", file=sys.stderr, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


def cmd_create_staff(args: argparse.Namespace) -> None:
    from app.core.db import Database
    from app.users.service import create_user, find_user_by_email

    password = os.environ.get(args.password_env) or getpass.getpass("Password for the staff account: ")
    if len(password) < 12:
        sys.exit("caseload: the password needs at least 12 characters")
    env = _with_services(redis=False)

    async def run() -> None:
        database = Database(env["DATABASE_URL"], get_settings())
        async with database.sessionmaker() as db:
            user = await find_user_by_email(db, args.email)
            if user is None:
                await create_user(
                    db, email=args.email, password=password, first_name=args.first_name,
                    last_name=args.last_name, verified=True, is_staff=True,
                )
            else:
                user.is_staff = True
            await db.commit()
        await database.close()

    asyncio.run(run())
    print(f"caseload: {args.email} is staff")


def cmd_settle(args: argparse.Namespace) -> None:
    from app.core.db import Database
    from app.core.redis import connect
    from app.payouts.bank import bank_from_settings
    from app.payouts.settlement import settle

    env = _with_services()
    settings = get_settings()

    async def run() -> dict:
        database = Database(env["DATABASE_URL"], settings)
        redis = await connect(env["REDIS_URL"])
        try:
            result = await settle(
                database.sessionmaker, bank_from_settings(redis, settings),
                pay_date=args.pay_date, batch_size=settings.settlement_batch_size,
                return_window_days=settings.bank_return_window_days,
            )
        finally:
            await redis.aclose()
            await database.close()
        return result.as_dict()

    print(json.dumps(asyncio.run(run()), indent=2, default=str))


def cmd_jobs(args: argparse.Namespace) -> None:
    from app.core.db import Database
    from app.core.errors import Problem
    from app.core.jobs import relay_outbox
    from app.core.pagination import PageParams
    from app.core.redis import connect
    from app.ops import service

    env = _with_services(redis=args.jobs_command == "replay")
    settings = get_settings()

    async def run() -> list[dict]:
        database = Database(env["DATABASE_URL"], settings)
        try:
            async with database.sessionmaker() as db:
                if args.jobs_command == "list":
                    jobs, _ = await service.list_jobs(db, PageParams(limit=args.limit, cursor=None), state=args.state, kind=args.kind)
                    return [service.job_out(job) for job in jobs]
                redis = await connect(env["REDIS_URL"])
                try:
                    job = await service.replay_job(db, redis, None, args.job_id)  # type: ignore[arg-type]
                    answer = service.job_out(job)
                    await db.commit()
                    await relay_outbox(db, redis)  # sent now rather than by the workers' next relay
                    await db.commit()
                    return [answer]
                finally:
                    await redis.aclose()
        finally:
            await database.close()

    try:
        jobs = asyncio.run(run())
    except Problem as problem:
        sys.exit(f"caseload: {problem.detail}")
    for job in jobs:
        print(json.dumps(job, default=str))


def cmd_audit_verify(args: argparse.Namespace) -> None:
    import uuid

    import asyncpg

    from app.audit.chain import verify
    from app.core.db import asyncpg_dsn

    env = _with_services(redis=False)

    async def run() -> list:
        conn = await asyncpg.connect(asyncpg_dsn(env["DATABASE_URL"]))
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await verify(conn, uuid.UUID(args.group) if args.group else None)
        finally:
            await conn.close()

    checks = asyncio.run(run())
    for check in checks:
        print(json.dumps({"group_id": str(check.group_id) if check.group_id else None, "rows": check.rows,
                          "ok": check.ok, "broken_at_id": check.broken_at_id, "broken_at_seq": check.broken_at_seq,
                          "reason": check.reason}))
    broken = [check for check in checks if not check.ok]
    print(f"audit verify: {len(checks)} chain(s), {sum(c.rows for c in checks)} rows, {len(broken)} broken", file=sys.stderr)
    if broken:
        sys.exit(1)


def cmd_openapi(args: argparse.Namespace) -> None:
    from app.main import create_app

    document = json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"
    if args.check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text() != document:
            sys.exit(f"caseload: {OPENAPI_PATH} differs from the app; run `caseload openapi`")
        return
    OPENAPI_PATH.parent.mkdir(exist_ok=True)
    OPENAPI_PATH.write_text(document)
    print(f"caseload: wrote {OPENAPI_PATH}")


def cmd_dev(args: argparse.Namespace) -> None:
    from app.demo import seed_if_empty

    env = _with_services()
    settings = get_settings()
    env.setdefault("MAIL_DIR", str(settings.mail_path.resolve()))
    env["PUBLIC_URL"] = env.get("PUBLIC_URL") or f"http://{args.host}:{args.port}"
    migrate(env["DATABASE_URL"])
    demo = asyncio.run(seed_if_empty(env["DATABASE_URL"]))
    base = [sys.executable, "-m", "app.cli"]
    children = [
        subprocess.Popen([*base, "serve", "--host", args.host, "--port", str(args.port)], env=env),
        subprocess.Popen([*base, "worker"], env=env),
    ]
    url = f"http://{args.host}:{args.port}"
    print(
        f"\nCaseload is running.\n  API:        {url}\n  Swagger UI: {url}/docs\n"
        f"  Mail:       {env['MAIL_DIR']} (one .eml file per message)\n"
        + ("  Demo logins:\n" + "".join(f"    {line}\n" for line in demo) if demo else "")
        + "Stop with Ctrl-C.\n",
        flush=True,
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        sys.exit("caseload: a child process exited; stopping")
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=settings.shutdown_grace_s + 5)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
