"""The prose of the OpenAPI document (X1): what a partner engineer reads before the first call."""

API_DESCRIPTION = """\
The Caseload API runs group and solo mental-health practices: their members and roles, clients and
onboarding, calendars of therapy sessions, payouts to providers, documents, messages and bulk client imports.
Everything is JSON over HTTPS; times are UTC in ISO 8601 (calendar rules use the group's time zone); money is
an integer number of cents with its `currency` beside it.

## Authentication
- **People** log in with `POST /v1/auth/token` (OAuth2 password form: `username` is the email) and send
  `Authorization: Bearer <access_token>`. An account with two-factor sign-in answers `401 otp_required` with a
  `challenge_token`: post it with the code to `POST /v1/auth/token/two-factor`.
- **Partners** use a group's API key (`POST /v1/groups/{group_id}/api-keys`), sent as `X-API-Key: ck_...` or
  `Authorization: Bearer ck_...`. A key acts for its group only.
- Each operation names who may call it in `x-capability`: `public`, `authenticated` (any login or key, about
  itself), `person` (a logged-in person, not a key), `staff`, or a capability of the group's role table.
  Another group's objects are answered `404`, never `403`.

## Pagination
Lists take `?limit=` and `?cursor=` and answer `{"items": [...], "next_cursor": "..."}`; pass `next_cursor` back
until it is `null`. Cursors are opaque, bound to the list that issued them and valid for 24 hours.

## Idempotency
Every `POST` that creates something, sends mail or moves money takes an `Idempotency-Key` header (1-255 visible
ASCII characters, e.g. a UUID, kept at least 24 hours). A retry with the same key and request answers the first
response again, with `Idempotent-Replayed: true`; the same key with another request is `422
idempotency_key_reused`; while the first is still running, `409 idempotency_key_in_use`.

## Errors
Every error is an RFC 9457 problem document (`application/problem+json`, schema `Problem`) with a stable
`code` to branch on and a `detail` saying what would make the request succeed. Some codes carry typed members
(`errors`, `conflicts`, `missing`, `blockers`, `retry_after`, ...). The `type` URI of each problem resolves to a
page describing its code; `GET /problems` lists every code. `429` and `503` answers carry `Retry-After`. Every
response carries `X-Request-ID` (send your own to correlate); quote it to support.

## Versioning and compatibility
The version is in the path (`/v1`). Within `v1`, changes are additive only: new operations, new optional
request fields, new response fields, new problem codes and new values in enumerations (statuses, kinds,
reasons) may appear at any time, so clients must ignore unknown fields and treat an unknown enum value or code
gracefully. Removing or renaming a field, changing its type or making an optional input required happens only in
a new major version, announced in advance, with `v1` kept running alongside.
"""

TAGS = [
    ("auth", "Accounts: sign-up, email verification, log in (with two-factor), password reset, logout."),
    ("me", "The logged-in person: who they are, their groups, password, two-factor sign-in and logins."),
    ("groups", "Practices: create one (with its admins and providers invited in one request), read and rename it."),
    ("memberships", "Who belongs to a group and with what role: members, providers, admin grants, removal, ownership."),
    ("api-keys", "Keys for partner systems, one group each; the secret is shown once, at creation."),
    ("practice", "The practice's settings: policies, rates per service code, bank account, identity verification."),
    ("providers", "Each provider's profile, practice locations and intake form."),
    ("clients", "The practice's clients: roster per provider, readiness for sessions, archive, transfer, welcome mail, "
                "cost estimates, and their documents (restricted categories stay with the treating providers)."),
    ("onboarding", "What a client completes themselves: insurance, billing method, acknowledgements of the forms."),
    ("messaging", "Conversations between a provider and a client, for both sides."),
    ("sessions", "The calendar: book (one session or a weekly series), move, confirm (which earns the provider's line), "
                 "cancel, record a no-show; a client's own sessions and the documents shared with them."),
    ("availability", "When providers work: weekly hours, time off, licenses per state, booking settings, open slots."),
    ("payouts", "Money to providers: payouts per pay period with their lines, upcoming payouts, payments, tax summaries."),
    ("imports", "Bulk client imports from files other systems export: upload, review each row, finalize, undo."),
    ("booking", "A provider's public booking link: read it, see its open slots, and sign up or book a first session."),
    ("webhooks", "Signed events sent to a partner's endpoint when things happen in the group; delivery log and replay."),
    ("invitations", "Invitations to join a practice (as client, provider or admin): accept or decline them."),
    ("audit", "The practice's audit log: who did what, when, from where; exportable as CSV."),
    ("problems", "Every problem code the API answers, with what it means and what fixes it."),
    ("ops", "Caseload staff: the background job console, settlement progress, resuming a payout that needs attention."),
    ("health", "Liveness and readiness for load balancers."),
]
