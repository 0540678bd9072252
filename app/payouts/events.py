"""What happens when payouts fail (P7, P9): one place, so every notice of a failed payout goes out the same way.

A failed payout is retried by the next settlement run and only logged here. A payout that has failed
for the third time (`needs_attention`) stops retrying: the group's owner and admins and every Caseload
staff member get a mail. Called in the transaction that records the failure, so a notice is written
exactly when its failure is, and so is the `payout.failed` webhook event.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import driver_connection
from app.core.mail import send_mail
from app.models import Group, Membership, Payout, User
from app.webhooks.events import emit_many

log = structlog.get_logger("caseload.payouts")
NEEDS_ATTENTION_TEMPLATE = "payout_needs_attention"


async def payouts_failed(db: AsyncSession, failed: Sequence[Mapping[str, Any]]) -> None:
    """`failed`: rows of (id, status, group_id, failure_reason) just recorded as `failed` or `needs_attention`."""
    for row in failed:
        log.info("payout_failed", payout_id=str(row["id"]), status=row["status"])
    await emit_many(await driver_connection(db), "payout.failed", [r["id"] for r in failed], [r["group_id"] for r in failed], ["status"])
    stuck = [row for row in failed if row["status"] == "needs_attention"]
    if not stuck:
        return
    staff = (await db.scalars(select(User.email).where(User.is_staff.is_(True)))).all()
    for row in stuck:
        await _tell_about(db, row["id"], row["group_id"], row["failure_reason"], staff)


async def _tell_about(db: AsyncSession, payout_id: uuid.UUID, group_id: uuid.UUID, reason: str | None, staff: Sequence[str]) -> None:
    group = await db.get(Group, group_id)
    payout = await db.get(Payout, payout_id)
    admins = (
        await db.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.group_id == group_id, Membership.ended_at.is_(None), or_(Membership.is_owner.is_(True), Membership.is_admin.is_(True)))
        )
    ).all()
    amount = f"{payout.amount_cents / 100:,.2f} {payout.currency}" if payout else "?"
    body = (
        f"The payout {payout_id} of {group.name if group else 'a practice'} ({amount}, pay date "
        f"{payout.pay_date.isoformat() if payout else '?'}) has failed three times and is no longer retried.\n\n"
        f"The bank's last reason: {reason or 'none given'}.\n\n"
        f"Check the practice's bank account (PUT /v1/groups/{group_id}/bank-account); once it is right, Caseload staff "
        f"resume the payout (POST /v1/ops/payouts/{payout_id}/resume) and the next settlement run sends it.\n"
    )
    for address in sorted({*admins, *staff}):
        await send_mail(db, to=address, subject="A payout needs attention", body=body, template=NEEDS_ATTENTION_TEMPLATE)
