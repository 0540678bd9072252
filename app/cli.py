"""`caseload`: the one command for developers and operations.

  dev            everything on this machine: embedded database and Redis when their URLs are unset,
                 migrations, demo data, the API and a worker
  serve          the API (uvicorn with uvloop and httptools)
  worker         an arq worker, restarted with backoff when Redis goes away
  migrate        apply database migrations
  create-staff   create (or promote) a Caseload staff account
  settle         run a payout settlement now, in this process (P5: safe beside the workers' own)
  openapi        write openapi/openapi.json (or --check it)
  audit verify   recompute the audit log's hash chains (one group's or all); exit 1 at the first broken row
"""

import argparse
import asyncio
import getpass
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from app.config import get_settings

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="caseload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run everything locally")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    serve = commands.add_parser("serve", help="run the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="API processes")
    commands.add_parser("worker", help="run an arq worker")
    commands.add_parser("migrate", help="apply migrations")
    staff = commands.add_parser("create-staff", help="create or promote a staff account")
    staff.add_argument("--email", required=True)
    staff.add_argument("--first-name", default="Staff")
    staff.add_argument("--last-name", default="Member")
    staff.add_argument("--password-env", default="CASELOAD_STAFF_PASSWORD", help="read the password from this variable (else prompt)")
    settle = commands.add_parser("settle", help="run a payout settlement now")
    settle.add_argument("--pay-date", type=date.fromisoformat, default=None, help="only payouts of this pay date (YYYY-MM-DD)")
    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--check", action="store_true", help="fail if the committed file differs from the app")
    audit = commands.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="recompute the hash chains").add_argument("--group", default=None, help="one group's id")
    args = parser.parse_args(argv)
    {
        "dev": cmd_dev,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "migrate": cmd_migrate,
        "create-staff": cmd_create_staff,
        "settle": cmd_settle,
        "openapi": cmd_openapi,
        "audit": cmd_audit_verify,
    }[args.command](args)


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
        print(f"caseload: started embedded {name}", flush=True)
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
            )
        finally:
            await redis.aclose()
            await database.close()
        return result.as_dict()

    print(json.dumps(asyncio.run(run()), indent=2, default=str))


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
