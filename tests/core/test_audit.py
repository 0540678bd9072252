"""The audit log: rule R2 (who, what, which record, when, from where; append-only)."""

import pytest
import sqlalchemy.exc
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.models import AuditEvent


async def test_audit_rows_cannot_be_changed_or_deleted(db: AsyncSession) -> None:
    # rule R2: append-only, enforced by the database
    await audit.record(db, None, "test.event", target_type="user", target_id="x")
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(text(statement))
    assert (await db.scalar(select(AuditEvent.action).where(AuditEvent.target_id == "x"))) == "test.event"
