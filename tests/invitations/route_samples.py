"""The invitation routes in the generated capability matrix: an invitation that belongs to a stranger, so
every caller of /v1/me/invitations/{invitation_id}/... finds nothing (404), as with another person's object."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import LocalStorage
from app.models import Invitation
from tests.fixtures.factories import make_user

SAMPLE_BODIES: dict[str, dict] = {}


async def extend_world(db: AsyncSession, ids: dict[str, uuid.UUID], storage: LocalStorage) -> None:
    stranger = await make_user(db, first_name="Stranger")
    invitation = Invitation(id=uuid.uuid4(), group_id=ids["group_id"], user_id=stranger.id, kind="provider", license_type="LPC")
    db.add(invitation)
    await db.flush()
    ids["invitation_id"] = invitation.id
