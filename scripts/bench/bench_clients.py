"""The client roster of a 100,000-client group: first page and name-prefix search, against the floor.

Goals (the issue):
  1. `GET /v1/groups/{id}/clients?limit=50` (authenticated, tenancy-filtered, audited: the owner sees the whole
     group) at >= 0.4x the throughput of the bare 50-row endpoint reading the same rows in the same index order
     (bare_lists.py), same run;
  2. name-prefix search `...&q=<2-3 letters>` with p99 under 25 ms at 32 concurrent connections. In a closed loop
     (each connection sends again as soon as answered) the p99 is mostly queueing: it cannot be below
     32 ÷ throughput. `--search-rate R` also measures it open loop, R requests per second spread over the same
     32 connections, latency counted from each request's scheduled time: the latency users see at that load;
  3. the statements use the indexes (ix_clients_group_name / ix_clients_group_first_name / ix_clients_group_email),
     no Seq Scan on clients: `--plans` prints EXPLAIN (ANALYZE, BUFFERS) of the statements the service issues,
     captured from the service itself (SQLAlchemy's before_cursor_execute), and checks them (exit 3 if not).

One run does everything, as bench_me.py: a scratch database (dropped and created WITH (FORCE), migrated, seeded
with COPY: about 30 s), the API and bare_lists.py as subprocesses, checks that both answer the same 50 clients,
warm-up then a measured run per target, a table, and clean-up.

  . .venv/bin/activate
  python scripts/bench/bench_clients.py --plans          # plans, then 10 s per target after a 3 s warm-up
  python scripts/bench/bench_clients.py --quick          # about 3 s per target
  python scripts/bench/bench_clients.py --plans-only     # seed, print and check the plans, no load
  python scripts/bench/bench_clients.py --quick --search-rate 100   # also search p99 at a steady 100 req/s
  python scripts/bench/bench_clients.py --variant fix=/tmp/exp-lists   # also an experiment's copy of the repo

Targets (the harness loads one path per target, so the search rotates over several prefixes as separate targets):
  api list                     the owner's first page of the whole group, ordered by last/first name
  bare list                    the same 50 client rows by the same index order, no auth (the baseline)
  api search q=<p>             the first page of a name-prefix search, for each prefix of --prefixes
                               (default: sm, gar, ngu, zh: two common, one mid, one rare last-name prefix)
  bare search q=sm             the same search's 50 rows, bare (diagnostic)
  bare list-full               everything the API route does in SQL (auth, page, rosters, insurance, readiness,
                               audit row, one transaction), no framework (diagnostic; --no-diagnostics leaves it out)
  bare list-lean               the same answer from one SELECT (page + all it shows) + the audit INSERT: the floor
                               of the statement shape recommended for the API (diagnostic)
  bare list-full-noaudit       bare list-full without the audit row: what the per-read audit write costs (diagnostic)
  api provider list            a provider's own roster (about 5,000 clients), first page (information)
Exit status: 0 when the goals are met, 3 when one is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from bench_members import (
    api_env,
    api_server,
    bare_server,
    common_parser,
    finish_args,
    get_json,
    new_session_token,
    run_config,
    same_documents,
    token_hash,
    variant_servers,
)
from harness import Target

THROUGHPUT_GOAL = 0.4
P99_GOAL_MS = 25.0
CLIENTS = 100_000
PROVIDERS = 20
DEFAULT_PREFIXES = ["sm", "gar", "ngu", "zh"]
INDEXES = ("ix_clients_group_name", "ix_clients_group_first_name", "ix_clients_group_email")

# US surnames with their approximate frequency per 100,000 people (census 2010), a few with diacritics and
# punctuation; the rest of the people get a long tail of generated names (as in a real roster, where the
# top 100 names cover about a sixth of the people).
SURNAMES = {
    "Smith": 828, "Johnson": 655, "Williams": 550, "Brown": 487, "Jones": 485, "Garcia": 386, "Miller": 384,
    "Davis": 366, "Rodriguez": 338, "Martinez": 327, "Hernandez": 312, "Lopez": 282, "Gonzalez": 278,
    "Wilson": 271, "Anderson": 262, "Thomas": 255, "Taylor": 252, "Moore": 234, "Jackson": 233, "Martin": 232,
    "Lee": 228, "Perez": 221, "Thompson": 220, "White": 219, "Harris": 201, "Sanchez": 195, "Clark": 187,
    "Ramirez": 186, "Lewis": 177, "Robinson": 176, "Walker": 171, "Young": 165, "Allen": 162, "King": 161,
    "Wright": 159, "Scott": 146, "Torres": 142, "Nguyen": 141, "Hill": 141, "Flores": 140, "Green": 139,
    "Adams": 137, "Nelson": 136, "Baker": 135, "Hall": 134, "Rivera": 129, "Campbell": 123, "Mitchell": 123,
    "Carter": 122, "Roberts": 122, "Gomez": 110, "Phillips": 109, "Evans": 109, "Turner": 108, "Diaz": 108,
    "Parker": 104, "Cruz": 103, "Edwards": 102, "Collins": 102, "Reyes": 101, "Stewart": 100, "Morris": 99,
    "Morales": 98, "Murphy": 97, "Cook": 96, "Rogers": 96, "Gutierrez": 94, "Ortiz": 93, "Morgan": 92,
    "Cooper": 92, "Peterson": 91, "Bailey": 91, "Reed": 91, "Kelly": 90, "Howard": 90, "Ramos": 89, "Kim": 89,
    "Cox": 88, "Ward": 88, "Richardson": 88, "Watson": 87, "Brooks": 87, "Chavez": 86, "Wood": 85, "James": 85,
    "Bennett": 85, "Gray": 85, "Mendoza": 85, "Ruiz": 84, "Hughes": 84, "Price": 84, "Alvarez": 83,
    "Castillo": 83, "Sanders": 82, "Patel": 82, "Myers": 81, "Long": 81, "Ross": 81, "Foster": 81, "Chen": 70,
    "Wang": 55, "Singh": 50, "Zhang": 35, "Li": 40, "Liu": 30, "Huang": 30, "Zhou": 12, "Zhao": 10, "Small": 25,
    "Smithson": 4, "Smalls": 6, "Garner": 30, "Gardner": 40, "Garrett": 40, "Garza": 60, "García": 30,
    "O'Brien": 30, "Okafor": 8, "Kowalski": 10, "Yamamoto": 8, "Ngata": 2, "Ngo": 25, "Nguyễn": 5,
    "Van Buren": 4, "St. John": 4, "Müller": 5, "Øster": 1,
}
FIRST_NAMES = {
    "James": 330, "Mary": 260, "Robert": 310, "Patricia": 110, "John": 320, "Jennifer": 100, "Michael": 350,
    "Linda": 100, "David": 300, "Elizabeth": 90, "William": 250, "Barbara": 80, "Richard": 170, "Susan": 80,
    "Joseph": 170, "Jessica": 90, "Thomas": 150, "Sarah": 90, "Christopher": 150, "Karen": 70, "Charles": 140,
    "Lisa": 70, "Daniel": 150, "Nancy": 60, "Matthew": 120, "Betty": 50, "Anthony": 110, "Sandra": 60,
    "Mark": 100, "Margaret": 50, "Donald": 90, "Ashley": 70, "Steven": 90, "Emily": 80, "Andrew": 90,
    "Donna": 50, "Paul": 80, "Michelle": 60, "Joshua": 90, "Carol": 50, "Kenneth": 70, "Amanda": 60, "Kevin": 70,
    "Melissa": 50, "Brian": 70, "Deborah": 40, "Olivia": 70, "Sophia": 60, "Ava": 50, "Mia": 50, "Noah": 60,
    "Liam": 60, "Ethan": 50, "Maya": 40, "Priya": 20, "Wei": 20, "Zhen": 5, "Zoe": 30, "Smita": 4, "Ngozi": 4,
    "Gareth": 6, "Garrison": 3, "José": 40, "Zoë": 3, "Ann": 40, "Anna": 50, "Annabel": 5,
}
ONSETS = ["b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "st",
          "t", "th", "v", "w", "y", "z", "bl", "cr", "dr", "fl", "pr", "tr", "", ""]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
CODAS = ["", "n", "r", "l", "s", "t", "m", "ck", "nd", "rt", "ll", "son", "ski", "ez", "berg", "man", "ton", "ley"]
COMPANIES = ["Aetna", "Blue Cross Blue Shield", "Cigna", "UnitedHealthcare", "Humana", "Kaiser Permanente",
             "Medicaid", "Medicare", "Oscar", "Optum"]
STATES = ["NY", "NJ", "CA", "TX", "FL", "MA", "IL", "WA", "PA", "OH", None, None, None]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me", "example.org"]


def synthetic_name(rng: random.Random) -> str:
    parts = [rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.choice((1, 2, 2, 3)))]
    return ("".join(parts) + rng.choice(CODAS)).capitalize() or "Ng"


def weighted_picker(names: dict[str, int], rng: random.Random, tail_share: float, tail_size: int):  # type: ignore[no-untyped-def]
    """A name drawer: the named ones by weight, else (tail_share of draws) one of tail_size generated names."""
    tail = sorted({synthetic_name(rng) for _ in range(tail_size)})
    population, weights = list(names), list(names.values())

    def pick() -> str:
        if rng.random() < tail_share:
            return rng.choice(tail)
        return rng.choices(population, weights)[0]

    return pick


# --------------------------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    group_id: uuid.UUID
    owner_id: uuid.UUID
    owner_token: str
    provider_id: uuid.UUID  # the provider caller: a provider of the group, with a roster of about 5,000
    provider_token: str
    counts: dict[str, int] = field(default_factory=dict)


async def seed(url: str, *, clients: int = CLIENTS, providers: int = PROVIDERS, other_groups: int = 3,
               other_group_clients: int = 5000) -> Seeded:
    """COPY: the benchmark group (owner, `providers` providers with profiles and sessions, `clients` clients, their
    users, roster entries, insurance policies, billing methods and acknowledgements, so readiness varies), plus
    `other_groups` practices of `other_group_clients` clients each, some of them people of the big group too."""
    import asyncpg

    rng = random.Random(100_000)
    last_name = weighted_picker(SURNAMES, rng, tail_share=0.55, tail_size=25_000)
    first_name = weighted_picker(FIRST_NAMES, rng, tail_share=0.30, tail_size=3_000)
    group_id = uuid.uuid4()
    groups = [group_id, *(uuid.uuid4() for _ in range(other_groups))]
    owner_id = uuid.uuid4()
    staff = [uuid.uuid4() for _ in range(providers)]  # the big group's providers
    other_owners = [uuid.uuid4() for _ in range(other_groups)]
    users: list[tuple[object, ...]] = []  # id, email, first, last, verified days ago (None: not verified)
    emails: set[str] = set()

    def add_user(uid: uuid.UUID, first: str, last: str, verified: bool) -> str:
        handle = {0: f"{first}.{last}", 1: f"{first[0]}{last}", 2: f"{first}{last}{rng.randint(1, 99)}",
                  3: f"{last}.{first}", 4: synthetic_name(rng) + str(rng.randint(1, 9999))}[rng.randrange(5)]
        handle = "".join(ch for ch in handle.lower() if ch.isalnum() or ch == ".") or "client"
        email = f"{handle}@{rng.choice(DOMAINS)}"
        while email.lower() in emails:
            email = f"{handle}{rng.randint(1, 99999)}@{rng.choice(DOMAINS)}"
        emails.add(email.lower())
        users.append((uid, email, first, last, rng.uniform(1, 900) if verified else None))
        return email

    add_user(owner_id, "Olive", "Owner", True)
    for uid in [*staff, *other_owners]:
        add_user(uid, first_name(), last_name(), True)

    client_rows: list[tuple[object, ...]] = []
    roster_rows: list[tuple[object, ...]] = []
    person_of: dict[uuid.UUID, tuple[str, str, str]] = {}
    # Provider 0 (the provider caller) has a roster of about clients/providers; the others share the rest unevenly.
    weights = [1.0] + [rng.uniform(0.5, 1.5) for _ in range(providers - 1)]

    def add_client(gid: uuid.UUID, uid: uuid.UUID, team: list[uuid.UUID], team_weights: list[float]) -> None:
        first, last, email = person_of[uid]
        cid = uuid.uuid4()
        billing = "insurance" if rng.random() < 0.6 else "private_pay"
        assessments = rng.sample(["PHQ-9", "GAD-7", "PCL-5", "AUDIT-C"], rng.choice((0, 0, 1, 2)))
        client_rows.append((cid, gid, uid, first, last, email, f"+1212555{rng.randint(0, 9999):04d}", billing,
                            rng.choice(STATES), assessments, rng.uniform(0, 1500)))
        provider = rng.choices(team, team_weights)[0]
        roll = rng.random()
        if roll < 0.03:  # archived from their only roster: not in the active list
            roster_rows.append((uuid.uuid4(), gid, cid, provider, rng.uniform(300, 1500), rng.uniform(1, 299)))
        else:
            roster_rows.append((uuid.uuid4(), gid, cid, provider, rng.uniform(0, 1500), None))
            if roll > 0.92:  # also on a second provider's roster (some transferred: an archived entry)
                other = rng.choices(team, team_weights)[0]
                if other != provider:
                    roster_rows.append((uuid.uuid4(), gid, cid, other, rng.uniform(0, 1500),
                                        rng.uniform(1, 299) if roll > 0.97 else None))

    people = []
    for _ in range(clients):
        uid = uuid.uuid4()
        first, last = first_name(), last_name()
        person_of[uid] = (first, last, add_user(uid, first, last, rng.random() < 0.7))
        people.append(uid)
        add_client(group_id, uid, staff, weights)
    for n, gid in enumerate(groups[1:]):
        team = [other_owners[n]]
        for _ in range(other_group_clients):
            if rng.random() < 0.1:  # a person who is also a client of the big group (C2: one record per group)
                uid = rng.choice(people)
            else:
                uid = uuid.uuid4()
                first, last = first_name(), last_name()
                person_of[uid] = (first, last, add_user(uid, first, last, rng.random() < 0.7))
            add_client(gid, uid, team, [1.0])
    # Dedupe (group, user): a shared person drawn twice for one group.
    seen: set[tuple[object, object]] = set()
    kept_ids: set[object] = set()
    unique_clients = []
    for row in client_rows:
        if (row[1], row[2]) not in seen:
            seen.add((row[1], row[2]))
            unique_clients.append(row)
            kept_ids.add(row[0])
    client_rows = unique_clients
    roster_rows = [r for r in roster_rows if r[2] in kept_ids]

    # What each person has done (readiness varies): insurance, a form of billing, acknowledged forms.
    client_user_ids = [uid for uid, *_rest in users[1 + providers + other_groups:]]
    policies, cards, acks = [], [], []
    for uid in client_user_ids:
        if rng.random() < 0.55:
            status = rng.choices(["on_file", "verification_pending", "verified", "failed"], [4, 2, 5, 1])[0]
            policies.append((uid, rng.choice(COMPANIES), os.urandom(40), f"{rng.randint(0, 9999):04d}", status,
                             rng.choice((None, 2000, 2500, 3000))))
        if rng.random() < 0.6:
            expired = rng.random() < 0.1
            cards.append((uid, f"tok_{uuid.uuid4().hex}", rng.choice(["visa", "mastercard", "amex"]),
                          f"{rng.randint(0, 9999):04d}", rng.randint(1, 12), 2024 if expired else rng.randint(2027, 2031)))
        roll = rng.random()
        if roll < 0.5:
            acks += [(uuid.uuid4(), uid, "billing_policy", "2026-01"), (uuid.uuid4(), uid, "privacy_policy", "2026-01")]
        elif roll < 0.6:
            acks += [(uuid.uuid4(), uid, "billing_policy", "2025-01"), (uuid.uuid4(), uid, "privacy_policy", "2025-01")]
        elif roll < 0.7:
            acks.append((uuid.uuid4(), uid, "privacy_policy", "2026-01"))

    owner_token, provider_token = new_session_token(), new_session_token()
    now = datetime.now(UTC)

    def ago(days: float | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.executemany("INSERT INTO groups (id, name) VALUES ($1, $2)",
                                   [(g, "Big Practice" if g == group_id else f"Other Practice {n}")
                                    for n, g in enumerate(groups)])
            await conn.copy_records_to_table(
                "users", columns=["id", "email", "first_name", "last_name", "email_verified_at"],
                records=[(u, e, f, l, ago(v)) for u, e, f, l, v in users])
            memberships = [(uuid.uuid4(), group_id, owner_id, True, False, False)]
            memberships += [(uuid.uuid4(), group_id, uid, False, n % 7 == 3, True) for n, uid in enumerate(staff)]
            memberships += [(uuid.uuid4(), g, uid, True, False, True) for g, uid in zip(groups[1:], other_owners)]
            await conn.copy_records_to_table(
                "memberships", columns=["id", "group_id", "user_id", "is_owner", "is_admin", "is_provider"],
                records=memberships)
            profiles = [(g, uid, "LCSW", f"p-{uuid.uuid4().hex[:16]}")
                        for _mid, g, uid, _o, _a, provider in memberships if provider]
            await conn.copy_records_to_table("provider_profiles",
                                             columns=["group_id", "user_id", "license_type", "booking_slug"],
                                             records=profiles)
            await conn.copy_records_to_table(
                "clients", columns=["id", "group_id", "user_id", "first_name", "last_name", "email", "phone",
                                    "billing_type", "telehealth_state", "assessments", "created_at"],
                records=[(cid, gid, uid, f, l, e, ph, b, st, a, ago(days))
                         for cid, gid, uid, f, l, e, ph, b, st, a, days in client_rows])
            await conn.copy_records_to_table(
                "roster_entries", columns=["id", "group_id", "client_id", "provider_user_id", "added_at", "archived_at"],
                records=[(rid, gid, cid, pid, ago(added), ago(archived))
                         for rid, gid, cid, pid, added, archived in roster_rows])
            await conn.copy_records_to_table(
                "insurance_policies", columns=["user_id", "company", "member_id_encrypted", "member_id_last4",
                                               "status", "copay_cents"], records=policies)
            await conn.copy_records_to_table(
                "billing_methods", columns=["user_id", "processor_token", "brand", "last4", "exp_month", "exp_year"],
                records=cards)
            await conn.copy_records_to_table("acknowledgements", columns=["id", "user_id", "document", "version"],
                                             records=acks)
            await conn.executemany(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + interval '12 hours')",
                [(uuid.uuid4(), owner_id, token_hash(owner_token)), (uuid.uuid4(), staff[0], token_hash(provider_token))])
            # Many people are logged in: the session index is not trivially small.
            await conn.execute(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                "SELECT gen_random_uuid(), u, sha256(u::text::bytea), now() + interval '12 hours' "
                "FROM unnest($1::uuid[]) AS u", client_user_ids[:20_000])
        if await conn.fetchval("SELECT count(*) FROM information_schema.columns "
                               "WHERE table_name = 'clients' AND column_name = 'consented_at'"):
            # Consent (A10, C8): every client accepted its practice (the person's own data is read, as before),
            # and one in ten has a copy of insurance its practice typed (behind the person's own policy, so the
            # page still answers what the bare endpoints answer).
            await conn.execute("UPDATE clients SET consented_at = created_at")
            await conn.execute(
                "INSERT INTO practice_insurance_policies (client_id, company, member_id_encrypted, member_id_last4) "
                "SELECT c.id, 'Practice Copy', '\\x00'::bytea, '0000' FROM clients c "
                "WHERE abs(hashtext(c.id::text)) % 10 = 0 AND EXISTS (SELECT 1 FROM insurance_policies i WHERE i.user_id = c.user_id)")
        # A vacuumed, analyzed database, as a long-running one is (visibility map set, statistics current).
        await conn.execute("VACUUM ANALYZE")
        counts = {
            "clients in the group": await conn.fetchval("SELECT count(*) FROM clients WHERE group_id = $1", group_id),
            "with an active roster entry": await conn.fetchval(
                "SELECT count(*) FROM clients c WHERE group_id = $1 AND EXISTS (SELECT 1 FROM roster_entries r "
                "WHERE r.client_id = c.id AND r.archived_at IS NULL)", group_id),
            "on the provider caller's roster": await conn.fetchval(
                "SELECT count(DISTINCT client_id) FROM roster_entries WHERE group_id = $1 AND provider_user_id = $2",
                group_id, staff[0]),
            "clients, all groups": await conn.fetchval("SELECT count(*) FROM clients"),
            "users": await conn.fetchval("SELECT count(*) FROM users"),
            "roster entries": await conn.fetchval("SELECT count(*) FROM roster_entries"),
            "insurance policies": len(policies), "billing methods": len(cards), "acknowledgements": len(acks),
        }
        return Seeded(group_id, owner_id, owner_token, staff[0], provider_token, counts)
    finally:
        await conn.close()


async def prefix_counts(url: str, group_id: uuid.UUID, prefixes: list[str]) -> dict[str, tuple[int, int]]:
    """For each prefix: (clients whose last name starts with it, clients any of whose keys does)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        out = {}
        for p in prefixes:
            like = p.lower() + "%"
            last = await conn.fetchval("SELECT count(*) FROM clients WHERE group_id = $1 AND last_name_key LIKE $2",
                                       group_id, like)
            any_key = await conn.fetchval(
                "SELECT count(*) FROM clients WHERE group_id = $1 AND (last_name_key LIKE $2 OR first_name_key LIKE $2 "
                "OR email_key LIKE $2)", group_id, like)
            out[p] = (last, any_key)
        return out
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------------ plans


@dataclass
class Captured:
    label: str
    statement: str
    parameters: object


async def capture_service_statements(db_url: str, seeded: Seeded, q: str | None, *, provider: bool = False,
                                     cursor_at: int | None = None) -> list[Captured]:
    """Run app.clients.service.list_clients in-process, as the route runs it, and keep every statement it sends."""
    from sqlalchemy import event

    from app.clients import service
    from app.config import Settings
    from app.core.auth import authenticate
    from app.core.db import Database
    from app.core.pagination import PageParams

    settings = Settings(database_url=db_url, redis_url="redis://127.0.0.1:6379/8")
    database = Database(db_url, settings)
    await database.start()
    captured: list[Captured] = []
    try:
        assert database.auth_pool is not None
        token = seeded.provider_token if provider else seeded.owner_token
        actor = await authenticate(database.auth_pool, token)
        assert actor is not None, "the seeded session did not authenticate"

        def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            captured.append(Captured("", statement, parameters))

        cursor = None
        if cursor_at is not None:  # a page deep in the list: the cursor of the row at that offset
            from app.core.pagination import encode_cursor

            row = await database.auth_pool.fetchrow(
                "SELECT last_name_key, first_name_key, id FROM clients WHERE group_id = $1 "
                "ORDER BY last_name_key, first_name_key, id OFFSET $2 LIMIT 1", seeded.group_id, cursor_at)
            cursor = encode_cursor([row["last_name_key"], row["first_name_key"], str(row["id"])])
        event.listen(database.engine.sync_engine, "before_cursor_execute", keep)
        # The service reads through asyncpg directly (no SQLAlchemy events): keep those statements too, by
        # wrapping asyncpg's own methods for the duration of the call.
        import asyncpg

        originals = {name: getattr(asyncpg.Connection, name) for name in ("fetch", "fetchrow", "fetchval", "execute")}

        def recording(method):  # type: ignore[no-untyped-def]
            async def call(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
                if query.strip() not in ("", ";"):  # SQLAlchemy's pre-ping is ";"
                    captured.append(Captured("", query, args))
                return await method(self, query, *args, **kwargs)
            return call

        for name, method in originals.items():
            setattr(asyncpg.Connection, name, recording(method))
        try:
            # As the route: on the authentication pool (the statement also writes the read's audit row).
            views, _cursor = await service.list_clients(
                database.auth_pool, actor, seeded.group_id, PageParams(limit=50, cursor=cursor), provider_id=None,
                status="active", q=q)
        finally:
            for name, method in originals.items():
                setattr(asyncpg.Connection, name, method)
        assert len(views) == 50 or q, len(views)
        return captured
    finally:
        await database.close()


def label_of(statement: str) -> str:
    s = " ".join(statement.split()).lower()
    if s.startswith("insert into audit_events"):
        return "audit insert"
    if "from clients" in s:
        return "page"
    if "from roster_entries" in s:
        return "rosters of the page"
    if "from insurance_policies" in s and "from users" not in s:
        return "insurance of the page"
    if "from users" in s:
        return "readiness facts of the page"
    return "other"


async def explain(db_url: str, captured: list[Captured]) -> list[tuple[str, str, list[str]]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each SELECT, with its own parameters, twice: the plan of a fresh statement
    (what the first executions of a prepared statement get: a custom plan for these values) and the plan after
    five executions of the same prepared statement, as the API's pooled connections run it (asyncpg prepares
    every statement: from the sixth execution PostgreSQL may switch to a generic plan that ignores the values)."""
    import asyncpg

    conn = await asyncpg.connect(db_url)
    out = []
    try:
        for n, c in enumerate(captured):
            flat = " ".join(c.statement.split()).lower()
            if flat.startswith("set "):  # a setting the service makes for its transaction: this session's too
                await conn.execute("SET " + c.statement.strip()[len("set local "):] if flat.startswith("set local ")
                                   else c.statement)
                out.append(("setting", c.statement, []))
                continue
            if not flat.startswith(("select", "with")):
                continue
            params = list(c.parameters) if isinstance(c.parameters, (list, tuple)) else []
            lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + c.statement, *params)]
            name = f"bench_plan_{n}"
            await conn.execute(f"PREPARE {name} AS {c.statement}")
            try:
                # EXECUTE takes no bind parameters: the values as literals, coerced to the prepared types.
                args = ", ".join(sql_literal(v) for v in params)
                execute = f"EXECUTE {name}({args})" if params else f"EXECUTE {name}"
                for _ in range(5):
                    await conn.fetch(execute)
                steady = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + execute)]
            finally:
                await conn.execute(f"DEALLOCATE {name}")
            out.append((label_of(c.statement), c.statement, lines))
            out.append((label_of(c.statement) + " (6th execution of the prepared statement)", execute, steady))
        return out
    finally:
        await conn.close()


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "'{" + ",".join('"' + str(v).replace('"', '\\"') + '"' for v in value).replace("'", "''") + "}'"
    return "'" + str(value).replace("'", "''") + "'"


WALK_LIMIT = 1000  # rows an index scan on clients may discard by Filter before it counts as walking, not searching


def walked_rows(lines: list[str]) -> int:
    """The most rows any scan on clients read and threw away (its Filter, not its Index Cond, did the search)."""
    worst, node = 0, ""
    for line in lines:
        if "->" in line or line == lines[0]:
            node = line
        if "Rows Removed by Filter:" in line and " on clients" in node:
            worst = max(worst, int(line.rsplit(":", 1)[1]))
    return worst


def check_plan(label: str, lines: list[str]) -> list[str]:
    """Problems with a page query's plan: no named clients index, a Seq Scan on clients, or an index scan that
    walks the group in name order throwing rows away (the search is a Filter, so a rare prefix reads it all)."""
    text = "\n".join(lines)
    problems = []
    if "Seq Scan on clients" in text:
        problems.append(f"{label}: Seq Scan on clients")
    if not any(ix in text for ix in INDEXES):
        problems.append(f"{label}: none of {', '.join(INDEXES)}")
    walked = walked_rows(lines)
    if walked > WALK_LIMIT:
        problems.append(f"{label}: an index scan on clients discards {walked:,} rows by Filter (the index orders, "
                        "it does not search)")
    return problems


def print_plans(db_url: str, seeded: Seeded, prefixes: list[str]) -> list[str]:
    """Print the service's statements and their plans; return the problems found (empty: all good)."""
    problems: list[str] = []
    cases: list[tuple[str, str | None, bool, int | None]] = [("list (owner: whole group)", None, False, None)]
    cases += [(f"search q={p}", p, False, None) for p in prefixes]
    cases += [("list (provider: own roster)", None, True, None),
              ("list, the page after row 50,000 (keyset cursor)", None, False, 50_000)]
    shown_views = False
    for title, q, provider, cursor_at in cases:
        captured = asyncio.run(capture_service_statements(db_url, seeded, q, provider=provider, cursor_at=cursor_at))
        plans = asyncio.run(explain(db_url, captured))
        print(f"\n==================== {title}: {len(captured)} statements "
              f"({', '.join(label_of(c.statement) for c in captured)})")
        for label, statement, lines in plans:
            if label == "setting":
                print(f"\n--- the service sets, for its transaction: {statement.strip()}")
                continue
            is_page = label.startswith("page")
            if not is_page and shown_views:
                continue  # the page-loading statements are the same for every case: shown once
            print(f"\n--- {label}")
            if not label.endswith("execution of the prepared statement)"):
                print(statement.strip())
            print("\n".join("    " + line for line in lines))
            if is_page:
                found = check_plan(f"{title}, {label}", lines)
                problems += found
                uses = sorted({ix for ix in INDEXES if any(ix in line for line in lines)})
                generic = any("$1" in line for line in lines if "Cond" in line or "Filter" in line)
                execution = next((line for line in lines if line.startswith("Execution Time")), "")
                print(f"    => indexes: {', '.join(uses) or 'NONE'}; seq scan on clients: "
                      f"{'YES' if any('Seq Scan on clients' in line for line in lines) else 'no'}; "
                      f"rows discarded by Filter: {walked_rows(lines):,}; "
                      f"{'GENERIC plan' if generic else 'custom plan'}; {execution}")
        shown_views = True
    return problems


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None):  # type: ignore[no-untyped-def]
    parser = common_parser(__doc__, "caseload_bench_clients")
    parser.add_argument("--plans", action="store_true", help="print and check the statements' plans first")
    parser.add_argument("--plans-only", action="store_true", help="seed, print and check the plans, no load")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="clients of the benchmark group")
    parser.add_argument("--prefixes", default=",".join(DEFAULT_PREFIXES),
                        help="comma-separated search prefixes, one target each (the first also gets a bare target)")
    parser.add_argument("--search-rate", type=float, default=None,
                        help="also run the API search targets open loop at this many requests per second in all, "
                             "over --connections: the p99 of a steady load below saturation (loadgen.py)")
    parser.add_argument("--search-connections", type=int, default=None,
                        help="also run the search targets at this concurrency, for their latency (information)")
    return finish_args(parser.parse_args(argv))


def check_page(expected: int | None = 50, *, q: str | None = None, full: bool = True):  # type: ignore[no-untyped-def]
    def check(status: int, body: bytes) -> None:
        assert status == 200, f"answered {status}: {body[:300]!r}"
        data = json.loads(body)
        items = data["items"]
        if expected is not None:
            assert len(items) == expected, (len(items), expected)
        keys = [(i["last_name"].lower(), i["first_name"].lower(), i["id"]) for i in items]
        assert keys == sorted(keys, key=lambda k: (k[0].encode(), k[1].encode(), k[2])), "not in name order"
        if q:
            token = q.lower()
            assert all(any(i[k].lower().startswith(token) for k in ("last_name", "first_name", "email")) for i in items)
        if full and items:
            assert "readiness" in items[0] and "rosters" in items[0], sorted(items[0])

    return check


def print_search_p99(results: harness.Results, groups: list[tuple[str, list[str]]], connections: int, *,
                     information: bool = False, rate: float = 0.0) -> bool:
    """One line per server: each prefix's p99 and the worst against the goal; True when the API's worst meets it."""
    api_met = True
    for group_name, names in groups:
        chosen = [results.chosen(n) for n in names]
        worst = max(chosen, key=lambda r: r.p99_ms)
        met = worst.p99_ms < P99_GOAL_MS
        if group_name == "api":
            api_met = met
        verdict = "(information)" if information else f"goal < {P99_GOAL_MS:g} ms: {'MET' if met else 'NOT MET'}"
        print(f"search p99 ({group_name}, {connections} connections): "
              + ", ".join(f"{r.target.split('q=')[-1]} {r.p99_ms:.1f} ms" for r in chosen)
              + f"; worst {worst.p99_ms:.1f} ms   {verdict}"
              + (f"   (open loop: {rate:,.0f} req/s offered, {worst.rps:,.0f} answered)" if rate else
                 f"   (closed loop: p50 ≈ connections ÷ req/s = {1000 * connections / max(worst.rps, 1e-9):.1f} ms "
                 f"at {worst.rps:,.0f} req/s)"))
    return api_met


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    config = run_config(args)
    prefixes = [p.strip() for p in args.prefixes.split(",") if p.strip()]
    generator = harness.load_generator(args.loadgen)
    problems: list[str] = []

    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        print(f"seeding {args.clients:,} clients ...", flush=True)
        seeded = asyncio.run(seed(db_url, clients=args.clients))
        print("seeded: " + ", ".join(f"{k} {v:,}" for k, v in seeded.counts.items()), flush=True)
        matches = asyncio.run(prefix_counts(db_url, seeded.group_id, prefixes))
        print("search prefixes (clients of the group whose last name / any of last name, first name, email "
              "starts with it): " + ", ".join(f"{p}: {a:,}/{b:,}" for p, (a, b) in matches.items()), flush=True)
        if args.plans or args.plans_only:
            problems = print_plans(db_url, seeded, prefixes)
            print("\nplans: " + ("OK: every page query searches a clients index (no Seq Scan on clients, no index walk)"
                             if not problems
                                 else "PROBLEMS:\n  " + "\n  ".join(problems)), flush=True)
            if args.plans_only:
                return 0 if not problems else 3

        env = api_env(db_url, args.log_level)
        api = api_server(harness.free_port(), env, None)
        variants = variant_servers(args.variant, env)
        bare = bare_server(db_url)
        owner = {"Authorization": f"Bearer {seeded.owner_token}"}
        provider = {"Authorization": f"Bearer {seeded.provider_token}"}
        gid = seeded.group_id
        list_path = f"/v1/groups/{gid}/clients?limit=50"
        api_list = Target("api list", api, list_path, owner, check=check_page())
        bare_list = Target("bare list", bare, f"/groups/{gid}/clients?limit=50", check=check_page(full=False),
                           note="baseline: the same 50 client rows, same filter and index order, no auth")

        def expect(p: str) -> int | None:  # a full page where there are plenty of matches
            return 50 if matches[p][1] >= 100 else None

        searches = [Target(f"api search q={p}", api, f"{list_path}&q={p}", owner, check=check_page(expect(p), q=p))
                    for p in prefixes]
        targets = [api_list, bare_list]
        targets += [Target(f"{v.name} list", v, list_path, owner, check=check_page()) for v in variants]
        targets += searches
        for v in variants:
            targets += [Target(f"{v.name} search q={p}", v, f"{list_path}&q={p}", owner,
                               check=check_page(expect(p), q=p)) for p in prefixes]
        if not args.no_diagnostics:
            p = prefixes[0]
            targets += [
                Target(f"bare search q={p}", bare, f"/groups/{gid}/clients?limit=50&q={p}",
                       check=check_page(expect(p), q=p, full=False), note="the same search, bare"),
                Target("bare list-full", bare, f"/groups/{gid}/clients-full?limit=50", owner, check=check_page(),
                       note="everything the API route does, in SQL, no framework"),
                Target("bare list-lean", bare, f"/groups/{gid}/clients-lean?limit=50", owner, check=check_page(),
                       note="the same answer from one SELECT + the audit INSERT (the shape recommended)"),
                Target("bare list-full-noaudit", bare, f"/groups/{gid}/clients-full?limit=50&audit=0", owner,
                       check=check_page(), note="bare list-full without the audit row: what writing it costs"),
            ]
        targets.append(Target("api provider list", api, list_path, provider, check=check_page(),
                              note="a provider's own roster (about 5,000 clients), first page: information"))

        with harness.running([api, bare, *variants]):
            # `consent` (A10): the bare endpoints predate it; every seeded client has accepted.
            same_documents("list", get_json(api_list.url, owner), get_json(bare_list.url),
                           ignore=("account_verified", "rosters", "insurance", "readiness", "consent"))
            same_documents("list-full", get_json(api_list.url, owner),
                           get_json(bare.base_url + f"/groups/{gid}/clients-full?limit=50", owner), ignore=("consent",))
            same_documents("list-lean", get_json(api_list.url, owner),
                           get_json(bare.base_url + f"/groups/{gid}/clients-lean?limit=50", owner), ignore=("consent",))
            for v in variants:
                same_documents(f"{v.name} list", get_json(v.base_url + list_path, owner),
                               get_json(bare.base_url + f"/groups/{gid}/clients-full?limit=50", owner), ignore=("consent",))
            same_documents(f"search q={prefixes[0]}", get_json(searches[0].url, owner),
                           get_json(bare.base_url + f"/groups/{gid}/clients?limit=50&q={prefixes[0]}"),
                           ignore=("account_verified", "rosters", "insurance", "readiness", "consent"))
            results = harness.run_all(generator, targets, config)
            low, low_config = None, run_config(args)
            all_searches = [t for t in targets if " search q=" in t.name and not t.name.startswith("bare")]
            if args.search_connections:
                low_config.connections = args.search_connections
                print(f"\nthe search targets again at {args.search_connections} connections (information):")
                low = harness.run_all(generator, all_searches, low_config)
            paced, paced_config = None, run_config(args)
            if args.search_rate:
                paced_config.rate = args.search_rate
                print(f"\nthe search targets again, open loop at {args.search_rate:,.0f} req/s over "
                      f"{paced_config.connections} connections:")
                paced = harness.run_all(harness.PythonLoadGenerator(), all_searches, paced_config)

    ratios: list[tuple[str, str, float | None]] = [(api_list.name, bare_list.name, THROUGHPUT_GOAL)]
    ratios += [(f"{v.name} list", bare_list.name, THROUGHPUT_GOAL) for v in variants]
    if not args.no_diagnostics:
        ratios += [(api_list.name, "bare list-full", None), ("bare list-full", bare_list.name, None),
                   ("bare list-lean", bare_list.name, None), ("bare list-full-noaudit", bare_list.name, None),
                   (searches[0].name, f"bare search q={prefixes[0]}", None)]
    outcomes = harness.report(results, targets, config, generator, ratios=ratios)
    if low is not None:
        harness.report(low, all_searches, low_config, generator)
    if paced is not None:
        harness.report(paced, all_searches, paced_config, harness.PythonLoadGenerator())

    print()
    groups = [("api", [t.name for t in searches])]
    groups += [(v.name, [f"{v.name} search q={p}" for p in prefixes]) for v in variants]
    search_ok = print_search_p99(results, groups, config.connections)
    if low is not None:
        print_search_p99(low, groups, low_config.connections, information=True)
    if paced is not None:
        print_search_p99(paced, groups, paced_config.connections, rate=paced_config.rate)
    if problems:
        print("plans: NOT MET: " + "; ".join(problems))
    elif args.plans:
        print("plans: MET (the page queries search the clients indexes: no Seq Scan on clients, no index walk)")
    if args.json:
        harness.write_json(args.json, results, config, generator,
                           [*outcomes, ("search p99 < 25 ms", max(results.chosen(t.name).p99_ms for t in searches),
                                        P99_GOAL_MS, search_ok)])
    return 0 if outcomes[0][3] and search_ok and not problems else 3


if __name__ == "__main__":
    sys.exit(main())
