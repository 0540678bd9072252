"""Mail to clients about their sessions (S12): booked, moved, cancelled, and a reminder before.

Times are written in the group's time zone with its abbreviation; a mail names the practice, the provider, the
time and the place, never a diagnosis or service code. The booking, move and cancellation mails are written in
the transaction of the change (app.core.mail's outbox), so a refused change mails nothing. The reminder is sent
by a cron job; `session_notices` has one row per session and kind, inserted in the transaction that writes the
mail, so two workers or a rerun send it once. Only a practice the person accepted mails them (C8).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.mail import send_mail

Kind = Literal["booked", "moved", "cancelled", "reminder"]

_FACTS = text("""
SELECT s.id, s.starts_at, s.duration_minutes, s.kind, s.telehealth, s.late_cancellation_fee_cents,
       g.name AS practice, g.time_zone, p.first_name || ' ' || p.last_name AS provider, u.email, u.first_name,
       l.label, l.address_line1, l.city, l.state
  FROM sessions s
  JOIN groups g ON g.id = s.group_id
  JOIN users p ON p.id = s.provider_user_id
  JOIN clients c ON c.id = s.client_id AND c.consented_at IS NOT NULL
  JOIN users u ON u.id = c.user_id
  LEFT JOIN practice_locations l ON l.id = s.location_id
 WHERE s.id = ANY(CAST(:ids AS uuid[]))
 ORDER BY s.starts_at
""")


def when(starts_at: datetime, zone: str) -> str:
    """'Thursday, March 11, 2027 at 10:00 AM EST' in the group's zone."""
    local = starts_at.astimezone(ZoneInfo(zone))
    return f"{local:%A, %B} {local.day}, {local.year} at {local:%I:%M %p %Z}".replace(" 0", " ")


def _place(row: Any) -> str:
    if row.telehealth:
        return "by video (telehealth)"
    return f"at {row.label}, {row.address_line1}, {row.city}, {row.state}"


def _what(row: Any) -> str:
    return "first session (intake)" if row.kind == "intake" else "session"


def compose(kind: Kind, rows: Sequence[Any], *, was: datetime | None = None) -> tuple[str, str]:
    """Subject and body of one mail about `rows` (one session, or the sessions of a series). Pure."""
    first = rows[0]
    hello = f"Hello {first.first_name},\n\n"
    sign = f"\nTo change or cancel, sign in to Caseload or contact {first.practice}.\n"
    at = f"{when(first.starts_at, first.time_zone)} ({first.duration_minutes} minutes), {_place(first)}"
    if kind == "booked" and len(rows) > 1:
        dates = "\n".join(f"  - {when(r.starts_at, r.time_zone)}" for r in rows)
        return (f"Your sessions with {first.provider} are booked",
                f"{hello}{first.practice} booked {len(rows)} sessions for you with {first.provider} "
                f"({first.duration_minutes} minutes each, {_place(first)}):\n{dates}\n{sign}")
    if kind == "booked":
        return (f"Your {_what(first)} with {first.provider} is booked",
                f"{hello}{first.practice} booked a {_what(first)} for you with {first.provider}: {at}.\n{sign}")
    if kind == "moved":
        before = f" (it was {when(was, first.time_zone)})" if was is not None else ""
        more = f" and {len(rows) - 1} following sessions moved the same way" if len(rows) > 1 else ""
        return (f"Your session with {first.provider} has moved",
                f"{hello}Your {_what(first)} with {first.provider} at {first.practice} is now {at}{before}{more}.\n{sign}")
    if kind == "cancelled":
        fee = sum(r.late_cancellation_fee_cents or 0 for r in rows)
        also = f", and the {len(rows) - 1} sessions after it" if len(rows) > 1 else ""
        charge = f"\nA late-cancellation fee of ${fee / 100:,.2f} applies under the practice's policy.\n" if fee else ""
        return (f"Your session with {first.provider} is cancelled",
                f"{hello}Your {_what(first)} with {first.provider} at {first.practice} on "
                f"{when(first.starts_at, first.time_zone)}{also} is cancelled.\n{charge}{sign}")
    return (f"Reminder: your session with {first.provider}",
            f"{hello}A reminder of your {_what(first)} with {first.provider} at {first.practice}: {at}.\n{sign}"
            "You can turn these reminders off in your Caseload account.\n")


async def mail_client(db: AsyncSession, kind: Kind, session_ids: Sequence[uuid.UUID], *, was: datetime | None = None) -> None:
    """One mail to the client about these sessions (all of one client), in the caller's transaction."""
    if not session_ids:
        return
    rows = (await db.execute(_FACTS, {"ids": list(session_ids)})).all()
    if not rows:
        return
    subject, body = compose(kind, rows, was=was)
    await send_mail(db, to=rows[0].email, subject=subject, body=body, template=f"session_{kind}")


# The sessions whose reminder is due and not yet sent, claimed by inserting their notice: ON CONFLICT makes a
# second worker's (or a rerun's) insert of the same row a no-op, so it mails nothing.
_CLAIM_REMINDERS = text("""
INSERT INTO session_notices (session_id, kind)
SELECT s.id, 'reminder'
  FROM sessions s
  JOIN groups g ON g.id = s.group_id
  JOIN clients c ON c.id = s.client_id AND c.consented_at IS NOT NULL
  JOIN users u ON u.id = c.user_id
 WHERE s.status = 'scheduled'
   AND s.starts_at > :now
   AND s.starts_at <= :now + make_interval(hours => g.session_reminder_hours)
   AND u.session_reminders
   AND NOT EXISTS (SELECT 1 FROM session_notices n WHERE n.session_id = s.id AND n.kind = 'reminder')
 ORDER BY s.starts_at
 LIMIT :batch
ON CONFLICT DO NOTHING
RETURNING session_id
""")

async def send_reminders(sessionmaker: async_sessionmaker[AsyncSession], now: datetime, *, batch: int = 500) -> int:
    """Mail every due reminder once; returns how many were sent by this call."""
    sent = 0
    while True:
        async with sessionmaker() as db:
            claimed = list((await db.execute(_CLAIM_REMINDERS, {"now": now, "batch": batch})).scalars())
            for session_id in claimed:
                await mail_client(db, "reminder", [session_id])
            await db.commit()
        sent += len(claimed)
        if len(claimed) < batch:
            return sent


async def remind_sessions_job(ctx: dict[str, Any]) -> int:
    """The arq cron job of S12's reminders."""
    return await send_reminders(ctx["sessionmaker"], clock.now())

