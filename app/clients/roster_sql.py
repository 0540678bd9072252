"""C7: the roster page and its name-prefix search as one SQL statement. Pure: builds text, runs nothing.

A page of 50 clients with everything a response shows (rosters, insurance, readiness facts) is one
statement: the page's ids are found first (the `page` CTE), then joined to what is shown. Ids come as text
(what the response shows): no UUID objects to build and serialise back. The statement also writes the
read's audit row, and runs on asyncpg directly (app.clients.service.list_clients): through the ORM and
pydantic, 50 nested responses cost about 12x the SQL.

Search branches for first name and email sort their whole range (a heap fetch per match: the indexes hold no
last name); a one-letter search of a common letter reads thousands of rows. Covering indexes (INCLUDE
last_name_key, first_name_key, id) would make those index-only scans.

Search is a prefix of the last name, the first name or the email. An OR over the three cannot be one index
range, so PostgreSQL walked `ix_clients_group_name` in name order discarding most of the group; instead each
column is its own range scan (`ix_clients_group_name`, `ix_clients_group_first_name`, `ix_clients_group_email`),
ordered by the roster order and limited to the page, and the UNION of the three (duplicates removed) is
ordered and limited again. The keyset cursor applies inside every branch, so paging stays exact.

Prefixes are ranges (`key >= 'ab' AND key < 'ac'`), not `LIKE 'ab%'`: the keys are in the "C" collation, where
the two are the same set, and a range stays an index condition in the generic plan of a prepared statement
(asyncpg prepares everything: from the sixth execution PostgreSQL may plan without looking at the values, and a
`LIKE $1` then is a filter over the whole group).
"""

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

RosterStatus = Literal["active", "archived", "all"]
KEYS = "last_name_key, first_name_key, id"  # the roster order (ix_clients_group_name), unique
_KEYS_C, _KEYS_M = KEYS.replace(", ", ", c."), KEYS.replace(", ", ", m.")
_TOP = chr(0x10FFFF)


def search_tokens(q: str | None) -> list[str]:
    """The lower-cased words of a search: none, one (any column), or first and last (names, either order)."""
    words = (q or "").replace("\x00", "").lower().split()  # PostgreSQL text holds no NUL
    return words if len(words) <= 1 else [words[0], words[-1]]


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high): the "C"-collation range of the strings starting with `prefix` (code point order)."""
    stem = prefix.rstrip(_TOP)
    if not stem:
        return prefix, _TOP * 400  # past every key (keys are at most 320 characters)
    code = ord(stem[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters: the next one is U+E000
        code = 0xE000
    return prefix, stem[:-1] + chr(code)


@dataclass
class _Params:
    """Numbers named parameters `$1, $2, ...` in order of first use."""

    names: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> str:
        if name not in self.names:
            self.names.append(name)
        return f"${self.names.index(name) + 1}"


def _in_range(column: str, n: int, p: _Params) -> str:
    return f"c.{column} >= {p(f'low{n}')} AND c.{column} < {p(f'high{n}')}"


@lru_cache(maxsize=256)
def page_statement(
    *, own: bool, provider: bool, status: RosterStatus, words: int, after: bool, size: int
) -> tuple[str, tuple[str, ...]]:
    """The page query for one shape of request, and the names of its parameters in `$n` order.

    own: the caller sees only clients on their roster (R1); provider: one provider's roster (`provider_id`);
    words: 0 (no search), 1 or 2 (search_tokens); after: a keyset cursor (`after_last`, `after_first`, `after_id`);
    size: the page size; the statement reads one row more (is there a next page?). Written into the text: with
    `LIMIT $n` PostgreSQL prices a generic plan for an unknown share of the group and keeps planning every
    execution afresh (2-3 ms each).
    Other parameters: group_id, low1/high1 (and low2/high2), year, month (today, UTC: a card is good through its
    expiry month), documents, versions (the current form versions), and the audit row's actor_user_id,
    actor_api_key_id, actor_ip, request_id.

    The statement also writes the read's audit row (R2, as app.core.audit.record writes it: the ids shown, in
    order): the read and its record are one statement, so neither exists alone, in one round trip.
    """
    assert isinstance(size, int) and size > 0
    limit = size + 1
    p = _Params()
    group = f"c.group_id = {p('group_id')}"
    cursor = (f"(c.last_name_key, c.first_name_key, c.id) > ({p('after_last')}, {p('after_first')}, {p('after_id')}::uuid)"
              if after else None)

    def on_roster(alias: str) -> list[str]:
        """R1 and the `status`/`provider_id` filters, for the client row called `alias`."""
        found = []
        if own:
            found.append(f"EXISTS (SELECT 1 FROM roster_entries o WHERE o.client_id = {alias}.id AND o.provider_user_id = {p('own_id')})")
        entries = f"SELECT 1 FROM roster_entries r WHERE r.client_id = {alias}.id"
        if provider:
            entries += f" AND r.provider_user_id = {p('provider_id')}"
        active = f"EXISTS ({entries} AND r.archived_at IS NULL)"
        if status == "active":
            found.append(active)
        elif status == "archived":
            found += [f"EXISTS ({entries})", f"NOT {active}"]
        elif provider:
            found.append(f"EXISTS ({entries})")
        return found

    def ordered(*match: str) -> str:
        """Clients in roster order from an index on the roster order (the match narrows its range)."""
        where = " AND ".join(x for x in (group, *match, cursor, *on_roster("c")) if x)
        return f"SELECT c.id, c.last_name_key, c.first_name_key FROM clients c WHERE {where} ORDER BY c.{_KEYS_C} LIMIT {limit}"

    def sorted_range(match: str) -> str:
        """Clients matching on another index (first name, email), sorted into roster order, then filtered.

        The inner query is a fence (OFFSET 0): planned alone, it reads the matching range and sorts it; left to
        itself, the planner may walk ix_clients_group_name in roster order and test every client of the group
        against the range (a generic plan thinks few match), 13 ms. The roster filters run after the sort, on
        the first rows only."""
        where = " AND ".join(x for x in (group, match, cursor) if x)
        inner = f"SELECT c.id, c.last_name_key, c.first_name_key FROM clients c WHERE {where} ORDER BY c.{_KEYS_C} OFFSET 0"
        filters = " AND ".join(on_roster("s")) or "true"
        return (f"SELECT s.id, s.last_name_key, s.first_name_key FROM ({inner}) s WHERE {filters} "
                f"ORDER BY s.{KEYS.replace(', ', ', s.')} LIMIT {limit}")

    if words == 0:
        page = ordered()
    else:
        if words == 1:
            branches = [ordered(_in_range("last_name_key", 1, p)),
                        sorted_range(_in_range("first_name_key", 1, p)),
                        sorted_range(_in_range("email_key", 1, p))]
        else:  # "ann sm": first and last name, in either order; both ranges of last names
            branches = [ordered(_in_range("last_name_key", 2, p), _in_range("first_name_key", 1, p)),
                        ordered(_in_range("last_name_key", 1, p), _in_range("first_name_key", 2, p))]
        union = "\n  UNION\n  ".join(f"({b})" for b in branches)
        page = f"SELECT m.id, m.last_name_key, m.first_name_key FROM (\n  {union}\n) m ORDER BY m.{_KEYS_M} LIMIT {limit}"
    sql = f"""WITH page AS ({page}),
audit AS (
  INSERT INTO audit_events (actor_user_id, actor_api_key_id, actor_ip, request_id, action, target_type, target_id, group_id,
                            outcome, details)
  SELECT {p('actor_user_id')}::uuid, {p('actor_api_key_id')}::uuid, {p('actor_ip')}::inet, {p('request_id')}, 'client.list_read', 'client',
         NULL, {p('group_id')}, 'success',
         jsonb_build_object('client_ids', coalesce(
           (SELECT jsonb_agg(shown.id::text ORDER BY shown.{KEYS.replace(", ", ", shown.")})
              FROM (SELECT * FROM page ORDER BY {KEYS} LIMIT {size}) shown), '[]'::jsonb))
)
SELECT c.id::text AS id, c.group_id::text AS group_id, CASE WHEN c.consented_at IS NOT NULL THEN c.user_id::text END AS user_id,
       c.first_name, c.last_name, c.email,
       c.phone, c.billing_type, c.telehealth_state, c.assessments, c.created_at, c.last_name_key, c.first_name_key,
       c.consented_at IS NOT NULL AS consented,
       c.consented_at IS NOT NULL AND u.email_verified_at IS NOT NULL AS account_verified,
       coalesce(i.status, pi.status) AS insurance_status, coalesce(i.company, pi.company) AS insurance_company,
       coalesce(i.member_id_last4, pi.member_id_last4) AS member_id_last4,
       b.user_id IS NOT NULL AND (b.exp_year, b.exp_month) >= ({p('year')}::int, {p('month')}::int) AS has_billing_method,
       e.providers, e.added, e.archived,
       (SELECT array_agg(a.document) FROM acknowledgements a
         WHERE c.consented_at IS NOT NULL AND a.user_id = c.user_id
           AND (a.document, a.version) IN (SELECT * FROM unnest({p('documents')}::text[], {p('versions')}::text[]))
       ) AS acknowledged
  FROM page JOIN clients c ON c.id = page.id
  JOIN users u ON u.id = c.user_id
  -- C8: the person's own data only once they accepted this practice's invitation; the practice's own
  -- insurance copy otherwise (or when the person has none).
  LEFT JOIN insurance_policies i ON i.user_id = c.user_id AND c.consented_at IS NOT NULL
  LEFT JOIN practice_insurance_policies pi ON pi.client_id = c.id
  LEFT JOIN billing_methods b ON b.user_id = c.user_id AND c.consented_at IS NOT NULL
  LEFT JOIN LATERAL (
    SELECT array_agg(r.provider_user_id::text ORDER BY r.added_at, r.id) AS providers,
           array_agg(r.added_at ORDER BY r.added_at, r.id) AS added,
           array_agg(r.archived_at ORDER BY r.added_at, r.id) AS archived
      FROM roster_entries r WHERE r.client_id = c.id
  ) e ON true
 ORDER BY page.{KEYS.replace(", ", ", page.")}"""
    return sql, tuple(p.names)
