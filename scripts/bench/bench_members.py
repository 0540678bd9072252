"""`GET /v1/groups/{group_id}/members` for a group of 200 members against the floor, in the same run.

Goal (the issue): the API's member list of a 200-member group, one page of all 200 (authenticated, authorized),
at >= 0.4x the throughput of the bare endpoint reading the same rows (bare_lists.py: Starlette + asyncpg +
orjson, the same join, the same order, the same fields).

One run does everything under the same load generator and concurrency, as bench_me.py: a scratch database
on the server of BENCH_DATABASE_URL (dropped and created WITH (FORCE), migrated, seeded over asyncpg), the
API (`caseload serve`) and bare_lists.py as subprocesses, a check that both answer the same 200 members,
warm-up then a measured run per target, a table, and clean-up.

  . .venv/bin/activate
  python scripts/bench/bench_members.py              # 10 s per target after a 3 s warm-up
  python scripts/bench/bench_members.py --quick      # about 3 s per target
  python scripts/bench/bench_members.py --rounds 3 --json /tmp/members.json
  python scripts/bench/bench_members.py --variant fix=/tmp/exp-lists   # also an experiment's copy of the repo

Targets:
  api members?limit=200         the API, authenticated with the owner's login session (one page, all 200)
  bare members?limit=200        bare Starlette reading the same 200 rows, same join and order (the baseline)
  bare members-authed           the same after the API's own authentication statement and membership check:
                                the SQL work of the route without the framework (diagnostic; --no-diagnostics
                                leaves it out)
  api members?limit=20, bare members?limit=20   a small page, for the per-request vs per-row split (--all)
  api /healthz, bare /healthz   no database: framework + middleware only (--all)
Exit status: 0 when the goal is met, 3 when it is not.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import REPO, RunConfig, Server, Target

GOAL = 0.4
MEMBERS = 200  # active members of the benchmark group, the caller (its owner) included
LICENSES = ["LCSW", "LPC", "LMFT", "PsyD", "PhD", "LMHC", "LICSW", "MD", "NP", "PMHNP", "Other"]
FIRST = ["Maya", "James", "Olivia", "Noah", "Emma", "Liam", "Ava", "Lucas", "Sofia", "Ethan", "Mia", "Amara",
         "Wei", "Priya", "Diego", "Fatima", "Hannah", "Kofi", "Yuki", "Elena"]
LAST = ["Chen", "Smith", "Garcia", "Johnson", "Nguyen", "Williams", "Patel", "Brown", "Kim", "Lopez", "Okafor",
        "Miller", "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson", "Thomas", "Moore", "Jackson"]


# ------------------------------------------------------------------------------------- shared helpers
# (bench_clients.py uses these too)


def api_server(port: int, env: dict[str, str], root: Path | None) -> Server:
    """`caseload serve`; with `root`, the same command run from another source tree (an experiment's copy)."""
    if root is None:
        script = Path(sys.executable).with_name("caseload")
        base = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
        return Server("api", [*base, "serve", "--host", "127.0.0.1", "--port", str(port)], port, env=env,
                      ready_path="/readyz")
    # `python -m app.cli` with the copy first on the path (it wins over the editable install).
    argv = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Server("api", argv, port, env={**env, "PYTHONPATH": str(root)}, cwd=root, ready_path="/readyz")


# Connections one API server may hold: SQLAlchemy's pool (10) and its overflow (10) under load, the auth pool (10).
API_CONNECTIONS = 30


def variant_servers(specs: list[str], env: dict[str, str]) -> list[Server]:
    if specs and API_CONNECTIONS * (1 + len(specs)) + 20 > 90:
        print(f"warning: {1 + len(specs)} API servers and the bare one may hold "
              f"{API_CONNECTIONS * (1 + len(specs)) + 20} connections; PostgreSQL's default max_connections is 100 "
              "(and others use the server): 'too many clients' errors would make the figures meaningless. "
              "Pass one --variant per run.", flush=True)
    servers = []
    for spec in specs:
        name, _, root = spec.partition("=")
        if not root:
            raise SystemExit(f"--variant wants NAME=PATH, got {spec!r}")
        server = api_server(harness.free_port(), env, Path(root).resolve())
        server.name = f"api[{name}]"
        servers.append(server)
    return servers


def bare_server(db_url: str) -> Server:
    port = harness.free_port()
    return Server("bare", harness.uvicorn_argv("bare_lists:app", port, app_dir=harness.HERE), port,
                  env={"BARE_DATABASE_URL": db_url, "PYTHONPATH": str(REPO)})


def new_session_token() -> str:
    return "cls_" + secrets.token_urlsafe(32)  # as app.core.tokens.new_secret(SESSION_PREFIX)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def get_json(url: str, headers: dict[str, str] | None = None) -> object:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
        return json.loads(response.read())


def normalised(value: object) -> object:
    """A JSON document with timestamps as datetimes: pydantic writes `...Z`, orjson `...+00:00`."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def same_documents(what: str, api: object, bare: object, *, ignore: tuple[str, ...] = ()) -> None:
    """Fail unless the two answers carry the same items (cursor strings aside: each encodes its own way)."""
    a, b = normalised(api), normalised(bare)
    assert isinstance(a, dict) and isinstance(b, dict), (what, type(a), type(b))
    a_items, b_items = a["items"], b["items"]
    for item in (*a_items, *b_items):
        for key in ignore:
            item.pop(key, None)
    if a_items != b_items:
        for n, (x, y) in enumerate(zip(a_items, b_items)):
            if x != y:
                raise AssertionError(f"{what}: item {n} differs:\n  api  {x}\n  bare {y}")
        raise AssertionError(f"{what}: {len(a_items)} items from the API, {len(b_items)} from the bare endpoint")
    assert (a["next_cursor"] is None) == (b["next_cursor"] is None), (what, a["next_cursor"], b["next_cursor"])
    print(f"check: {what}: the API and the bare endpoint answer the same {len(a_items)} items", flush=True)


def common_parser(doc: str | None, database_name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", "-c", type=int, default=32)
    parser.add_argument("--seconds", "-d", type=float, default=10.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target (discarded)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median round is reported")
    parser.add_argument("--quick", action="store_true", help="3 s per target after a 1 s warm-up")
    parser.add_argument("--quiet-below", type=float, default=0.10, metavar="SHARE",
                        help="before each run, wait until other processes use less than this share of all cores")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="SECONDS",
                        help="... but no longer than this (0: do not wait)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="auto: wrk when installed, else loadgen.py")
    parser.add_argument("--no-diagnostics", action="store_true", help="only the targets of the goals")
    parser.add_argument("--all", action="store_true", help="also the informational extra targets")
    parser.add_argument("--log-level", default="WARNING", help="the API's LOG_LEVEL")
    parser.add_argument("--database-name", default=database_name)
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database behind")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="also load the goal's API target on the API run from another source tree (an "
                        "experiment's copy of the repository), in the same run; repeatable")
    return parser


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    return args


def run_config(args: argparse.Namespace) -> RunConfig:
    return RunConfig(connections=args.connections, seconds=args.seconds, warmup_seconds=args.warmup,
                     rounds=args.rounds, database=args.database_name, quiet_below=args.quiet_below,
                     quiet_wait_seconds=args.quiet_wait)


def api_env(db_url: str, log_level: str) -> dict[str, str]:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
    # WARNING: the access log (one INFO line per request) is off, as bench_me.py runs it.
    return {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "LOG_LEVEL": log_level}


# --------------------------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    group_id: uuid.UUID
    owner_id: uuid.UUID
    token: str
    member_ids: list[uuid.UUID]


async def seed(url: str, *, members: int = MEMBERS, bystander_groups: int = 3) -> Seeded:
    """The benchmark group: its owner (the caller, also a provider) and members-1 others (mostly providers with a
    profile, some admins, some both), joined over two years; 20 former members (ended) who must not show; plus
    `bystander_groups` other groups of 150 members, some of them people of the benchmark group too."""
    import asyncpg

    rng = random.Random(200)
    conn = await asyncpg.connect(url)
    try:
        group_id, owner_id = uuid.uuid4(), uuid.uuid4()
        token = new_session_token()
        others = [uuid.uuid4() for _ in range(members - 1 + 20 + bystander_groups * 150)]
        people = [owner_id, *others]
        users = []
        for i, uid in enumerate(people):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            verified = "now()" if uid == owner_id or rng.random() < 0.85 else None
            users.append((uid, f"{first.lower()}.{last.lower()}.{i}@members.example", first, last, verified))
        other_groups = [uuid.uuid4() for _ in range(bystander_groups)]
        async with conn.transaction():
            await conn.executemany("INSERT INTO groups (id, name) VALUES ($1, $2)",
                                   [(group_id, "Bench Practice")] +
                                   [(g, f"Bystander Practice {n}") for n, g in enumerate(other_groups)])
            await conn.copy_records_to_table(
                "users", columns=["id", "email", "first_name", "last_name"],
                records=[(uid, email, first, last) for uid, email, first, last, _v in users])
            await conn.execute("UPDATE users SET email_verified_at = now() - interval '30 days' WHERE id = ANY($1)",
                               [uid for uid, *_rest, v in users if v])
            memberships, profiles = [], []
            # (group, user, owner, admin, provider, joined days ago, ended)
            plan: list[tuple[uuid.UUID, uuid.UUID, bool, bool, bool, float, bool]] = [
                (group_id, owner_id, True, False, True, 730.0, False)]
            active, ended = others[: members - 1], others[members - 1: members - 1 + 20]
            for uid in active:
                kind = rng.random()
                admin, provider = (True, False) if kind < 0.10 else (True, True) if kind < 0.20 else (False, True)
                plan.append((group_id, uid, False, admin, provider, rng.uniform(0, 720), False))
            for uid in ended:
                plan.append((group_id, uid, False, False, True, rng.uniform(100, 720), True))
            rest = others[members - 1 + 20:]
            for n, g in enumerate(other_groups):
                crowd = rest[n * 150:(n + 1) * 150] + rng.sample(active, 10)  # some people in two practices
                for k, uid in enumerate(crowd):
                    plan.append((g, uid, k == 0, k < 5, k >= 3, rng.uniform(0, 720), False))
            for g, uid, owner, admin, provider, days, is_ended in plan:
                memberships.append((uuid.uuid4(), g, uid, owner, admin, provider, days, is_ended))
                if provider:
                    profiles.append((g, uid, rng.choice(LICENSES), f"p-{uuid.uuid4().hex[:16]}"))
            await conn.executemany(
                "INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin, is_provider, created_at, "
                "ended_at, ended_reason) VALUES ($1, $2, $3, $4, $5, $6, now() - make_interval(secs => $7 * 86400), "
                "CASE WHEN $8 THEN now() - interval '30 days' END, CASE WHEN $8 THEN 'left the practice' END)",
                memberships)
            await conn.copy_records_to_table(
                "provider_profiles", columns=["group_id", "user_id", "license_type", "booking_slug"], records=profiles)
            await conn.execute(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + interval '12 hours')",
                uuid.uuid4(), owner_id, token_hash(token))
            # Everyone else logged in too: the session index is not trivially small.
            await conn.execute(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                "SELECT gen_random_uuid(), u, sha256(u::text::bytea), now() + interval '12 hours' FROM unnest($1::uuid[]) AS u",
                others)
        await conn.execute("ANALYZE")
        count = await conn.fetchval(
            "SELECT count(*) FROM memberships WHERE group_id = $1 AND ended_at IS NULL", group_id)
        assert count == members, count
        return Seeded(group_id, owner_id, token, [owner_id, *active])
    finally:
        await conn.close()


def check_members(seeded: Seeded, limit: int):  # type: ignore[no-untyped-def]
    expected = min(limit, len(seeded.member_ids))

    def check(status: int, body: bytes) -> None:
        assert status == 200, f"answered {status}: {body[:300]!r}"
        data = json.loads(body)
        assert len(data["items"]) == expected, (len(data["items"]), expected)
        assert (data["next_cursor"] is None) == (expected == len(seeded.member_ids)), data["next_cursor"]
        if limit >= len(seeded.member_ids):
            assert {i["user_id"] for i in data["items"]} == {str(u) for u in seeded.member_ids}
            owner = next(i for i in data["items"] if i["user_id"] == str(seeded.owner_id))
            assert owner["roles"] == ["owner", "provider"], owner

    return check


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = common_parser(__doc__, "caseload_bench_members")
    parser.add_argument("--members", type=int, default=MEMBERS, help="active members of the group (page size: "
                        "all of them, at most 200)")
    return finish_args(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    config = run_config(args)
    generator = harness.load_generator(args.loadgen)
    limit = min(args.members, 200)

    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        seeded = asyncio.run(seed(db_url, members=args.members))

        env = api_env(db_url, args.log_level)
        api = api_server(harness.free_port(), env, None)
        variants = variant_servers(args.variant, env)
        bare = bare_server(db_url)
        bearer = {"Authorization": f"Bearer {seeded.token}"}
        gid = seeded.group_id
        path = f"/v1/groups/{gid}/members?limit={limit}"
        target = Target(f"api members?limit={limit}", api, path, bearer, check=check_members(seeded, limit))
        baseline = Target(f"bare members?limit={limit}", bare, f"/groups/{gid}/members?limit={limit}",
                          check=check_members(seeded, limit),
                          note="baseline: the same rows from the same join, same order and fields, no auth")
        targets = [target, baseline]
        targets += [Target(f"{v.name} members", v, path, bearer, check=check_members(seeded, limit)) for v in variants]
        if not args.no_diagnostics:
            targets.append(Target("bare members-authed", bare, f"/groups/{gid}/members-authed?limit={limit}", bearer,
                                  check=check_members(seeded, limit),
                                  note="the API's auth statement + membership check + the page: its SQL work, "
                                  "no framework"))
        if args.all:
            targets += [
                Target("api members?limit=20", api, f"/v1/groups/{gid}/members?limit=20", bearer,
                       check=check_members(seeded, 20)),
                Target("bare members?limit=20", bare, f"/groups/{gid}/members?limit=20", check=check_members(seeded, 20)),
                Target("api /healthz", api, "/healthz"),
                Target("bare /healthz", bare, "/healthz"),
            ]

        with harness.running([api, bare, *variants]):
            same_documents(f"members?limit={limit}", get_json(target.url, bearer), get_json(baseline.url))
            for v in variants:
                same_documents(f"{v.name} members", get_json(v.base_url + path, bearer), get_json(baseline.url))
            results = harness.run_all(generator, targets, config)

    ratios: list[tuple[str, str, float | None]] = [(target.name, baseline.name, GOAL)]
    ratios += [(t.name, baseline.name, GOAL) for t in targets if t.name.startswith("api[")]
    if not args.no_diagnostics:
        ratios += [(target.name, "bare members-authed", None), ("bare members-authed", baseline.name, None)]
    if args.all:
        ratios += [("api members?limit=20", "bare members?limit=20", None), ("api /healthz", "bare /healthz", None)]
    outcomes = harness.report(results, targets, config, generator, ratios=ratios)
    if args.json:
        harness.write_json(args.json, results, config, generator, outcomes)
    return 0 if outcomes[0][3] else 3


if __name__ == "__main__":
    sys.exit(main())
